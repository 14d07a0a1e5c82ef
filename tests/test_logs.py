"""No secret and nothing personal in any log line, at any level.

The standing check runs whole Telegram and Discord sessions against the fakes with the bot's own
logging set-up at DEBUG and at INFO, a failure inside the core included, and reads every line written.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakes.discord import FakeDiscord, FakeGuild
from fakes.telegram import FakeTelegram, group_chat, make_user
from helpers import ROOT
from test_discord_support import Bot, custom_ids, discord_config
from test_discord_support import running as running_discord
from test_telegram import USERNAME
from test_telegram import running as running_telegram

from adapters.discord.render import to_markdown
from bot.core.app import Services
from bot.core.config import Config
from bot.operations import logs
from bot.port import redaction

# The fixtures fake and guild.
pytest_plugins = ["test_discord_support"]

SECRET_KEY = "5e" * 32
WEBHOOK_SECRET = "webhook-secret-4f8a2c9e"
# A message that makes the core fail, with an exception whose message quotes it.
EXPLODING = "Quillfeather asks what happens at 7731 exactly"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """What the bot's own logging set-up writes, at the level the test configures; put back after."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers), {name: logging.getLogger(name).level for name in logs.quiet()})
    stream = io.StringIO()
    try:
        yield stream
    finally:
        level, handlers, quiet = saved
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
        for name, value in quiet.items():
            logging.getLogger(name).setLevel(value)
        logging.captureWarnings(False)


def explode_on(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """The decider fails on ``EXPLODING``, as a bug would, with the question in the exception."""
    decider = services.decider
    original = decider.answer

    def answer(question: str, lang: str) -> Any:
        if "Quillfeather" in question:
            raise ValueError(f"cannot answer {question!r}")
        return original(question, lang)

    monkeypatch.setattr(decider, "answer", answer)


def assert_clean(written: str, forbidden: list[str]) -> None:
    assert written.strip(), "nothing was logged: the check would prove nothing"
    assert "failed to handle a Text event" in written, "the failure inside the core was not logged"
    leaked = [value for value in forbidden if value.lower() in written.lower()]
    assert leaked == [], f"the log holds {leaked}:\n{written}"


# --------------------------------------------------------------------------------- the filter


def test_the_filter_redacts_secrets_in_messages_arguments_and_tracebacks(captured: io.StringIO) -> None:
    redaction.register_secret("registered-secret-value-91c2")
    logs.configure_logging("DEBUG", stream=captured)
    log = logging.getLogger("bot.test")
    token = "7654321:AAH-shaped_like_a_Telegram_token_0123456"
    log.info("GET https://api.telegram.org/bot%s/getMe", token)
    log.debug("the secret %s, encoded %s", "registered-secret-value-91c2", "registered-secret-value-91c2")
    try:
        raise RuntimeError(f"The token `{token}` was rejected by the server (registered-secret-value-91c2)")
    except RuntimeError:
        log.exception("start-up failed")
    written = captured.getvalue()
    assert "7654321:AAH" not in written and "registered-secret-value" not in written
    assert written.count(redaction.REDACTED) >= 5
    assert "RuntimeError" in written and "start-up failed" in written


def test_a_bad_format_string_is_still_redacted() -> None:
    token = "7654321:AAH-shaped_like_a_Telegram_token_0123456"
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "%d %s", ("not a number", token), None)
    assert redaction.RedactingFilter().filter(record)
    assert token not in record.getMessage() and redaction.REDACTED in record.getMessage()


def test_the_token_pattern_runs_in_linear_time() -> None:
    for adversarial in ("1" * 100_000, "1:" * 50_000, ("1:" + "a" * 29 + " ") * 3000):
        fastest = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            redaction.TELEGRAM_TOKEN.sub(redaction.REDACTED, adversarial)
            fastest = min(fastest, time.perf_counter() - started)
        assert fastest < 0.05


def test_libraries_stay_at_warning_whatever_the_level(captured: io.StringIO) -> None:
    logs.configure_logging("DEBUG", stream=captured)
    for name in ("httpx", "telegram.ext", "discord.gateway", "aiosqlite"):
        assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
    assert logging.getLogger("bot.core.app").isEnabledFor(logging.DEBUG)


# --------------------------------------------------------------------------------- the real command


async def _run_bot(tmp_path: Path, tg: FakeTelegram, level: str, token: str) -> tuple[int | None, str]:
    """``advocacy-bot`` on Telegram against ``tg`` at ``level``: its exit status and its stderr."""
    config = tmp_path / f"config-{level}.yaml"
    config.write_text(
        f"storage:\n  path: {tmp_path / 'bot.sqlite3'}\nlogging:\n  level: {level}\n"
        f"console:\n  enabled: false\ntelegram:\n  enabled: true\n  base_url: {tg.base_url}\n",
        encoding="utf-8",
    )
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": token, "ADVOCACY_BOT_SECRET_KEY": SECRET_KEY, "PTB_TIMEDELTA": "true"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "--config", str(config), cwd=ROOT, env=env, stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    try:
        if token == tg.token:
            tg.push_message("what is naloxone", user=make_user(5550001, "Pat"))
            await tg.wait_for("sendMessage", timeout=60)
            process.send_signal(signal.SIGTERM)
        stderr = await asyncio.wait_for(process.stderr.read(), timeout=60)
        return await asyncio.wait_for(process.wait(), timeout=60), stderr.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
