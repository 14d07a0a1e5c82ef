"""Ranking knowledge-base entries for a question.

Two stages: a BM25 ranking over a weighted bag of terms per entry (title, question variants,
tags, answer), computed on an inverted index so that only entries sharing a term are touched;
then a typo-tolerant re-ranking of the best few by how closely the question resembles one of the
entry's question variants (rapidfuzz). Terms go through the content lexicon (slang and brand
names to one canonical word), stop-word removal, typo correction against the knowledge base's
own vocabulary, and Snowball stemming, so "narcan wher to get", "where can I get naloxone" and
"naloxone where" meet on the same terms.
"""

from __future__ import annotations

import math
from array import array
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz import fuzz, process
from rapidfuzz.distance import Levenshtein

from bot.content.model import Entry, Lexicon
from bot.markup import plain
from bot.phrases import allowed_typos
from bot.text import stem, words

# Field weights: a question variant is the best evidence, the answer text the weakest.
WEIGHTS = {"title": 2.0, "questions": 1.0, "tags": 2.0, "answer": 0.35}
K1 = 1.2
B = 0.75
RERANK = 12
# Ranking blends BM25 (relative to the best), resemblance to a question variant, and the share of
# the question's information the entry covers; confidence blends the last two. Tuned on kb-tests.
RANK_WEIGHTS = (0.3, 0.5, 0.2)
CONFIDENCE_WEIGHTS = (0.4, 0.6)
MAX_QUERY_WORDS = 64
# The longest multi-word synonym in a lexicon is matched first; longer ones are not looked for.
MAX_SYNONYM_WORDS = 4


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


class Analyzer:
    """Turns text into search terms for one language."""

    def __init__(self, lexicon: Lexicon, lang: str) -> None:
        self.lang = lang
        self.stopwords = lexicon.stopwords.get(lang, frozenset())
        self.synonyms: dict[tuple[str, ...], tuple[str, ...]] = {}
        for variant, canonical in lexicon.synonyms.get(lang, {}).items():
            key = tuple(words(variant))
            if key:
                self.synonyms[key] = tuple(words(canonical))

    def canonical(self, tokens: list[str]) -> list[str]:
        """Add the canonical words of slang and variants, longest phrase first."""
        out: list[str] = []
        i = 0
        while i < len(tokens):
            for size in range(min(MAX_SYNONYM_WORDS, len(tokens) - i), 0, -1):
                variant = tuple(tokens[i : i + size])
                replacement = self.synonyms.get(variant)
                if replacement is not None:
                    # The words as typed stay too: "overheats" must still meet "overheating".
                    out.extend(replacement)
                    out.extend(w for w in variant if w not in replacement)
                    i += size
                    break
            else:
                out.append(tokens[i])
                i += 1
        return out

    def terms(self, text: str) -> list[str]:
        return [stem(w, self.lang) for w in self.canonical(words(text)) if w not in self.stopwords]


