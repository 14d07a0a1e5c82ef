"""Topics near the knowledge base's that it does not answer (``content/outside.yaml``): indexed beside
the entries, a question most like one of them gets the fallback, never the entry it shares a word
with; the entries keep their own questions, and the calibration's bound holds without them."""

from __future__ import annotations

from datetime import date

import pytest

from bot.content.model import Content, OutsideTopic
from bot.core.capabilities import Services
from bot.port.events import ReplyKind
from bot.port.markup import parse
from bot.qa import entry_model
from bot.qa.calibration import MAX_OUT_OF_SCOPE, Sample, fit, probability
from bot.qa.retrieval import Analyzer, Document, Hit, Ranking, Retriever

DAYS = OutsideTopic(
    "other-days",
    "Awareness days the bot does not follow",
    {"en": ("when is world mental health day", "when is world no tobacco day", "world blood donor day date")},
)


def _index(content: Content) -> Retriever:
    entry = Document(
        "action-days",
        "Action days calendar",
        ("when is world hepatitis day", "when is world aids day", "what are the action days"),
        ("calendar",),
        parse("World Hepatitis Day is on 28 July; World AIDS Day on 1 December."),
    )
    outside = Document.outside_of(DAYS, "en")
    assert outside is not None and Document.outside_of(DAYS, "fr") is None
    return Retriever([entry, outside], Analyzer(content.lexicon, "en"))


def test_a_question_most_like_an_outside_topic_ranks_no_entry(content: Content) -> None:
    ranking = _index(content).rank("when is world mental health day")
    assert ranking.outside == "other-days" and ranking.hits == ()
    # Its confidence and coverage are still measured: they say how sure the decline is.
    assert ranking.confidence > 0.5 and ranking.coverage > 0.5


def test_an_outside_topic_is_never_offered_as_an_entry(content: Content) -> None:
    ranking = _index(content).rank("when is world hepatitis day")
    assert ranking.outside is None
    assert [hit.entry for hit in ranking.hits] == ["action-days"]


@pytest.mark.parametrize(
    ("question", "lang"),
    [
        ("when's world mental health day this year", "en"),
        ("what is the capital city of portugal", "en"),
        ("cuando cae el dia mundial sin tabaco", "es"),
        ("коли цього року всесвітній день психічного здоров'я", "uk"),
        ("quelle est la date de la journée mondiale de la santé mentale", "fr"),
    ],
)
def test_the_bundled_outside_topics_decline_near_questions(services: Services, question: str, lang: str) -> None:
    answer = services.decider.decide(question, lang)
    assert answer.kind is ReplyKind.FALLBACK and answer.candidates == ()


@pytest.mark.parametrize(
    ("question", "entry"),
    [
        ("when is world hepatitis day", "action-days"),
        ("can hepatitis c be cured", "hepatitis-c-cure"),
        ("what happened in portugal after decriminalisation", "portugal-outcomes"),
    ],
)
def test_the_entries_keep_their_own_questions(services: Services, question: str, entry: str) -> None:
    answer = services.decider.decide(question, "en")
    assert answer.kind is ReplyKind.ANSWER and answer.entry == entry


def test_the_entry_model_tells_the_topics_from_the_entries(content: Content) -> None:
    kb = content.kb
    assert content.entry_model is not None and set(content.entry_model.entries) == set(entry_model.classes(kb))
    assert kb.outside and set(entry_model.classes(kb)) == set(kb.entries) | {t.id for t in kb.outside}
    names, texts, labels = entry_model.examples_from(kb)
    topic = names.index(kb.outside[0].id)
    assert sum(label == topic for label in labels) == sum(len(q) for q in kb.outside[0].questions.values())
    assert len(texts) == len(labels)


def test_questions_an_outside_topic_declines_count_as_kept_out() -> None:
    def sample(confidence: float, in_scope: bool, outside: str | None = None) -> Sample:
        hits = () if outside else (Hit("x", 1.0),)
        ranking = Ranking(hits, confidence, 0.9, 0.9, outside=outside)
        return Sample(ranking, in_scope, 0 if in_scope else None)

    # Out-of-scope questions that look in scope (0.7) among in-scope ones that look alike (0.65-0.9).
    samples = [sample(0.9, True)] * 60 + [sample(0.65, True)] * 60 + [sample(0.7, False)] * 3
    samples += [sample(0.2 - i / 1000, False) for i in range(100)]
    alone, _ = fit(samples, date(2026, 12, 7))
    # The same, with many more out-of-scope questions that a topic of outside.yaml declines: the three
    # that look in scope are a smaller share of all there are to keep out, and the middle is served
    # (the model is the same: declined questions are not fitted on).
    with_topics, achieved = fit([*samples, *[sample(0.8, False, "animals")] * 300], date(2026, 12, 7))
    middle = probability(alone, Ranking((Hit("x", 1.0),), 0.65, 0.9, 0.9))
    assert alone.answer > middle >= with_topics.answer
    assert 0 < achieved["out_of_scope_answered"] <= MAX_OUT_OF_SCOPE