async def test_the_telegram_token_never_reaches_the_log(tmp_path: Path, level: str) -> None:
    async with FakeTelegram(username=USERNAME) as tg:
        status, stderr = await _run_bot(tmp_path, tg, level, tg.token)
        assert status == 0, stderr
        assert "running as @" in stderr
        assert tg.token not in stderr and tg.token.split(":")[1] not in stderr
        assert SECRET_KEY not in stderr

        rejected = "987654321:AAWrongTokenThatTelegramRefuses_0123"
        status, stderr = await _run_bot(tmp_path, tg, level, rejected)
        assert status == 1
        assert "Telegram rejected the bot token" in stderr
        assert rejected.split(":")[1] not in stderr


# --------------------------------------------------------------------------------- whole sessions


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
async def test_a_telegram_session_leaves_nothing_personal_in_the_log(
    tmp_path: Path, services: Services, monkeypatch: pytest.MonkeyPatch, captured: io.StringIO, level: str
) -> None:
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", WEBHOOK_SECRET)
    logs.configure_logging(level, stream=captured)
    explode_on(services, monkeypatch)
    person = make_user(7391846205, "Zephyrine", username="zephyrine_q", language_code="en")
    group = group_chat(-493817265, "Zephyrine's neighbourhood circle")
    typed = [
        "how does naloxone work for my cousin",
        "Zephyrine Quillfeather",
        "zephyrine.q@example.org",
        "Portugal",
        "/timezone Lisbon",
        f"@{USERNAME} where can I get tested for hepatitis c",
    ]
    async with running_telegram(tmp_path, services, flood=None, organisers=(f"telegram:{person['id']}",)) as bot:
        await bot.say("/start", user=person)
        await bot.say(typed[0], user=person)
        await bot.say("/sign", user=person)
        for answer in typed[1:4]:
            await bot.say(answer, user=person)
        await bot.press("I agree", user=person)
        await bot.press("send me updates", user=person)
        await bot.say("/subscribe news", user=person)
        await bot.say(typed[4], user=person)
        await bot.say("/mydata", user=person)
        await bot.say(typed[5], user=person, chat=group)
        await bot.say(EXPLODING, user=person)
        await bot.say("/forget", user=person)
        await bot.press("Yes, erase everything", user=person)
        token = bot.tg.token
    forbidden = [
        token,
        token.split(":")[1],
        SECRET_KEY,
        WEBHOOK_SECRET,
        "Zephyrine",
        "Quillfeather",
        "zephyrine_q",
        "zephyrine.q@example.org",
        str(person["id"]),
        str(group["id"]),
        "Lisbon",
        EXPLODING,
        *typed,
    ]
    assert_clean(captured.getvalue(), forbidden)


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
async def test_a_discord_session_leaves_nothing_personal_in_the_log(
    fake: FakeDiscord,
    guild: FakeGuild,
    config: Config,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    captured: io.StringIO,
    level: str,
) -> None:
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", SECRET_KEY)
    logs.configure_logging(level, stream=captured)
    explode_on(services, monkeypatch)
    person = fake.add_user("zephyrine_quill", user_id=834729104857362011)
    typed = ["how does naloxone work for my cousin", "Zephyrine Quillfeather", "zephyrine.q@example.org", "Portugal"]
    async with running_discord(fake, discord_config(config, fake), services) as bot:
        await session_on_discord(bot, guild, person, typed)
    forbidden = [
        "adapter-test-token",
        SECRET_KEY,
        "zephyrine",
        "Quillfeather",
        "zephyrine.q@example.org",
        str(person),
        EXPLODING,
        "Lisbon",
        *typed,
    ]
    assert_clean(captured.getvalue(), forbidden)


async def session_on_discord(bot: Bot, guild: FakeGuild, person: int, typed: list[str]) -> None:
    petition = next(iter(bot.core.content.campaigns.petitions.values()))
    form_id = f"v1:f:sign:{petition.id}"
    await bot.command("start", user_id=person)
    await bot.command("ask", {"question": typed[0]}, user_id=person, guild_id=guild.id)
    await bot.dm(typed[0], author_id=person)
    await bot.command("sign", user_id=person, guild_id=guild.id)
    await bot.modal(await bot.fake.button_click(form_id, user_id=person))
    fields = {"name": typed[1], "email": typed[2], "country": typed[3]}
    asked = to_markdown(bot.core.locales.rich("en", "sign.ask.consent"))
    consent = await bot.answer(await bot.fake.modal_submit(form_id, fields, user_id=person), asked)
    agree = next(i for i in consent.custom_ids() if i.startswith("v1:a:sign-consent:"))
    await bot.click(agree.removeprefix("v1:a:"), containing=typed[1], user_id=person)
    await bot.command("subscribe", {"topic": "news"}, user_id=person)
    await bot.command("timezone", {"zone": "Lisbon"}, user_id=person)
    mine = await bot.command("mydata", user_id=person, guild_id=guild.id, containing=typed[2])
    assert custom_ids(mine.messages[0]) == []
    await bot.dm(EXPLODING, author_id=person)
    await bot.command("forget", user_id=person)
    await bot.click("forget:confirm", containing="Done", user_id=person)
