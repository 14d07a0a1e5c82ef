"""Ranking knowledge-base entries for a question.

One index per language: the English entries, and each language's translations. Two stages: a BM25
ranking over a weighted bag of terms per entry (title, question variants, tags, answer), computed on
an inverted index so that only entries sharing a term are touched; then a typo-tolerant re-ranking
of the best few by how closely the question resembles one of the entry's question variants
(rapidfuzz). Terms go through the content lexicon (slang and brand names to one canonical word),
stop-word removal, typo correction against the index's own vocabulary, and Snowball stemming, so
"narcan wher to get", "where can I get naloxone" and "naloxone where" meet on the same terms.

Topics near the entries that the knowledge base does not answer (``outside.yaml``) are indexed as
documents too: when one ranks first, the ranking holds no entry and names the topic instead.

Another language's lexicon names the English word as the canonical term of a concept ("metadona" ->
methadone): :meth:`Analyzer.bridge` uses it to put a question written in that language to the English
index, for the entries not translated into it.
"""

from __future__ import annotations

import gc
import heapq
import math
import re
import sys
from array import array
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, pairwise
from typing import Any

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from bot.content.model import Entry, Lexicon, OutsideTopic
from bot.content.text import MAX_ANALYSED_CHARS, stem, words
from bot.port.markup import RichText, plain

# Field weights: a question variant is the best evidence, the answer text the weakest.
WEIGHTS = {"title": 2.0, "questions": 1.0, "tags": 2.0, "answer": 0.35}
K1 = 1.2
B = 0.75
RERANK = 12
# Ranking blends BM25 (relative to the best), resemblance to a question variant, and the share of
# the question's information the entry covers; confidence blends the last two. Tuned on kb-tests.
RANK_WEIGHTS = (0.3, 0.5, 0.2)
CONFIDENCE_WEIGHTS = (0.4, 0.6)
# The entry model's belief counts as much as the three signals above together: on the tuning set,
# whose questions it never learned from, it puts the right entry first as often as they do, and where
# they disagree it is right about as often (bot/qa/entry_model.py).
BELIEF_WEIGHT = 1.0
MAX_QUERY_WORDS = 64
# Entries whose variants are kept as text for re-ranking, the oldest asked about forgotten first.
TEXTS_CACHE = 4096
# Entries whose terms are counted at once: every entry of a large knowledge base at once would take
# a large share of its memory (a row per word of every question variant).
WEIGHED_AT_ONCE = 512
# Combinations of per-field counts numbered as one 8-byte integer while they fit.
NUMBERED_COMBINATIONS = 1 << 62
# The longest multi-word synonym in a lexicon is matched first; longer ones are not looked for.
MAX_SYNONYM_WORDS = 4

Ints = npt.NDArray[np.int64]
# Term numbers.
Terms = npt.NDArray[np.uint32]


@dataclass(frozen=True, slots=True)
class Document:
    """What one entry gives the index of one language."""

    entry: str
    title: str
    questions: tuple[str, ...]
    tags: tuple[str, ...]
    # Rich text, made plain only while it is indexed: a plain copy of every answer, held at once,
    # would be a large share of a big knowledge base's memory.
    answer: RichText
    # A topic the knowledge base does not answer (outside.yaml): a question it ranks first is declined.
    outside: bool = False

    @classmethod
    def of(cls, entry: Entry, lang: str) -> Document | None:
        """The entry as written in ``lang``; None when it is not translated into it."""
        if lang == "en":
            return cls(entry.id, entry.title, entry.questions, entry.tags, entry.answer)
        translation = entry.translations.get(lang)
        if translation is None:
            return None
        # The tags are English, and so are the canonical terms of a lexicon's bridges: they meet there.
        return cls(entry.id, translation.title, translation.questions, entry.tags, translation.answer)

    @classmethod
    def outside_of(cls, topic: OutsideTopic, lang: str) -> Document | None:
        """The topic's questions in ``lang``; None when it lists none there."""
        questions = topic.questions.get(lang)
        if not questions:
            return None
        return cls(topic.id, questions[0], questions[1:], (), (), outside=True)


@dataclass(frozen=True, slots=True)
class Hit:
    entry: str
    score: float


@dataclass(frozen=True, slots=True)
class Ranking:
    hits: tuple[Hit, ...]
    # How sure the best hit is: the share of the question's information the entry covers,
    # blended with its resemblance to one of the entry's question variants; 0..1.
    confidence: float
    # The share of the question's information the knowledge base knows at all; 0..1.
    coverage: float
    # The share the best entry's title, question variants and tags hold (not its answer): a question
    # about something else shares a word or two with an answer, rarely with what people ask; 0..1.
    focus: float = 0.0
    # How likely the learned entry model finds the best hit (0 without one).
    belief: float = 0.0
    # How many words the question has. A long message (a story told before the question) shares a
    # smaller part of itself with any entry than a short one on the same topic, so the same coverage
    # and confidence say more of it.
    words: int = 0
    # The topic the knowledge base does not answer that the question is most like, ranked above every
    # entry (no hits then; the confidence and focus are the topic's).
    outside: str | None = None


NOTHING = Ranking((), 0.0, 0.0)


# French elides articles and pronouns ("l'OMS", "d'héroïne", "qu'il"): split them off, or folding
# (which drops apostrophes) glues them onto the next word ("loms", "dheroine").
_ELISIONS = {"fr": re.compile(r"\b(c|d|j|l|m|n|s|t|qu|jusqu|lorsqu|puisqu)['’`]", re.IGNORECASE)}


