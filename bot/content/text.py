"""Text normalisation shared by emergency detection, refusal rules and retrieval."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from itertools import groupby

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


# The combining marks (accents, the breve of "й", the diaeresis of "ї") of the blocks that hold them.
_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def fold(text: str) -> str:
    """Case-fold, drop apostrophes and strip accents, so "Won't", "wont" and "wón't" compare equal."""
    text = text[:MAX_ANALYSED_CHARS].casefold().translate(_APOSTROPHES)
    if text.isascii():
        return text
    # One pass of a compiled pattern: a character-by-character loop was most of the index's build time.
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text))


def echo(value: str) -> str:
    """``value`` as quoted back to whoever typed it: on one line, at most ``ECHO_CHARS`` characters,
    "…" when cut, so a pasted page is not sent back."""
    shown = " ".join(value[: 4 * ECHO_CHARS].split())
    return shown if len(shown) <= ECHO_CHARS else shown[: ECHO_CHARS - 1].rstrip() + "…"


def words(text: str) -> list[str]:
    """The folded words of ``text``, in order."""
    return _WORD.findall(fold(text))


# "OD'd", "od’d", "ODd": folding drops the apostrophe and leaves "odd", a common English word.
_ODD = re.compile(r"\b(?:[oO][dD]['’][dD]|OD[dD])\b")
# French elides articles and pronouns ("l'overdose", "j'ai", "n'arrive"): split them off, or folding
# glues them onto the next word.
_ELISION = re.compile(r"\b([cdjlmnst]|qu|jusqu|lorsqu|puisqu|quelqu)['’](?=\w)", re.IGNORECASE)
# Texting French glues "je" to the verb ("jveux", "jsuis", "chui"): written out, the phrases read it.
_TEXTED_JE = re.compile(
    r"\bj(veux|suis|peux|sais|vais|fais|dois|crois|pense|sens|me|te|trouve|prends|comprends|connais)\b", re.IGNORECASE
)
_TEXTED_JE_SUIS = re.compile(r"\bchuis?\b", re.IGNORECASE)


def phrase_words(text: str) -> list[str]:
    """The folded words the content's phrase rules read: "OD'd" made readable, French elisions split,
    texted French written out."""
    text = _ODD.sub(" overdosed ", text[:MAX_ANALYSED_CHARS])
    text = _TEXTED_JE_SUIS.sub("je suis", _TEXTED_JE.sub(r"je \1", text))
    return words(_ELISION.sub(r"\1 ", text))


def squeezed(word: str, keep: int = 1) -> str:
    """``word`` with any letter typed three or more times in a row typed ``keep`` times ("holaaa",
    "thanksss"; "goood" needs two): no word of the six languages holds a letter three times over, and
    people stretch greetings and thanks as far as they like."""
    runs = ((letter, "".join(run)) for letter, run in groupby(word))
    return "".join(letter * keep if len(run) >= 3 else run for letter, run in runs)


@lru_cache(maxsize=8)
def _stemmer(lang: str) -> snowballstemmer.Stemmer | None:
    name = _STEMMER_NAMES.get(lang)
    return snowballstemmer.stemmer(name) if name else None


@lru_cache(maxsize=1 << 18)
def stem(word: str, lang: str) -> str:
    """The Snowball stem of a folded word (the word itself for unsupported languages)."""
    stemmer = _stemmer(lang)
    if stemmer is None or len(word) <= 3 or word.isdigit():
        return word
    return str(stemmer.stemWord(word))
