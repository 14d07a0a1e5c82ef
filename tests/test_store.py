from __future__ import annotations

from pathlib import Path

import pytest

from bot.migrations import MIGRATIONS, Migration
from bot.store import Store, StoreError

V2 = Migration(2, "notes", ("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",))


async def test_fresh_database_gets_every_migration_and_wal(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "sub" / "bot.sqlite3")
    try:
        assert await store.schema_version() == MIGRATIONS[-1].version
        async with store.db.execute("PRAGMA journal_mode") as cursor:
            assert (await cursor.fetchone())[0] == "wal"
        async with store.db.execute("SELECT version, name FROM schema_migrations ORDER BY version") as cursor:
            rows = [tuple(r) for r in await cursor.fetchall()]
        assert rows == [(m.version, m.name) for m in MIGRATIONS]
    finally:
        await store.close()


async def test_upgrade_applies_only_the_new_migrations_in_order(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    store = await Store.open(path, MIGRATIONS[:1])
    await store.set_user_language("u1", "console", "ru")
    await store.close()

    store = await Store.open(path, (*MIGRATIONS[:1], V2))
    try:
        assert await store.schema_version() == 2
        assert await store.user_language("u1") == "ru"  # data survives the upgrade
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
        assert await store.user_language("x") is None
    finally:
        await store.close()


async def test_migration_versions_must_increase(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="increasing"):
        await Store.open(tmp_path / "bot.sqlite3", (V2, *MIGRATIONS[:1]))
