"""What the database holds in clear: nothing that says where someone lives, and times no finer than needed.

The README's privacy table lists every clear column and why; these tests hold the code to it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conftest import TEST_KEY, emptied, query, stored
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
    held = stored(config)
    for zone in ZONES:
        for part in (zone, zone.split("/")[1]):
            assert part.encode() not in held, f"{part} is readable in the database"
    assert await query(config, "SELECT COUNT(*) FROM users WHERE zone IS NOT NULL") == [(2,)]
    assert await query(config, "SELECT COUNT(*) FROM users WHERE timezone IS NOT NULL") == [(0,)]
    store = await Store.open(config.database)
    try:
        with pytest.raises(Exception, match="retired"):
            async with store.transaction() as db:
                await db.execute("UPDATE users SET timezone = 'Europe/Kyiv'")
    finally:
        await store.close()


async def test_an_older_database_has_its_clear_time_zones_encrypted_at_start(
    config: Config, services: Services
) -> None:
    # A database as schema 4 left it: the zone in clear, and moments to the microsecond.
    await emptied(config)
    store = await Store.open(config.database, MIGRATIONS[:4])
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
    assert b"Europe/Kyiv" in stored(config)

    for _ in range(2):  # and again: the step is idempotent
        core = await Core.open(config, services=services)
        try:
            assert await core.people.timezone_of(person) == "Europe/Kyiv"
            assert (await core.pledges.pledges_of(person))["carry-naloxone"] == datetime(2026, 3, 4, tzinfo=UTC)
        finally:
            await core.close()
    assert b"Europe/Kyiv" not in stored(config)


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
    for table, column in (
        ("users", "created_at"),
        ("pledges_taken", "taken_at"),
        ("signatures", "signed_at"),
        ("subscriptions", "created_at"),
        ("outbox", "due_at"),
        ("outbox", "updated_at"),
    ):
        values = [row[0] for row in await query(config, f"SELECT {column} FROM {table}")]
        assert values and all(value.endswith(midnight) for value in values), (table, column, values)
    ((form,),) = await query(config, "SELECT updated_at FROM conversations")
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
