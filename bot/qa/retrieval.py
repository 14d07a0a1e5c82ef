"""Ranking knowledge-base entries for a question.

One index per language: the English entries, and each language's translations. Two stages: a BM25
ranking over a weighted bag of terms per entry (title, question variants, tags, answer), computed on
an inverted index so that only entries sharing a term are touched; then a typo-tolerant re-ranking
of the best few by how closely the question resembles one of the entry's question variants
(rapidfuzz). Terms go through the content lexicon (slang and brand names to one canonical word),
stop-word removal, typo correction against the index's own vocabulary, and Snowball stemming, so
"narcan wher to get", "where can I get naloxone" and "naloxone where" meet on the same terms.

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
from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from bot.content.model import Entry, Lexicon
from bot.content.text import stem, words
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
# The longest multi-word synonym in a lexicon is matched first; longer ones are not looked for.
MAX_SYNONYM_WORDS = 4


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
        # The variants' words as written, for typo correction.
        self.vocabulary: set[str] = set()
        for variant, canonical in lexicon.synonyms.get(lang, {}).items():
            variant_words = self.tokens(variant)[:MAX_SYNONYM_WORDS]
            if variant_words:
                key = tuple(stem(w, lang) for w in variant_words)
                self.synonyms[key] = tuple(words(canonical))
                self._longest[key[0]] = max(self._longest.get(key[0], 0), len(key))
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
                    out.extend(self._stems(replacement, tokens[i : i + size]))
                    i += size
                    break
            else:
                out.extend(alone)
                i += 1
        return out

    def _word(self, token: str) -> tuple[str, tuple[str, ...], int]:
        token_stem = stem(token, self.lang)
        replacement = self.synonyms.get((token_stem,))
        found = token_stem, self._stems(replacement or (), [token]), self._longest.get(token_stem, 0)
        self._words[sys.intern(token)] = found
        return found

    def _stems(self, replacement: Sequence[str], typed: Sequence[str]) -> tuple[str, ...]:
        """The terms of a variant's canonical words and of the typed words beside them, as spans() pairs them."""
        kept = [*replacement, *(w for w in typed if w not in replacement)]
        return tuple(stem(w, self.lang) for w in kept if w not in self.stopwords)

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
        # A knowledge base in six languages at a hundred times today's size must stay small, so the
        # index is arrays of numbers. Terms are numbered from 1 (0 ends a question variant below).
        self._term_ids: dict[str, int] = {}
        self._terms = [""]
        # Postings, by term number: the entries holding the term (ascending) and its BM25 weight in
        # each (2-byte entry numbers while they fit, 4-byte weights). They hold the raw term frequency
        # until every entry's length is known (BM25 needs the average); no per-entry bag outlives its
        # entry.
        doc_type = "H" if len(documents) <= 0xFFFF else "I"
        self._postings: list[tuple[array[int], array[float]]] = [(array(doc_type), array("f"))]
        # Each entry's title and question variants as term numbers, each variant ended by 0; its tags.
        self._variants: list[array[int]] = []
        self._tags: list[array[int]] = []
        surface: set[str] = set()
        # Every word the entries spell, answers included (words spelt right, never taken for typos).
        self.spelled: set[str] = set()
        lengths: list[float] = []
        # The same answer or tags recur (an entry's copies, shared tags): analysed once each.
        analysed: dict[str, tuple[list[str], list[int]]] = {}
        for doc, document in enumerate(documents):
            bag: dict[int, float] = defaultdict(float)
            variants = array("I")
            tags = array("I")
            fields = (
                ("title", (document.title,)),
                ("questions", document.questions),
                ("tags", document.tags),
                ("answer", (plain(document.answer),)),
            )
            for name, texts in fields:
                for text in texts:
                    known = analysed.get(text) if name in ("tags", "answer") else None
                    if known is None:
                        tokens = analyzer.tokens(text)
                        known = tokens, [self._number(term, doc_type) for term in analyzer.terms(tokens)]
                        self.spelled.update(tokens)
                        if name in ("tags", "answer"):
                            analysed[text] = known
                    tokens, term_ids = known
                    if name != "answer":
                        # Typos are corrected towards words people ask with, not every word of an answer.
                        surface.update(tokens)
                    if name in ("title", "questions"):
                        variants.extend([*term_ids, 0])
                    elif name == "tags":
                        tags.extend(term_ids)
                    for term_id in term_ids:
                        bag[term_id] += WEIGHTS[name]
            for term_id, tf in bag.items():
                docs, frequencies = self._postings[term_id]
                docs.append(doc)
                frequencies.append(tf)
            lengths.append(sum(bag.values()))
            self._variants.append(variants)
            self._tags.append(tags)
        surface.update(analyzer.vocabulary)
        surface -= analyzer.stopwords
        self._surface = sorted(sys.intern(w) for w in surface)

        self._count = max(len(lengths), 1)
        average = (sum(lengths) / self._count if lengths else 0.0) or 1.0
        # An unknown word is treated as the rarest there could be: it carries the most information.
        self.unknown_idf = math.log(1 + (self._count - 0.5) / 1.5)
        norms = [K1 * (1 - B + B * length / average) for length in lengths]
        for docs, weights in self._postings:
            weights[:] = array("f", [tf * (K1 + 1) / (tf + norms[doc]) for doc, tf in zip(docs, weights, strict=True)])
        if len(self._terms) <= 0xFFFF:
            # Exact-size copies with 2-byte term numbers: half the memory of the arrays they were built in.
            self._variants = [array("H", variants) for variants in self._variants]
            self._tags = [array("H", tags) for tags in self._tags]
        self._correction_cache: dict[str, str | None] = {}
        self._texts_cache: dict[int, list[str]] = {}

    def _number(self, term: str, doc_type: str) -> int:
        term_id = self._term_ids.get(term)
        if term_id is None:
            term_id = self._term_ids[sys.intern(term)] = len(self._terms)
            self._terms.append(term)
            self._postings.append((array(doc_type), array("f")))
        return term_id

    def _known(self, term: str) -> bool:
        return term in self._term_ids

    def _docs(self, term: str) -> array[int]:
        return self._postings[self._term_ids[term]][0]

    def idf(self, term: str) -> float:
        """The term's inverse document frequency (computed, not stored: one float fewer per term)."""
        n = len(self._docs(term))
        return math.log(1 + (self._count - n + 0.5) / (n + 0.5))

    def _holder(self, doc: int, known: Container[str]) -> Callable[[str], bool]:
        """Whether entry ``doc`` holds a known term: the postings are sorted, so a binary search says,
        for the few entries re-ranked."""
        return lambda term: term in known and _holds(self._docs(term), doc)

    def _variant_texts(self, doc: int) -> list[str]:
        """The entry's title and question variants as text, rebuilt from term numbers (kept as numbers:
        text for every variant of a large knowledge base would be most of its memory) and remembered
        for the entries asked about most."""
        texts = self._texts_cache.get(doc)
        if texts is not None:
            return texts
        texts = []
        variant: list[str] = []
        for term_id in self._variants[doc]:
            if term_id:
                variant.append(self._terms[term_id])
            else:
                texts.append(" ".join(variant))
                variant = []
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
            found = process.extractOne(word, self._surface, scorer=Levenshtein.distance, score_cutoff=typos)
            # A typo rarely hits the first letter; requiring it keeps "maths" from becoming "bath".
            best = found[0] if found and found[0][0] == word[0] else None
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

    def rank(self, text: str, limit: int = 5, beliefs: Mapping[str, float] | None = None) -> Ranking:
        return self.rank_words(self.analyzer.tokens(text), limit, beliefs=beliefs)

    def rank_words(
        self,
        tokens: list[str],
        limit: int = 5,
        known_elsewhere: Container[str] = (),
        beliefs: Mapping[str, float] | None = None,
    ) -> Ranking:
        """Rank the entries for a question already split into folded words.

        ``known_elsewhere``: typed words this index does not know but another one searched for the same
        question does. They count as known for coverage (the question is not out of scope for them)
        but no entry here matches them. ``beliefs``: the entry model's probability of each entry, added
        to the re-ranking score of the best candidates.
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
        if not scores:
            return Ranking((), 0.0, coverage)
        best = heapq.nlargest(RERANK, scores, key=scores.__getitem__)
        top = scores[best[0]]
        query = " ".join(t for t, _, _ in terms)
        reranked: list[tuple[float, float, int]] = []
        for doc in best:
            best_variant = process.extractOne(query, self._variant_texts(doc), scorer=fuzz.token_sort_ratio)
            resemblance = best_variant[1] / 100 if best_variant else 0.0
            # The share of the question's information this entry holds.
            share = share_of(self._holder(doc, known_set))
            w_bm25, w_resemblance, w_share = RANK_WEIGHTS
            rank_score = (
                w_bm25 * scores[doc] / top
                + w_resemblance * resemblance
                + w_share * share
                + BELIEF_WEIGHT * beliefs.get(self.ids[doc], 0.0)
            )
            c_share, c_resemblance = CONFIDENCE_WEIGHTS
            confidence = c_share * share + c_resemblance * resemblance
            reranked.append((rank_score, confidence, doc))
        reranked.sort(reverse=True)
        hits = tuple(Hit(self.ids[doc], round(score, 4)) for score, _, doc in reranked[:limit])
        held = {*self._variants[reranked[0][2]], *self._tags[reranked[0][2]]}
        focus = share_of(lambda t: t in known_set and self._term_ids[t] in held)
        belief = beliefs.get(self.ids[reranked[0][2]], 0.0)
        return Ranking(hits, round(reranked[0][1], 4), round(coverage, 4), round(focus, 4), round(belief, 4))


def allowed_typos(length: int) -> int:
    """How many edits a misspelt question word of this length may be from the knowledge-base word it
    is corrected to (the first letters must agree too)."""
    if length >= 8:
        return 2
    if length >= 5:
        return 1
    return 0


def _holds(docs: array[int], doc: int) -> bool:
    at = bisect_left(docs, doc)
    return at < len(docs) and docs[at] == doc
