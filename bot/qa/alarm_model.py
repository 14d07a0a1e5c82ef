"""A second alarm detector, learned: someone describing an overdose, or a wish to die, in words the
concept rules (``emergency.py``, ``crisis.py``) do not list.

The rules generalise over concepts, but only through the words they list, and new phrasings slip past
them: on a set written after the rules were tuned, they caught 85 % of the emergencies and 63 % of the
crises. This model reads character n-grams of the folded words (2 to 5 letters, a word's edges
marked), which carry stems, inflections and typos across the six languages, and weighs them with a
multinomial logistic regression over three classes: no alarm, emergency, crisis. It is trained by
``advocacy-bot kb calibrate`` on the tuning set's messages and on the knowledge base's question
variants (questions, never alarms), and its weights are written to ``alarms.npz`` in the content
folder, which the bot reads. The core raises the alarm when the rules do, or when this model's
probability of an alarm reaches a threshold chosen on held-out folds of the tuning set (calm messages
must almost never reach it) and the rules' look-alikes (a pet, a device, a film, a joke) do not
explain it away. Deterministic: the same text always gets the same answer, and training always gives
the same weights.
"""

from __future__ import annotations

import hashlib
import math
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bot.content.model import AlarmWeights, KnowledgeBase
from bot.content.schema import ALARM_BUCKETS, ALARM_CLASSES
from bot.content.text import MAX_ANALYSED_CHARS, fold, words
from bot.qa.crisis import CRISIS_ENTRY

# Hashed n-gram buckets: the tuning messages and variants hold about 40,000 distinct n-grams, so
# collisions are few, and the weights stay well under a megabyte on disk.
BUCKETS = ALARM_BUCKETS
NGRAMS = range(2, 6)
# Ridge penalty, and the steps of full-batch gradient descent (Adam) that fit the weights.
L2 = 1e-4
STEPS = 250
LEARNING_RATE = 0.05
# Held-out folds for choosing the threshold, and the share of calm held-out messages allowed to
# reach it (half of the 1 % budget for false alarms: the rules make a few too).
FOLDS = 4
FALSE_ALARMS = 0.005
# Never lower: below it the model is more unsure than sure.
MIN_THRESHOLD = 0.5
# A question variant counts this much beside a tuning message: there are many more of them.
VARIANT_WEIGHT = 0.5

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]


class Label(IntEnum):
    CALM = 0
    EMERGENCY = 1
    CRISIS = 2


assert len(Label) == ALARM_CLASSES


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: Label
    weight: float = 1.0


@dataclass(frozen=True, slots=True)
class Verdict:
    """The model's probability of an alarm, and which alarm is likelier."""

    probability: float
    label: Label


def ngrams(text: str) -> dict[int, int]:
    """The hashed character n-grams of ``text``'s folded words, counted."""
    counts: Counter[int] = Counter()
    for word in words(fold(text[:MAX_ANALYSED_CHARS])):
        padded = f" {word} "
        for n in NGRAMS:
            for start in range(len(padded) - n + 1):
                counts[zlib.crc32(padded[start : start + n].encode()) % BUCKETS] += 1
    return dict(counts)


def _vector(counts: dict[int, int], idf: Floats) -> tuple[Ints, Floats]:
    """Sublinear tf-idf, scaled to unit length."""
    if not counts:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    index = np.fromiter(counts, np.int64, len(counts))
    values = (1.0 + np.log(np.fromiter(counts.values(), np.float32, len(counts)))) * idf[index]
    norm = float(np.linalg.norm(values)) or 1.0
    return index, (values / norm).astype(np.float32)


class AlarmModel:
    def __init__(self, trained: AlarmWeights) -> None:
        self.trained = trained

    @property
    def threshold(self) -> float:
        return self.trained.threshold

    def verdict(self, text: str) -> Verdict:
        index, values = _vector(ngrams(text), self.trained.idf)
        scores = self.trained.weights[:, index] @ values + self.trained.bias
        scores = np.exp(scores - scores.max())
        p = scores / scores.sum()
        label = Label.EMERGENCY if p[Label.EMERGENCY] >= p[Label.CRISIS] else Label.CRISIS
        return Verdict(float(p[Label.EMERGENCY] + p[Label.CRISIS]), label)

    def alarms(self, text: str) -> Label | None:
        """The alarm the model raises for ``text``, if it reaches the threshold."""
        verdict = self.verdict(text)
        return verdict.label if verdict.probability >= self.threshold else None


def save(trained: AlarmWeights, path: Path) -> None:
    """Write ``alarms.npz`` (half-precision weights: a fraction of the size, the same decisions)."""
    with path.open("wb") as out:
        np.savez_compressed(
            out,
            weights=trained.weights.astype(np.float16),
            bias=trained.bias,
            idf=trained.idf.astype(np.float16),
            threshold=np.array([trained.threshold]),
            digest=np.array([trained.digest]),
        )


