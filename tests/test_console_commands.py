"""Every user-facing command, driven through the console adapter (push a line, pop the reply)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import run_bot
from testbot import TestBot

from bot.port.events import ReplyKind
from bot.port.markup import plain


async def test_start_explains_the_bot_and_privacy(bot: TestBot) -> None:
    reply = await bot.ask("/start")
    assert "harm reduction" in reply
    assert "pseudonymous" in reply
    assert "[1] Topics" in reply


async def test_start_buttons_lead_to_topics_and_help(bot: TestBot) -> None:
    await bot.ask("/start")
    topics = await bot.ask("1")
    assert "Overdose" in topics
    await bot.ask("/start")
    assert "/ask" in await bot.ask("2")


async def test_help_lists_every_command(bot: TestBot) -> None:
    reply = await bot.ask("/help")
    for command in ("/start", "/help", "/ask", "/topics", "/sources", "/language"):
        assert command in reply


async def test_topics_navigate_groups_and_entries_with_buttons(bot: TestBot) -> None:
    topics = await bot.ask("/topics")
    assert "[1] Overdose" in topics
    group = await bot.ask("1")
    assert "Signs of" in group or "overdose" in group.lower()
    first_entry = await bot.ask("1")
    assert "Sources" in first_entry
    assert "[1]" in first_entry  # related entries as buttons


async def test_topics_with_a_group_letter(bot: TestBot) -> None:
    reply = await bot.ask("/topics g")
    assert "Portugal" in reply
    assert "Back" in reply


async def test_a_question_about_overdose_gets_its_entry_and_the_emergency_number(bot: TestBot) -> None:
    bot.push("will i get arrested if i call 911 for someone who ods")
    reply = await bot.pop_reply()
    assert reply.kind is ReplyKind.ANSWER and reply.entry == "good-samaritan-laws"
    # Not the alarm: one closing line with the emergency numbers.
    assert plain(reply.text).rstrip().splitlines()[-1].startswith("If someone is in danger right now, call")
    assert not bot.replies


async def test_emergency_answer_comes_before_the_entry_asked_about(bot: TestBot) -> None:
    bot.push("my friend is overdosing, can i get arrested for calling 911")
    first = await bot.pop_reply()
    second = await bot.pop_reply()
    assert first.kind is ReplyKind.EMERGENCY
    assert second.entry == "good-samaritan-laws"


async def test_ask_answers_with_sources(bot: TestBot) -> None:
    bot.push("/ask how does narcan work")
    reply = await bot.pop_reply()
    assert reply.kind is ReplyKind.ANSWER
    assert reply.entry == "naloxone"
    text = await bot.ask("/ask how does narcan work")
    assert "Sources" in text and "World Health Organization" in text


async def test_ask_without_a_question_explains_usage(bot: TestBot) -> None:
    assert "/ask" in await bot.ask("/ask")


async def test_free_text_is_a_question(bot: TestBot) -> None:
    bot.push("what are fentanyl test strips")
    reply = await bot.pop_reply()
    assert reply.entry == "fentanyl-test-strips"


async def test_emergency_comes_first_with_numbers(bot: TestBot) -> None:
    bot.push("my friend is not breathing and his lips are blue")
    reply = await bot.pop_reply()
    assert reply.kind is ReplyKind.EMERGENCY
    bot.replies.clear()  # what may follow the emergency answer is tested below
    text = await bot.ask("he wont wake up")
    assert "112" in text and "911" in text
    assert "naloxone" in text.lower()


async def test_emergency_in_russian_answers_in_russian(bot: TestBot) -> None:
    text = await bot.ask("мой друг не дышит")
    assert "103" in text
    assert any("\u0400" <= ch <= "\u04ff" for ch in text)


async def test_sources_of_an_entry(bot: TestBot) -> None:
    reply = await bot.ask("/sources portugal-model")
    assert "Sources" in reply and "1." in reply


async def test_sources_of_an_unknown_entry_suggests_close_ids(bot: TestBot) -> None:
    reply = await bot.ask("/sources naloxon")
    assert "naloxon" in reply and "[1]" in reply


async def test_sources_without_id_explains_usage(bot: TestBot) -> None:
    assert "/sources naloxone" in await bot.ask("/sources")


async def test_language_choice_is_remembered(bot: TestBot) -> None:
    choices = await bot.ask("/language")
    assert "Español" in choices and "Русский" in choices
    assert "Español" in await bot.ask("/language es")
    assert await bot.core.people.language(bot.core.keyring.user_id("console", "tester")) == "es"
    # The emergency answer now comes in Spanish.
    assert "112" in await bot.ask("overdose")


async def test_language_buttons_set_the_language(bot: TestBot) -> None:
    await bot.ask("/language")
    assert "Português" in await bot.ask("3")


async def test_unknown_language_is_refused_with_the_choices(bot: TestBot) -> None:
    reply = await bot.ask("/language xx")
    assert "xx" in reply and "en, es, pt, ru, uk, fr" in reply


async def test_unknown_command(bot: TestBot) -> None:
    assert "/help" in await bot.ask("/frobnicate")


async def test_out_of_scope_gets_no_health_answer(bot: TestBot) -> None:
    bot.push("who won the football last night")
    reply = await bot.pop_reply()
    assert reply.kind is ReplyKind.FALLBACK
    assert reply.entry is None


async def test_dose_request_is_refused_without_an_amount(bot: TestBot) -> None:
    bot.push("how much heroin should i take")
    reply = await bot.pop_reply()
    assert reply.kind is ReplyKind.REFUSAL
    assert reply.entry == "dosing-advice"


async def test_supply_request_is_refused(bot: TestBot) -> None:
    bot.push("where can i buy coke")
    reply = await bot.pop_reply()
    assert reply.kind is ReplyKind.REFUSAL


async def test_clarify_offers_choices_as_buttons(bot: TestBot) -> None:
    bot.push("portugal")
    reply = await bot.pop_reply()
    assert reply.kind in (ReplyKind.CLARIFY, ReplyKind.ANSWER)
    if reply.kind is ReplyKind.CLARIFY:
        assert 1 <= len(reply.buttons) <= 3
        assert "Sources" in await bot.ask("1")


async def test_a_number_without_choices_is_just_text(bot: TestBot) -> None:
    reply = await bot.ask("42")
    assert reply  # answered (fallback), not a crash


@pytest.mark.parametrize("command", [[], ["console"], ["console", "--user-id", "org", "--lang", "ru"]])
def test_piped_console_prints_each_reply_and_exits_0(tmp_path: Path, command: list[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  path: {tmp_path / 'db.sqlite3'}\n")
    result = run_bot(
        "--config",
        str(config),
        *command,
        stdin="/start\nhow do i use fentanyl test strips\n/quit\nnot reached\n",
        env={**os.environ, "ADVOCACY_BOT_SECRET_KEY": "22" * 32},
    )
    assert result.returncode == 0, result.stderr
    # The Russian interface welcomes in Russian; the English question is answered in English.
    assert ("снижении вреда" if "ru" in command else "harm reduction") in result.stdout
    assert "test strip" in result.stdout.lower()
    assert "not reached" not in result.stdout


def test_console_without_a_key_creates_one_and_says_so_once(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  path: {tmp_path / 'data' / 'db.sqlite3'}\n")
    env = {k: v for k, v in os.environ.items() if k != "ADVOCACY_BOT_SECRET_KEY"}
    first = run_bot("--config", str(config), stdin="/help\n", env=env)
    assert first.returncode == 0, first.stderr
    assert "secret key" in first.stderr
    key = tmp_path / "data" / "secret.key"
    assert key.stat().st_mode & 0o777 == 0o600
    second = run_bot("--config", str(config), stdin="/help\n", env=env)
    assert "secret key" not in second.stderr