class Analyzer:
    """Turns text into search terms for one language."""

    def __init__(self, lexicon: Lexicon, lang: str, places: Iterable[str] = ()) -> None:
        self.lang = lang
        self._elision = _ELISIONS.get(lang)
        self.stopwords = lexicon.stopwords.get(lang, frozenset())
        # Stems of country names: where a question is asked from says nothing of what it asks ("naloxone
        # in russia"), so a place the knowledge base does not know is left out rather than weighed as
        # the rarest word there is.
        self.places = frozenset(stem(w, lang) for name in places for w in self.tokens(name))
        # Keyed by stems, so that one listed form also finds the others: Russian "метадон" must find
        # "метадоном" and "метадона" without the lexicon listing every case of every word.
        self.synonyms: dict[tuple[str, ...], tuple[str, ...]] = {}
        # The longest variant starting with each stem: most words start none, and are looked up once.
        self._longest: dict[str, int] = {}
        # The stems that may follow each stem starting a synonym of several words.
        self.followers: dict[str, set[str]] = {}
        # The variants' words as written, for typo correction.
        self.vocabulary: set[str] = set()
        for variant, canonical in lexicon.synonyms.get(lang, {}).items():
            variant_words = self.tokens(variant)[:MAX_SYNONYM_WORDS]
            if variant_words:
                key = tuple(stem(w, lang) for w in variant_words)
                self.synonyms[key] = tuple(words(canonical))
                self._longest[key[0]] = max(self._longest.get(key[0], 0), len(key))
                if len(key) > 1:
                    self.followers.setdefault(key[0], set()).add(key[1])
                self.vocabulary.update(variant_words)
        # Each word seen, worked out once: its stem, the terms it gives where it starts no longer variant,
        # and the longest variant it may start. A knowledge base a hundred times today's has millions of
        # words but few distinct ones.
        self._words: dict[str, tuple[str, tuple[str, ...], int]] = {}

    def tokens(self, text: str) -> list[str]:
        """The folded words of ``text`` as this language splits them."""
        return words(self._elision.sub(r"\1 ", text) if self._elision else text)

    def spans(self, tokens: list[str], *, keep_typed: bool = True) -> list[tuple[str, tuple[str, ...]]]:
        """Each word with the canonical words of slang and variants added (longest phrase first),
        paired with the typed words it stands for."""
        out: list[tuple[str, tuple[str, ...]]] = []
        stems = [stem(t, self.lang) for t in tokens]
        i = 0
        while i < len(tokens):
            for size in range(min(self._longest.get(stems[i], 0), len(tokens) - i), 0, -1):
                replacement = self.synonyms.get(tuple(stems[i : i + size]))
                if replacement is not None:
                    variant = tuple(tokens[i : i + size])
                    out.extend((w, variant) for w in replacement)
                    if keep_typed:
                        # The words as typed stay too: "overheats" must still meet "overheating".
                        out.extend((w, variant) for w in variant if w not in replacement)
                    i += size
                    break
            else:
                out.append((tokens[i], (tokens[i],)))
                i += 1
        return out

    def canonical(self, tokens: list[str]) -> list[str]:
        return [w for w, _ in self.spans(tokens)]

    def terms(self, tokens: list[str]) -> list[str]:
        """The stems of ``canonical(tokens)`` without stop words."""
        words_ = self._words
        known = [words_.get(token) or self._word(token) for token in tokens]
        if not any(longest > 1 for _, _, longest in known):
            # No variant of several words starts here (most texts): each word on its own.
            return [term for _, alone, _ in known for term in alone]
        out: list[str] = []
        i = 0
        while i < len(tokens):
            _, alone, longest = known[i]
            for size in range(min(longest, len(tokens) - i), 1, -1):
                replacement = self.synonyms.get(tuple(stem_ for stem_, _, _ in known[i : i + size]))
                if replacement is not None:
                    out.extend(self.synonym_terms(replacement, tokens[i : i + size]))
                    i += size
                    break
            else:
                out.extend(alone)
                i += 1
        return out

    def _word(self, token: str) -> tuple[str, tuple[str, ...], int]:
        token_stem = stem(token, self.lang)
        replacement = self.synonyms.get((token_stem,))
        found = token_stem, self.synonym_terms(replacement or (), [token]), self._longest.get(token_stem, 0)
        self._words[sys.intern(token)] = found
        return found

    def synonym_terms(self, replacement: Sequence[str], typed: Sequence[str]) -> tuple[str, ...]:
        """The terms of a variant's canonical words and of the typed words beside them, as spans() pairs them."""
        kept = [*replacement, *(w for w in typed if w not in replacement)]
        return tuple(stem(w, self.lang) for w in kept if w not in self.stopwords)

    def word(self, token: str) -> tuple[str, tuple[str, ...], int]:
        """A word's stem, the terms it gives where it starts no synonym of several words, and the
        most words a synonym it starts may have."""
        return self._words.get(token) or self._word(token)

    def bridge(self, tokens: list[str]) -> list[str]:
        """The question's words for another language's index: canonical terms instead of the words
        they stand for (the typed word would only be an unknown word there), stop words dropped."""
        return [w for w, _ in self.spans(tokens, keep_typed=False) if w not in self.stopwords]


