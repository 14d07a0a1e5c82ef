"""Subscriptions, STOP, time zones, /days and organiser broadcasts through the console adapter."""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import TEST_KEY
from helpers import run_bot
from testbot import TestBot

from bot.cli import main
from bot.core.app import Services
from bot.core.config import Config, StorageConfig
from bot.port.clock import ManualClock
from bot.port.events import Chat, ChatKind, Event, Gone, Text, User


@pytest.fixture(autouse=True)
def secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", TEST_KEY)


async def test_subscribe_offers_topics_and_confirms(bot: TestBot) -> None:
    text = await bot.ask("/subscribe")
    assert "[1] action-day reminders" in text and "[3] campaign news" in text
    done = await bot.press("action-day reminders")
    assert "Subscribed: action-day reminders." in done
    assert "Reminders come at 10:00 in your time zone (UTC)" in done
    assert "Send STOP at any time" in done
    assert "✓ action-day reminders" in await bot.ask("/subscribe")
    assert "already subscribed" in await bot.ask("/subscribe action-days")


async def test_unsubscribe_per_topic_and_from_everything(bot: TestBot) -> None:
    await bot.ask("/subscribe news")
    await bot.ask("/subscribe petitions")
    assert "Unsubscribed: campaign news." in await bot.ask("/unsubscribe news")
    assert "You were not subscribed to campaign news." in await bot.ask("/unsubscribe news")
    await bot.ask("/unsubscribe")
    assert "You are unsubscribed from everything." in await bot.press("Stop everything")
    assert "You are not subscribed to anything." in await bot.ask("/unsubscribe")


@pytest.mark.parametrize("message", ["STOP", "stop", "Stop!", "  stop. ", "СТОП", "Baja", "arrêt", "unsubscribe"])
async def test_stop_alone_unsubscribes_from_everything(bot: TestBot, message: str) -> None:
    await bot.ask("/subscribe news")
    await bot.ask("/subscribe action-days")
    text = await bot.ask(message)
    # Answered in the language of the word, where it tells one ("Baja" is Spanish).
    lang = {"Baja": "es", "arrêt": "fr"}.get(message, "en")
    assert bot.core.locales.text(lang, "stop.done") in text and "/subscribe" in text
    assert await bot.core.subscriptions.topics_of(bot.core.keyring.user_id("console", "tester")) == []


@pytest.mark.parametrize(
    "message",
    ["we have to stop this war", "stop the overdose crisis", "how do I stop using", "stopping", "non-stop", "/stop"],
)
async def test_stop_inside_a_sentence_is_not_an_unsubscribe(bot: TestBot, message: str) -> None:
    await bot.ask("/subscribe news")
    text = await bot.ask(message)
    assert "unsubscribed" not in text
    assert await bot.core.subscriptions.topics_of(bot.core.keyring.user_id("console", "tester")) == ["news"]


async def test_stop_in_a_group_is_not_an_unsubscribe(bot: TestBot) -> None:
    await bot.ask("/subscribe news")
    group = Chat("group-1", ChatKind.GROUP)
    await bot.core.handle(Event(User("console", "tester"), group, Text("stop"), addressed=True))
    assert await bot.core.subscriptions.topics_of(bot.core.keyring.user_id("console", "tester")) == ["news"]


async def test_a_person_gone_from_the_platform_is_unsubscribed(bot: TestBot) -> None:
    await bot.ask("/subscribe news")
    assert (await bot.core.handle(Event(User("console", "tester"), bot.adapter.chat, Gone()))).replies == []
    assert await bot.core.subscriptions.topics_of(bot.core.keyring.user_id("console", "tester")) == []


@pytest.mark.parametrize(
    ("argument", "zone"),
    [
        ("Europe/Lisbon", "Europe/Lisbon"),
        ("lisbon", "Europe/Lisbon"),
        ("Ukraine", "Europe/Kyiv"),
        ("PRT", "Europe/Lisbon"),
        ("Москва", "Europe/Moscow"),
        ("MSK", "Europe/Moscow"),
    ],
)
async def test_timezone_by_name_city_or_country(bot: TestBot, argument: str, zone: str) -> None:
    assert f"Time zone set: {zone}. Reminders come at 10:00 your time." in await bot.ask(f"/timezone {argument}")
    assert f"Your time zone for reminders: {zone}." in await bot.ask("/timezone")


