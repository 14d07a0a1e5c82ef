"""Backups and restoring them, as the README and deploy/ tell an operator to (the real command)."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import TEST_KEY
from helpers import run_bot
from test_petitions import sign
from testbot import TestBot

from bot.core.app import Services
from bot.core.config import Config, StorageConfig
from bot.operations import heartbeat
from bot.operations.backup import BackupError, backup
from bot.storage.database import stamp

PETITION = "un-decriminalise"


def cli(tmp_path: Path, *args: str, key: str = TEST_KEY) -> tuple[int, str, str]:
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  path: {tmp_path / 'data' / 'bot.sqlite3'}\n")
    result = run_bot("--config", str(config), *args, env={**os.environ, "ADVOCACY_BOT_SECRET_KEY": key})
    return result.returncode, result.stdout, result.stderr


def names_in(database: Path) -> list[str]:
    """The signers' names, as an organiser exports them."""
    code, out, err = cli(database.parent.parent, "export", "signatures", "--petition", PETITION, "--format", "json")
    assert code == 0, err
    return [row["name"] for row in json.loads(out)["signatures"]]


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", TEST_KEY)
    return Config(storage=StorageConfig(tmp_path / "data" / "bot.sqlite3"))


async def test_a_backup_restores_what_was_signed_after_the_database_is_lost(
    tmp_path: Path, config: Config, services: Services
) -> None:
    async with TestBot.started(config, services, user_id="maria") as bot:
        await sign(bot, name="Maria López")
    code, _, err = cli(tmp_path, "backup", str(tmp_path / "backups"))
    assert code == 0, err
    # Which database, and where the copy went.
    assert f"database {config.store_path} (configuration {tmp_path / 'config.yaml'})" in err
    (copy,) = (tmp_path / "backups").glob("advocacy-bot-*.sqlite3")
    assert f"backed up to {copy}" in err
    assert copy.stat().st_mode & 0o777 == 0o600
    assert not list((tmp_path / "backups").glob("*-wal"))

    # Later: another signature, then the disk eats the database.
    async with TestBot.started(config, services, user_id="jo") as bot:
        await sign(bot, name="Jo Later", email="jo@example.org")
    assert names_in(config.store_path) == ["Maria López", "Jo Later"]
    config.store_path.write_bytes(b"\x00" * 8192)

    code, _, err = cli(tmp_path, "restore", str(copy))
    assert code == 0, err
    assert f"restored {config.store_path} from {copy}" in err
    (aside,) = config.store_path.parent.glob("bot.sqlite3.before-restore-*")
    assert aside.stat().st_mode & 0o777 == 0o600
    assert names_in(config.store_path) == ["Maria López"]
    code, out, err = cli(tmp_path, "doctor")
    assert code == 0, out + err
    # The bot runs on the restored database: Maria has signed, and may not sign twice.
    async with TestBot.started(config, services, user_id="maria") as bot:
        assert "You signed" in await bot.ask(f"/sign {PETITION}")


async def test_restore_checks_the_backup_and_refuses_while_a_bot_runs(
    tmp_path: Path, config: Config, services: Services
) -> None:
    async with TestBot.started(config, services) as bot:
        await bot.ask("/subscribe news")
    copy = backup(config.store_path, tmp_path / "backups", 14, datetime.now(UTC))

    # Another key: that backup could not be read, so it is not restored.
    code, _, err = cli(tmp_path, "restore", str(copy), key="77" * 32)
    assert code == 1 and "is not the one this database was created with" in err

    damaged = tmp_path / "damaged.sqlite3"
    damaged.write_bytes(copy.read_bytes()[:4096])
    code, _, err = cli(tmp_path, "restore", str(damaged))
    assert code == 1 and "restore failed" in err

    # A bot noted itself a moment ago: stop it first.
    async with TestBot.started(config, services) as bot:
        await bot.core.settings(heartbeat.OWNER).set(heartbeat.SCOPE, "telegram", stamp(datetime.now(UTC)))
    code, _, err = cli(tmp_path, "restore", str(copy))
    assert code == 1 and "stop it first" in err and "telegram (" in err
    code, _, err = cli(tmp_path, "restore", str(copy), "--force")
    assert code == 0, err


def test_backups_keep_the_newest_and_never_overwrite(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)")
    start = datetime(2027, 6, 19, 3, 15, tzinfo=UTC)
    made = [backup(database, tmp_path / "b", 2, start + timedelta(days=n)) for n in range(3)]
    assert sorted((tmp_path / "b").iterdir()) == made[1:]
    with pytest.raises(BackupError, match="already exists"):
        backup(database, tmp_path / "b", 2, start + timedelta(days=2))
    with pytest.raises(BackupError, match="there is no database"):
        backup(tmp_path / "none.sqlite3", tmp_path / "b", 2, start)
