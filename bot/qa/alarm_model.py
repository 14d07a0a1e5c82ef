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
must almost never reach it) and the rules read no reason for the message to be no emergency (a pet,
a device, a film, a joke, a figure of speech, something over: ``emergency.explained``).
Deterministic: the same text always gets the same answer, and training always gives the same weights.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path

import numpy as np

from bot.content.model import AlarmWeights, KnowledgeBase
from bot.content.schema import ALARM_CLASSES
from bot.qa.crisis import CRISIS_ENTRY
from bot.qa.ngrams import BUCKETS, L2, LEARNING_RATE, Fitted, fit, probabilities, write

# The steps of gradient descent that fit the weights.
STEPS = 250
# Held-out folds for choosing the threshold, and the share of calm held-out messages allowed to
# reach it (half of the 1 % budget for false alarms: the rules make a few too).
FOLDS = 4
FALSE_ALARMS = 0.005
# Never lower: below it the model is more unsure than sure.
MIN_THRESHOLD = 0.5
# A question variant counts this much beside a tuning message: there are many more of them.
VARIANT_WEIGHT = 0.5


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


class AlarmModel:
    def __init__(self, trained: AlarmWeights) -> None:
        self.trained = trained

    @property
    def threshold(self) -> float:
        return self.trained.threshold

    def verdict(self, text: str) -> Verdict:
        p = probabilities(self.trained.weights, self.trained.bias, self.trained.idf, text)
        label = Label.EMERGENCY if p[Label.EMERGENCY] >= p[Label.CRISIS] else Label.CRISIS
        return Verdict(float(p[Label.EMERGENCY] + p[Label.CRISIS]), label)

    def alarms(self, text: str) -> Label | None:
        """The alarm the model raises for ``text``, if it reaches the threshold."""
        verdict = self.verdict(text)
        return verdict.label if verdict.probability >= self.threshold else None


def save(trained: AlarmWeights, path: Path) -> None:
    """Write ``alarms.npz``."""
    write(path, trained.weights, trained.bias, trained.idf, trained.digest, threshold=np.array([trained.threshold]))


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


def _fit(examples: Sequence[Example]) -> Fitted:
    """The model for ``examples``, the three classes balanced by weight."""
    labels = np.array([example.label for example in examples], np.int64)
    sample = np.array([example.weight for example in examples], np.float32)
    per_class = np.bincount(labels, weights=sample, minlength=len(Label))
    sample = sample * (sample.sum() / (len(Label) * np.maximum(per_class, 1e-9)))[labels]
    return fit([example.text for example in examples], labels.tolist(), sample.tolist(), len(Label), STEPS)


def train(examples: Sequence[Example], checked: Sequence[bool]) -> AlarmWeights:
    """The model for ``examples``, with the threshold that held-out folds call for.

    ``checked``: for each example, whether its held-out probability sets the threshold: the calm
    messages of the tuning set that the model would be asked about (not small talk, not explained away
    as a look-alike); question variants train the model but are not messages anyone sent.
    """
    held_out: list[float] = []
    for fold_number in range(FOLDS):
        train_part = [e for i, e in enumerate(examples) if i % FOLDS != fold_number]
        fitted = _fit(train_part)
        model = AlarmModel(AlarmWeights(fitted.weights, fitted.bias, fitted.idf, 1.0, ""))
        for i, example in enumerate(examples):
            if i % FOLDS == fold_number and checked[i]:
                held_out.append(model.verdict(example.text).probability)
    fitted = _fit(examples)
    return AlarmWeights(fitted.weights, fitted.bias, fitted.idf, threshold_for(held_out), digest(examples, checked))


def threshold_for(calm: Sequence[float]) -> float:
    """The lowest threshold that at most ``FALSE_ALARMS`` of the calm messages reach."""
    ranked = sorted(calm, reverse=True)
    allowed = math.floor(FALSE_ALARMS * len(ranked))
    if allowed >= len(ranked):
        return MIN_THRESHOLD
    # Just above the first calm message that may not reach it.
    return min(0.999, max(MIN_THRESHOLD, float(np.nextafter(np.float32(ranked[allowed]), np.float32(1)))))
