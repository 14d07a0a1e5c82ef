"""Typo-tolerant phrase matching for the rule sets kept in content (emergency concepts, crisis
triggers, refusals, small talk).

A phrase is a sequence of words; ``word*`` matches any word starting with ``word``. Words are
compared folded (case, accents, apostrophes). People describing an emergency type fast on phones,
so long words also match with a typo: one edit (a transposition counts as one) from seven letters,
two from ten (one at most in the stem of a ``word*``). Shorter words match exactly: a typo of a short
word is usually another word ("right" and "might", "there" and "theyre"). So is a word the set lists
itself ("overdose" is no typo of "overdosed"), or one of the ``known`` words (the content's own
vocabulary: "sharing" is no typo of "shaking"). A single filler word may stand between two words of a
phrase ("not *really* breathing").

A phrase may carry a tag (the concept and language it stands for): :meth:`PhraseSet.find_all`
reports every tagged phrase found, with where it was found, so that rules can reason over concepts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Generic, TypeVar

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.content.text import fold, words

MAX_TOKENS = 400
_CACHE_LIMIT = 20000


def allowed_typos(length: int) -> int:
    """How many edits (transpositions counting one) a word of this length may differ by and still match."""
    if length >= 10:
        return 2
    if length >= 7:
        return 1
    return 0


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    prefix: bool


# Most tokens match no word of a set: they all share this one result instead of each holding an empty
# set of its own, which across every rule set and language was megabytes of cache.
_NO_MATCH: frozenset[Word] = frozenset()


# What a phrase stands for, for rules over concepts: its concept and its language.
Tag = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Phrase:
    source: str
    words: tuple[Word, ...]
    tag: Tag | None = None


@dataclass(frozen=True, slots=True)
class Found:
    """A phrase found in a message: the tokens ``start`` to ``end`` (exclusive) matched it."""

    phrase: Phrase
    start: int
    end: int

    @property
    def tag(self) -> Tag | None:
        return self.phrase.tag


def compile_phrase(source: str, tag: Tag | None = None) -> Phrase:
    compiled: list[Word] = []
    for part in fold(source).split():
        text = "".join(words(part.rstrip("*")))
        if text:
            compiled.append(Word(text, part.endswith("*")))
    return Phrase(source, tuple(compiled), tag)


class PhraseSet:
    """A set of phrases that can be searched for in a message.

    ``phrases`` are plain strings, or ``(phrase, tag)`` pairs for :meth:`find_all`; ``known``: words
    spelt right, that only match exactly.
    """

    def __init__(self, phrases: Iterable[str | tuple[str, Tag]], known: AbstractSet[str] = frozenset()) -> None:
        self._known = known
        compiled = (compile_phrase(*((p, None) if isinstance(p, str) else p)) for p in phrases)
        self.phrases = tuple(p for p in compiled if p.words)
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
        # A word the set lists is meant as itself, not as a typo of another.
        typos = 0 if exact is not None or token in self._known else allowed_typos(len(token))
        if self._fuzzy_texts and typos:
            for _, distance, index in process.extract(
                token, self._fuzzy_texts, scorer=OSA.distance, score_cutoff=typos, limit=None
            ):
                word = self._fuzzy[index]
                if distance <= allowed_typos(len(word.text)):
                    found.add(word)
        for word in self._prefixes:
            if token.startswith(word.text):
                found.add(word)
            elif typos:
                head = token[: len(word.text)]
                # One edit at most: a stem stands for every word it begins, and two edits into a long
                # stem already begin unrelated words ("automatica(lly)" for "automutila*").
                allowed = min(allowed_typos(len(word.text)), 1)
                if allowed and len(head) == len(word.text) and OSA.distance(head, word.text) <= allowed:
                    found.add(word)
        result = frozenset(found) if found else _NO_MATCH
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[token] = result
        return result

    def _found(self, tokens: Sequence[str]) -> Iterable[Found]:
        matched = [self._matches(t) for t in tokens[:MAX_TOKENS]]
        for start, at_start in enumerate(matched):
            # In a fixed order: a set's order changes from process to process, and with it which of two
            # phrases found at one place a rule would report.
            for first in sorted(at_start, key=_word_order) if len(at_start) > 1 else at_start:
                for phrase in self._by_first.get(first, ()):
                    end = _match_rest(phrase.words, 1, start + 1, matched)
                    if end >= 0:
                        yield Found(phrase, start, end)

    def find(self, tokens: Sequence[str]) -> str | None:
        """The first phrase found in ``tokens`` (folded words), or None."""
        return next((found.phrase.source for found in self._found(tokens)), None)

    def find_all(self, tokens: Sequence[str]) -> list[Found]:
        """Every phrase found in ``tokens``, in the order of where it starts."""
        return list(self._found(tokens))

    def search(self, text: str) -> str | None:
        return self.find(words(text))


def _word_order(word: Word) -> tuple[str, bool]:
    return word.text, word.prefix


def _match_rest(phrase: Sequence[Word], index: int, pos: int, matched: Sequence[frozenset[Word]]) -> int:
    """Where the match of ``phrase[index:]`` from ``pos`` ends, or -1: the first way that fits, with at
    most one filler word per gap (phrases are a few words long, so the ways to try are few)."""
    if index == len(phrase):
        return pos
    for at in (pos, pos + 1):  # allow one filler word between phrase words
        if at < len(matched) and phrase[index] in matched[at]:
            end = _match_rest(phrase, index + 1, at + 1, matched)
            if end >= 0:
                return end
    return -1


# A concept: an enumeration member, or any name.
C = TypeVar("C", bound=str)


@dataclass(frozen=True, slots=True)
class Seen(Generic[C]):
    """One concept seen in a message."""

    concept: C
    lang: str
    found: Found

    @property
    def phrase(self) -> str:
        return self.found.phrase.source


class ConceptReader(Generic[C]):
    """Finds the concepts of a content table (concept -> language -> phrases) in a message."""

    def __init__(
        self,
        table: dict[str, dict[str, tuple[str, ...]]],
        concepts: Callable[[str], C],
        known: AbstractSet[str] = frozenset(),
    ) -> None:
        self._concepts = {name: concepts(name) for name in table}
        self._phrases = PhraseSet(
            (
                (phrase, (name, lang))
                for name, by_lang in table.items()
                for lang, phrases in by_lang.items()
                for phrase in phrases
            ),
            known,
        )

    def read(self, tokens: Sequence[str]) -> list[Seen[C]]:
        """Each concept found, with the language and the phrase that showed it, in message order."""
        out: list[Seen[C]] = []
        for found in self._phrases.find_all(tokens):
            if found.tag is not None:
                name, lang = found.tag
                out.append(Seen(self._concepts[name], lang, found))
        return out
