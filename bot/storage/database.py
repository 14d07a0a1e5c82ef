"""The SQLite store (aiosqlite): WAL mode, versioned migrations, explicit transactions.

What it holds is read and written by one class per kind of record, each over a :class:`Store`:
platform settings here (:mod:`bot.storage.settings`), people and campaigns in :mod:`bot.campaigns`,
the outbox in :mod:`bot.delivery.outbox`, the keyring in :mod:`bot.privacy.crypto`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import sqlite3
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

import aiosqlite

from bot.storage.dialect import SQLITE, Dialect
from bot.storage.migrations import MIGRATIONS, Migration

T = TypeVar("T")

log = logging.getLogger(__name__)


# Units per shared transaction at most, so that a steady stream of writers still sees commits.
MAX_BATCH = 256
# A write that met a transient failure is tried this many times in all, waiting from the first delay
# up to the longest (doubling) in between: about half a minute, as long as a server takes to restart.
RETRY_TRIES = 8
RETRY_FIRST = 0.1
RETRY_MAX = 8.0
SERVER_SCHEMES = ("postgresql://", "postgres://")


def is_server_url(target: Path | str) -> bool:
    return isinstance(target, str) and target.startswith(SERVER_SCHEMES)


def without_password(url: str) -> str:
    """``url`` as it may be shown or logged: the password, if any, left out."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}@{host}" if user else host))


class StoreError(Exception):
    pass


class DatabaseUnusable(StoreError):
    """The database cannot be used as it is; the message names the file and what to do."""


# Beside the database, written once it holds a schema: while it exists, a missing or empty database
# file is a loss to repair, never a first start (when a new, empty database would silently replace it).
MARKER_SUFFIX = ".created"
# What each SQLite error at start-up means for the operator.
_REMEDIES = {
    "SQLITE_NOTADB": "is not a database the bot can read (a damaged header, or another kind of file): "
    "restore it from a backup, or set storage.path to the right file",
    "SQLITE_CORRUPT": "is damaged (truncated or corrupted): restore it from a backup",
    "SQLITE_READONLY": "is read-only: let the user running the bot write to it and to its folder "
    "(where its -wal and -shm files live)",
    "SQLITE_FULL": "cannot be written: the disk is full. Free some space, then start again",
    "SQLITE_IOERR": "cannot be read or written (a disk I/O error): check the disk, then start again",
    "SQLITE_CANTOPEN": "cannot be opened for reading and writing: check that it and its folder exist "
    "and that the user running the bot may write to both",
    "SQLITE_BUSY": "is locked by another program: stop it (another bot instance?), then start again",
}


def stamp(moment: datetime) -> str:
    """A UTC moment as stored: ISO text, which sorts in time order (a retry-after keeps its fraction)."""
    return moment.astimezone(UTC).isoformat()


def minute_stamp(moment: datetime) -> str:
    """``moment`` rounded up to the minute: for a form's last answer, no finer than its expiry needs
    (rounded up, so that a form is never forgotten early)."""
    rounded = moment.astimezone(UTC).replace(second=0, microsecond=0)
    return (rounded if rounded == moment else rounded + timedelta(minutes=1)).isoformat()


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def day_stamp(moment: datetime) -> str:
    """The UTC day of ``moment``, as stored for what people did (midnight): the day is all anyone
    needs, and the exact moment, joined with a platform's logs, would point at their account."""
    return datetime.combine(moment.astimezone(UTC).date(), time(), tzinfo=UTC).isoformat()


def private_folder(folder: Path) -> None:
    """Create ``folder`` readable by its owner only; an existing one is left as it is, with a warning
    if others may look inside (the files themselves are owner-only)."""
    if not folder.exists():
        folder.mkdir(mode=0o700, parents=True)
    elif folder.stat().st_mode & 0o077:
        log.warning("others can list the data folder %s: make it owner-only with chmod 700", folder)


def unusable(path: Path | str, error: BaseException) -> DatabaseUnusable:
    """One line that says what is wrong with the database at ``path`` and what to do about it."""
    cause = error if isinstance(error, sqlite3.Error) else error.__cause__
    name = getattr(cause, "sqlite_errorname", "") or ""
    remedy = next((text for code, text in _REMEDIES.items() if name.startswith(code)), None)
    if remedy is None:
        remedy = f"cannot be used ({cause or error}): check the file and its folder, or restore a backup"
    return DatabaseUnusable(f"the database {path} {remedy}")


