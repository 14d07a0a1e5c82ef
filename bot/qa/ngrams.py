"""Linear models over hashed character n-grams: what the learned detectors share.

A message is read as the character n-grams (2 to 5 letters) of its folded words, each word's edges
marked, which carry stems, inflections and typos across the six languages without a word list. The
n-grams are hashed (crc32, the same in every process) into a fixed number of buckets and weighed by
sublinear tf-idf, scaled to unit length; a multinomial logistic regression over them says how likely
each class is. Training is full-batch gradient descent (Adam) from zeros: the same data always gives
the same weights.
"""

from __future__ import annotations

import zlib
from array import array
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.content.schema import NGRAM_BUCKETS
from bot.content.text import MAX_ANALYSED_CHARS, fold, words

# Hashed n-gram buckets: the tuning messages and variants hold about 40,000 distinct n-grams, so
# collisions are few, and the weights stay well under a megabyte on disk per class.
BUCKETS = NGRAM_BUCKETS
NGRAMS = range(2, 6)
# Words whose n-grams are remembered, up to this long: two megabytes at most, whatever is typed.
WORDS_REMEMBERED = 4096
LONGEST_REMEMBERED = 32
# Ridge penalty, and the step size of the gradient descent.
L2 = 1e-4
LEARNING_RATE = 0.05

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Fitted:
    """A trained model: (classes, buckets) weights, a bias per class, and the idf per bucket."""

    weights: Floats
    bias: Floats
    idf: Floats


# Both models read each question (the alarm detector, then the entry model): counted once.
@lru_cache(maxsize=256)
def ngrams(text: str) -> Mapping[int, int]:
    """The hashed character n-grams of ``text``'s folded words, counted (read-only: shared)."""
    counts = Counter(chain.from_iterable(map(_word_ngrams, words(fold(text[:MAX_ANALYSED_CHARS])))))
    return MappingProxyType(dict(counts))


def _word_ngrams(word: str) -> array[int]:
    """The buckets of a word's n-grams, edges marked, by size then by place."""
    return _remembered(word) if len(word) <= LONGEST_REMEMBERED else _hashed(word)


# Words come back again and again, in questions and in the training texts: each one's n-grams are
# hashed once (a crc32 per n-gram was most of the time of reading a question).
@lru_cache(maxsize=WORDS_REMEMBERED)
def _remembered(word: str) -> array[int]:
    return _hashed(word)


def _hashed(word: str) -> array[int]:
    padded = f" {word} "
    spans = [(start, start + n) for n in NGRAMS for start in range(len(padded) - n + 1)]
    return array("I", [zlib.crc32(padded[start:end].encode()) % BUCKETS for start, end in spans])


def vector(counts: Mapping[int, int], idf: Floats) -> tuple[Ints, Floats]:
    """Sublinear tf-idf, scaled to unit length."""
    if not counts:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    index = np.fromiter(counts, np.int64, len(counts))
    values = (1.0 + np.log(np.fromiter(counts.values(), np.float32, len(counts)))) * idf[index]
    norm = float(np.linalg.norm(values)) or 1.0
    return index, (values / norm).astype(np.float32)


def probabilities(weights: npt.NDArray[np.floating[Any]], bias: Floats, idf: Floats, text: str) -> Floats:
    """How likely each class is for ``text``."""
    index, values = vector(ngrams(text), idf)
    # The same single-precision row-major operands however the weights are laid out, so the same sums.
    read = np.ascontiguousarray(weights[:, index], dtype=np.float32)
    scores: Floats = (read @ values + bias).astype(np.float32)
    exp: Floats = np.exp(scores - scores.max())
    return exp / np.float32(exp.sum())


def write(
    path: Path,
    weights: npt.NDArray[np.floating[Any]],
    bias: Floats,
    idf: Floats,
    digest: str,
    **extra: npt.NDArray[Any],
) -> None:
    """Write a trained model as ``bot.content.schema`` reads it back (half-precision weights and idf: a
    fraction of the size, the same decisions), with whatever else the model needs beside them."""
    # Any: numpy's stubs type savez's keyword arguments as its own options, not as the arrays they are.
    arrays: dict[str, Any] = {
        "weights": weights.astype(np.float16),
        "bias": bias,
        "idf": idf.astype(np.float16),
        "digest": np.array([digest]),
        **extra,
    }
    with path.open("wb") as out:
        np.savez_compressed(out, **arrays)


@dataclass(frozen=True, slots=True)
class _Matrix:
    """Training vectors, row after row (the sparse layout, in plain arrays)."""

    rows: Ints
    index: Ints
    values: Floats
    count: int


def fit(texts: Sequence[str], labels: Sequence[int], sample: Sequence[float], classes: int, steps: int) -> Fitted:
    """The model for ``texts`` labelled ``labels`` (0 .. classes - 1), each counting its ``sample`` weight."""
    counted = [ngrams(text) for text in texts]
    df = np.zeros(BUCKETS, np.float32)
    for counts in counted:
        df[np.fromiter(counts, np.int64, len(counts))] += 1
    idf = (np.log((1 + len(texts)) / (1 + df)) + 1).astype(np.float32)
    vectors = [vector(counts, idf) for counts in counted]
    x = _Matrix(
        np.concatenate([np.full(len(index), row, np.int64) for row, (index, _) in enumerate(vectors)]),
        np.concatenate([index for index, _ in vectors]),
        np.concatenate([values for _, values in vectors]),
        len(vectors),
    )
    # Only the buckets some text holds get weights: the rest stay zero, and the sums run over fewer.
    used, x_index = np.unique(x.index, return_inverse=True)
    share = np.asarray(sample, np.float32)
    share = share / share.sum()
    target = np.eye(classes, dtype=np.float32)[np.asarray(labels, np.int64)]
    weights = np.zeros((classes, len(used)), np.float32)
    bias = np.zeros(classes, np.float32)
    moments = [np.zeros_like(weights), np.zeros_like(weights), np.zeros_like(bias), np.zeros_like(bias)]
    for step in range(1, steps + 1):
        scores = np.empty((x.count, classes), np.float32)
        for k in range(classes):
            scores[:, k] = np.bincount(x.rows, weights=weights[k, x_index] * x.values, minlength=x.count)
        scores += bias
        scores -= scores.max(axis=1, keepdims=True)
        p = np.exp(scores)
        p /= p.sum(axis=1, keepdims=True)
        error = (p - target) * share[:, None]
        grad_w = np.stack(
            [np.bincount(x_index, weights=error[x.rows, k] * x.values, minlength=len(used)) for k in range(classes)]
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
    full = np.zeros((classes, BUCKETS), np.float32)
    full[:, used] = weights
    return Fitted(full, bias, idf)
