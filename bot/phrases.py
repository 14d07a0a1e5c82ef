"""Typo-tolerant phrase matching for the rule sets kept in content (emergency triggers, refusals).

A phrase is a sequence of words; ``word*`` matches any word starting with ``word``. Words are
compared folded (case, accents, apostrophes); words of five letters or more also match with one
typo, eight or more with two, because people describing an emergency type fast on phones.
A single filler word may stand between two words of a phrase ("not *really* breathing").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from bot.text import fold, words

MAX_TOKENS = 400
_CACHE_LIMIT = 20000


def allowed_typos(length: int) -> int:
    """How many edits a word of this length may differ by and still match."""
    if length >= 8:
        return 2
    if length >= 5:
        return 1
    return 0


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    prefix: bool


# Most tokens match no word of a set: they all share this one result instead of each holding an empty
# set of its own, which across every rule set and language was megabytes of cache.
_NO_MATCH: frozenset[Word] = frozenset()


@dataclass(frozen=True, slots=True)
class Phrase:
    source: str
    words: tuple[Word, ...]


def compile_phrase(source: str) -> Phrase:
    compiled: list[Word] = []
    for part in fold(source).split():
        text = "".join(words(part.rstrip("*")))
        if text:
            compiled.append(Word(text, part.endswith("*")))
    return Phrase(source, tuple(compiled))


class PhraseSet:
    """A set of phrases that can be searched for in a message."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self.phrases = tuple(p for p in map(compile_phrase, phrases) if p.words)
        self._by_first: dict[Word, list[Phrase]] = defaultdict(list)
        for phrase in self.phrases:
            self._by_first[phrase.words[0]].append(phrase)
        all_words = {w for p in self.phrases for w in p.words}
        self._exact: dict[str, Word] = {w.text: w for w in all_words if not w.prefix}
        self._fuzzy = [w for w in self._exact.values() if allowed_typos(len(w.text))]
        self._fuzzy_texts = [w.text for w in self._fuzzy]
        self._prefixes = [w for w in all_words if w.prefix]
        self._cache: dict[str, frozenset[Word]] = {}

    def __bool__(self) -> bool:
        return bool(self.phrases)

    def _matches(self, token: str) -> frozenset[Word]:
        cached = self._cache.get(token)
        if cached is not None:
            return cached
        found: set[Word] = set()
        exact = self._exact.get(token)
        if exact is not None:
            found.add(exact)
        if self._fuzzy_texts and len(token) >= 4:
            for _, distance, index in process.extract(
                token, self._fuzzy_texts, scorer=Levenshtein.distance, score_cutoff=2, limit=None
            ):
                word = self._fuzzy[index]
                if distance <= allowed_typos(len(word.text)):
                    found.add(word)
        for word in self._prefixes:
            if token.startswith(word.text):
                found.add(word)
            else:
                typos = allowed_typos(len(word.text))
                head = token[: len(word.text)]
                if typos and len(head) == len(word.text) and Levenshtein.distance(head, word.text) <= typos:
                    found.add(word)
        result = frozenset(found) if found else _NO_MATCH
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[token] = result
        return result

    def find(self, tokens: Sequence[str]) -> str | None:
        """The first phrase found in ``tokens`` (folded words), or None."""
        matched = [self._matches(t) for t in tokens[:MAX_TOKENS]]
        for start, at_start in enumerate(matched):
            for first in at_start:
                for phrase in self._by_first.get(first, ()):
                    if _match_rest(phrase.words, 1, start + 1, matched):
                        return phrase.source
        return None

    def search(self, text: str) -> str | None:
        return self.find(words(text))


def _match_rest(phrase: Sequence[Word], index: int, pos: int, matched: Sequence[frozenset[Word]]) -> bool:
    if index == len(phrase):
        return True
    for at in (pos, pos + 1):  # allow one filler word between phrase words
        if at < len(matched) and phrase[index] in matched[at] and _match_rest(phrase, index + 1, at + 1, matched):
            return True
    return False
