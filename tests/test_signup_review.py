"""The sign-up's review before consent, names that look like questions, and likely slips offered back."""

from __future__ import annotations

import pytest
from testbot import TestBot

from bot.campaigns.forms import FieldError, email_suggestion, resolve_country
from bot.core.app import Services
from bot.core.config import Config

PETITION = "un-decriminalise"


async def answers(bot: TestBot) -> dict[str, str]:
    """What the sign-up under way holds so far."""
    conversation = await bot.core.conversations.conversation(bot.core.keyring.user_id("console", "tester"))
    assert conversation is not None
    return dict(conversation.state["answers"])


async def test_the_review_shows_what_will_be_signed_and_each_field_can_be_changed(bot: TestBot) -> None:
    review = await bot.ask_each("/sign", "Maria López", "maria@example.org", "usa")
    assert 'I take "usa" to mean United States.' in review
    assert "Name: Maria López\nE-mail: maria@example.org\nCountry: United States" in review
    assert "What is your e-mail address?" in await bot.press("Change e-mail")
    # Changing one field comes straight back to the review, the other answers kept.
    review = await bot.press("Skip")
    assert "Name: Maria López\nE-mail: (not given)\nCountry: United States" in review
    await bot.press("Change country")
    review = await bot.ask("Deutschland")
    assert 'I take "Deutschland" to mean Germany.' in review and "Country: Germany" in review
    assert "Thank you, Maria López!" in await bot.press("I agree")
    (signature,) = await bot.core.signatures.signatures(PETITION)
    assert (signature.signer.email, signature.signer.country) == (None, "DE")


@pytest.mark.parametrize("typed", ["what is naloxone?", "¿qué es la naloxona?"])
async def test_a_question_at_the_name_step_is_not_a_name(bot: TestBot, typed: str) -> None:
    await bot.ask("/sign")
    text = await bot.ask(typed)
    assert "looks like a question or a command, not a name" in text
    assert "What name should appear on the petition?" in text
    assert await answers(bot) == {}


async def test_a_name_of_mostly_little_words_is_asked_about_not_taken(bot: TestBot) -> None:
    await bot.ask("/sign")
    text = await bot.ask("what is naloxone")
    assert '"what is naloxone" reads more like a sentence than a name.' in text
    assert "[1] Yes, use this name" in text
    assert await answers(bot) == {}
    # Typing the real name instead replaces it; nothing of the question stays.
    assert "e-mail address" in await bot.ask("Maria López")
    assert await answers(bot) == {"name": "Maria López"}


async def test_a_doubtful_name_that_is_right_is_kept_with_one_tap(bot: TestBot) -> None:
    assert "e-mail address" in await bot.ask_each("/sign", "De La O", "yes")
    assert await answers(bot) == {"name": "De La O"}


@pytest.mark.parametrize(
    ("lang", "typed", "code"),
    [
        ("en", "Alemania", "DE"),
        ("en", "Deutschland", "DE"),
        ("en", "Brasil", "BR"),
        ("es", "Germany", "DE"),
        ("fr", "Україна", "UA"),
        ("ru", "США", "US"),
        ("pt", "EEUU", "US"),
        ("en", "usa", "US"),
    ],
)
def test_countries_by_name_in_any_of_the_languages_or_their_own(lang: str, typed: str, code: str) -> None:
    assert resolve_country(typed, lang).code == code


async def test_a_likely_country_is_offered_as_a_button_and_typing_yes_takes_it(bot: TestBot) -> None:
    offer = await bot.ask_each("/sign", "Maria López", "skip", "Brazl")
    assert 'I don\'t know a country called "Brazl". Did you mean: Brazil?' in offer
    assert "[1] Yes: Brazil" in offer
    assert "Country: Brazil" in await bot.ask("yes")


async def test_several_likely_countries_are_each_a_button(bot: TestBot) -> None:
    with pytest.raises(FieldError) as raised:
        resolve_country("Nigera", "en")
    assert set(raised.value.options) >= {"NG", "NE"}
    offer = await bot.ask_each("/sign", "Maria López", "skip", "Nigera")
    assert "Nigeria" in offer and "Niger" in offer
    # Typed, the exact label wins over the longer one that starts the same.
    assert "Country: Niger\n" in await bot.ask("niger")


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("maria@gmial.com", "maria@gmail.com"),
        ("maria@hotmial.com", "maria@hotmail.com"),
        ("maria@gmail.con", "maria@gmail.com"),
        ("maria@yahooo.fr", "maria@yahoo.fr"),
        ("maria@gmail.com", None),
        ("maria@ymail.com", None),
        ("maria@example.org", None),
        ("maria@gmx.at", None),
    ],
)
def test_email_domain_typos_are_suggested(typed: str, suggested: str | None) -> None:
    assert email_suggestion(typed) == suggested


async def test_an_email_domain_typo_is_a_question_never_a_silent_change(bot: TestBot) -> None:
    offer = await bot.ask_each("/sign", "Maria López", "maria@gmial.com")
    assert "Did you mean maria@gmail.com?" in offer
    assert "[1] Yes: maria@gmail.com" in offer and "[2] No, keep maria@gmial.com" in offer
    assert await answers(bot) == {"name": "Maria López"}
    assert "Which country" in await bot.ask("no")
    assert await answers(bot) == {"name": "Maria López", "email": "maria@gmial.com"}


async def test_the_suggested_email_is_used_when_chosen(bot: TestBot) -> None:
    await bot.ask_each("/sign", "Maria López", "maria@gmial.com")
    await bot.press("Yes: maria@gmail.com")
    assert await answers(bot) == {"name": "Maria López", "email": "maria@gmail.com"}


async def test_sign_again_mid_form_goes_on_where_it_was(bot: TestBot) -> None:
    text = await bot.ask_each("/sign", "Maria López", "/sign")
    assert "You have a sign-up under way" in text and "What is your e-mail address?" in text
    assert await answers(bot) == {"name": "Maria López"}


async def test_old_pick_and_change_buttons_do_nothing(bot: TestBot) -> None:
    await bot.ask("/sign")
    assert "This button has expired" in await bot.act(f"sign-change:{PETITION}:name")
    assert "This button has expired" in await bot.act(f"sign-pick:{PETITION}:name:0")
    await bot.ask("what is naloxone")
    assert "This button has expired" in await bot.act(f"sign-pick:{PETITION}:name:5")
    assert await answers(bot) == {}


async def test_the_review_in_russian(config: Config, services: Services) -> None:
    async with TestBot.started(config, services, language="ru") as bot:
        review = await bot.ask_each("/sign", "Мария Иванова", "пропустить", "Германия")
        assert "Проверьте перед подписанием:\nИмя: Мария Иванова\nЭл. почта: (не указано)\nСтрана: Германия" in review
        assert "[2] Изменить имя" in review


async def test_a_pasted_page_is_not_quoted_back(bot: TestBot) -> None:
    reply = await bot.ask_each("/sign", "Maria López", "skip", "zz " * 30_000)
    assert "I don't know a country called \"zz zz" in reply and "…" in reply and len(reply) < 500
    assert len(await bot.ask("/cancel")) < 100
    assert len(await bot.ask("/timezone " + "zz " * 30_000)) < 500


async def test_mydata_shows_a_value_waiting_for_confirmation(bot: TestBot) -> None:
    await bot.ask_each("/sign", "Maria López", "maria@gmial.com")
    text = await bot.ask("/mydata")
    assert "typed so far: name: Maria López, email?: maria@gmail.com / maria@gmial.com" in text