def _prepare(path: Path) -> None:
    """The database's folder and file exist, owner-only, unless a database that existed is gone."""
    marker = path.with_name(path.name + MARKER_SUFFIX)
    try:
        private_folder(path.parent)
        if marker.exists() and (not path.exists() or path.stat().st_size == 0):
            state = "is missing" if not path.exists() else "is empty (0 bytes)"
            raise DatabaseUnusable(
                f"the database {path} {state}, but the bot created one there before ({marker}): restore it "
                f"from a backup; to start afresh with an empty database, delete {marker}"
            )
        if not path.exists():
            # Created owner-only before SQLite opens it: its -wal and -shm files take the same mode.
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            mode = file.stat().st_mode if file.exists() else 0
            if mode & 0o077:
                # Others lose their access; the owner keeps theirs (a file made read-only stays so).
                file.chmod(mode & 0o700)
    except OSError as exc:
        raise DatabaseUnusable(
            f"the database {path} cannot be created or opened ({exc.strerror}): check that its folder "
            "exists and that the user running the bot may write there"
        ) from exc


def _mark(path: Path) -> None:
    marker = path.with_name(path.name + MARKER_SUFFIX)
    with contextlib.suppress(FileExistsError):
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(
                f"advocacy-bot created {path.name} here ({utcnow()}). While this file exists, the bot refuses "
                "to start if that database is missing or empty, rather than start afresh with an empty one.\n"
            )


class Row(Protocol):
    """A row of a result, by column position or name (sqlite3's Row and asyncpg's Record both are)."""

    def __getitem__(self, key: int | str, /) -> Any: ...

    def __len__(self) -> int: ...

    def __iter__(self) -> Iterator[Any]: ...

    def keys(self) -> Iterable[str]: ...


# Reads asked for after a commit: each query and its parameters, and its rows to come.
Reads = dict[tuple[str, tuple[Any, ...]], "asyncio.Future[list[Row]]"]


@dataclass(frozen=True, slots=True)
class Done:
    """What a statement changed."""

    rowcount: int


# A statement and its parameters.
Statement = tuple[str, Sequence[Any]]


