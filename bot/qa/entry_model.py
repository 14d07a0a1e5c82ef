"""A learned signal beside the lexical ranking: which entry a question is most like, in any language.

BM25 sees words; a question whose words are misspelt, inflected or slang that the lexicon does not
list ("colocon", "naloksonu", "desintox") matches through its letters rather than its words. This
model reads the same character n-grams as the alarm detector (``ngrams.py``) and weighs them with a
logistic regression over the entries, trained by ``advocacy-bot kb calibrate`` on every entry's
title and question variants in every language (never on the tuning set, which stays a measure of
it), beside one class per topic the knowledge base does not answer (``outside.yaml``), so that a
question near an entry but about something else believes in none of them; the weights are written
to ``entries.npz`` in the content folder. Its probability of an entry (its *belief*) is added to
that entry's score when the retriever re-ranks its best candidates, and the belief in the best one is
a feature of the calibrated probability of answering.
"""

from __future__ import annotations

import hashlib
from collections import Counter
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


def classes(kb: KnowledgeBase) -> tuple[str, ...]:
    """What the model tells apart, in a fixed order: the entries, then the topics the knowledge base
    does not answer (a question like one of those is less likely to be about an entry)."""
    return (*sorted(kb.entries), *sorted(topic.id for topic in kb.outside))


def examples_from(kb: KnowledgeBase) -> tuple[tuple[str, ...], list[str], list[int]]:
    """The classes, and every entry title and question variant and every outside topic's question,
    each with its class's number."""
    names = classes(kb)
    number = {name: at for at, name in enumerate(names)}
    texts: list[str] = []
    labels: list[int] = []
    for entry in sorted(kb.entries.values(), key=lambda entry: entry.id):
        written = [(entry.title, *entry.questions)]
        written += [(translation.title, *translation.questions) for translation in entry.translations.values()]
        for phrased in written:
            texts += phrased
            labels += [number[entry.id]] * len(phrased)
    for topic in kb.outside:
        for questions in topic.questions.values():
            texts += questions
            labels += [number[topic.id]] * len(questions)
    return names, texts, labels


def digest(kb: KnowledgeBase) -> str:
    """What a model trained on ``kb`` learns from, in a few characters: a model whose entries, titles or
    variants changed since is stale."""
    entries, texts, labels = examples_from(kb)
    hashed = hashlib.sha256(f"{BUCKETS}|{L2}|{STEPS}|{LEARNING_RATE}|balanced|{'|'.join(entries)}".encode())
    for text, label in zip(texts, labels, strict=True):
        hashed.update(f"{label}|{text}\n".encode())
    return hashed.hexdigest()[:16]


def balanced(labels: list[int]) -> list[float]:
    """A weight per example such that each class weighs as much as any other, however many questions
    it lists: a topic of outside.yaml with a dozen questions is as sure a class as an entry translated
    six times (unweighted, "capital of oregon", one of the Oregon topic's own questions, was believed
    to be about Measure 110)."""
    counts = Counter(labels)
    per_class = len(labels) / len(counts)
    return [per_class / counts[label] for label in labels]


def train(kb: KnowledgeBase) -> EntryWeights:
    entries, texts, labels = examples_from(kb)
    fitted = fit(texts, labels, balanced(labels), len(entries), STEPS)
    return EntryWeights(entries, fitted.weights, fitted.bias, fitted.idf, digest(kb))


def save(trained: EntryWeights, path: Path) -> None:
    """Write ``entries.npz``."""
    write(path, trained.weights, trained.bias, trained.idf, trained.digest, entries=np.array(trained.entries))
