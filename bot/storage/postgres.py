"""The PostgreSQL store (asyncpg), for several bot instances on one database server.

Writes go through the same group commit as SQLite's, on one connection of the pool (reconnected with
capped back-off after a loss); reads take any connection of the pool. Elections hold a session
advisory lock on a connection of their own: when the instance dies, the server ends its session, the
lock is free and another instance takes the role within ``ELECTION_SECONDS``. A key's turn (one chat's
updates) is an advisory lock held while the work is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from urllib.parse import urlsplit

import asyncpg

from bot.port.clock import idle
from bot.port.redaction import register_secret
from bot.storage.database import (
    RETRY_FIRST,
    RETRY_MAX,
    RETRY_TRIES,
    DatabaseUnusable,
    Db,
    Done,
    Row,
    Statement,
    Store,
    StoreError,
    Term,
    without_password,
)
from bot.storage.dialect import POSTGRES
from bot.storage.migrations import Migration

T = TypeVar("T")
log = logging.getLogger(__name__)

# How often an instance waiting for a role tries to take it, and how often the one holding it checks
# that its session still stands: a role left by a dead instance is taken within about this long.
ELECTION_SECONDS = 1.0
# A check of the election's session that takes longer than this counts as a lost session.
CHECK_TIMEOUT = 5.0
# Failures after which the same work may succeed: the connection or the server went away (and is
# coming back), or the server chose this transaction to break a deadlock with another instance's.
TRANSIENT = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.OperatorInterventionError,
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
    # A connection left mid-operation by a failure: the work is redone on a new one.
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)


def lock_key(name: str) -> int:
    """The 64-bit advisory lock key of ``name`` (within one database: other databases have their own)."""
    digest = hashlib.blake2b(f"advocacy-bot:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@functools.lru_cache(maxsize=256)
def _together(statements: tuple[str, ...]) -> str:
    """Writes as one statement (data-modifying WITH queries), whose one row is the count of rows each
    changed: one round trip, and the server parses and plans them once per connection."""
    parts = ", ".join(f"w{n} AS ({sql} RETURNING 1)" for n, sql in enumerate(statements))
    counts = ", ".join(f"(SELECT COUNT(*) FROM w{n})" for n in range(len(statements)))
    return POSTGRES.query(f"WITH {parts} SELECT {counts}")


def _count(status: str) -> int:
    # "INSERT 0 3", "UPDATE 2", "DELETE 0": the last figure is the rows it changed.
    last = status.rpartition(" ")[2]
    return int(last) if last.isdigit() else 0


# What runs a statement: a connection, one lent by the pool, or the pool itself (any free connection).
Runner = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy | asyncpg.Pool


class PgDb(Db):
    def __init__(self, connection: Runner) -> None:
        self.connection = connection

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> Done:
        return Done(_count(await self.connection.execute(POSTGRES.query(sql), *params)))

    async def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        await self.connection.executemany(POSTGRES.query(sql), list(params))

    async def execute_all(self, statements: Sequence[Statement]) -> list[Done]:
        if len(statements) < 2:
            return await super().execute_all(statements)
        row = await self.connection.fetchrow(
            _together(tuple(sql for sql, _ in statements)), *(value for _, params in statements for value in params)
        )
        assert row is not None
        return [Done(int(count)) for count in row]

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(await self.connection.fetch(POSTGRES.query(sql), *params))

    async def script(self, sql: str) -> None:
        await self.connection.execute(sql)

    async def scripts(self, *statements: str) -> None:
        # Without parameters, asyncpg sends them as one simple query: one round trip for all.
        await self.connection.execute("; ".join(statements))

    async def commit(self) -> None:
        # The server answers COMMIT with ROLLBACK, not an error, when the transaction had failed.
        status = await self.connection.execute("COMMIT")
        if status != "COMMIT":
            raise StoreError(f"the server did not commit the transaction ({status})")


class PostgresStore(Store):
    dialect = POSTGRES

    def __init__(self, pool: asyncpg.Pool, url: str) -> None:
        self.pool = pool
        self.url = url
        self._writing: asyncpg.pool.PoolConnectionProxy | None = None
        super().__init__(PgDb(pool), without_password(url))

    @classmethod
    async def connect(cls, url: str, migrations: Sequence[Migration], *, pool_size: int = 10) -> PostgresStore:
        password = urlsplit(url).password
        if password:
            register_secret(password)
        try:
            # Writing holds one connection; reads, per-chat turns and the rest share the others.
            pool = await asyncpg.create_pool(url, min_size=1, max_size=max(2, pool_size), reset=_left_clean)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, ValueError) as exc:
            raise DatabaseUnusable(
                f"the database {without_password(url)} cannot be reached ({type(exc).__name__}: {exc}): check "
                "that the server runs, the URL (storage.url or ADVOCACY_BOT_DATABASE_URL) and the credentials"
            ) from exc
        store = cls(pool, url)
        try:
            # Instances starting together: one migrates, the others wait and find nothing left to do.
            writer = await store._writer()
            await writer.execute("SELECT pg_advisory_lock(?)", (lock_key("migrations"),))
            try:
                await store.migrate(migrations)
            finally:
                await writer.execute("SELECT pg_advisory_unlock(?)", (lock_key("migrations"),))
        except BaseException:
            await store.close()
            raise
        return store

    async def close(self) -> None:
        if self._flushing is not None:
            await self._flushing
        if self._writing is not None:
            with contextlib.suppress(Exception):
                await self.pool.release(self._writing)
            self._writing = None
        await self.pool.close()

    def transient(self, exc: BaseException) -> bool:
        cause = exc.__cause__ if isinstance(exc, StoreError) else exc
        return isinstance(cause, TRANSIENT)

    async def _retrying(self, work: Callable[[], Awaitable[T]]) -> T:
        delay = RETRY_FIRST
        for tries in range(1, RETRY_TRIES + 1):
            try:
                return await work()
            except TRANSIENT as exc:
                if tries == RETRY_TRIES:
                    raise StoreError(f"the database {self.where} is unreachable ({type(exc).__name__})") from exc
                log.warning("the database is unreachable (%s): trying again in %.1f s", type(exc).__name__, delay)
            await asyncio.sleep(delay)
            delay = min(RETRY_MAX, delay * 2)
        raise AssertionError("unreachable")

    async def _writer(self) -> Db:
        if self._writing is not None and not _usable(self._writing):
            with contextlib.suppress(Exception):
                await self.pool.release(self._writing)
            self._writing = None
        if self._writing is None:
            self._writing = await self._retrying(self.pool.acquire)
        return PgDb(self._writing)

    async def _discard_writer(self) -> None:
        writing, self._writing = self._writing, None
        if writing is not None:
            # (The pool may have taken back a connection the server ended: then there is nothing to end.)
            with contextlib.suppress(Exception):
                writing.terminate()
            with contextlib.suppress(Exception):
                await self.pool.release(writing)

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        query = POSTGRES.query(sql)

        async def fetch() -> list[Row]:
            connection = await self.pool.acquire()
            try:
                return list(await connection.fetch(query, *params))
            except BaseException:
                # Whatever state a failure left it in, it does not go back to the pool.
                connection.terminate()
                raise
            finally:
                await self.pool.release(connection)

        return await self._retrying(fetch)

    # ------------------------------------------------------------------ several instances

    @asynccontextmanager
    async def elected(self, role: str, stop: asyncio.Event | None = None) -> AsyncIterator[Term | None]:
        key = lock_key(role)
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                connection = await asyncpg.connect(self.url)
            except TRANSIENT as exc:
                log.warning("cannot stand for %s (%s): trying again", role, type(exc).__name__)
                await idle(ELECTION_SECONDS, stop)
                continue
            try:
                if await connection.fetchval("SELECT pg_try_advisory_lock($1)", key):
                    break
            except TRANSIENT:
                pass
            await _close(connection)
            await idle(ELECTION_SECONDS, stop)
        else:
            yield None
            return
        term = Term(role)
        log.info("this instance now %s", _describe(role))
        watch = asyncio.ensure_future(_watch(connection, term))
        try:
            yield term
        finally:
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
            # Closing the session gives the role up (the server releases its advisory locks).
            await _close(connection)

    @asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        lock = lock_key(f"turn:{key}")
        connection = await self._retrying(self.pool.acquire)
        unlocked = False
        try:
            await connection.execute("SELECT pg_advisory_lock($1)", lock)
            try:
                yield
            finally:
                with contextlib.suppress(*TRANSIENT):
                    await connection.execute("SELECT pg_advisory_unlock($1)", lock)
                    unlocked = True
        finally:
            if not unlocked:
                # Never back into the pool holding the lock (or perhaps holding it: a wait cancelled
                # as it was granted): ending the session frees it.
                connection.terminate()
            await self.pool.release(connection)


async def inspect(url: str) -> tuple[int, dict[str, bytes]]:
    """The schema version and the wrapped keys of the database at ``url``, read without writing
    anything (``advocacy-bot doctor``); (0, {}) for a database the bot has not set up yet."""
    connection = await asyncpg.connect(url)
    try:
        tables = {str(row[0]) for row in await connection.fetch("SELECT tablename FROM pg_tables")}
        version = 0
        if "schema_migrations" in tables:
            version = int(await connection.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))
        wrapped: dict[str, bytes] = {}
        if "keyring" in tables:
            wrapped = {str(r[0]): bytes(r[1]) for r in await connection.fetch("SELECT purpose, wrapped FROM keyring")}
        return version, wrapped
    finally:
        await connection.close()


async def _left_clean(connection: asyncpg.Connection) -> None:
    """What the pool does to a connection given back, after asyncpg has rolled back any transaction left
    open: nothing more. Every borrower leaves no session state (no LISTEN, cursor or SET; a turn's lock
    is released) or ends the connection: a read that fails or is cancelled, a turn whose unlock did not
    happen, a writing connection replaced. asyncpg's default reset query would cost one more round trip
    after every read: three of the ten a sign-up took."""


def _usable(connection: asyncpg.pool.PoolConnectionProxy) -> bool:
    # A connection the server ended may already have been taken back by the pool.
    try:
        return not connection.is_closed()
    except asyncpg.InterfaceError:
        return False


def _describe(role: str) -> str:
    kind, _, platform = role.partition(":")
    return {"delivery": f"sends for {platform}", "polling": f"polls {platform}"}.get(kind, f"runs the {role}")


async def _watch(connection: asyncpg.Connection, term: Term) -> None:
    """Set ``term.lost`` as soon as the session that holds the election is gone."""
    connection.add_termination_listener(lambda _: term.lost.set())
    while not term.lost.is_set():
        await asyncio.sleep(ELECTION_SECONDS)
        try:
            await asyncio.wait_for(connection.fetchval("SELECT 1"), CHECK_TIMEOUT)
        except (*TRANSIENT, asyncpg.PostgresError):
            term.lost.set()
    log.warning("this instance lost the election for %s: another may take over", term.role)


async def _close(connection: asyncpg.Connection) -> None:
    try:
        await asyncio.wait_for(connection.close(), CHECK_TIMEOUT)
    except (*TRANSIENT, asyncpg.PostgresError):
        connection.terminate()