def examples_from(kb: KnowledgeBase, messages: Iterable[tuple[str, str]]) -> tuple[list[Example], list[bool]]:
    """The training examples: tuning messages (``(text, expected kind)``: "emergency", "crisis" or any
    other), then every question variant as a calm one; and which of them are calm tuning messages."""
    examples: list[Example] = []
    for text, kind in messages:
        label = Label.EMERGENCY if kind == "emergency" else Label.CRISIS if kind == "crisis" else Label.CALM
        examples.append(Example(text, label))
    calm = [example.label is Label.CALM for example in examples]
    for entry in kb.entries.values():
        # The crisis entry's variants ("what number do i call if a friend talks about suicide") are calm
        # questions, but too close to what the crisis answer is for: left out rather than taught as calm.
        if entry.id == CRISIS_ENTRY:
            continue
        variants = [*entry.questions, *(q for t in entry.translations.values() for q in t.questions)]
        examples.extend(Example(q, Label.CALM, VARIANT_WEIGHT) for q in variants)
    return examples, calm + [False] * (len(examples) - len(calm))


def digest(examples: Sequence[Example], checked: Sequence[bool]) -> str:
    """What a model was trained on, in a few characters: a model whose training data changed, or whose
    threshold would be chosen on other messages (the rules explain others away), is stale."""
    hashed = hashlib.sha256(f"{BUCKETS}|{L2}|{STEPS}|{LEARNING_RATE}|{FOLDS}|{FALSE_ALARMS}".encode())
    for example, check in zip(examples, checked, strict=True):
        hashed.update(f"{example.label}|{example.weight}|{check:d}|{example.text}\n".encode())
    return hashed.hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class _Matrix:
    """Training vectors, row after row (the sparse layout, in plain arrays)."""

    rows: Ints
    index: Ints
    values: Floats
    count: int


def _matrix(vectors: Sequence[tuple[Ints, Floats]]) -> _Matrix:
    rows = np.concatenate([np.full(len(index), row, np.int64) for row, (index, _) in enumerate(vectors)])
    index = np.concatenate([index for index, _ in vectors])
    values = np.concatenate([values for _, values in vectors])
    return _Matrix(rows, index, values, len(vectors))


def _fit(examples: Sequence[Example]) -> tuple[Floats, Floats, Floats]:
    """Weights, bias and idf for ``examples`` (classes balanced by weight)."""
    counted = [ngrams(example.text) for example in examples]
    df = np.zeros(BUCKETS, np.float32)
    for counts in counted:
        df[np.fromiter(counts, np.int64, len(counts))] += 1
    idf = (np.log((1 + len(examples)) / (1 + df)) + 1).astype(np.float32)
    x = _matrix([_vector(counts, idf) for counts in counted])
    labels = np.array([example.label for example in examples], np.int64)
    sample = np.array([example.weight for example in examples], np.float32)
    per_class = np.bincount(labels, weights=sample, minlength=len(Label))
    sample = sample * (sample.sum() / (len(Label) * np.maximum(per_class, 1e-9)))[labels]
    sample = sample / sample.sum()
    target = np.eye(len(Label), dtype=np.float32)[labels]
    classes = len(Label)
    weights = np.zeros((classes, BUCKETS), np.float32)
    bias = np.zeros(classes, np.float32)
    moments = [np.zeros_like(weights), np.zeros_like(weights), np.zeros_like(bias), np.zeros_like(bias)]
    for step in range(1, STEPS + 1):
        scores = np.zeros((x.count, classes), np.float32)
        for k in range(classes):
            scores[:, k] = np.bincount(x.rows, weights=weights[k, x.index] * x.values, minlength=x.count)
        scores += bias
        scores -= scores.max(axis=1, keepdims=True)
        p = np.exp(scores)
        p /= p.sum(axis=1, keepdims=True)
        error = (p - target) * sample[:, None]
        grad_w = np.stack(
            [np.bincount(x.index, weights=error[x.rows, k] * x.values, minlength=BUCKETS) for k in range(classes)]
        ).astype(np.float32)
        grad_w += L2 * weights
        grad_b = error.sum(axis=0).astype(np.float32)
        for param, grad, first, second in ((weights, grad_w, *moments[:2]), (bias, grad_b, *moments[2:])):
            first *= 0.9
            first += 0.1 * grad
            second *= 0.999
            second += 0.001 * grad * grad
            param -= (LEARNING_RATE * (first / (1 - 0.9**step)) / (np.sqrt(second / (1 - 0.999**step)) + 1e-8)).astype(
                np.float32
            )
    return weights, bias, idf


def train(examples: Sequence[Example], checked: Sequence[bool]) -> AlarmWeights:
    """The model for ``examples``, with the threshold that held-out folds call for.

    ``checked``: for each example, whether its held-out probability sets the threshold: the calm
    messages of the tuning set that the model would be asked about (not small talk, not explained away
    as a look-alike); question variants train the model but are not messages anyone sent.
    """
    held_out: list[float] = []
    for fold_number in range(FOLDS):
        train_part = [e for i, e in enumerate(examples) if i % FOLDS != fold_number]
        model = AlarmModel(AlarmWeights(*_fit(train_part), 1.0, ""))
        for i, example in enumerate(examples):
            if i % FOLDS == fold_number and checked[i]:
                held_out.append(model.verdict(example.text).probability)
    return AlarmWeights(*_fit(examples), threshold_for(held_out), digest(examples, checked))


def threshold_for(calm: Sequence[float]) -> float:
    """The lowest threshold that at most ``FALSE_ALARMS`` of the calm messages reach."""
    ranked = sorted(calm, reverse=True)
    allowed = math.floor(FALSE_ALARMS * len(ranked))
    if allowed >= len(ranked):
        return MIN_THRESHOLD
    # Just above the first calm message that may not reach it.
    return min(0.999, max(MIN_THRESHOLD, float(np.nextafter(np.float32(ranked[allowed]), np.float32(1)))))