class Db(ABC):
    """One connection, as the records' classes use it: ``?`` placeholders in either dialect."""

    @abstractmethod
    async def execute(self, sql: str, params: Sequence[Any] = ()) -> Done: ...

    @abstractmethod
    async def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None: ...

    async def execute_all(self, statements: Sequence[Statement]) -> list[Done]:
        """Writes that are independent of one another (none reads or changes a row another writes), in
        order; what each changed. A server may take them as one statement, in one round trip: then each
        sees the database as it was before any of them."""
        return [await self.execute(sql, params) for sql, params in statements]

    @abstractmethod
    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Every row of a query."""

    async def row(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        found = await self.rows(sql, params)
        return found[0] if found else None

    @abstractmethod
    async def script(self, sql: str) -> None:
        """One statement without parameters, as written (schema changes, transaction control)."""

    async def scripts(self, *statements: str) -> None:
        """Statements without parameters, in order (a server may take them in one round trip)."""
        for sql in statements:
            await self.script(sql)

    async def commit(self) -> None:
        """Commit the open transaction; raise if it was not committed."""
        await self.script("COMMIT")


class SqliteDb(Db):
    def __init__(self, connection: aiosqlite.Connection) -> None:
        self.connection = connection

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> Done:
        cursor = await self.connection.execute(sql, params)
        count = cursor.rowcount
        await cursor.close()
        return Done(count)

    async def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        await self.connection.executemany(sql, params)

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        # In one hop to the database thread (execute, fetch and close).
        return list(await self.connection.execute_fetchall(sql, params))

    async def script(self, sql: str) -> None:
        await self.connection.execute(sql)


@dataclass
class Term:
    """Being the one instance that does something (sends for a platform, schedules): ``lost`` is set
    when another may have taken over (the connection that held the election went away)."""

    role: str
    lost: asyncio.Event = field(default_factory=asyncio.Event)


class Store:
    """The store, whichever the database: group commit over one writing connection, migrations, and
    what several instances on one database need (elections, per-key turns, transient failures retried).

    This base is the SQLite store (one file, one process: elections trivially won);
    :class:`bot.storage.postgres.PostgresStore` is the PostgreSQL one.
    """

    dialect: Dialect = SQLITE

    def __init__(self, conn: Db, path: Path | str) -> None:
        self.conn = conn
        self.path = path
        # Who this process is among the instances sharing the store (claims of outbox rows name it).
        self.instance = uuid.uuid4().hex[:16]
        self._lock = asyncio.Lock()
        self._waiting = 0
        # The open shared transaction's commit, which its units await; None when none is open.
        self._batch: asyncio.Future[None] | None = None
        self._batch_units = 0
        self._batch_db = conn
        # Whether the open batch's last unit released its savepoint (a successful one leaves it to the
        # next unit's start, or to the commit: one round trip fewer per unit on a server).
        self._released = True
        self._flushing: asyncio.Future[None] | None = None
        # Reads that the open batch's units asked for once it has committed (after_commit).
        self._reads: Reads = {}

    @property
    def db(self) -> aiosqlite.Connection:
        """The SQLite connection itself (for SQLite's own checks)."""
        assert isinstance(self.conn, SqliteDb)
        return self.conn.connection

    @property
    def shared(self) -> bool:
        """Whether other processes may write this store: then nothing it holds may be cached."""
        return self.dialect.shared

    @classmethod
    async def open(
        cls, target: Path | str, migrations: Sequence[Migration] = MIGRATIONS, *, pool_size: int = 10
    ) -> Store:
        """Open (creating if needed) the database at ``target``, check it, and bring its schema up to date.

        ``target``: an SQLite file (a path), or a ``postgresql://`` URL. A database that cannot be used
        (damaged, not a database, read-only, the disk full, missing or empty when one existed, a server
        that refuses) raises :class:`DatabaseUnusable`, whose message says what to do.
        """
        if is_server_url(target):
            try:
                from bot.storage.postgres import PostgresStore
            except ImportError as exc:
                raise DatabaseUnusable(
                    f"a PostgreSQL database needs the postgresql extra ({exc}): pip install 'advocacy-bot[postgresql]'"
                ) from exc
            return await PostgresStore.connect(str(target), migrations, pool_size=pool_size)
        return await cls._open_sqlite(target, migrations)

    @classmethod
    async def _open_sqlite(cls, path: Path | str, migrations: Sequence[Migration]) -> Store:
        if isinstance(path, Path):
            _prepare(path)
        try:
            # isolation_level=None: no implicit transactions; every write is in an explicit one.
            db = await aiosqlite.connect(str(path), isolation_level=None)
        except sqlite3.Error as exc:
            raise unusable(path, exc) from exc
        try:
            db.row_factory = aiosqlite.Row
            if str(path) != ":memory:":
                await db.execute("PRAGMA journal_mode=WAL")
            await db.execute("PRAGMA foreign_keys=ON")
            await db.execute("PRAGMA busy_timeout=5000")
            # What is deleted or overwritten (a person erased with /forget, a time zone once stored in
            # clear) is overwritten with zeros, not left readable in the file's free space.
            await db.execute("PRAGMA secure_delete=ON")
            # Damage anywhere in the file (a truncated copy, say) shows now, not halfway through a sign-up.
            check = await db.execute_fetchall("PRAGMA quick_check")
            if [tuple(row) for row in check] != [("ok",)]:
                raise DatabaseUnusable(f"the database {path} {_REMEDIES['SQLITE_CORRUPT']}")
            store = cls(SqliteDb(db), path)
            await store.migrate(migrations)
            # Writing must work too (a read-only file can still be read).
            await db.execute("BEGIN IMMEDIATE")
            await db.execute("ROLLBACK")
        except (sqlite3.Error, StoreError) as exc:
            await db.close()
            if isinstance(exc, StoreError) and not isinstance(exc.__cause__, sqlite3.Error):
                raise
            raise unusable(path, exc) from exc
        except BaseException:
            await db.close()
            raise
        if isinstance(path, Path):
            _mark(path)
        return store

    async def close(self) -> None:
        if self._flushing is not None:
            await self._flushing
        await self.db.close()

    async def _writer(self) -> Db:
        """The connection shared transactions run on (PostgreSQL's reconnects after a loss)."""
        return self.conn

    async def _discard_writer(self) -> None:
        """After a failed commit: a server's writing connection is replaced (SQLite's file stays open)."""

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Db]:
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
            fresh = self._batch is None
            if fresh:
                self._batch_db = await self._writer()
                self._batch = asyncio.get_running_loop().create_future()
                self._batch_units = 0
                self._released = True
                self._reads = {}
            db, batch = self._batch_db, self._batch
            assert batch is not None
            self._batch_units += 1
            # A connection lost halfway ends the batch at once: the units waiting would only fail on it.
            broken = True
            try:
                opening = [self.dialect.begin] if fresh else [] if self._released else ["RELEASE unit"]
                await db.scripts(*opening, "SAVEPOINT unit")
                self._released = False
                try:
                    yield db
                except BaseException:
                    await db.scripts("ROLLBACK TO unit", "RELEASE unit")
                    self._released = True
                    broken = False
                    raise
                broken = False
            finally:
                if broken or not self._waiting or self._batch_units >= MAX_BATCH:
                    await self._commit()
        finally:
            self._lock.release()
        await asyncio.shield(batch)

    def after_commit(self, sql: str, params: Sequence[Any] = ()) -> asyncio.Future[list[Row]]:
        """Inside a unit of :meth:`transaction`: the rows of a query run once the shared transaction has
        committed (its writes included, and whatever else was committed by then). The units of a batch
        that ask the same read share one: a count that every sign-up returns is read once per commit.
        If the transaction fails, the unit fails and nobody awaits the read (it is cancelled)."""
        assert self._batch is not None, "after_commit is for a unit of a transaction"
        key = (sql, tuple(params))
        read = self._reads.get(key)
        if read is None:
            read = self._reads[key] = asyncio.get_running_loop().create_future()
        return read

    async def _commit(self) -> None:
        batch, self._batch = self._batch, None
        if batch is None:
            return
        db = self._batch_db
        reads, self._reads = self._reads, {}
        try:
            await db.commit()
        except BaseException as exc:
            for read in reads.values():
                read.cancel()
            with contextlib.suppress(Exception):
                await db.script("ROLLBACK")
            failure = StoreError(f"the transaction could not be committed: {exc!r}")
            failure.__cause__ = exc
            batch.set_exception(failure)
            # Each unit of the batch gets the failure; mark it seen so asyncio does not warn.
            batch.exception()
            # Whatever state the failure left the connection in, the next batch starts on a new one.
            with contextlib.suppress(Exception):
                await self._discard_writer()
            if not isinstance(exc, Exception):
                raise
            return
        batch.set_result(None)
        await self._read_after_commit(reads)

    async def _read_after_commit(self, reads: Reads) -> None:
        """The batch's after-commit reads, as any read is made (on a server: on a connection of the pool,
        tried again on a new one after a loss), before the next batch begins."""
        for (sql, params), read in reads.items():
            try:
                read.set_result(await self.rows(sql, params))
            except BaseException as exc:
                failure = StoreError(f"a read after the commit failed: {exc!r}")
                failure.__cause__ = exc
                for waiting in reads.values():
                    if not waiting.done():
                        waiting.set_exception(failure)
                        # Marked seen: a unit that failed on its own asked for it but will not await it.
                        waiting.exception()
                if not isinstance(exc, Exception):
                    raise
                return

    async def _flush(self) -> None:
        async with self._lock:
            await self._commit()

    async def attempt(self, unit: Callable[[Db], Awaitable[T]]) -> T:
        """``unit`` in a transaction, run again after a transient failure (a lost connection, a deadlock
        with another instance) with capped back-off: for writes that are safe to repeat."""
        delay = RETRY_FIRST
        for tries in itertools.count(1):
            try:
                async with self.transaction() as db:
                    return await unit(db)
            except Exception as exc:
                if tries >= RETRY_TRIES or not self.transient(exc):
                    raise
                log.warning("a write failed (%s): trying again in %.1f s", type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(RETRY_MAX, delay * 2)
        raise AssertionError("unreachable")

    def transient(self, exc: BaseException) -> bool:
        """Whether ``exc`` is a failure that the same work may not meet again (SQLite has none)."""
        return False

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Every row of a query, outside any transaction."""
        return await self.conn.rows(sql, params)

    async def row(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        found = await self.rows(sql, params)
        return found[0] if found else None

    # ------------------------------------------------------------------ several instances

    @asynccontextmanager
    async def elected(self, role: str, stop: asyncio.Event | None = None) -> AsyncIterator[Term | None]:
        """Wait until this instance is the one that plays ``role``; ``None`` if ``stop`` came first.

        Only one process uses an SQLite file: it is elected at once, and stays so.
        """
        yield Term(role)

    @asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        """Exclusive use of ``key`` among the instances (one chat's updates, handled in order)."""
        yield

    async def schema_version(self) -> int:
        row = await self.row("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
        return int(row[0]) if row else 0

    async def migrate(self, migrations: Sequence[Migration]) -> list[int]:
        """Apply, in order, each migration newer than the database; returns the versions applied."""
        versions = [m.version for m in migrations]
        if versions != sorted(set(versions)):
            raise StoreError("migrations must have strictly increasing versions")
        await (await self._writer()).script(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        current = await self.schema_version()
        if versions and current > versions[-1]:
            raise StoreError(
                f"the database {self.where} is at schema version {current}, newer than this program "
                f"({versions[-1]}): upgrade advocacy-bot"
            )
        applied: list[int] = []
        for migration in migrations:
            if migration.version <= current:
                continue
            async with self.transaction() as db:
                for statement in migration.statements:
                    for rendered in self.dialect.schema(statement):
                        await db.script(rendered)
                await db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, utcnow()),
                )
            log.info("applied migration %d (%s)", migration.version, migration.name)
            applied.append(migration.version)
        return applied

    @property
    def where(self) -> str:
        """The database, for people: the file, or the server's URL without its password."""
        return str(self.path)


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
