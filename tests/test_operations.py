"""An operator's first hour: init, doctor, run, against the local Telegram and Discord fakes.

The bot runs as a real process (``python -m bot``) while the fakes run in the test's event loop;
doctor's failures (a rejected token, a missing key, a damaged database) are checked in-process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import discord.http
import pytest
import yaml
from conftest import TEST_KEY, emptied
from fakes.discord import FakeDiscord
from fakes.telegram import FakeTelegram, make_user
from helpers import ROOT

from bot.cli import main
from bot.core.app import Core, Services
from bot.core.config import Config, StorageConfig
from bot.operations.doctor import Check, diagnose, report
from bot.storage.migrations import MIGRATIONS

DISCORD_TOKEN = "operations-test-token"
ALICE = make_user(3001, "Alice", language_code="en")
SECRETS = ("ADVOCACY_BOT_SECRET_KEY", "TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN", "ADVOCACY_BOT_CONFIG")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    # doctor's Discord check points discord.py at the fake; put the real address back after.
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    yield


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def initialised(tmp_path: Path, tg: FakeTelegram, dc: FakeDiscord, *options: str) -> Path:
    """``advocacy-bot init`` for both platforms, then the addresses of the fakes put in."""
    assert main(["init", str(tmp_path / "srv"), "--telegram", "--discord", *options]) == 0
    path = tmp_path / "srv" / "config.yaml"
    data = yaml.safe_load(path.read_text())
    data["telegram"]["base_url"] = tg.base_url
    data["discord"].update(api_base=dc.api_base, gateway_url=dc.gateway_url)
    data["metrics"]["port"] = free_port()
    path.write_text(yaml.safe_dump(data))
    return path


async def run_cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """The command as a process, while this loop keeps serving the fakes."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def healthy(port: int, process: asyncio.subprocess.Process) -> None:
    url = f"http://127.0.0.1:{port}/healthz"
    async with aiohttp.ClientSession() as session:
        for _ in range(300):
            assert process.returncode is None, "the bot stopped"
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("/healthz never said ok")


async def test_init_doctor_run_against_the_fakes(tmp_path: Path) -> None:
    async with FakeTelegram() as tg, FakeDiscord(token=DISCORD_TOKEN, heartbeat_interval_ms=500) as dc:
        config = initialised(tmp_path, tg, dc, "--metrics")
        settings = yaml.safe_load(config.read_text())
        env = {
            **{k: v for k, v in os.environ.items() if k not in SECRETS},
            "TELEGRAM_BOT_TOKEN": tg.token,
            "DISCORD_BOT_TOKEN": DISCORD_TOKEN,
        }

        code, out, err = await run_cli("--config", str(config), "doctor", env=env)
        assert code == 0, out + err
        lines = out.splitlines()
        assert [line.split()[1] for line in lines[:-1]] == [
            "configuration",
            "content",
            "secret",
            "database",
            "telegram",
            "discord",
            "metrics",
        ]
        assert all(line.startswith("ok ") for line in lines[:-1]), out
        assert "@advocacy_test_bot accepts the token" in out and "advocacy-bot accepts the token" in out
        assert lines[-1] == "all 7 checks passed"

        bot = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "--config", str(config), "run", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await healthy(settings["metrics"]["port"], bot)
            tg.push_message("what is naloxone", user=ALICE)
            await tg.wait_for("sendMessage", lambda call: "Naloxone" in str(call.params.get("text")), timeout=20)
            await dc.message_create("what is naloxone")
            await dc.wait_for(lambda call: call.message is not None and "Naloxone" in call.message.content, timeout=20)
        finally:
            if bot.returncode is None:
                bot.send_signal(signal.SIGTERM)
            _, err_bytes = await asyncio.wait_for(bot.communicate(), 30)
        log = err_bytes.decode()
        assert bot.returncode == 0, log
        # A server run logs INFO; it names the database and its configuration first.
        assert f"database {tmp_path / 'srv' / 'data' / 'advocacy-bot.sqlite3'} (configuration {config})" in log
        assert "running adapters: telegram, discord" in log
        assert "Traceback" not in log


async def test_doctor_fails_a_rejected_token_on_each_platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with FakeTelegram() as tg, FakeDiscord(token=DISCORD_TOKEN) as dc:
        config = initialised(tmp_path, tg, dc)
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456789:AAnotTheRightToken")
        monkeypatch.setenv("DISCORD_BOT_TOKEN", "not-the-right-token")
        checks = by_name(await diagnose(config))
    assert (
        not checks["telegram"].ok and "Telegram rejected the bot token (401 Unauthorized)" in checks["telegram"].detail
    )
    assert not checks["discord"].ok and "Discord refused the bot token" in checks["discord"].detail
    assert checks["secret key"].ok and checks["database"].ok


async def test_doctor_fails_a_missing_token_key_or_configuration(tmp_path: Path) -> None:
    async with FakeTelegram() as tg, FakeDiscord(token=DISCORD_TOKEN) as dc:
        config = initialised(tmp_path, tg, dc)
        (tmp_path / "srv" / "data" / "secret.key").unlink()
        text, ok = report(await diagnose(config))
    assert not ok
    assert "FAIL  secret key    ADVOCACY_BOT_SECRET_KEY is not set and there is no key file" in text
    assert "FAIL  telegram      TELEGRAM_BOT_TOKEN is not set" in text
    assert text.endswith("3 of 6 checks failed")

    broken = tmp_path / "broken.yaml"
    broken.write_text("telegram:\n  enabled: maybe\n")
    (check,) = await diagnose(broken)
    assert not check.ok and "telegram.enabled: expected true or false" in check.detail


