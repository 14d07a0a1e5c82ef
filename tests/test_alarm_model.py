"""The learned alarm detector (bot/qa/alarm_model.py): deterministic features, a fit that separates
what it is shown, a threshold chosen on calm messages, and a weights file the content check guards."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.content import BUNDLED_CONTENT, check, load
from bot.content.model import AlarmWeights
from bot.core.app import Services
from bot.port.events import ReplyKind
from bot.qa.alarm_model import (
    FALSE_ALARMS,
    MIN_THRESHOLD,
    AlarmModel,
    Example,
    Label,
    digest,
    save,
    threshold_for,
    train,
)
from bot.qa.deciding import LEARNED, Decider
from bot.qa.ngrams import BUCKETS, ngrams


def test_ngrams_are_the_same_in_every_run_and_fold_case_and_accents() -> None:
    # crc32, not hash(): Python salts str hashes per process.
    assert ngrams("Не дышит") == ngrams("не ДЫШИТ")
    assert ngrams("respiração") == ngrams("respiracao")
    assert all(0 <= bucket < BUCKETS for bucket in ngrams("he's not breathing"))
    assert ngrams("") == {}


def test_the_threshold_lets_at_most_the_allowed_share_of_calm_messages_through() -> None:
    calm = [i / 1000 for i in range(1000)]
    threshold = threshold_for(calm)
    assert sum(p >= threshold for p in calm) <= FALSE_ALARMS * len(calm)
    assert threshold_for([0.1, 0.2]) == MIN_THRESHOLD


def test_a_fit_tells_the_three_kinds_apart_and_is_deterministic() -> None:
    examples = [Example(f"he is not breathing {i}", Label.EMERGENCY) for i in range(20)]
    examples += [Example(f"i want to end my life {i}", Label.CRISIS) for i in range(20)]
    examples += [Example(f"where can i get free test strips {i}", Label.CALM) for i in range(40)]
    calm = [e.label is Label.CALM for e in examples]
    trained = train(examples, calm)
    again = train(examples, calm)
    assert np.array_equal(trained.weights, again.weights) and trained.digest == again.digest == digest(examples, calm)
    # Checking other calm messages chooses another threshold: the digest says the model is another.
    assert digest(examples, [False] * len(examples)) != trained.digest
    model = AlarmModel(trained)
    assert model.alarms("my friend is not breathing") is Label.EMERGENCY
    assert model.alarms("i really want to end my life") is Label.CRISIS
    assert model.alarms("free test strips where") is None


def test_the_bundled_weights_load_and_a_damaged_file_is_a_problem_of_that_file(tmp_path: Path) -> None:
    content = load(BUNDLED_CONTENT)
    assert content.alarms is not None and MIN_THRESHOLD <= content.alarms.threshold < 1
    tree = tmp_path / "content"
    shutil.copytree(BUNDLED_CONTENT, tree, ignore=shutil.ignore_patterns("__pycache__"))
    (tree / "alarms.npz").write_bytes(b"not a zip file")
    [problem] = check(tree)
    assert problem.path == tree / "alarms.npz" and "kb calibrate" in problem.message
    trained = content.alarms
    save(type(trained)(trained.weights[:, :10], trained.bias, trained.idf, trained.threshold, "x"), tree / "alarms.npz")
    [problem] = check(tree)
    assert "another version" in problem.message
    (tree / "alarms.npz").unlink()
    assert check(tree) == [] and load(tree).alarms is None


@pytest.mark.parametrize("text", ["", "a" * 100_000, "🙂" * 500])
def test_any_text_gets_a_verdict(text: str) -> None:
    content = load(BUNDLED_CONTENT)
    assert content.alarms is not None
    verdict = AlarmModel(content.alarms).verdict(text)
    assert 0.0 <= verdict.probability <= 1.0


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("ninguém ia sentir minha falta se eu morresse", "crisis"),
        ("estou há três dias acordado de cristal e acho que estão a vigiar-me, o coração não abranda", "stimulant"),
    ],
)
def test_the_decider_raises_the_alarm_the_rules_miss(services: Services, message: str, kind: str) -> None:
    decider = services.decider
    assert decider.detector.detect(message) is None and decider.crises.detect(message) is None
    answer = decider.answer(message, "en")
    assert answer.kind is ReplyKind.EMERGENCY
    match = answer.crisis if kind == "crisis" else answer.emergency
    assert match is not None and match.phrase == LEARNED
    if answer.emergency is not None:
        assert answer.emergency.kind == kind and answer.emergency.lang == "pt"


def test_small_talk_and_the_rules_look_alikes_are_never_put_to_the_model(services: Services) -> None:
    # A model that calls everything an emergency: what it is not asked about stays calm.
    content = services.content
    alarmist = AlarmWeights(
        np.zeros((3, BUCKETS), np.float32),
        np.array([0.0, 10.0, 0.0], np.float32),
        np.ones(BUCKETS, np.float32),
        0.5,
        "alarmist",
    )
    decider = Decider(dataclasses.replace(content, alarms=alarmist))
    assert decider.answer("where can i get naloxone", "en").kind is ReplyKind.EMERGENCY
    for calm in ("hi there", "thanks!", "my dog won't wake up, he's so lazy", "my phone is overheating and shaking"):
        assert decider.answer(calm, "en").kind is not ReplyKind.EMERGENCY, calm
        assert not decider.is_alarm(calm)
