"""A learned signal beside the lexical ranking: which entry a question is most like, in any language.

BM25 sees words; a question whose words are misspelt, inflected or slang that the lexicon does not
list ("colocon", "naloksonu", "desintox") matches through its letters rather than its words. This
model reads the same character n-grams as the alarm detector (``ngrams.py``) and weighs them with a
logistic regression over the entries, trained by ``advocacy-bot kb calibrate`` on every entry's
title and question variants in every language (never on the tuning set, which stays a measure of
it); the weights are written to ``entries.npz`` in the content folder. Its probability of an entry
(its *belief*) is added to that entry's score when the retriever re-ranks its best candidates, and
the belief in the best one is a feature of the calibrated probability of answering.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from bot.content.model import EntryWeights, KnowledgeBase
from bot.qa.ngrams import BUCKETS, L2, LEARNING_RATE, fit, probabilities, write

# Fewer steps than the alarm detector: many more classes, each well separated by its variants.
STEPS = 150


class EntryModel:
    def __init__(self, trained: EntryWeights) -> None:
        self.trained = trained

    def beliefs(self, text: str) -> dict[str, float]:
        """How likely each entry is the one ``text`` asks about."""
        p = probabilities(self.trained.weights, self.trained.bias, self.trained.idf, text)
        return dict(zip(self.trained.entries, p.tolist(), strict=True))


def examples_from(kb: KnowledgeBase) -> tuple[tuple[str, ...], list[str], list[int]]:
    """The entries, in a fixed order, and every title and question variant with its entry's number."""
    entries = tuple(sorted(kb.entries))
    texts: list[str] = []
    labels: list[int] = []
    for number, entry_id in enumerate(entries):
        entry = kb.entries[entry_id]
        written = [(entry.title, entry.questions)]
        written += [(translation.title, translation.questions) for translation in entry.translations.values()]
        for title, questions in written:
            for text in (title, *questions):
                texts.append(text)
                labels.append(number)
    return entries, texts, labels


def digest(kb: KnowledgeBase) -> str:
    """What a model trained on ``kb`` learns from, in a few characters: a model whose entries, titles or
    variants changed since is stale."""
    entries, texts, labels = examples_from(kb)
    hashed = hashlib.sha256(f"{BUCKETS}|{L2}|{STEPS}|{LEARNING_RATE}|{'|'.join(entries)}".encode())
    for text, label in zip(texts, labels, strict=True):
        hashed.update(f"{label}|{text}\n".encode())
    return hashed.hexdigest()[:16]


def train(kb: KnowledgeBase) -> EntryWeights:
    entries, texts, labels = examples_from(kb)
    fitted = fit(texts, labels, [1.0] * len(texts), len(entries), STEPS)
    return EntryWeights(entries, fitted.weights, fitted.bias, fitted.idf, digest(kb))


def save(trained: EntryWeights, path: Path) -> None:
    """Write ``entries.npz``."""
    write(path, trained.weights, trained.bias, trained.idf, trained.digest, entries=np.array(trained.entries))
