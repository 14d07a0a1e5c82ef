"""``advocacy-bot db copy``: an SQLite deployment moved to PostgreSQL as it is (encrypted fields as they
are, tallies checked), and never into a database that holds anything already."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import TEST_KEY, query
from test_privacy import EMAIL, NAME, sign
from testbot import TestBot

from bot.cli import main
from bot.core.app import Services
from bot.core.config import Config, StorageConfig
from bot.delivery.broadcasts import create_broadcast
from bot.delivery.outbox import Outbox
from bot.storage.database import Store

PETITION = "un-decriminalise"


@pytest.fixture(autouse=True)
def secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", TEST_KEY)
    monkeypatch.delenv("ADVOCACY_BOT_DATABASE_URL", raising=False)


async def _deployment(tmp_path: Path, services: Services) -> Config:
    """An SQLite deployment in use: a pledge, a signature, a subscription, a language, a broadcast."""
    config = Config(storage=StorageConfig(tmp_path / "bot.sqlite3"))
    async with TestBot.started(config, services) as bot:
        await bot.ask("/pledge carry-naloxone")
        await bot.press("I pledge")
        await sign(bot)
        await bot.press("Yes, send me updates")
        other = TestBot(bot.core, user_id="other", language="es")
        await other.ask("/language es")
        await other.ask("/pledge carry-naloxone")
        await other.press("Me comprometo")
        now = datetime.now(UTC)
        outbox = Outbox(bot.core.store, bot.core.keyring)
        created = await create_broadcast(outbox, topic="petitions", body="Hi", language=None, platform=None, now=now)
        assert created.queued == 1
    return config


def _copy(config: Config, tmp_path: Path, *args: str) -> int:
    file = tmp_path / "config.yaml"
    file.write_text(f"storage:\n  path: {config.store_path}\n")
    return main(["--config", str(file), "db", "copy", *args])


async def test_a_deployment_copied_to_postgresql_holds_the_same_and_reads_with_the_same_key(
    database_url: str, tmp_path: Path, services: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    source = await _deployment(tmp_path, services)
    # A fresh database: the copy brings its schema up to date, then fills it.
    target = Config(storage=StorageConfig(url=database_url, data_dir=tmp_path))
    assert await asyncio.to_thread(_copy, source, tmp_path, "--to", database_url) == 0
    assert "the 2 tallies match" in capsys.readouterr().err
    for sql in (
        "SELECT id, platform, language FROM users ORDER BY id",
        "SELECT name, email, country, email_index FROM signatures ORDER BY user_id",
        "SELECT purpose, wrapped FROM keyring ORDER BY purpose",
        "SELECT name, count FROM tallies WHERE count > 0 ORDER BY name",
        "SELECT user_id, address, state FROM outbox ORDER BY id",
    ):
        assert await query(target, sql) == await query(source, sql), sql
    async with TestBot.started(target, services) as bot:
        # The same key decrypts what was copied: the person sees their own signature.
        mydata = await bot.ask("/mydata")
        assert NAME in mydata and EMAIL in mydata
        assert await bot.core.pledges.pledge_counts() == {"carry-naloxone": 2}
        assert await bot.core.signatures.signature_count(PETITION) == 1
        # The language chosen before the move still counts.
        assert "Te sumaste a este compromiso" in await TestBot(bot.core, user_id="other").ask("/pledge carry-naloxone")
        # New rows take ids after the copied ones.
        outbox = Outbox(bot.core.store, bot.core.keyring)
        again = await create_broadcast(
            outbox, topic="petitions", body="Again", language=None, platform=None, now=datetime.now(UTC)
        )
        assert again.id == 2


async def test_a_database_that_holds_anything_is_refused_and_left_as_it_was(
    database_url: str, tmp_path: Path, services: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    source = await _deployment(tmp_path, services)
    target = Config(storage=StorageConfig(url=database_url, data_dir=tmp_path))
    assert await asyncio.to_thread(_copy, source, tmp_path, "--to", database_url) == 0
    capsys.readouterr()
    async with TestBot.started(source, services, user_id="late") as bot:
        await bot.ask("/pledge carry-naloxone")
        await bot.press("I pledge")
    assert await asyncio.to_thread(_copy, source, tmp_path, "--to", database_url) == 1
    error = capsys.readouterr().err
    assert "is not empty" in error and "users" in error
    assert await query(target, "SELECT count FROM tallies WHERE name = 'pledge:carry-naloxone'") == [(2,)]


async def test_tallies_that_do_not_match_what_they_count_leave_the_target_empty(
    database_url: str, tmp_path: Path, services: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    source = await _deployment(tmp_path, services)
    store = await Store.open(source.store_path)
    try:
        async with store.transaction() as db:
            await db.execute("UPDATE tallies SET count = count + 5 WHERE name = 'pledge:carry-naloxone'")
    finally:
        await store.close()
    assert await asyncio.to_thread(_copy, source, tmp_path, "--to", database_url) == 1
    assert "pledge:carry-naloxone" in capsys.readouterr().err
    target = Config(storage=StorageConfig(url=database_url, data_dir=tmp_path))
    assert await query(target, "SELECT COUNT(*) FROM users") == [(0,)]


def test_the_target_must_be_a_postgresql_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = Config(storage=StorageConfig(tmp_path / "bot.sqlite3"))
    assert _copy(config, tmp_path, "--to", str(tmp_path / "other.sqlite3")) == 2
    assert "needs a postgresql:// URL" in capsys.readouterr().err
