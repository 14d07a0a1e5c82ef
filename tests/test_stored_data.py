"""What the database holds in clear: nothing that says where someone lives, and times no finer than needed.

The README's privacy table lists every clear column and why; these tests hold the code to it.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import TEST_KEY
from test_privacy import sign
from testbot import TestBot

from bot.core.app import Core, Services
from bot.core.config import Config
from bot.port.clock import ManualClock
from bot.privacy.crypto import Keyring
from bot.privacy.secret_key import parse_key
from bot.storage.database import Store
from bot.storage.migrations import MIGRATIONS

ZONES = ("Europe/Warsaw", "Europe/Lisbon", "Europe/Kyiv")


@pytest.fixture(autouse=True)
def secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", TEST_KEY)


def raw(path: Path) -> bytes:
    """The database's files as someone who copied them would read them."""
    return b"".join(p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name))


async def take_part(bot: TestBot) -> None:
    await bot.ask("/pledge carry-naloxone")
    await bot.press("I pledge")
    await sign(bot, "Ana Lima", "ana@example.org", "Poland")  # Europe/Warsaw, inferred
    await bot.press("Yes, send me updates")


async def test_the_time_zone_is_stored_encrypted(config: Config, services: Services) -> None:
    async with TestBot.started(config, services, user_id="signer") as bot:
        await take_part(bot)
        other = TestBot(bot.core, user_id="mover")
        assert "Europe/Lisbon" in await other.ask("/timezone Lisbon")
        assert await bot.core.people.timezone_of(bot.core.keyring.user_id("console", "signer")) == "Europe/Warsaw"
        assert "Europe/Warsaw" in await bot.ask("/mydata")
    stored = raw(config.store_path)
    for zone in ZONES:
        for part in (zone, zone.split("/")[1]):
            assert part.encode() not in stored, f"{part} is readable in the database file"
    with sqlite3.connect(config.store_path) as db:
        assert db.execute("SELECT COUNT(*) FROM users WHERE zone IS NOT NULL").fetchone() == (2,)
        assert db.execute("SELECT COUNT(*) FROM users WHERE timezone IS NOT NULL").fetchone() == (0,)
        with pytest.raises(sqlite3.IntegrityError, match="retired"):
            db.execute("UPDATE users SET timezone = 'Europe/Kyiv'")


async def test_an_older_database_has_its_clear_time_zones_encrypted_at_start(
    config: Config, services: Services
) -> None:
    # A database as schema 4 left it: the zone in clear, and moments to the microsecond.
    store = await Store.open(config.store_path, MIGRATIONS[:4])
    keyring = await Keyring.open(store, parse_key(TEST_KEY))
    person = keyring.user_id("console", "old-timer")
    moment = "2026-03-04T05:06:07.891011+00:00"
    async with store.transaction() as db:
        await db.execute(
            "INSERT INTO users (id, platform, timezone, created_at) VALUES (?, 'console', 'Europe/Kyiv', ?)",
            (person, moment),
        )
        await db.execute(
            "INSERT INTO pledges_taken (pledge_id, user_id, taken_at) VALUES ('carry-naloxone', ?, ?)", (person, moment)
        )
    await store.close()
    assert b"Europe/Kyiv" in raw(config.store_path)

    for _ in range(2):  # and again: the step is idempotent
        core = await Core.open(config, services=services)
        try:
            assert await core.people.timezone_of(person) == "Europe/Kyiv"
            assert (await core.pledges.pledges_of(person))["carry-naloxone"] == datetime(2026, 3, 4, tzinfo=UTC)
        finally:
            await core.close()
    assert b"Europe/Kyiv" not in raw(config.store_path)


async def test_what_people_do_is_stored_to_the_day(config: Config, services: Services) -> None:
    organisers = Config(storage=config.storage, organisers=("console:signer",))
    async with TestBot.started(organisers, services, user_id="signer") as bot:
        await take_part(bot)
        await bot.ask("/subscribe news")
        await bot.ask("/broadcast")
        await bot.ask("The day of action is on Friday")
        await bot.press("campaign news")
        await bot.press("Every language")
        await bot.press("Every platform")
        await bot.press("Send it")
        assert "The day of action is on Friday" in "".join(await bot.deliver())
        await TestBot(bot.core, user_id="typist").ask("/sign")
    midnight = "T00:00:00+00:00"
    with sqlite3.connect(config.store_path) as db:
        for table, column in (
            ("users", "created_at"),
            ("pledges_taken", "taken_at"),
            ("signatures", "signed_at"),
            ("subscriptions", "created_at"),
            ("outbox", "due_at"),
            ("outbox", "updated_at"),
        ):
            values = [row[0] for row in db.execute(f"SELECT {column} FROM {table}")]
            assert values and all(value.endswith(midnight) for value in values), (table, column, values)
        (form,) = db.execute("SELECT updated_at FROM conversations").fetchone()
        assert datetime.fromisoformat(form).second == 0 and datetime.fromisoformat(form).microsecond == 0


async def test_a_form_to_the_minute_is_never_forgotten_early(config: Config, services: Services) -> None:
    clock = ManualClock(datetime(2026, 11, 21, 12, 0, 30, tzinfo=UTC))
    core = await Core.open(config, services=services)
    core.clock = clock
    try:
        timeout = core.conversation_timeout
        await core.conversations.save_conversation("someone", "console", "sign", {"step": "name"}, clock())
        assert (await core.conversations.conversation("someone")) is not None
        assert await core.conversations.purge_conversations(clock() + timeout, timeout) == 0
        assert await core.conversations.purge_conversations(clock() + timeout + timedelta(minutes=1), timeout) == 1
    finally:
        await core.close()