class Retriever:
    """An index over knowledge-base entries in one language."""

    def __init__(self, entries: Iterable[Entry], analyzer: Analyzer) -> None:
        self.analyzer = analyzer
        self.ids: list[str] = []
        self._variants: list[list[str]] = []
        bags: list[dict[str, float]] = []
        surface: set[str] = set()
        for entry in entries:
            bag: dict[str, float] = defaultdict(float)
            fields = {
                "title": [entry.title],
                "questions": list(entry.questions),
                "tags": list(entry.tags),
                "answer": [plain(entry.answer)],
            }
            for name, texts in fields.items():
                for text in texts:
                    if name != "answer":
                        # Typos are corrected towards words people ask with, not every word of an answer.
                        surface.update(words(text))
                    for term in analyzer.terms(text):
                        bag[term] += WEIGHTS[name]
            self.ids.append(entry.id)
            bags.append(bag)
            self._variants.append([" ".join(analyzer.terms(q)) for q in (entry.title, *entry.questions)])
        for variant in analyzer.synonyms:
            surface.update(variant)
        surface -= analyzer.stopwords
        self._surface = sorted(surface)
        self._known_terms = {term for bag in bags for term in bag}

        count = max(len(bags), 1)
        lengths = [sum(bag.values()) for bag in bags]
        average = sum(lengths) / count if lengths else 1.0
        frequency: dict[str, int] = defaultdict(int)
        for bag in bags:
            for term in bag:
                frequency[term] += 1
        self.idf = {t: math.log(1 + (count - n + 0.5) / (n + 0.5)) for t, n in frequency.items()}
        # An unknown word is treated as the rarest there could be: it carries the most information.
        self.unknown_idf = math.log(1 + (count - 0.5) / 1.5)
        # Postings as parallel arrays (entry index, BM25 term weight): a tenth of the memory of
        # tuples in lists, which matters at thousands of entries.
        self._postings: dict[str, tuple[array[int], array[float]]] = {}
        for doc, (bag, length) in enumerate(zip(bags, lengths, strict=True)):
            norm = K1 * (1 - B + B * length / average)
            for term, tf in bag.items():
                docs, term_weights = self._postings.setdefault(term, (array("i"), array("d")))
                docs.append(doc)
                term_weights.append(tf * (K1 + 1) / (tf + norm))
        self._correction_cache: dict[str, str | None] = {}

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

    def query_terms(self, text: str) -> list[tuple[str, bool]]:
        """The question's terms, each with whether the knowledge base knows it."""
        analyzer = self.analyzer
        out: list[tuple[str, bool]] = []
        seen: set[str] = set()
        for word in analyzer.canonical(words(text)[:MAX_QUERY_WORDS]):
            if word in analyzer.stopwords:
                continue
            if len(word) <= 2 and stem(word, analyzer.lang) not in self._known_terms:
                continue  # chat shorthand ("r", "u", "ur") carries no meaning worth searching
            term = stem(word, analyzer.lang)
            if term not in self._known_terms:
                corrected = self._correct(word)
                if corrected is not None:
                    for fixed in analyzer.canonical([corrected]):
                        fixed_term = stem(fixed, analyzer.lang)
                        if fixed_term not in seen:
                            seen.add(fixed_term)
                            out.append((fixed_term, fixed_term in self._known_terms))
                    continue
            if term not in seen:
                seen.add(term)
                out.append((term, term in self._known_terms))
        return out

    def rank(self, text: str, limit: int = 5) -> Ranking:
        terms = self.query_terms(text)
        if not terms:
            return Ranking((), 0.0, 0.0)
        weights = {t: (self.idf[t] if known else self.unknown_idf) for t, known in terms}
        total = sum(weights.values()) or 1.0
        known_terms = [t for t, known in terms if known]
        coverage = sum(weights[t] for t in known_terms) / total
        scores: dict[int, float] = defaultdict(float)
        matched: dict[int, float] = defaultdict(float)
        for term in known_terms:
            idf = weights[term]
            docs, term_weights = self._postings[term]
            for doc, weight in zip(docs, term_weights, strict=True):
                scores[doc] += idf * weight
                matched[doc] += idf
        if not scores:
            return Ranking((), 0.0, coverage)
        best = sorted(scores, key=scores.__getitem__, reverse=True)[:RERANK]
        top = scores[best[0]]
        query = " ".join(t for t, _ in terms)
        reranked: list[tuple[float, float, int]] = []
        for doc in best:
            resemblance = max(fuzz.token_sort_ratio(query, v) for v in self._variants[doc]) / 100
            share = matched[doc] / total
            w_bm25, w_resemblance, w_share = RANK_WEIGHTS
            rank_score = w_bm25 * scores[doc] / top + w_resemblance * resemblance + w_share * share
            c_share, c_resemblance = CONFIDENCE_WEIGHTS
            confidence = c_share * share + c_resemblance * resemblance
            reranked.append((rank_score, confidence, doc))
        reranked.sort(reverse=True)
        hits = tuple(Hit(self.ids[doc], round(score, 4)) for score, _, doc in reranked[:limit])
        return Ranking(hits, round(reranked[0][1], 4), round(coverage, 4))