async def test_timezone_asks_which_city_in_a_wide_country(bot: TestBot) -> None:
    text = await bot.ask("/timezone Russia")
    assert "Russia has several time zones. Which is yours?" in text
    assert "Moscow (Russia, UTC+3)" in text and "Vladivostok (Russia, UTC+10)" in text
    assert "Time zone set: Asia/Vladivostok." in await bot.press("Vladivostok")
    assert 'I don\'t know the time zone "Atlantis".' in await bot.ask("/timezone Atlantis")
    assert "Your time zone for reminders: Asia/Vladivostok." in await bot.ask("/timezone")


async def test_an_abbreviation_that_is_also_a_country_code_is_asked_about(bot: TestBot) -> None:
    user = bot.core.keyring.user_id("console", "tester")
    text = await bot.ask("/timezone EST")
    assert '"EST" can mean more than one time zone. Which is yours?' in text
    assert "New York (United States, UTC" in text and "Tallinn (Estonia, UTC" in text
    # Never Europe/Tallinn (the ISO code EE/EST) without asking: nothing is set until a choice.
    assert await bot.core.people.timezone_of(user) is None
    assert "Time zone set: America/New_York." in await bot.press("New York")
    assert "Tallinn (Estonia, UTC" in await bot.ask("/timezone est")
    assert "Time zone set: Europe/Tallinn." in await bot.press("Tallinn")


@pytest.mark.parametrize(
    ("lang", "typed", "zone"),
    [
        ("ru", "Москва", "Europe/Moscow"),
        ("uk", "Київ", "Europe/Kyiv"),
        ("es", "Nueva York", "America/New_York"),
        ("pt", "São Paulo", "America/Sao_Paulo"),
        ("fr", "Lisbonne", "Europe/Lisbon"),
        ("en", "Moscú", "Europe/Moscow"),
        ("en", "MSK", "Europe/Moscow"),
        ("ru", "мск", "Europe/Moscow"),
    ],
)
async def test_cities_in_every_language_and_single_meaning_abbreviations(
    config: Config, services: Services, lang: str, typed: str, zone: str
) -> None:
    async with TestBot.started(config, services, language=lang) as bot:
        await bot.ask(f"/timezone {typed}")
        assert await bot.core.people.timezone_of(bot.core.keyring.user_id("console", "tester")) == zone


async def test_a_misspelt_city_is_offered_as_a_button(bot: TestBot) -> None:
    text = await bot.ask("/timezone Lisbn")
    assert 'I don\'t know the time zone "Lisbn". Did you mean one of these?' in text
    assert "Time zone set: Europe/Lisbon." in await bot.press("Lisbon")


async def test_an_old_zone_button_for_no_zone_does_nothing(bot: TestBot) -> None:
    assert "This button has expired" in await bot.act("timezone-set:Mars/Olympus_Mons")


async def test_signing_with_a_country_sets_the_time_zone_unless_chosen(bot: TestBot) -> None:
    await bot.ask("/timezone Tokyo")
    await bot.ask("/sign")
    await bot.ask("Maria")
    await bot.press("Skip")
    await bot.ask("Portugal")
    await bot.press("I agree")
    assert "Asia/Tokyo" in await bot.ask("/timezone")


async def test_days_lists_the_next_action_days(bot: TestBot) -> None:
    bot.core.clock = ManualClock(datetime(2027, 6, 25, 12, 0, tzinfo=UTC))
    text = await bot.ask("/days")
    lines = text.splitlines()
    assert lines[1] == "• 2027-06-26 — Support. Don't Punish: Global Day of Action (tomorrow)"
    assert lines[2] == "• 2027-07-21 — International Drug Users' Remembrance Day (in 26 days)"
    assert "• 2028-03-01 — Zero Discrimination Day (in 250 days)" in text
    assert "Subscribed: action-day reminders." in await bot.press("Remind me")
    assert "Remind me" not in await bot.ask("/days")


async def test_mydata_and_forget_cover_subscriptions_and_queued_messages(bot: TestBot) -> None:
    await bot.ask("/subscribe news")
    await bot.ask("/timezone Lisbon")
    text = await bot.ask("/mydata")
    assert "Subscribed to campaign news since" in text
    assert "Your time zone, for reminders: Europe/Lisbon" in text
    await bot.ask("/forget")
    assert "subscriptions: 1" in await bot.press("Yes, erase everything")


# ---------------------------------------------------------------- organiser broadcasts in chat


@pytest.fixture
def organiser(config: Config) -> Config:
    return Config(storage=config.storage, organisers=("console:boss",))


