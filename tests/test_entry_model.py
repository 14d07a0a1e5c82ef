"""The learned entry model (bot/qa/entry_model.py): deterministic, a belief per entry that the ranking
adds to its best candidates, a weights file the content check guards and `kb calibrate` keeps current."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np

from bot.content import BUNDLED_CONTENT, check, load
from bot.content.model import Content, EntryWeights
from bot.qa import entry_model
from bot.qa.deciding import Decider
from bot.qa.entry_model import EntryModel
from bot.qa.ngrams import BUCKETS, fit, ngrams

QUESTIONS = {
    "naloxone": ["where do i get naloxone", "narcan near me", "naloxona gratis", "налоксон где взять"],
    "fentanyl-test-strips": ["how do test strips work", "fent strips", "tiras de fentanilo", "тест-полоски"],
}


def toy() -> EntryWeights:
    entries = tuple(QUESTIONS)
    texts = [q for questions in QUESTIONS.values() for q in questions]
    labels = [n for n, questions in enumerate(QUESTIONS.values()) for _ in questions]
    fitted = fit(texts, labels, [1.0] * len(texts), len(entries), 60)
    return EntryWeights(entries, fitted.weights, fitted.bias, fitted.idf, "toy")


def test_a_fit_is_deterministic_and_believes_the_entry_asked_about() -> None:
    first, again = toy(), toy()
    assert np.array_equal(first.weights, again.weights) and np.array_equal(first.bias, again.bias)
    beliefs = EntryModel(first).beliefs("naloxon where")
    assert set(beliefs) == set(QUESTIONS) and abs(sum(beliefs.values()) - 1) < 1e-5
    assert beliefs["naloxone"] > beliefs["fentanyl-test-strips"]
    assert max(EntryModel(first).beliefs("tiras fentanil").items(), key=lambda kv: kv[1])[0] == "fentanyl-test-strips"
    assert all(0 <= bucket < BUCKETS for bucket in ngrams("naloxone"))


def test_the_bundled_model_is_current_and_knows_every_entry() -> None:
    content = load(BUNDLED_CONTENT)
    assert content.entry_model is not None
    assert content.entry_model.digest == entry_model.digest(content.kb), "run: advocacy-bot kb calibrate"
    # And every topic the knowledge base does not answer (outside.yaml), told apart from the entries.
    assert set(content.entry_model.entries) == set(content.kb.entries) | {t.id for t in content.kb.outside}


def test_the_ranking_adds_the_models_belief_to_its_candidates(content: Content) -> None:
    question = "where can i get naloxone"
    plain = Decider(dataclasses.replace(content, entry_model=None)).rank(question, "en")
    assert plain.hits[0].entry == "naloxone" and plain.belief == 0.0
    # A model sure of another candidate moves it first, and the ranking says how sure it was.
    runner_up = plain.hits[1].entry
    # No weights, only a bias: whatever the text, the runner-up is all but certain.
    weights, bias = np.zeros((2, BUCKETS), np.float32), np.array([0.0, -20.0], np.float32)
    sure_of = EntryWeights((runner_up, "naloxone"), weights, bias, np.ones(BUCKETS, np.float32), "x")
    moved = Decider(dataclasses.replace(content, entry_model=sure_of)).rank(question, "en")
    assert moved.hits[0].entry == runner_up and moved.belief > 0.99
    assert {hit.entry for hit in moved.hits} == {hit.entry for hit in plain.hits}


def test_a_damaged_model_file_is_a_problem_of_that_file_and_a_foreign_one_is_set_aside(tmp_path: Path) -> None:
    tree = tmp_path / "content"
    shutil.copytree(BUNDLED_CONTENT, tree, ignore=shutil.ignore_patterns("__pycache__", "eval"))
    (tree / "entries.npz").write_bytes(b"not a zip file")
    [problem] = check(tree)
    assert problem.path == tree / "entries.npz" and "kb calibrate" in problem.message
    trained = toy()
    # Trained on another knowledge base: set aside, the lexical ranking works alone.
    entry_model.save(dataclasses.replace(trained, entries=("naloxone", "no-such-entry")), tree / "entries.npz")
    assert check(tree) == [] and load(tree).entry_model is None
    (tree / "entries.npz").unlink()
    assert check(tree) == [] and load(tree).entry_model is None


def test_every_class_weighs_the_same_however_many_questions_it_lists() -> None:
    weights = entry_model.balanced([0, 0, 0, 1])
    assert sum(weights[:3]) == weights[3] == 2.0
