"""Typing instead of pressing: a button's label, or yes/no/skip/cancel in six languages, presses it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import TEST_KEY
from helpers import run_bot
from testbot import TestBot

from bot.content.model import LANGUAGES
from bot.core.app import Services
from bot.core.choices import label_meaning, shared_vocabulary, typed_choice
from bot.core.config import Config
from bot.port.clock import ManualClock
from bot.port.events import Button

PETITION = "un-decriminalise"


def user_key(bot: TestBot) -> str:
    return bot.core.keyring.user_id("console", bot.adapter.user.id)


async def test_typing_yes_at_the_updates_question_subscribes(bot: TestBot) -> None:
    assert "Would you also like to receive petition updates here?" in await bot.ask_each(
        "/sign", "Maria López", "skip", "Portugal", "I agree"
    )
    assert "you'll receive petition updates" in await bot.ask("yes")
    assert await bot.core.subscriptions.topics_of(user_key(bot)) == ["petitions"]


@pytest.mark.parametrize("typed", ["No thanks", "no", "NOPE", "no thank you"])
async def test_typing_no_at_the_updates_question_declines(bot: TestBot, typed: str) -> None:
    assert "OK: no updates." in await bot.ask_each("/sign", "Maria López", "skip", "Portugal", "i agree", typed)
    assert await bot.core.subscriptions.topics_of(user_key(bot)) == []


async def test_skip_and_cancel_typed_at_the_email_step_are_not_addresses(bot: TestBot) -> None:
    assert "Which country do you live in?" in await bot.ask_each("/sign", "Maria López", "Skip")
    assert "Cancelled. Nothing was saved." in await bot.ask_each("/cancel", "/sign", "Maria López", "cancel")
    assert await bot.core.conversations.conversation(user_key(bot)) is None


@pytest.mark.parametrize("step_answers", [[], ["Maria López"], ["Maria López", "skip"]])
async def test_cancel_typed_leaves_the_form_at_any_step(bot: TestBot, step_answers: list[str]) -> None:
    await bot.ask("/sign")
    for answer in step_answers:
        await bot.ask(answer)
    assert "Cancelled. Nothing was saved." in await bot.ask("Cancel")
    assert await bot.core.signatures.signature_count(PETITION) == 0


async def test_typing_i_agree_signs_and_the_review_buttons_can_be_typed(bot: TestBot) -> None:
    assert "What name should appear" in await bot.ask_each(
        "/sign", "Maria López", "maria@example.org", "Portugal", "change name"
    )
    assert "Name: Maria L. López" in await bot.ask("Maria L. López")
    assert "Thank you, Maria L. López!" in await bot.ask("I AGREE")
    assert await bot.core.signatures.signature_count(PETITION) == 1


async def test_a_label_typed_presses_it_outside_forms_too(bot: TestBot) -> None:
    await bot.ask("/start")
    assert "Topics — pick one" in await bot.ask("topics")
    assert "What I can do" in await bot.ask("/help")  # no buttons: nothing to press any more
    assert "Topics — pick one" not in await bot.ask("topics")


async def test_typed_labels_expire_with_the_conversation_timeout(bot: TestBot) -> None:
    clock = ManualClock()
    bot.core.clock = clock
    await bot.ask("/start")
    clock.advance(minutes=31)
    assert "Topics — pick one" not in await bot.ask("topics")


async def test_typed_answers_survive_a_restart_mid_form(config: Config, services: Services) -> None:
    async with TestBot.started(config, services) as bot:
        await bot.ask("/sign")
        await bot.ask("Maria López")
    # A new process remembers no buttons; the form's own question says what it offers.
    async with TestBot.started(config, services) as bot:
        assert "Which country do you live in?" in await bot.ask("skip")
    async with TestBot.started(config, services) as bot:
        assert "Cancelled. Nothing was saved." in await bot.ask("cancel")


@pytest.mark.parametrize(
    ("lang", "name", "skip", "country", "agree", "yes", "code", "thanks"),
    [
        ("en", "Maria López", "skip", "Portugal", "i agree", "yes", "PT", "Thank you, Maria López!"),
        ("es", "María López", "omitir", "Alemania", "acepto", "sí", "DE", "¡Gracias, María López!"),
        ("pt", "Maria Silva", "pular", "Brasil", "concordo", "sim", "BR", "Obrigado, Maria Silva!"),
        ("ru", "Мария Иванова", "пропустить", "Германия", "даю согласие", "да", "DE", "Спасибо, Мария Иванова!"),
        ("uk", "Марія Іваненко", "пропустити", "Україна", "даю згоду", "так", "UA", "Дякую, Марія Іваненко!"),
        ("fr", "Marie Dupont", "passer", "Allemagne", "j'accepte", "oui", "DE", "Merci, Marie Dupont !"),
    ],
)
async def test_a_whole_sign_up_typed_in_words_in_each_language(
    config: Config,
    services: Services,
    lang: str,
    name: str,
    skip: str,
    country: str,
    agree: str,
    yes: str,
    code: str,
    thanks: str,
) -> None:
    async with TestBot.started(config, services, language=lang) as bot:
        review = await bot.ask_each("/sign", name, skip, country)
        assert bot.core.locales.text(lang, "sign.review_heading") in review
        assert thanks in await bot.ask(agree)
        topic = bot.core.locales.text(lang, "topic.petitions")
        assert topic in await bot.ask(yes)
        (signature,) = await bot.core.signatures.signatures(PETITION)
        assert (signature.signer.name, signature.signer.email, signature.signer.country) == (name, None, code)
        assert signature.wants_updates


def test_a_piped_console_sign_up_in_words_in_every_language(tmp_path: Path) -> None:
    """The console as people pipe it: six sign-ups, one per language, without a single number typed."""
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  path: {tmp_path / 'db.sqlite3'}\n")
    words = {
        "en": ("Maria López", "skip", "Portugal", "i agree", "yes", "yes"),
        "es": ("María López", "omitir", "Alemania", "acepto", "sí", "sí"),
        "pt": ("Maria Silva", "pular", "Brasil", "concordo", "sim", "sim"),
        "ru": ("Мария Иванова", "пропустить", "Германия", "даю согласие", "да", "да"),
        "uk": ("Марія Іваненко", "пропустити", "Україна", "даю згоду", "так", "так"),
        "fr": ("Marie Dupont", "passer", "Allemagne", "j'accepte", "oui", "oui"),
    }
    lines = []
    for lang in LANGUAGES:
        name, skip, country, agree, yes, erase = words[lang]
        # Each sign-up ends with /forget (confirmed in words too), so the next language signs afresh.
        lines += [f"/language {lang}", "/sign", name, skip, country, agree, yes, "/forget", erase]
    result = run_bot(
        "--config",
        str(config),
        "console",
        stdin="\n".join(lines) + "\n",
        env={**os.environ, "ADVOCACY_BOT_SECRET_KEY": TEST_KEY},
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for thanks in (
        "Thank you, Maria López!",
        "¡Gracias, María López!",
        "Obrigado, Maria Silva!",
        "Спасибо, Мария Иванова!",
        "Дякую, Марія Іваненко!",
        "Merci, Marie Dupont !",
    ):
        assert thanks in out
    for accepted in ("you'll receive petition updates", "recibirás novedades de las peticiones", "новости петиций"):
        assert accepted in out
    assert out.count("pseudonymous id included") + out.count("seudónimo") + out.count("псевдонімний") >= 3


def test_a_reply_that_fits_two_buttons_presses_neither(services: Services) -> None:
    locales, languages = services.locales, tuple(services.content.locales)
    two = [Button("Yes, send me updates", "updates:yes:x"), Button("Yes, erase everything", "forget:confirm")]
    assert typed_choice(locales, "en", languages, "yes", two) is None
    same = [Button("Back", "topics:"), Button("Back", "topics:")]
    assert typed_choice(locales, "en", languages, "back", same) == same[0]
    # A long text is never a button press, whatever it starts with.
    assert typed_choice(locales, "en", languages, "yes " + "and more " * 20, two[:1]) is None
    # Words of another language count where they mean one thing everywhere.
    assert typed_choice(locales, "en", languages, "да", two[:1]) == two[0]
    assert typed_choice(locales, "en", languages, "yes please", two[:1]) == two[0]
    assert typed_choice(locales, "en", languages, "carry naloxone", [Button("✓ Carry naloxone (12)", "pledge:n")])


MEANT = {
    "yes": ("button.agree", "button.updates_yes", "button.forget_confirm", "button.take_pledge", "button.use_name",
            "button.yes", "button.yes_value"),
    "no": ("button.updates_no", "button.keep", "button.no", "button.keep_value"),
    "skip": ("button.skip",),
    "cancel": ("button.cancel",),
}  # fmt: skip


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_knows_what_its_own_buttons_mean(services: Services, lang: str) -> None:
    """A translator who rewords a button keeps typing it working: its words must be in typed.*."""
    locales = services.locales
    for meaning, keys in MEANT.items():
        for key in keys:
            label = locales.text(lang, key, value="x")
            assert label_meaning(locales, lang, label) == meaning, (lang, key, label)
    # No word means two things in two languages and is still taken everywhere.
    shared = shared_vocabulary(locales, tuple(LANGUAGES))
    assert shared["ok"] == "yes" and shared["no"] == "no"
