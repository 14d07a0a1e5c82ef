"""Aspects (``content/aspects.yaml``): a question about a side of an entry's subject that the entry never
speaks of ("can I drive on methadone") gets the entry offered ("did you mean"), not served as the answer."""

from __future__ import annotations

import pytest

from bot.core.app import Services
from bot.port.events import ReplyKind


@pytest.mark.parametrize(
    ("question", "lang", "entry", "aspect"),
    [
        ("can i drive on methadone", "en", "opioid-agonist-treatment", "driving"),
        ("puedo manejar tomando metadona", "es", "opioid-agonist-treatment", "driving"),
        ("беременным можно метадон?", "ru", "opioid-agonist-treatment", "pregnancy"),
        ("can i take prep while pregnant", "en", "prep", "pregnancy"),
        ("можна здавати кров якщо я на PrEP", "uk", "prep", "blood-donation"),
        ("is narcan safe for dogs", "en", "naloxone", "pets"),
        ("est-ce que la naloxone marche sur un chat", "fr", "naloxone", "pets"),
        ("do fentanyl test strips expire", "en", "fentanyl-test-strips", "expiry"),
        ("who founded insite", "en", "supervised-consumption", "founding"),
        # Where naloxone is free is no answer to what it costs at a chemist's.
        ("how much does naloxone cost at the pharmacy", "en", "naloxone", "cost"),
        ("how much does methadone treatment cost", "en", "opioid-agonist-treatment", "cost"),
    ],
)
def test_an_aspect_the_entry_never_speaks_of_gets_it_offered_not_served(
    services: Services, question: str, lang: str, entry: str, aspect: str
) -> None:
    decider = services.decider
    assert decider.aspects.unspoken(question, entry) == {aspect}
    answer = decider.answer(question, lang)
    assert answer.kind is ReplyKind.CLARIFY and answer.candidates[0] == entry


@pytest.mark.parametrize(
    ("question", "lang", "entry"),
    [
        # The same subjects, asked what their entries answer.
        ("what is methadone treatment", "en", "opioid-agonist-treatment"),
        ("what is prep", "en", "prep"),
        ("la PrEP c'est quoi", "fr", "prep"),
        ("where can i get narcan", "en", "naloxone"),
        ("how do fentanyl test strips work", "en", "fentanyl-test-strips"),
    ],
)
def test_an_entry_answers_its_subject_and_the_aspects_it_speaks_of(
    services: Services, question: str, lang: str, entry: str
) -> None:
    answer = services.decider.answer(question, lang)
    assert answer.kind is ReplyKind.ANSWER and answer.entry == entry


def test_an_aspect_is_found_in_each_language_it_lists(services: Services) -> None:
    asked = services.decider.aspects.asked
    assert asked("how much does it cost") == {"cost"}
    assert asked("сколько стоит") == {"cost"}
    assert asked("combien ça coûte, et ça se périme ?") == {"cost", "expiry"}
    # Words that only look like an aspect's: "address" the stigma, a volunteer asking for a colleague.
    assert asked("how can we address stigma") == frozenset()
    assert asked("i volunteer at a needle exchange, how do i explain naloxone") == frozenset()
