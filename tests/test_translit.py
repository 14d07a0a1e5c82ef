"""Russian and Ukrainian typed in Latin letters: read as the Cyrillic they spell, answered in their language."""

from __future__ import annotations

import pytest

from bot.core.app import Services
from bot.port.events import ReplyKind
from bot.qa.translit import cyrillic


@pytest.mark.parametrize(
    ("typed", "lang", "spelled"),
    [
        ("ne dyshit", "ru", "не дышит"),
        ("Shcho robyty?", "uk", "що робити"),
        ("zhena, moy drug", "ru", "жена мой друг"),
        ("eto odno i to zhe", "ru", "это одно и то же"),
        ("vin ne dykhaye", "uk", "він не дихає"),
    ],
)
def test_latin_letters_spell_cyrillic(typed: str, lang: str, spelled: str) -> None:
    assert cyrillic(typed, lang) == spelled


@pytest.mark.parametrize(
    ("message", "lang", "kind", "entry"),
    [
        ("drug ne dyshit posle geroina, chto delat", "ru", ReplyKind.EMERGENCY, None),
        ("podruga ne dykhaie pislia metadonu shcho robyty", "uk", ReplyKind.EMERGENCY, None),
        (
            "dekriminalizaciya i legalizaciya eto odno i to zhe?",
            "ru",
            ReplyKind.ANSWER,
            "decriminalisation-definitions",
        ),
        # The soft sign most people leave out is put back where the content knows the word: сделать.
        ("kak sdelat mef doma", "ru", ReplyKind.REFUSAL, None),
        # A number says nothing of the script it is typed in.
        ("oregon 110 otmenili? pochemu", "ru", ReplyKind.ANSWER, "oregon-measure-110"),
        ("ne hochu bolshe zhit", "ru", ReplyKind.EMERGENCY, "crisis-support"),
    ],
)
def test_translit_is_answered_in_its_language(
    services: Services, message: str, lang: str, kind: ReplyKind, entry: str | None
) -> None:
    decider = services.decider
    assert decider.language_of(message) == lang
    answer = decider.answer(message, lang)
    assert answer.kind is kind and answer.lang == lang and answer.question == message
    if entry is not None:
        assert answer.entry == entry


@pytest.mark.parametrize(
    "message",
    [
        "what is naloxone",
        "wat is prep",
        "donde consigo naloxona gratis",
        "naloxone spray price in poland",
        "ok",
    ],
)
def test_latin_script_languages_are_read_as_typed(services: Services, message: str) -> None:
    decider = services.decider
    assert decider.translit.read(message) is None and decider.readable(message) == message


def test_a_device_in_translit_is_no_emergency_though_the_typed_words_are_a_phrase(services: Services) -> None:
    # "ne prosypaetsya" is one of the content's own translit phrases; the Cyrillic reading finds the laptop.
    message = "noutbuk peregrevaetsya i ne prosypaetsya posle spyashchego rezhima"
    assert services.decider.readable(message).startswith("ноутбук")
    assert services.decider.answer(message, "ru").kind is not ReplyKind.EMERGENCY
