"""What the command line tells an operator: which database, whether a bot will send, and the logs."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import TEST_KEY
from helpers import run_bot
from testbot import TestBot

from bot.cli.broadcasts import stalled
from bot.core.app import Services
from bot.core.config import Config, StorageConfig
from bot.delivery.outbox import Broadcast
from bot.operations import heartbeat
from bot.operations.logs import JsonFormatter, level_for, platform_of
from bot.storage.database import stamp


def cli(tmp_path: Path, *args: str, config_text: str = "", stdin: str | None = None) -> tuple[int, str, str]:
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  path: {tmp_path / 'bot.sqlite3'}\n{config_text}")
    result = run_bot(
        "--config", str(config), *args, stdin=stdin, env={**os.environ, "ADVOCACY_BOT_SECRET_KEY": TEST_KEY}
    )
    return result.returncode, result.stdout, result.stderr


async def subscribed(tmp_path: Path, services: Services, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", TEST_KEY)
    config = Config(storage=StorageConfig(tmp_path / "bot.sqlite3"))
    async with TestBot.started(config, services) as bot:
        await bot.ask("/subscribe news")
    return config


async def note_running(config: Config, services: Services, platform: str, ago: timedelta) -> None:
    async with TestBot.started(config, services) as bot:
        moment = stamp(datetime.now(UTC) - ago)
        await bot.core.settings(heartbeat.OWNER).set(heartbeat.SCOPE, platform, moment)


async def test_organiser_commands_say_which_database_and_configuration(
    tmp_path: Path, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = await subscribed(tmp_path, services, monkeypatch)
    for args in (["stats"], ["broadcast", "list"], ["export", "signatures", "--petition", "un-decriminalise"]):
        code, _, err = cli(tmp_path, *args)
        assert code == 0, err
        assert f"advocacy-bot: database {config.store_path} (configuration {tmp_path / 'config.yaml'})" in err


async def test_broadcast_send_says_whether_a_running_bot_will_send_it(
    tmp_path: Path, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = await subscribed(tmp_path, services, monkeypatch)
    text = tmp_path / "message.txt"
    text.write_text("Hello")
    send = ("broadcast", "send", "--text-file", str(text), "--topic", "news")

    code, out, err = cli(tmp_path, *send)
    assert code == 0, err
    assert "No bot is running on this database" in out

    # A bot gone quiet long ago (a crash) does not count; one heard from moments ago does.
    await note_running(config, services, "discord", timedelta(hours=1))
    await note_running(config, services, "telegram", timedelta(seconds=5))
    code, out, _ = cli(tmp_path, *send)
    assert "A running bot (telegram (" in out and "discord" not in out
    code, out, _ = cli(tmp_path, *send, "--platform", "discord")
    assert "The running bot does not deliver to discord (telegram (" in out


async def test_broadcast_status_says_when_it_waits_for_a_running_bot(
    tmp_path: Path, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    await subscribed(tmp_path, services, monkeypatch)
    text = tmp_path / "message.txt"
    text.write_text("Hello")
    due = (datetime.now(UTC) - timedelta(minutes=3)).isoformat()
    code, _, err = cli(tmp_path, "broadcast", "send", "--text-file", str(text), "--topic", "news", "--at", due)
    assert code == 0, err
    code, out, _ = cli(tmp_path, "broadcast", "status", "1")
    assert "waiting for a running bot: nothing has happened to it for over a minute" in out
    assert "no bot seen running on this database" in out


def test_only_a_due_broadcast_that_nothing_has_moved_is_waiting() -> None:
    now = datetime(2027, 6, 19, 12, 0, tzinfo=UTC)
    minutes = [now - timedelta(minutes=m) for m in range(4)]

    def broadcast(state: str, send_at: datetime) -> Broadcast:
        return Broadcast(1, "broadcast", "news", "Hello", None, None, state, send_at, minutes[3], None, None)

    assert stalled(broadcast("scheduled", minutes[2]), None, None, now)
    assert not stalled(broadcast("scheduled", now + timedelta(hours=1)), None, None, now)
    # Sending: due messages untouched for over a minute, or being worked on.
    assert stalled(broadcast("sending", minutes[3]), minutes[3], minutes[2], now)
    assert not stalled(broadcast("sending", minutes[3]), minutes[3], now, now)
    assert not stalled(broadcast("sending", minutes[3]), None, minutes[2], now)
    assert not stalled(broadcast("done", minutes[3]), None, None, now)


async def test_export_in_chat_names_the_configuration_the_bot_runs_with(
    tmp_path: Path, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", TEST_KEY)
    path = tmp_path / "my config.yaml"
    config = Config(storage=StorageConfig(tmp_path / "bot.sqlite3"), organisers=("console:tester",), source=path)
    async with TestBot.started(config, services) as bot:
        hint = await bot.ask("/export")
    assert f"advocacy-bot --config '{path}' export signatures --petition un-decriminalise --out signatures.csv" in hint


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to give the file away")
async def test_root_does_not_open_a_database_a_service_user_owns(
    tmp_path: Path, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = await subscribed(tmp_path, services, monkeypatch)
    os.chown(config.store_path, 65534, 65534)
    code, _, err = cli(tmp_path, "stats")
    assert code == 1
    assert "run this as" in err and "as root it would leave files the bot cannot open" in err


def test_json_logs_are_one_object_per_line(tmp_path: Path) -> None:
    code, out, err = cli(tmp_path, "-v", config_text="logging:\n  format: json\n", stdin="what is naloxone\n")
    assert code == 0 and "Naloxone" in out
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert records and all(set(r) >= {"time", "level", "logger", "event"} for r in records)
    assert any(r["event"] == "running adapters: console" and r["level"] == "INFO" for r in records)
    # Every stderr line is JSON, apart from the command's own word on which database it uses.
    assert [line for line in err.splitlines() if not line.startswith("{")] == [
        f"advocacy-bot: database {tmp_path / 'bot.sqlite3'} (configuration {tmp_path / 'config.yaml'})"
    ]
    assert "naloxone" not in err.lower()


@pytest.mark.parametrize(
    ("logger", "extra", "platform"),
    [
        ("adapters.telegram.adapter", {}, "telegram"),
        ("adapters.discord.delivery", {}, "discord"),
        ("telegram.ext.Updater", {}, "telegram"),
        ("bot.delivery.engine", {"platform": "discord"}, "discord"),
        ("bot.storage.database", {}, None),
    ],
)
def test_json_records_name_their_platform(logger: str, extra: dict[str, str], platform: str | None) -> None:
    record = logging.LogRecord(logger, logging.WARNING, __file__, 1, "a %s message failed", ("telegram",), None)
    record.__dict__.update(extra)
    assert platform_of(record) == platform
    entry = json.loads(JsonFormatter().format(record))
    assert entry["event"] == "a telegram message failed" and entry["logger"] == logger
    assert entry.get("platform") == platform


def test_log_levels() -> None:
    assert level_for(None, 0, quiet=True) == logging.WARNING
    assert level_for(None, 0, quiet=False) == logging.INFO
    assert level_for("error", 0, quiet=False) == logging.ERROR
    assert level_for("error", 1, quiet=True) == logging.INFO
    assert level_for(None, 2, quiet=True) == logging.DEBUG
