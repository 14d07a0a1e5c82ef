"""The SQLite store (aiosqlite): WAL mode, versioned migrations, explicit transactions."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bot.migrations import MIGRATIONS, Migration

log = logging.getLogger(__name__)


# Units per shared transaction at most, so that a steady stream of writers still sees commits.
MAX_BATCH = 256
# People whose language choice is kept in memory.
LANGUAGE_CACHE = 50_000


class StoreError(Exception):
    pass


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Store:
    def __init__(self, db: aiosqlite.Connection, path: Path | str) -> None:
        self.db = db
        self.path = path
        self._lock = asyncio.Lock()
        self._waiting = 0
        # The open shared transaction's commit, which its units await; None when none is open.
        self._batch: asyncio.Future[None] | None = None
        self._batch_units = 0
        self._flushing: asyncio.Future[None] | None = None
        self._languages: OrderedDict[str, str | None] = OrderedDict()

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
        if self._flushing is not None:
            await self._flushing
        await self.db.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """All writes inside commit together or not at all, and are durable when this returns.

        Group commit: units that arrive while another holds the connection run, one after the
        other, each in its own savepoint of one shared transaction, which commits (one fsync) when
        nobody else is waiting. A failing unit rolls back only its own savepoint. Every unit still
        waits for the commit before it returns, so nothing is confirmed before it is on disk.
        """
        self._waiting += 1
        try:
            await self._lock.acquire()
        except BaseException:
            self._waiting -= 1
            if not self._waiting and self._batch is not None and not self._lock.locked():
                # The holder left the batch open for us: close it, or its units would wait forever.
                self._flushing = asyncio.ensure_future(self._flush())
            raise
        self._waiting -= 1
        try:
            if self._batch is None:
                await self.db.execute("BEGIN IMMEDIATE")
                self._batch = asyncio.get_running_loop().create_future()
                self._batch_units = 0
            batch = self._batch
            self._batch_units += 1
            await self.db.execute("SAVEPOINT unit")
            try:
                yield self.db
            except BaseException:
                await self.db.execute("ROLLBACK TO unit")
                await self.db.execute("RELEASE unit")
                raise
            else:
                await self.db.execute("RELEASE unit")
            finally:
                if not self._waiting or self._batch_units >= MAX_BATCH:
                    await self._commit()
        finally:
            self._lock.release()
        await asyncio.shield(batch)

    async def _commit(self) -> None:
        batch, self._batch = self._batch, None
        if batch is None:
            return
        try:
            await self.db.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                await self.db.execute("ROLLBACK")
            batch.set_exception(StoreError(f"the transaction could not be committed: {exc!r}"))
            # Each unit of the batch gets the failure; mark it seen so asyncio does not warn.
            batch.exception()
            if not isinstance(exc, Exception):
                raise
            return
        batch.set_result(None)

    async def _flush(self) -> None:
        async with self._lock:
            await self._commit()

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        """Every row of a query, in one hop to the database thread (execute, fetch and close)."""
        return list(await self.db.execute_fetchall(sql, params))

    async def row(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Row | None:
        found = await self.rows(sql, params)
        return found[0] if found else None

    async def schema_version(self) -> int:
        row = await self.row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
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

    async def user_language(self, user_id: str) -> str | None:
        # Read on every event: cached, since only this process writes it (set_user_language).
        if user_id in self._languages:
            self._languages.move_to_end(user_id)
            return self._languages[user_id]
        row = await self.row("SELECT language FROM users WHERE id = ?", (user_id,))
        language: str | None = row["language"] if row else None
        self._remember_language(user_id, language)
        return language

    def _remember_language(self, user_id: str, language: str | None) -> None:
        self._languages[user_id] = language
        self._languages.move_to_end(user_id)
        if len(self._languages) > LANGUAGE_CACHE:
            self._languages.popitem(last=False)

    def forget_language(self, user_id: str) -> None:
        self._languages.pop(user_id, None)

    async def set_user_language(self, user_id: str, platform: str, language: str | None) -> None:
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO users (id, platform, language, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET language = excluded.language",
                (user_id, platform, language, utcnow()),
            )
        self._remember_language(user_id, language)

    # ------------------------------------------------------------------ adapter settings

    async def setting(self, platform: str, scope: str, name: str) -> str | None:
        row = await self.row(
            "SELECT value FROM adapter_settings WHERE platform = ? AND scope = ? AND name = ?", (platform, scope, name)
        )
        return str(row[0]) if row else None

    async def settings(self, platform: str, scope: str) -> dict[str, str]:
        rows = await self.rows(
            "SELECT name, value FROM adapter_settings WHERE platform = ? AND scope = ?", (platform, scope)
        )
        return {str(row[0]): str(row[1]) for row in rows}

    async def set_setting(self, platform: str, scope: str, name: str, value: str | None) -> None:
        """Store (or, with None, remove) one setting."""
        async with self.transaction() as db:
            if value is None:
                await db.execute(
                    "DELETE FROM adapter_settings WHERE platform = ? AND scope = ? AND name = ?",
                    (platform, scope, name),
                )
            else:
                await db.execute(
                    "INSERT INTO adapter_settings (platform, scope, name, value, updated_at) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (platform, scope, name) DO UPDATE SET value = excluded.value,"
                    " updated_at = excluded.updated_at",
                    (platform, scope, name, value, utcnow()),
                )

    async def forget_scope(self, platform: str, scope: str) -> int:
        """Remove every setting of one place (the bot left a Discord server)."""
        async with self.transaction() as db:
            cursor = await db.execute(
                "DELETE FROM adapter_settings WHERE platform = ? AND scope = ?", (platform, scope)
            )
        return cursor.rowcount


def owner_problem(path: Path) -> str | None:
    """Why this process should not open the database at ``path``: root would leave files (a ``-wal``,
    a ``-shm``) that the service user who owns the database cannot open any more."""
    geteuid = getattr(os, "geteuid", None)
    if geteuid is None or geteuid() != 0 or not path.exists():
        return None
    owner = path.stat().st_uid
    if owner == 0:
        return None
    try:
        import pwd

        name = pwd.getpwuid(owner).pw_name
    except (ImportError, KeyError):
        name = str(owner)
    return (
        f"{path} belongs to {name}: run this as {name} (sudo -u {name} …, or deploy/advocacy-bot-admin); "
        "as root it would leave files the bot cannot open"
    )
