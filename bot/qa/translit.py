"""Russian and Ukrainian typed in Latin letters: "drug ne dyshit, chto delat", "shcho robyty".

People without a Cyrillic keyboard (a borrowed phone, a laptop abroad) write Russian and Ukrainian in
Latin letters, each a little differently. The content's phrases, the indexes and the learned models
read Cyrillic, so such a message is read as the Cyrillic it spells (``cyrillic``) and answered in
its language, when it is one: at least half of its longer words, spelled back in Cyrillic, are words
the content uses in that language (compared by their stems, which absorbs the endings translit drops
or spells oddly), and more of them are known only in Cyrillic than only in the content's Latin-script
languages ("prep", "narcan" and "take" are known in both and tell nothing). An English, Spanish or
French message spelled in Cyrillic makes few such words. In the Cyrillic read, a word the content
does not use gets back the soft sign most people leave out ("zhit": жить) or its short "й" ("odnoi":
одной) when that makes one it does, and a name the content writes in Latin letters stays so ("PrEP").

On the tuning set it reads 61 of the 65 Russian and Ukrainian messages written in Latin letters, one
Ukrainian one as Russian, and none of the 6,961 others.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.content.text import MAX_ANALYSED_CHARS, stem, words

# The letters both languages spell alike, then each one's own. Schemes people use, not one standard:
# "zh" and "j", "ya" and "ja", "kh" and "h"; the longest spelling is read first ("shch" before "sh").
_SHARED = {
    **dict(zip("abvwdezjklmnoprstufcq", "абввдезйклмнопрстуфцк", strict=True)),
    **{"x": "кс", "shch": "щ", "zh": "ж", "kh": "х", "ts": "ц", "ch": "ч", "sh": "ш", "yu": "ю", "ya": "я"},
}
_SCHEMES: Mapping[str, Mapping[str, str]] = {
    "ru": {
        **_SHARED,
        **dict(zip("gihy", "гихы", strict=True)),
        **{"sch": "щ", "tsya": "тся", "tz": "ц", "ju": "ю", "ja": "я", "yo": "ё", "jo": "ё", "ye": "е", "je": "е"},
        "yi": "ый",
    },
    "uk": {
        **_SHARED,
        **dict(zip("ghyi", "ггиі", strict=True)),
        **{"iu": "ю", "ia": "я", "ye": "є", "ie": "є", "yi": "ї"},
    },
}
_PATTERNS = {
    lang: re.compile("|".join(sorted(map(re.escape, scheme), key=len, reverse=True)))
    for lang, scheme in _SCHEMES.items()
}
# A "y" after a vowel and before none is the short "й": "moy", "kakoy", "dobriy den".
_SHORT_Y = re.compile(r"(?<=[aeiou])y(?![aeiouy])")
_CONSONANTS = frozenset("бвгджзклмнпрстфхцчшщ")
# A Russian word that begins with "e" begins with "э": "eto", "ekstazi".
_FIRST_E = re.compile(r"\be")
# Latin letters, and digits within a name ("3mmc"); a number alone ("110") says nothing of a script.
_LATIN_WORD = re.compile(r"[a-z0-9]+")
_LATIN_LANGUAGES = ("en", "es", "pt", "fr")
# Words this short ("i", "ne", "na", "on") are words of many languages and tell nothing.
MIN_LETTERS = 3
# At least this share of a message's longer words must be the language's, and this many of them
# words no Latin-script language of the content has.
MIN_WORDS = 2
MIN_SHARE = 0.5


def cyrillic(text: str, lang: str) -> str:
    """``text`` with its Latin letters spelled in ``lang``'s Cyrillic (folded: lower case, no accents)."""
    scheme, pattern = _SCHEMES[lang], _PATTERNS[lang]
    folded = " ".join(words(text))
    if lang == "ru":
        folded = _FIRST_E.sub("э", _SHORT_Y.sub("j", folded))
    return pattern.sub(lambda m: scheme[m.group()], folded)


@dataclass(frozen=True, slots=True)
class Translit:
    # The language it is written in, and the Cyrillic it spells.
    lang: str
    text: str


class Transliteration:
    def __init__(self, known: Mapping[str, Iterable[str]]) -> None:
        """``known``: the folded words the content uses in each language (Russian and Ukrainian to
        recognise, the Latin-script languages to tell them from)."""
        self._words = {lang: frozenset(found) for lang, found in known.items()}
        self._stems = {lang: frozenset(stem(w, lang) for w in found) for lang, found in self._words.items()}
        self._latin = frozenset().union(*(found for lang, found in self._stems.items() if lang in _LATIN_LANGUAGES))
        # The last text read and what it spells: deciding asks about a message several times.
        self._last: tuple[str, Translit | None] | None = None

    def read(self, text: str) -> Translit | None:
        """The Russian or Ukrainian ``text`` spells in Latin letters, or None when it is not that."""
        last = self._last
        if last is not None and last[0] == text:
            return last[1]
        found = self._read(text[:MAX_ANALYSED_CHARS])
        self._last = (text, found)
        return found

    def _read(self, text: str) -> Translit | None:
        typed = [w for w in words(text) if len(w) >= MIN_LETTERS and not w.isdigit()]
        if not typed or not all(_LATIN_WORD.fullmatch(w) for w in typed):
            return None
        in_latin = [self._latin_word(w) for w in typed]
        if sum(in_latin) >= MIN_SHARE * len(typed):
            # Mostly words of the Latin languages (an English question, most often): no more to see.
            return None
        best: tuple[int, str] | None = None
        for lang in _SCHEMES:
            if lang not in self._stems:
                continue
            known = [stem(cyrillic(w, lang), lang) in self._stems[lang] for w in typed]
            # A word both scripts know ("prep", "narcan": ПрЕП, наркан; "take": таке) tells nothing
            # either way; the words only one of them knows decide.
            only_here = sum(k and not both for k, both in zip(known, in_latin, strict=True))
            only_latin = sum(both and not k for k, both in zip(known, in_latin, strict=True))
            ours = sum(known) >= MIN_SHARE * len(typed) and only_here >= MIN_WORDS and only_here > only_latin
            if ours and (best is None or only_here > best[0]):
                best = (only_here, lang)
        return Translit(best[1], self._spell(text, best[1])) if best is not None else None

    def _latin_word(self, word: str) -> bool:
        return any(stem(word, lang) in self._latin for lang in _LATIN_LANGUAGES)

    def _spell(self, text: str, lang: str) -> str:
        """``text`` in ``lang``'s Cyrillic, but for the names the content writes in Latin letters in
        every language ("PrEP", "Narcan") where the Cyrillic spelling is no word it uses ("преп")."""
        spelled = []
        known = self._words[lang]
        for word in words(text):
            cyr = cyrillic(word, lang)
            if cyr not in known:
                if len(word) >= MIN_LETTERS and self._latin_word(word):
                    spelled.append(word)
                    continue
                cyr = next((w for w in _repairs(cyr) if w in known), cyr)
            spelled.append(cyr)
        return " ".join(spelled)


def _repairs(word: str) -> Iterable[str]:
    """What a Cyrillic word spelled from translit may have lost: the soft sign most people leave out
    ("zhit": жить, "den": день, "bolshe": больше) and the short "й" written as "i" ("odnoi": одной)."""
    if word.endswith("и"):
        yield word[:-1] + "й"
    for at in range(len(word), 0, -1):
        if word[at - 1] in _CONSONANTS:
            yield word[:at] + "ь" + word[at:]