class Retriever:
    """An index over the knowledge-base entries written in one language."""

    def __init__(self, documents: Iterable[Document], analyzer: Analyzer) -> None:
        # Millions of small objects are made and kept here: the garbage collector's passes over them
        # while building cost a fifth of the time and find nothing to collect.
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._build(list(documents), analyzer)
        finally:
            if collecting:
                gc.enable()

    def _build(self, documents: list[Document], analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        self.ids = [document.entry for document in documents]
        self._outside = frozenset(at for at, document in enumerate(documents) if document.outside)
        # A knowledge base in six languages at a hundred times today's size must stay small, so the
        # index is arrays of numbers. Terms are numbered from 1 (0 ends a question variant below).
        self._term_ids: dict[str, int] = {}
        self._terms = [""]
        # The words of titles, variants and tags: typos are corrected towards words people ask with,
        # not every word of an answer.
        surface: set[str] = set()
        # Every word the entries spell, answers included (words spelt right, never taken for typos).
        self.spelled: set[str] = set()
        # The titles and question variants of every entry, then their tags, read at once: as the units of
        # reading (pieces of text and runs of them) each place holds, each text ended by the end unit.
        reader = _TextTerms(analyzer, surface, self.spelled)
        variant_units = reader.read([text for document in documents for text in (document.title, *document.questions)])
        tag_units = reader.read([tag for document in documents for tag in document.tags])
        # The answers, each analysed once (an entry's copies share theirs): its terms (first seen first)
        # and how often each occurs; the answer of each entry, and the entry each answer is first met in.
        answers: dict[str, int] = {}
        answer_counts: list[Counter[str]] = []
        answer_of: list[int] = []
        first_answered: list[int] = []
        for at, document in enumerate(documents):
            answer = plain(document.answer)
            known = answers.get(answer)
            if known is None:
                known = answers[answer] = len(answer_counts)
                tokens = analyzer.tokens(answer)
                self.spelled.update(tokens)
                answer_counts.append(Counter(analyzer.terms(tokens)))
                first_answered.append(at)
            answer_of.append(known)
        del answers
        variant_counts = np.array([1 + len(document.questions) for document in documents], np.int64)
        tag_counts = np.array([len(document.tags) for document in documents], np.int64)
        # Terms are numbered in the order reading every entry, field after field, first meets them: each
        # unit's terms when the unit is first met, each answer's when the answer is. What is met first
        # where (the entry, the field, the place in it): the units of the variants, of the tags, the answers.
        met = (
            _first_met(variant_units, variant_counts, len(reader.terms)),
            _first_met(tag_units, tag_counts, len(reader.terms)),
            (
                np.array(first_answered, np.int64),
                np.zeros(len(first_answered), np.int64),
                np.arange(len(first_answered)),
            ),
        )
        answer_field = len(met) - 1
        entry = np.concatenate([entries for entries, _, _ in met])
        field = np.repeat(np.arange(len(met)), [len(entries) for entries, _, _ in met])
        place = np.concatenate([places for _, places, _ in met])
        what = np.concatenate([whats for _, _, whats in met])
        order = np.lexsort((place, field, entry))
        unit_numbers: list[tuple[int, ...] | None] = [None] * len(reader.terms)
        unit_numbers[0] = (0,)
        answer_numbers: list[list[int]] = [[] for _ in answer_counts]
        for read_in, one in zip(field[order].tolist(), what[order].tolist(), strict=True):
            if read_in == answer_field:
                answer_numbers[one] = [self._number(term) for term in answer_counts[one]]
            elif unit_numbers[one] is None:
                unit_numbers[one] = tuple(map(self._number, reader.terms[one]))
        del reader, met, entry, field, place, what, order
        numbered = [numbers or () for numbers in unit_numbers]
        # Every entry's title and question variants as term numbers, one after the other, each variant
        # ended by 0; where each entry's title and variants end. Then every entry's tags, and where they end.
        variants = _spread(numbered, variant_units)
        text_ends = np.flatnonzero(variants == 0)
        firsts = np.cumsum(variant_counts) - variant_counts
        title_ends = text_ends[firsts]
        variant_ends = text_ends[firsts + variant_counts - 1] + 1
        spread_tags = _spread(numbered, tag_units)
        tags = spread_tags[spread_tags != 0]
        tag_text_ends = np.concatenate((np.full(1, -1, np.int64), np.flatnonzero(spread_tags == 0)))
        tags_read = np.cumsum(tag_counts)
        tag_ends = tag_text_ends[tags_read] + 1 - tags_read
        del numbered, unit_numbers, variant_units, tag_units, spread_tags, text_ends, tag_text_ends
        surface.update(analyzer.vocabulary)
        surface -= analyzer.stopwords
        # By length, each in alphabetical order: a word within n edits of a typo is within n letters of
        # its length, so a correction looks only at a few lengths.
        self._surface: dict[int, list[str]] = {}
        for word in sorted(surface):
            self._surface.setdefault(len(word), []).append(sys.intern(word))
        self._count = max(len(documents), 1)
        # An unknown word is treated as the rarest there could be: it carries the most information.
        self.unknown_idf = math.log(1 + (self._count - 0.5) / 1.5)
        answer_columns = (
            np.array([term for numbers in answer_numbers for term in numbers], np.int64),
            np.array([count for counts in answer_counts for count in counts.values()], np.int64),
            np.array([len(numbers) for numbers in answer_numbers], np.int64),
            np.array(answer_of, np.int64),
        )
        columns = (variants, title_ends, variant_ends, tags, tag_ends, answer_columns)
        self._postings = self._weigh(
            [
                self._pairs(
                    _Occurrences.of(len(self._terms), begin, min(begin + WEIGHED_AT_ONCE, len(documents)), *columns)
                )
                for begin in range(0, len(documents), WEIGHED_AT_ONCE)
            ]
        )
        # Each entry's title and question variants, and its tags: exact-size arrays, with 2-byte term
        # numbers while they fit.
        term_type = "H" if len(self._terms) <= 0xFFFF else "I"
        self._variants = _slices(variants, variant_ends, term_type)
        self._tags = _slices(tags, tag_ends, term_type)
        self._correction_cache: dict[str, str | None] = {}
        self._texts_cache: dict[int, list[str]] = {}

    def _pairs(self, found: _Occurrences) -> tuple[Ints, Ints, npt.NDArray[np.float64], list[float]]:
        """The entries and terms of ``found`` paired, by entry then term, each pair with the term's
        frequency in the entry; the entries' lengths.

        Worked out on arrays to the very same numbers as adding up each entry's bag of terms one word at
        a time: each frequency is the same sum of field weights in the same order, each entry's length
        the same sum of its frequencies in the order its terms first occur.
        """
        term_count = len(self._terms)
        # Stable, and an entry's rows are in the order they are read: the first row of an entry and term
        # is where the term first occurs in the entry.
        order = _stable_order(found.key)
        key = found.key[order]
        new = np.ones(len(key), bool)
        new[1:] = key[1:] != key[:-1]
        starts = np.flatnonzero(new)
        # How often each pair's term occurs in each field of its entry.
        docs, terms = np.divmod(key[starts].astype(np.int64), term_count)
        first = found.position[order[starts]].astype(np.int64)
        field, times = found.field[order], found.times[order]
        del key, new, order
        per_field = [np.add.reduceat(np.where(field == k, times, 0), starts) for k in range(len(WEIGHTS))]
        del field, times
        # The few distinct combinations of counts, each summed as the bag summed it.
        base = max((int(count.max()) for count in per_field if len(count)), default=0) + 1
        if base ** len(WEIGHTS) < NUMBERED_COMBINATIONS:
            combination = np.zeros(len(starts), np.int64)
            for count in per_field:
                combination = combination * base + count
            distinct = np.unique(combination)
            sums = [
                _frequency([code // base ** (len(WEIGHTS) - 1 - k) % base for k in range(len(WEIGHTS))])
                for code in distinct.tolist()
            ]
            frequencies = np.array(sums, np.float64)[np.searchsorted(distinct, combination)]
            del combination
        else:
            # Counts too large to number their combinations (a word thousands of times in one entry).
            table, which = np.unique(np.stack(per_field, axis=1), axis=0, return_inverse=True)
            frequencies = np.array([_frequency(row) for row in table.tolist()], np.float64)[which.reshape(-1)]
        del per_field
        in_order = frequencies[_stable_order(docs * (int(first.max(initial=0)) + 1) + first)]
        ends = np.cumsum(np.bincount(docs, minlength=found.entries)).tolist()
        lengths = [sum(in_order[begin:end].tolist()) for begin, end in pairwise([0, *ends])]
        return docs + found.entry, terms, frequencies, lengths

    def _weigh(
        self, pairs: list[tuple[Ints, Ints, npt.NDArray[np.float64], list[float]]]
    ) -> list[tuple[array[int], array[float]]]:
        """The postings, by term number: the entries holding the term (ascending) and its BM25 weight
        in each (2-byte entry numbers while they fit, 4-byte weights)."""
        doc_type = "H" if len(self.ids) <= 0xFFFF else "I"
        term_count = len(self._terms)
        docs = np.concatenate([np.zeros(0, np.int64), *(docs for docs, _, _, _ in pairs)])
        terms = np.concatenate([np.zeros(0, np.int64), *(terms for _, terms, _, _ in pairs)])
        frequencies = np.concatenate([np.zeros(0, np.float64), *(frequencies for _, _, frequencies, _ in pairs)])
        lengths = [length for _, _, _, chunk in pairs for length in chunk]
        del pairs[:]
        average = (sum(lengths) / self._count if lengths else 0.0) or 1.0
        norms = np.array([K1 * (1 - B + B * length / average) for length in lengths], np.float64)
        # The postings held the frequency as a 4-byte float, which the weight is worked out from.
        held = frequencies.astype(np.float32).astype(np.float64)
        weights = (held * (K1 + 1) / (held + norms[docs])).astype(np.float32)
        by_term = _stable_order(terms)
        bounds = np.searchsorted(terms[by_term], np.arange(term_count + 1)).tolist()
        doc_bytes = docs[by_term].astype(doc_type)
        weight_bytes = weights[by_term]
        return [
            (array(doc_type, doc_bytes[begin:end].tobytes()), array("f", weight_bytes[begin:end].tobytes()))
            for begin, end in pairwise(bounds)
        ]

    def _number(self, term: str) -> int:
        term_id = self._term_ids.get(term)
        if term_id is None:
            term_id = self._term_ids[sys.intern(term)] = len(self._terms)
            self._terms.append(term)
        return term_id

    def _known(self, term: str) -> bool:
        return term in self._term_ids

    def _docs(self, term: str) -> array[int]:
        return self._postings[self._term_ids[term]][0]

    def idf(self, term: str) -> float:
        """The term's inverse document frequency (computed, not stored: one float fewer per term)."""
        n = len(self._docs(term))
        return math.log(1 + (self._count - n + 0.5) / (n + 0.5))

    def _variant_texts(self, doc: int) -> list[str]:
        """The entry's title and question variants as text, rebuilt from term numbers (kept as numbers:
        text for every variant of a large knowledge base would be most of its memory)."""
        texts = []
        variant: list[str] = []
        for term_id in self._variants[doc]:
            if term_id:
                variant.append(self._terms[term_id])
            else:
                texts.append(" ".join(variant))
                variant = []
        return texts

    def _compared_texts(self, doc: int) -> list[str]:
        """The entry's distinct title and question variants as the re-ranking compares them (their terms
        sorted, as token_sort_ratio would sort them at every comparison), remembered for the entries
        asked about most."""
        texts = self._texts_cache.get(doc)
        if texts is None:
            texts = list(dict.fromkeys(" ".join(sorted(text.split())) for text in self._variant_texts(doc)))
            if len(self._texts_cache) >= TEXTS_CACHE:
                del self._texts_cache[next(iter(self._texts_cache))]
            self._texts_cache[doc] = texts
        return texts

    def _correct(self, word: str) -> str | None:
        """The knowledge-base word a misspelt word most likely meant, if any is close enough."""
        if word in self._correction_cache:
            return self._correction_cache[word]
        typos = allowed_typos(len(word))
        best = None
        if typos:
            hits = (
                process.extractOne(word, self._surface.get(length, ()), scorer=Levenshtein.distance, score_cutoff=typos)
                for length in range(len(word) - typos, len(word) + typos + 1)
            )
            # The closest word; of several as close, the first in alphabetical order.
            found = min(((distance, choice) for choice, distance, _ in filter(None, hits)), default=None)
            # A typo rarely hits the first letter; requiring it keeps "maths" from becoming "bath".
            best = found[1] if found and found[1][0] == word[0] else None
        if len(self._correction_cache) < 50000:
            self._correction_cache[word] = best
        return best

    def query_terms(
        self, tokens: list[str], known_elsewhere: Container[str] = ()
    ) -> list[tuple[str, bool, tuple[str, ...]]]:
        """The question's terms, each with whether the index knows it and the typed words behind it.

        A word ``known_elsewhere`` (by another language's index) is not a typo of one of this index's
        words: Portuguese "perto" must not become "porto" in the English index.
        """
        analyzer = self.analyzer
        out: list[tuple[str, bool, tuple[str, ...]]] = []
        seen: set[str] = set()
        for word, typed in analyzer.spans(tokens[:MAX_QUERY_WORDS]):
            if word in analyzer.stopwords:
                continue
            term = stem(word, analyzer.lang)
            if len(word) <= 2 and not self._known(term):
                continue  # chat shorthand ("r", "u", "ur") carries no meaning worth searching
            if term in analyzer.places and not self._known(term):
                continue
            if not self._known(term) and word not in known_elsewhere:
                corrected = self._correct(word)
                if corrected is not None:
                    for fixed in analyzer.canonical([corrected]):
                        fixed_term = stem(fixed, analyzer.lang)
                        if fixed_term not in seen:
                            seen.add(fixed_term)
                            out.append((fixed_term, self._known(fixed_term), typed))
                    continue
            if term not in seen:
                seen.add(term)
                out.append((term, self._known(term), typed))
        return out

    def knows(self, tokens: list[str]) -> bool:
        """Whether any of these words means something to the index (through synonyms and typos too)."""
        return any(known for _, known, _ in self.query_terms(tokens))

    def rank(
        self, text: str, limit: int = 5, beliefs: Mapping[str, float] | None = None, min_coverage: float = 0.0
    ) -> Ranking:
        return self.rank_words(self.analyzer.tokens(text), limit, beliefs=beliefs, min_coverage=min_coverage)

    def rank_words(
        self,
        tokens: list[str],
        limit: int = 5,
        known_elsewhere: Container[str] = (),
        beliefs: Mapping[str, float] | None = None,
        min_coverage: float = 0.0,
    ) -> Ranking:
        """Rank the entries for a question already split into folded words.

        ``known_elsewhere``: typed words this index does not know but another one searched for the same
        question does. They count as known for coverage (the question is not out of scope for them)
        but no entry here matches them. ``beliefs``: the entry model's probability of each entry, added
        to the re-ranking score of the best candidates. ``min_coverage``: below this share of the question
        known, no entry is ranked (the coverage alone is reported), as a caller that would discard the
        ranking anyway need not pay for it.
        """
        beliefs = beliefs or {}
        terms = self.query_terms(tokens, known_elsewhere)
        if not terms:
            return NOTHING
        weights = {t: (self.idf(t) if known else self.unknown_idf) for t, known, _ in terms}
        known_terms = [t for t, known, _ in terms if known]
        # The question's information is counted per word typed, not per term: "oregon" expands to the
        # lexicon's "oregon measure 110", which must not outweigh the "capital" it was asked with.
        pieces: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for term, _, typed in terms:
            pieces[typed].append(term)
        piece_weight = {typed: max(weights[t] for t in group) for typed, group in pieces.items()}
        total = sum(piece_weight.values()) or 1.0

        def share_of(holds: Callable[[str], bool]) -> float:
            return sum(w for typed, w in piece_weight.items() if any(holds(t) for t in pieces[typed])) / total

        known_set = set(known_terms)
        coverage = (
            share_of(lambda t: t in known_set)
            + sum(
                w
                for typed, w in piece_weight.items()
                if not any(t in known_set for t in pieces[typed]) and any(word in known_elsewhere for word in typed)
            )
            / total
        )
        scores: dict[int, float] = defaultdict(float)
        for term in known_terms:
            idf = weights[term]
            docs, term_weights = self._postings[self._term_ids[term]]
            for doc, weight in zip(docs, term_weights, strict=True):
                scores[doc] += idf * weight
        if not scores or coverage < min_coverage:
            return Ranking((), 0.0, coverage, words=len(tokens))
        best = heapq.nlargest(RERANK, scores, key=scores.__getitem__)
        top = scores[best[0]]
        # The question's terms sorted, as token_sort_ratio compares it with the variants (sorted too).
        query = " ".join(sorted(t for t, _, _ in terms))
        # Each piece of the question's information, with the entries holding each of its known terms.
        held_by = [
            (weight, [self._docs(t) for t in pieces[typed] if t in known_set]) for typed, weight in piece_weight.items()
        ]
        reranked: list[tuple[float, float, int]] = []
        for doc in best:
            best_variant = process.extractOne(query, self._compared_texts(doc), scorer=fuzz.ratio)
            resemblance = best_variant[1] / 100 if best_variant else 0.0
            # The share of the question's information this entry holds.
            share = sum(w for w, postings in held_by if any(_holds(docs, doc) for docs in postings)) / total
            w_bm25, w_resemblance, w_share = RANK_WEIGHTS
            # A topic the knowledge base does not answer must be found in the question's words to decline
            # it: its belief lowers the entries' (the model shares its probability out among all) but
            # adds nothing to itself, or "when is world hepatitis day" went to the other days' topic.
            bonus = 0.0 if doc in self._outside else BELIEF_WEIGHT * beliefs.get(self.ids[doc], 0.0)
            rank_score = w_bm25 * scores[doc] / top + w_resemblance * resemblance + w_share * share + bonus
            c_share, c_resemblance = CONFIDENCE_WEIGHTS
            confidence = c_share * share + c_resemblance * resemblance
            reranked.append((rank_score, confidence, doc))
        reranked.sort(reverse=True)
        _, confidence, first = reranked[0]
        held = {*self._variants[first], *self._tags[first]}
        focus = round(share_of(lambda t: t in known_set and self._term_ids[t] in held), 4)
        belief = round(beliefs.get(self.ids[first], 0.0), 4)
        if first in self._outside:
            return Ranking((), round(confidence, 4), round(coverage, 4), focus, belief, len(tokens), self.ids[first])
        entries = [(score, doc) for score, _, doc in reranked if doc not in self._outside]
        hits = tuple(Hit(self.ids[doc], round(score, 4)) for score, doc in entries[:limit])
        return Ranking(hits, round(confidence, 4), round(coverage, 4), focus, belief, len(tokens))


def _frequency(times: Sequence[int]) -> float:
    """A term's frequency in an entry as its bag of terms added it up: each field's weight once per
    occurrence, field after field."""
    tf = 0.0
    for weight, count in zip(WEIGHTS.values(), times, strict=True):
        for _ in range(count):
            tf += weight
    return tf


def allowed_typos(length: int) -> int:
    """How many edits a misspelt question word of this length may be from the knowledge-base word it
    is corrected to (the first letters must agree too)."""
    if length >= 8:
        return 2
    if length >= 5:
        return 1
    return 0


def _holds(docs: array[int], doc: int) -> bool:
    """Whether ``doc`` is in postings ``docs``: they are sorted, so a binary search says, for the few
    entries re-ranked."""
    at = bisect_left(docs, doc)
    return at < len(docs) and docs[at] == doc


# What ends a text among the pieces of several: never a piece, nor part of one (a text holding it reads
# it as a space, which splits words alike: it is no letter).
_END = "\x00"
_ENDED = f" {_END} "
# Texts split into pieces at once: all of them at once would hold every piece of a large knowledge
# base's variants as a string at the same time.
SPLIT_AT_ONCE = 4096


@dataclass(slots=True)
class _Piece:
    """A piece of text between spaces, as the index reads it."""

    tokens: tuple[str, ...]
    # Each word's stem, its terms on its own, and the most words a synonym it starts may have.
    words: tuple[tuple[str, tuple[str, ...], int], ...]
    # Its words' terms on their own, one after the other.
    terms: tuple[str, ...]
    # Whether a word of it may start a synonym of several words.
    starts: bool
    # Whether no synonym of several words can hold any of its words (it has some): a synonym never
    # reaches across it, so the text on either side of it is read on its own.
    inert: bool


class _TextTerms:
    """The terms of titles, question variants and tags, as :meth:`Analyzer.terms` gives them, worked out
    once per distinct unit of reading: a knowledge base a hundred times today's has millions of words
    in its variants but few distinct pieces of text between spaces, and a text's words are the words of
    its pieces one after the other (folding and splitting never join what whitespace separates). Most
    pieces hold no word of any synonym of several words and are a unit each; pieces that do, side by
    side ("de la", "crystal meth"), are read together, word by word, as one unit.

    A field of every entry is read at once: nothing is done in Python per piece but splitting the texts
    and looking each piece up; the runs of pieces and what each place holds are worked out on arrays.
    """

    def __init__(self, analyzer: Analyzer, surface: set[str], spelled: set[str]) -> None:
        self._analyzer = analyzer
        self._surface = surface
        self._spelled = spelled
        # Each distinct piece met, numbered when first met: 0 is the end of a text.
        self._numbers: dict[str, int] = {_END: 0}
        self._pieces = [_Piece((), (), (), starts=False, inert=True)]
        self._inert = [True]
        # The terms of each unit: unit 0 ends a text.
        self.terms: list[tuple[str, ...]] = [()]
        # The unit each piece is on its own, -1 for pieces that are not inert (read in runs).
        self._unit_of = [0]
        # The unit of each run of pieces that are not inert, by their numbers.
        self._runs: dict[tuple[int, ...], int] = {}
        # The stems a synonym of several words holds after its first word.
        self._following = frozenset(stem_ for key in analyzer.synonyms for stem_ in key[1:])

    def read(self, texts: list[str]) -> Ints:
        """The unit at each place of ``texts``, one text after the other, each ended by unit 0."""
        # A text longer than folding reads is analysed whole, as one unit, in the place of its pieces.
        long: list[int] = []
        short = texts
        if max(map(len, texts), default=0) > MAX_ANALYSED_CHARS:
            long = [at for at, text in enumerate(texts) if len(text) > MAX_ANALYSED_CHARS]
            short = [text if len(text) <= MAX_ANALYSED_CHARS else "" for text in texts]
        pieces = np.concatenate(
            [np.zeros(0, np.int32)]
            + [self._pieces_of(short[begin : begin + SPLIT_AT_ONCE]) for begin in range(0, len(short), SPLIT_AT_ONCE)]
        )
        inert = np.array(self._inert)[pieces]
        units = np.array(self._unit_of, np.int64)[pieces]
        # The runs of pieces side by side that are not inert (the end of a text is): where each starts, how long.
        edges = np.diff(np.concatenate(([True], inert, [True])).astype(np.int8))
        starts = np.flatnonzero(edges == -1)
        sizes = np.flatnonzero(edges == 1) - starts
        for size in np.unique(sizes).tolist():
            at = starts[sizes == size]
            firsts, which = _same_runs(pieces, at, size, len(self._pieces))
            found = [self._run(tuple(pieces[first : first + size].tolist())) for first in at[firsts].tolist()]
            units[at] = np.array(found, np.int64)[which]
        # Each place holds an inert piece or, where a run starts, the run.
        held = inert.copy()
        held[starts] = True
        units = units[held]
        if long:
            units = np.insert(units, np.flatnonzero(units == 0)[long], [self._long(texts[at]) for at in long])
        return units

    def _pieces_of(self, texts: list[str]) -> npt.NDArray[np.int32]:
        """The number of each piece of ``texts``, each text's followed by 0; the pieces first met learnt."""
        joined = _ENDED.join([*texts, ""])
        if joined.count(_END) > len(texts):
            joined = _ENDED.join([*(text.replace(_END, " ") for text in texts), ""])
        split = joined.split()
        numbers = self._numbers
        for name in dict.fromkeys(split):
            if name not in numbers:
                self._learn(name)
        return np.fromiter(map(numbers.__getitem__, split), np.int32, len(split))

    def _unit(self, terms: Iterable[str]) -> int:
        self.terms.append(tuple(terms))
        return len(self.terms) - 1

    def _long(self, text: str) -> int:
        """The unit of a text longer than folding reads (analysed whole)."""
        tokens = self._analyzer.tokens(text)
        self._surface.update(tokens)
        self._spelled.update(tokens)
        return self._unit(self._analyzer.terms(tokens))

    def _learn(self, name: str) -> None:
        analyzer = self._analyzer
        tokens = analyzer.tokens(name)
        self._surface.update(tokens)
        self._spelled.update(tokens)
        words_ = tuple(analyzer.word(token) for token in tokens)
        starts = any(longest > 1 for _, _, longest in words_)
        inert = bool(words_) and not starts and not any(stem_ in self._following for stem_, _, _ in words_)
        piece = _Piece(tuple(tokens), words_, tuple(term for _, alone, _ in words_ for term in alone), starts, inert)
        self._numbers[name] = len(self._pieces)
        self._pieces.append(piece)
        self._inert.append(inert)
        self._unit_of.append(self._unit(piece.terms) if inert else -1)

    def _run(self, key: tuple[int, ...]) -> int:
        """The unit of pieces that are not inert side by side, read word by word the first time."""
        known = self._runs.get(key)
        if known is not None:
            return known
        found = [self._pieces[number] for number in key]
        out: list[str] = []
        skip = 0
        for index, piece in enumerate(found):
            if not skip and not piece.starts:
                out.extend(piece.terms)
                continue
            for at, (_, alone, longest) in enumerate(piece.words):
                if skip:
                    skip -= 1
                elif longest > 1 and (size := self._synonym(found, index, at, longest, out)):
                    skip = size - 1
                else:
                    out.extend(alone)
        unit = self._runs[key] = self._unit(out)
        return unit

    def _synonym(self, found: list[_Piece], index: int, at: int, longest: int, out: list[str]) -> int:
        """How many words the longest synonym starting at word ``at`` of piece ``index`` has (its terms
        added to ``out``); 0 when none starts there."""
        analyzer = self._analyzer
        # Most words that may start a synonym start none here: the next word says so.
        words_ = found[index].words
        following = words_[at + 1 : at + 2] or next((piece.words for piece in found[index + 1 :] if piece.words), ())
        if not following or following[0][0] not in analyzer.followers[words_[at][0]]:
            return 0
        tokens: list[str] = []
        stems: list[str] = []
        for piece in found[index:]:
            tokens.extend(piece.tokens[at:])
            stems.extend(stem_ for stem_, _, _ in piece.words[at:])
            at = 0
            if len(stems) >= longest:
                break
        for size in range(min(longest, len(stems)), 1, -1):
            replacement = analyzer.synonyms.get(tuple(stems[:size]))
            if replacement is not None:
                out.extend(analyzer.synonym_terms(replacement, tokens[:size]))
                return size
        return 0


def _same_runs(values: npt.NDArray[np.int32], starts: Ints, size: int, bound: int) -> tuple[Ints, Ints]:
    """Which runs of ``size`` values (all below ``bound``) from ``starts`` are alike: the index of the
    first of each distinct run, and which distinct run each run is."""
    code = np.zeros(len(starts), np.int64)
    codes = 1
    for offset in range(size):
        if codes > (1 << 62) // bound:
            # Renumbered densely before the next value would overflow the code.
            _, code = np.unique(code, return_inverse=True)
            codes = len(starts)
        code = code * bound + values[starts + offset]
        codes *= bound
    _, firsts, which = np.unique(code, return_index=True, return_inverse=True)
    return firsts, which


def _first_met(units: Ints, texts_per_entry: Ints, count: int) -> tuple[Ints, Ints, Ints]:
    """Each of ``count`` units met in ``units`` (one entry's texts after another's, each text ended by
    unit 0, ``texts_per_entry`` texts each): the entry and the place it is first met in, and the unit."""
    first = np.full(count, len(units), np.int64)
    np.minimum.at(first, units, np.arange(len(units)))
    unit = np.flatnonzero(first < len(units))
    places = first[unit]
    # The text a place is in is the first whose end is not before it.
    text = np.searchsorted(np.flatnonzero(units == 0), places)
    entries = np.repeat(np.arange(len(texts_per_entry)), texts_per_entry)[text]
    return entries, places, unit


def _spread(numbered: list[tuple[int, ...]], units: Ints) -> Terms:
    """The term numbers of ``units`` one after the other (``numbered``: each unit's)."""
    sizes = np.fromiter(map(len, numbered), np.int64, len(numbered))
    flat = np.fromiter(chain.from_iterable(numbered), np.uint32, int(sizes.sum()))
    offsets = np.cumsum(sizes) - sizes
    counts = sizes[units]
    begins = np.repeat(offsets[units] - (np.cumsum(counts) - counts), counts)
    return flat[begins + np.arange(len(begins))]


@dataclass(frozen=True, slots=True)
class _Occurrences:
    """The terms of every entry as arrays: a row per word of a title, question variant or tag, and one
    per distinct term of an answer. ``key`` numbers the entry and the term (entry x terms + term);
    ``position`` orders an entry's rows as they are read (title, variants, tags, answer); ``field`` is
    the field's place in WEIGHTS; ``times`` how often the term occurs there in that row."""

    # The first entry's number, and how many entries.
    entry: int
    entries: int
    key: npt.NDArray[np.signedinteger[Any]]
    position: npt.NDArray[np.signedinteger[Any]]
    field: npt.NDArray[np.int8]
    times: npt.NDArray[np.int32]

    @classmethod
    def of(
        cls,
        term_count: int,
        begin: int,
        end: int,
        variants: Terms,
        title_ends: Ints,
        variant_ends: Ints,
        tags: Terms,
        tag_ends: Ints,
        answers: tuple[Ints, Ints, Ints, Ints],
    ) -> _Occurrences:
        """The rows of entries ``begin`` to ``end``. ``variants``: every entry's title and question
        variants, each ended by 0 (``title_ends``: where each entry's title ends, ``variant_ends``: where
        its variants do); ``tags`` likewise; ``answers``: the terms of each distinct answer one after the
        other, how often each occurs in it, how many terms each answer has, the answer of each entry."""
        terms, counts, sizes, answer_of = answers
        ends = variant_ends[begin:end]
        offset = int(variant_ends[begin - 1]) if begin else 0
        words = variants[offset : int(ends[-1]) if len(ends) else offset]
        ends = ends - offset
        tag_bounds = tag_ends[begin:end]
        tag_offset = int(tag_ends[begin - 1]) if begin else 0
        tag_words = tags[tag_offset : int(tag_bounds[-1]) if len(tag_bounds) else tag_offset]
        tag_bounds = tag_bounds - tag_offset
        # Four bytes a number while they fit.
        fits = max((end - begin) * term_count, len(words) + len(tag_words) + int(sizes.max(initial=0))) < 1 << 31
        wide = np.int32 if fits else np.int64
        entries = np.arange(end - begin, dtype=wide)
        position = np.flatnonzero(words)
        doc = np.repeat(entries, _sizes(ends))[position]
        title = position < (title_ends[begin:end] - offset)[doc]
        tag_doc = np.repeat(entries, _sizes(tag_bounds))
        firsts = np.cumsum(sizes) - sizes
        which = answer_of[begin:end]
        per_doc = sizes[which]
        rows = np.repeat(firsts[which] - (np.cumsum(per_doc) - per_doc), per_doc)
        rows += np.arange(len(rows))
        # Each answer row's place in the answer: its terms in the order they first occur.
        rank = np.arange(len(terms)) - np.repeat(firsts, sizes)
        return cls(
            entry=begin,
            entries=end - begin,
            key=np.concatenate(
                (
                    doc * term_count + words[position].astype(wide),
                    tag_doc * term_count + tag_words.astype(wide),
                    np.repeat(entries, per_doc) * term_count + terms[rows].astype(wide),
                )
            ),
            position=np.concatenate(
                (
                    position.astype(wide),
                    len(words) + np.arange(len(tag_words), dtype=wide),
                    len(words) + len(tag_words) + rank[rows].astype(wide),
                )
            ),
            field=np.concatenate(
                (
                    np.where(title, 0, 1).astype(np.int8),
                    np.full(len(tag_words), 2, np.int8),
                    np.full(len(rows), 3, np.int8),
                )
            ),
            times=np.concatenate((np.ones(len(title) + len(tag_words), np.int32), counts[rows].astype(np.int32))),
        )


def _stable_order(key: npt.NDArray[np.signedinteger[Any]]) -> Ints:
    """The stable order of the numbers ``key`` (none negative), sorted 16 bits at a time from the lowest:
    numpy sorts 16-bit numbers by radix, in a time linear in their count, several times faster than it
    sorts wider ones."""
    order = np.arange(len(key))
    top = int(key.max(initial=0))
    shift = 0
    while True:
        digits = ((key[order] >> shift) & 0xFFFF).astype(np.uint16)
        order = order[np.argsort(digits, kind="stable")]
        shift += 16
        if not top >> shift:
            return order


def _sizes(bounds: Ints) -> Ints:
    """The sizes of the runs that end at ``bounds``."""
    return bounds - np.concatenate((np.zeros(1, np.int64), bounds[:-1]))


def _slices(values: Terms, ends: Ints, typecode: str) -> list[array[int]]:
    """``values`` cut at ``ends``, as exact-size arrays of ``typecode``."""
    flat = values.astype(typecode)
    bounds = [0, *ends.tolist()]
    return [array(typecode, flat[begin:end].tobytes()) for begin, end in pairwise(bounds)]
