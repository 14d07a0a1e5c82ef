"""Text normalisation shared by emergency detection, refusal rules and retrieval."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import snowballstemmer

# Analysing more than this is never useful for a chat question, and it keeps a 1 MB message
# (pasted by mistake or by an attacker) as cheap to handle as a short one.
MAX_ANALYSED_CHARS = 4000
# What someone typed is quoted back ("There is no petition called ...") at most this long: enough to
# recognise a typo, and a 100 KB argument cannot make a 100 KB reply.
ECHO_CHARS = 100

_APOSTROPHES = dict.fromkeys(map(ord, "'’‘`´ʼ"), None)
_WORD = re.compile(r"[^\W_]+")

_STEMMER_NAMES = {
    "en": "english",
    "es": "spanish",
    "pt": "portuguese",
    "ru": "russian",
    "fr": "french",
    "uk": "russian",  # no Ukrainian Snowball stemmer: Russian endings are the closest fit
}


def fold(text: str) -> str:
    """Case-fold, drop apostrophes and strip accents, so "Won't", "wont" and "wón't" compare equal."""
    text = text[:MAX_ANALYSED_CHARS].casefold().translate(_APOSTROPHES)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def echo(value: str) -> str:
    """``value`` as quoted back to whoever typed it: at most ``ECHO_CHARS`` characters, "…" when cut."""
    return value if len(value) <= ECHO_CHARS else value[: ECHO_CHARS - 1] + "…"


def words(text: str) -> list[str]:
    """The folded words of ``text``, in order."""
    return _WORD.findall(fold(text))


@lru_cache(maxsize=8)
def _stemmer(lang: str) -> snowballstemmer.Stemmer | None:
    name = _STEMMER_NAMES.get(lang)
    return snowballstemmer.stemmer(name) if name else None


@lru_cache(maxsize=65536)
def stem(word: str, lang: str) -> str:
    """The Snowball stem of a folded word (the word itself for unsupported languages)."""
    stemmer = _stemmer(lang)
    if stemmer is None or len(word) <= 3 or word.isdigit():
        return word
    return str(stemmer.stemWord(word))