async def configured_database(tmp_path: Path, services: Services, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A configuration file and the database it names, with someone in it, made with the test key."""
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", TEST_KEY)
    database = tmp_path / "bot.sqlite3"
    core = await Core.open(Config(storage=StorageConfig(database)), services=services)
    try:
        await core.people.set_language("someone", "console", "en")
    finally:
        await core.close()
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  path: {database}\n")
    return config


@pytest.mark.parametrize(
    ("damage", "said"), [("not a database", "file is not a database"), ("a torn page", "malformed")]
)
async def test_doctor_fails_a_damaged_database(
    tmp_path: Path, services: Services, monkeypatch: pytest.MonkeyPatch, damage: str, said: str
) -> None:
    config = await configured_database(tmp_path, services, monkeypatch)
    database = tmp_path / "bot.sqlite3"
    assert by_name(await diagnose(config))["database"].ok
    data = bytearray(database.read_bytes())
    if damage == "not a database":
        data[:16] = b"\x00" * 16
    else:
        # The second page, where the first table's rows begin: garbage from its header on.
        data[4096 : 4096 + 200] = b"\xff" * 200
    database.write_bytes(bytes(data))
    check = by_name(await diagnose(config))["database"]
    assert not check.ok
    assert str(database) in check.detail
    assert said in check.detail


async def test_doctor_fails_a_key_that_does_not_open_the_database(
    tmp_path: Path, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = await configured_database(tmp_path, services, monkeypatch)
    database = tmp_path / "bot.sqlite3"
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", "99" * 32)
    check = by_name(await diagnose(config))["database"]
    assert not check.ok and "is not the one this database was created with" in check.detail
    # doctor reads only: no write-ahead log was folded in, nothing was created.
    assert sqlite3.connect(database).execute("SELECT COUNT(*) FROM users").fetchone() == (1,)


def test_init_refuses_to_overwrite_and_keeps_the_key_in_one_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "bot"
    assert main(["init", str(target), "--print-key"]) == 0
    out, err = capsys.readouterr()
    (line,) = out.splitlines()
    assert line.startswith("export ADVOCACY_BOT_SECRET_KEY=") and len(line.split("=", 1)[1]) == 64
    assert "written nowhere" in err and not (target / "data" / "secret.key").exists()
    assert (target / "data").stat().st_mode & 0o777 == 0o700
    for step in ("1. ", "2. ", "3. "):
        assert step in err
    config = yaml.safe_load((target / "config.yaml").read_text())
    assert config["console"]["enabled"] is True and "telegram" not in config

    before = (target / "config.yaml").read_text()
    assert main(["init", str(target)]) == 1
    assert "init never overwrites" in capsys.readouterr().err
    assert (target / "config.yaml").read_text() == before

    env_file = tmp_path / "etc" / "env"
    assert (
        main(
            [
                "init",
                str(tmp_path / "etc"),
                "--data",
                str(tmp_path / "state"),
                "--telegram",
                "--env-file",
                str(env_file),
            ]
        )
        == 0
    )
    out, err = capsys.readouterr()
    assert out == ""
    assert env_file.stat().st_mode & 0o777 == 0o600
    lines = env_file.read_text().splitlines()
    assert any(line.startswith("ADVOCACY_BOT_SECRET_KEY=") and len(line) == 24 + 64 for line in lines)
    assert "TELEGRAM_BOT_TOKEN=" in lines
    assert not (tmp_path / "state" / "secret.key").exists()
    assert yaml.safe_load((tmp_path / "etc" / "config.yaml").read_text())["storage"]["path"] == str(
        tmp_path / "state" / "advocacy-bot.sqlite3"
    )


async def test_doctor_reads_a_postgresql_database_without_writing_to_it(
    database_url: str, tmp_path: Path, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", TEST_KEY)
    monkeypatch.delenv("ADVOCACY_BOT_DATABASE_URL", raising=False)
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  url: {database_url}\n  data_dir: {tmp_path}\n")
    await emptied(Config(storage=StorageConfig(url=database_url, data_dir=tmp_path)))
    latest = MIGRATIONS[-1].version
    fresh = by_name(await diagnose(config))["database"]
    assert fresh.ok and fresh.detail.endswith(f"schema 0; {latest} migration(s) to apply at the next start")
    core = await Core.open(Config(storage=StorageConfig(url=database_url, data_dir=tmp_path)), services=services)
    await core.close()
    assert by_name(await diagnose(config))["database"].detail.endswith(f"intact, schema {latest}")
    # A key that does not open the database's keys fails the check.
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", "ef" * 32)
    assert not by_name(await diagnose(config))["database"].ok
    # An unreachable server too, with the reason and without a password.
    monkeypatch.setenv("ADVOCACY_BOT_DATABASE_URL", "postgresql://bot:hunter2@127.0.0.1:1/none")
    unreachable = by_name(await diagnose(config))["database"]
    assert not unreachable.ok and "cannot be reached" in unreachable.detail and "hunter2" not in unreachable.detail
