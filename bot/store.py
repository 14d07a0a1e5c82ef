"""The SQLite store (aiosqlite): WAL mode, versioned migrations, explicit transactions."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite

from bot.migrations import MIGRATIONS, Migration

log = logging.getLogger(__name__)


class StoreError(Exception):
    pass


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Store:
    def __init__(self, db: aiosqlite.Connection, path: Path | str) -> None:
        self.db = db
        self.path = path

    @classmethod
    async def open(cls, path: Path | str, migrations: Sequence[Migration] = MIGRATIONS) -> Store:
        """Open (creating if needed) the database at ``path`` and bring its schema up to date."""
        if isinstance(path, Path):
            path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; every write is in an explicit one.
        db = await aiosqlite.connect(str(path), isolation_level=None)
        try:
            db.row_factory = aiosqlite.Row
            if str(path) != ":memory:":
                await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA foreign_keys=ON")
            await db.execute("PRAGMA busy_timeout=5000")
            store = cls(db, path)
            await store.migrate(migrations)
        except BaseException:
            await db.close()
            raise
        return store

    async def close(self) -> None:
        await self.db.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """All writes inside commit together or not at all."""
        await self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            await self.db.execute("ROLLBACK")
            raise
        await self.db.execute("COMMIT")

    async def schema_version(self) -> int:
        async with self.db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def migrate(self, migrations: Sequence[Migration]) -> list[int]:
        """Apply, in order, each migration newer than the database; returns the versions applied."""
        versions = [m.version for m in migrations]
        if versions != sorted(set(versions)):
            raise StoreError("migrations must have strictly increasing versions")
        await self.db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        current = await self.schema_version()
        if versions and current > versions[-1]:
            raise StoreError(
                f"the database {self.path} is at schema version {current}, newer than this program "
                f"({versions[-1]}): upgrade advocacy-bot"
            )
        applied: list[int] = []
        for migration in migrations:
            if migration.version <= current:
                continue
            async with self.transaction() as db:
                for statement in migration.statements:
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, utcnow()),
                )
            log.info("applied migration %d (%s)", migration.version, migration.name)
            applied.append(migration.version)
        return applied

    # ------------------------------------------------------------------ users

    async def ensure_user(self, user_id: str, platform: str) -> None:
        await self.db.execute(
            "INSERT INTO users (id, platform, language, created_at) VALUES (?, ?, NULL, ?) ON CONFLICT(id) DO NOTHING",
            (user_id, platform, utcnow()),
        )

    async def user_language(self, user_id: str) -> str | None:
        async with self.db.execute("SELECT language FROM users WHERE id = ?", (user_id,)) as cursor:
            row = await cursor.fetchone()
        return row["language"] if row else None

    async def set_user_language(self, user_id: str, platform: str, language: str | None) -> None:
        await self.db.execute(
            "INSERT INTO users (id, platform, language, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET language = excluded.language",
            (user_id, platform, language, utcnow()),
        )
