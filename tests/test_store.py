from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from helpers import only_row

from bot.campaigns.conversations import Conversations, read_once
from bot.campaigns.people import People
from bot.privacy.crypto import FieldCipher, Keyring
from bot.storage.database import MAX_BATCH, Row, Store, StoreError
from bot.storage.migrations import MIGRATIONS, Migration
from bot.storage.settings import PlatformSettings

# The language choice is kept in clear: no key is used.
KEYS = Keyring(FieldCipher(bytes(32)), bytes(32), bytes(32))

V2 = Migration(2, "notes", ("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",))


async def test_fresh_database_gets_every_migration_and_wal(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "sub" / "bot.sqlite3")
    try:
        assert await store.schema_version() == MIGRATIONS[-1].version
        async with store.db.execute("PRAGMA journal_mode") as cursor:
            assert (await only_row(cursor))[0] == "wal"
        async with store.db.execute("SELECT version, name FROM schema_migrations ORDER BY version") as cursor:
            rows = [tuple(r) for r in await cursor.fetchall()]
        assert rows == [(m.version, m.name) for m in MIGRATIONS]
    finally:
        await store.close()


async def test_upgrade_applies_only_the_new_migrations_in_order(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    store = await Store.open(path, MIGRATIONS[:1])
    await People(store, KEYS).set_language("u1", "console", "ru")
    await store.close()

    store = await Store.open(path, (*MIGRATIONS[:1], V2))
    try:
        assert await store.schema_version() == 2
        assert await People(store, KEYS).language("u1") == "ru"  # data survives the upgrade
        assert await store.migrate((*MIGRATIONS[:1], V2)) == []  # idempotent
    finally:
        await store.close()


async def test_a_database_newer_than_the_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    store = await Store.open(path, (*MIGRATIONS[:1], V2))
    await store.close()
    with pytest.raises(StoreError, match="newer than this program"):
        await Store.open(path, MIGRATIONS[:1])


async def test_a_failing_migration_leaves_nothing_half_done(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    broken = Migration(2, "broken", ("CREATE TABLE half (id INTEGER)", "THIS IS NOT SQL"))
    with pytest.raises(Exception, match="syntax error"):
        await Store.open(path, (*MIGRATIONS[:1], broken))
    store = await Store.open(path, MIGRATIONS[:1])
    try:
        assert await store.schema_version() == 1
        async with store.db.execute("SELECT name FROM sqlite_master WHERE name = 'half'") as cursor:
            assert await cursor.fetchone() is None
    finally:
        await store.close()


async def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        with pytest.raises(RuntimeError):
            async with store.transaction() as db:
                await db.execute(
                    "INSERT INTO users (id, platform, language, created_at) VALUES ('x', 'console', 'en', 'now')"
                )
                raise RuntimeError("boom")
        assert await People(store, KEYS).language("x") is None
    finally:
        await store.close()


async def test_migration_versions_must_increase(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="increasing"):
        await Store.open(tmp_path / "bot.sqlite3", (V2, *MIGRATIONS[:1]))


NOTES = (*MIGRATIONS, Migration(99, "notes", ("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",)))


def _committed(path: Path) -> list[str]:
    """What another connection sees: only what is committed."""
    with sqlite3.connect(path) as other:
        return [row[0] for row in other.execute("SELECT body FROM notes ORDER BY id")]


async def test_concurrent_units_are_each_committed_when_they_return(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    store = await Store.open(path, NOTES)
    seen_on_return: dict[str, bool] = {}

    async def unit(body: str) -> None:
        async with store.transaction() as db:
            await db.execute("INSERT INTO notes (body) VALUES (?)", (body,))
        seen_on_return[body] = body in _committed(path)

    try:
        await asyncio.gather(*(unit(f"n{i}") for i in range(300)))
    finally:
        await store.close()
    assert all(seen_on_return.values()) and len(seen_on_return) == 300
    assert sorted(_committed(path)) == sorted(f"n{i}" for i in range(300))


async def test_a_failing_unit_in_a_shared_transaction_rolls_back_alone(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    store = await Store.open(path, NOTES)

    async def unit(body: str) -> None:
        async with store.transaction() as db:
            await db.execute("INSERT INTO notes (body) VALUES (?)", (body,))
            if body == "bad":
                raise ValueError("refused")

    try:
        results = await asyncio.gather(*(unit(b) for b in ("a", "bad", "c")), return_exceptions=True)
    finally:
        await store.close()
    assert [type(r) for r in results] == [type(None), ValueError, type(None)]
    assert _committed(path) == ["a", "c"]


async def test_a_cancelled_waiter_does_not_strand_the_others(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    store = await Store.open(path, NOTES)
    release = asyncio.Event()

    async def slow() -> None:
        async with store.transaction() as db:
            await db.execute("INSERT INTO notes (body) VALUES ('slow')")
            await release.wait()

    async def waiter() -> None:
        async with store.transaction() as db:
            await db.execute("INSERT INTO notes (body) VALUES ('never')")

    try:
        first = asyncio.create_task(slow())
        await asyncio.sleep(0)
        second = asyncio.create_task(waiter())
        await asyncio.sleep(0)
        second.cancel()
        release.set()
        await asyncio.wait_for(first, timeout=5)
        with pytest.raises(asyncio.CancelledError):
            await second
    finally:
        await store.close()
    assert _committed(path) == ["slow"]


async def test_a_steady_stream_of_writers_still_commits_in_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bot.sqlite3"
    store = await Store.open(path, NOTES)
    commits = 0
    real_commit = store._commit

    async def counting_commit() -> None:
        nonlocal commits
        commits += 1
        await real_commit()

    monkeypatch.setattr(store, "_commit", counting_commit)

    async def unit(i: int) -> None:
        async with store.transaction() as db:
            await db.execute("INSERT INTO notes (body) VALUES (?)", (str(i),))

    try:
        await asyncio.gather(*(unit(i) for i in range(MAX_BATCH * 3)))
    finally:
        await store.close()
    assert 3 <= commits < MAX_BATCH
    assert len(_committed(path)) == MAX_BATCH * 3


async def test_adapter_settings_are_kept_per_place_and_forgotten_together(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        await PlatformSettings(store, "discord").set("guild:1", "announcements", "555")
        await PlatformSettings(store, "discord").set("guild:1", "organiser_role", "777")
        await PlatformSettings(store, "discord").set("guild:2", "announcements", "666")
        await PlatformSettings(store, "discord").set("guild:1", "announcements", "556")
        assert await PlatformSettings(store, "discord").get("guild:1", "announcements") == "556"
        assert await PlatformSettings(store, "discord").all("guild:1") == {
            "announcements": "556",
            "organiser_role": "777",
        }
        await PlatformSettings(store, "discord").set("guild:1", "organiser_role", None)
        assert await PlatformSettings(store, "discord").forget("guild:1") == 1
        assert await PlatformSettings(store, "discord").all("guild:1") == {}
        assert await PlatformSettings(store, "discord").get("guild:2", "announcements") == "666"
    finally:
        await store.close()


async def test_independent_writes_run_together_and_say_what_each_changed(store_target: Path | str) -> None:
    store = await Store.open(store_target)
    people = People(store, KEYS)
    now = datetime(2025, 3, 1, tzinfo=UTC)
    take = ("INSERT INTO pledges_taken (pledge_id, user_id, taken_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",)
    try:
        async with store.transaction() as db:
            # A new person and a row that refers to them: one statement on PostgreSQL, still in order.
            first = await db.execute_all([people.ensuring("u1", "console", now), (*take, ("p", "u1", "d"))])
        async with store.transaction() as db:
            again = await db.execute_all([people.ensuring("u1", "console", now), (*take, ("p", "u1", "d"))])
        with pytest.raises((sqlite3.IntegrityError, asyncpg.UniqueViolationError)):
            async with store.transaction() as db:
                await db.execute_all(
                    [
                        people.ensuring("u2", "console", now),
                        ("INSERT INTO pledges_taken (pledge_id, user_id, taken_at) VALUES (?, ?, ?)", ("p", "u1", "d")),
                    ]
                )
        users = [row[0] for row in await store.rows("SELECT id FROM users ORDER BY id")]
        pledges = tuple(await store.rows("SELECT COUNT(*) FROM pledges_taken"))
    finally:
        await store.close()
    assert [d.rowcount for d in first] == [1, 1]
    # The person's row is upserted (changed), the pledge not taken twice.
    assert [d.rowcount for d in again] == [1, 0]
    # The failing write took the other with it: no half-done unit.
    assert users == ["u1"] and [tuple(row) for row in pledges] == [(1,)]


async def test_units_of_a_batch_share_one_read_after_their_commit_which_sees_their_writes(
    store_target: Path | str,
) -> None:
    store = await Store.open(store_target)
    people = People(store, KEYS)
    now = datetime(2025, 3, 1, tzinfo=UTC)
    count = "SELECT count FROM tallies WHERE name = 'pledge:p'"
    committed: list[bool] = []

    async def take(n: int) -> tuple[asyncio.Future[list[Row]], int]:
        async with store.transaction() as db:
            await db.execute_all(
                [
                    people.ensuring(f"u{n}", "console", now),
                    ("INSERT INTO pledges_taken (pledge_id, user_id, taken_at) VALUES ('p', ?, 'd')", (f"u{n}",)),
                ]
            )
            read = store.after_commit(count)
            # Not before the commit.
            committed.append(read.done())
        return read, int((await read)[0][0])

    try:
        taken = await asyncio.gather(*(take(n) for n in range(60)))
        alone = await take(60)
    finally:
        await store.close()
    reads = {id(read) for read, _ in taken}
    # Units committed together read once; each count includes the unit's own pledge.
    assert len(reads) < 60 and not any(committed)
    assert max(seen for _, seen in taken) == 60 and min(seen for _, seen in taken) >= 1
    assert alone[1] == 61


async def test_a_form_read_with_the_language_serves_the_event_until_a_form_is_written(
    store_target: Path | str,
) -> None:
    store = await Store.open(store_target)
    people = People(store, KEYS)
    conversations = Conversations(store, KEYS, people)
    now = datetime(2025, 3, 1, tzinfo=UTC)
    try:
        await people.set_language("u1", "console", "pt")
        await conversations.save_conversation("u1", "console", "sign", {"step": "name"}, now)
        with read_once():
            assert await conversations.language_with_form("nobody") is None
            assert await conversations.language_with_form("u1") == "pt"
            # Read again within the event: what was read at its start, not another query.
            async with store.transaction() as db:
                await db.execute("UPDATE conversations SET flow = 'changed elsewhere'")
            form = await conversations.conversation("u1")
            assert form is not None and (form.flow, form.state) == ("sign", {"step": "name"})
            # Once the event writes a form, the database is asked again.
            await conversations.save_conversation("u1", "console", "sign", {"step": "email"}, now)
            form = await conversations.conversation("u1")
            assert form is not None and form.state == {"step": "email"}
            await conversations.end_conversation("u1")
            assert await conversations.conversation("u1") is None
        # Outside an event, nothing read earlier is used.
        await conversations.save_conversation("u1", "console", "sign", {"step": "country"}, now)
        with read_once():
            await conversations.language_with_form("u1")
        form = await conversations.conversation("u1")
        assert form is not None and form.state == {"step": "country"}
    finally:
        await store.close()