async def test_a_broadcast_from_chat_is_previewed_sent_and_reported(organiser: Config, services: Services) -> None:
    async with TestBot.started(organiser, services, user_id="boss") as boss:
        members = [TestBot(boss.core, user_id=f"member{i}") for i in range(3)]
        for member in members[:2]:
            await member.ask("/subscribe news")
        await members[2].ask("/subscribe action-days")
        assert "Type the message to send" in await boss.ask("/broadcast")
        assert "Choose the subscribers' topic" in await boss.ask("The **26 June** day of action is in a week!")
        await boss.press("campaign news")
        await boss.press("Every language")
        preview = await boss.press("Every platform")
        assert "Preview — exactly what each recipient will see:" in preview
        assert (
            "The 26 June day of action is in a week!\n\nYou get this because you subscribed to campaign news."
            in preview
        )
        assert "campaign news, Every language, Every platform — 2 subscribers now. Send it?" in preview
        assert "Broadcast #1 is on its way to 2 subscribers." in await boss.press("Send it")
        got = [await member.deliver() for member in members]
        assert [len(g) for g in got] == [1, 1, 0]
        previewed = preview.split("see:\n\n", 1)[1].split("\n\nAudience:", 1)[0]
        assert got[0][0] == got[1][0] == previewed  # the preview is exactly what recipients got
        boss.core.clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
        (report,) = await boss.deliver()
        assert report.startswith("Broadcast #1 is done: 2 sent, 0 failed, 0 skipped")


async def test_the_broadcast_prompt_shows_the_markup_syntax_as_typed(organiser: Config, services: Services) -> None:
    async with TestBot.started(organiser, services, user_id="boss") as boss:
        prompt = await boss.ask("/broadcast")
        assert "(light formatting: **bold**, [text](https://link)); at most 3,000 characters." in prompt
        await boss.ask("/language es")
        await boss.ask("/cancel")
        assert "(formato ligero: **negrita**, [texto](https://enlace))" in await boss.ask("/broadcast")


async def test_the_topic_buttons_show_who_is_subscribed(organiser: Config, services: Services) -> None:
    async with TestBot.started(organiser, services, user_id="boss") as boss:
        signer = TestBot(boss.core, user_id="signer")
        await signer.ask("/sign")
        for typed in ("Ann Example", "skip", "Portugal", "i agree", "yes"):
            await signer.ask(typed)
        await boss.ask("/broadcast")
        topics = await boss.ask("Hello")
        assert "[2] petition updates (1)" in topics and "[3] campaign news (0)" in topics


async def test_the_broadcast_report_counts_agree_with_their_words(tmp_path: Path, services: Services) -> None:
    config = Config(
        storage=StorageConfig(tmp_path / "bot.sqlite3"), organisers=("console:boss",), default_language="es"
    )
    async with TestBot.started(config, services, user_id="boss") as boss:
        member = TestBot(boss.core, user_id="member")
        await member.ask("/subscribe news")
        typed = ("/broadcast", "Hola", "noticias de la campaña", "todos los idiomas", "todas las plataformas", "enviar")
        assert "1 persona suscrita" in await boss.ask_each(*typed)
        await member.deliver()
        boss.core.clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
        (report,) = await boss.deliver()
        assert report.startswith("El envío #1 ha terminado: 1 enviado, 0 fallidos, 0 omitidos")


async def test_broadcast_steps_reject_typing_and_stale_buttons(organiser: Config, services: Services) -> None:
    async with TestBot.started(organiser, services, user_id="boss") as boss:
        await boss.ask("/broadcast")
        assert "The message must be 1 to 3,000 characters long; this one is 3001." in await boss.ask("x" * 3001)
        await boss.ask("Hello")
        assert "Please choose with the buttons" in await boss.ask("news")
        assert "This button has expired" in await boss.act("broadcast-send:")
        assert "This button has expired" in await boss.act("broadcast-language:en")
        assert "Cancelled" in await boss.press("Cancel")


async def test_broadcast_is_for_organisers_only(bot: TestBot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    assert "/broadcast is for the campaign's organisers only" in await bot.ask("/broadcast")
    assert "refused organiser command /broadcast to a non-organiser on console" in caplog.text
    # Pressing a broadcast button without being an organiser does nothing either.
    assert "This button has expired" in await bot.act("broadcast-send:")
    assert "/broadcast" not in await bot.ask("/help")


# ---------------------------------------------------------------- the CLI


def _cli(tmp_path: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  path: {tmp_path / 'bot.sqlite3'}\n")
    result = run_bot(
        "--config", str(config), *args, stdin=stdin, env={**os.environ, "ADVOCACY_BOT_SECRET_KEY": TEST_KEY}
    )
    return result.returncode, result.stdout, result.stderr


async def _subscribers(tmp_path: Path, services: Services, count: int) -> Config:
    config = Config(storage=StorageConfig(tmp_path / "bot.sqlite3"))
    async with TestBot.started(config, services, user_id="u0") as bot:
        for index in range(count):
            await TestBot(bot.core, user_id=f"u{index}").ask("/subscribe news")
    return config


async def test_cli_broadcast_dry_run_send_list_status_and_cancel(tmp_path: Path, services: Services) -> None:
    config = await _subscribers(tmp_path, services, 3)
    text_file = tmp_path / "message.txt"
    text_file.write_text("The **26 June** day of action is in a week.\n")
    code, out, err = _cli(tmp_path, "broadcast", "send", "--text-file", str(text_file), "--topic", "news", "--dry-run")
    assert code == 0, err
    assert "The 26 June day of action is in a week." in out
    assert "3 subscribers" in out and "dry run: nothing was queued" in out

    code, out, err = _cli(
        tmp_path,
        "broadcast",
        "send",
        "--text-file",
        str(text_file),
        "--topic",
        "news",
        "--at",
        "2030-01-01T09:00:00+01:00",
    )
    assert code == 0, err
    assert "broadcast 1 scheduled for 2030-01-01T08:00:00+00:00 (3 subscribers now)" in out
    code, out, _ = _cli(tmp_path, "broadcast", "list")
    assert code == 0 and "1  broadcast  news  scheduled  2030-01-01T08:00:00+00:00" in out
    code, out, _ = _cli(tmp_path, "broadcast", "status", "1")
    assert code == 0 and "scheduled" in out
    code, out, _ = _cli(tmp_path, "broadcast", "cancel", "1")
    assert code == 0 and "broadcast 1 cancelled: 0 messages will not be sent" in out
    code, _, err = _cli(tmp_path, "broadcast", "cancel", "1")
    assert code == 1 and "broadcast 1 has already finished or been cancelled" in err
    assert config.store_path.exists()


async def test_cli_counts_agree_with_their_nouns(
    tmp_path: Path, services: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    await _subscribers(tmp_path, services, 1)
    text_file = tmp_path / "message.txt"
    text_file.write_text("Hello")
    code, out, err = _cli(tmp_path, "broadcast", "send", "--text-file", str(text_file), "--topic", "news", "--dry-run")
    assert code == 0, err
    assert "Audience: 1 subscriber now." in out
    assert main(["content", "check"]) == 0
    assert ", 1 petition, " in capsys.readouterr().out


async def test_cli_broadcast_is_delivered_by_the_running_bot(tmp_path: Path, services: Services) -> None:
    config = await _subscribers(tmp_path, services, 2)
    text_file = tmp_path / "message.txt"
    text_file.write_text("Hello subscribers")
    code, out, err = _cli(tmp_path, "broadcast", "send", "--text-file", str(text_file), "--topic", "news")
    assert code == 0, err
    async with TestBot.started(config, services, user_id="u0") as bot:
        other = TestBot(bot.core, user_id="u1")
        assert [len(await bot.deliver()), len(await other.deliver())] == [1, 1]
        await bot.deliver()
    code, out, _ = _cli(tmp_path, "broadcast", "status", "1")
    assert "sent: 2" in out and "done" in out


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--topic", "weather"], "argument --topic: invalid choice: 'weather'"),
        (["--topic", "news", "--lang", "de"], "argument --lang: invalid choice: 'de'"),
        (["--topic", "news", "--at", "next tuesday"], "--at: 'next tuesday' is not an ISO-8601 date and time"),
    ],
)
def test_cli_broadcast_bad_arguments(tmp_path: Path, args: list[str], error: str) -> None:
    text_file = tmp_path / "message.txt"
    text_file.write_text("Hello")
    code, _, err = _cli(tmp_path, "broadcast", "send", "--text-file", str(text_file), *args)
    assert code != 0
    assert error in err


def test_cli_broadcast_empty_or_missing_text(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    code, _, err = _cli(tmp_path, "broadcast", "send", "--text-file", str(empty), "--topic", "news")
    assert code == 1 and "is empty" in err
    code, _, err = _cli(tmp_path, "broadcast", "send", "--text-file", str(tmp_path / "nope.txt"), "--topic", "news")
    assert code == 1 and "cannot read" in err
