"""``advocacy-bot db copy``: an SQLite store moved into an empty PostgreSQL database, as it is.

Every table is copied row by row in one transaction of the target, encrypted fields as the bytes they
are (the same secret key reads them there). The tallies are not copied: the target's triggers count
the pledges and signatures as they arrive, and the copy is kept only if those counts are exactly the
source's. A target that holds anything already is refused, never merged into.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.storage.database import Db, Store, StoreError

# Rows sent to the target in one statement batch.
BATCH = 1000
# What the schema itself writes (the migrations' record) and what triggers compute (the tallies).
NOT_COPIED = ("schema_migrations", "tallies")


class CopyError(StoreError):
    pass


@dataclass(frozen=True, slots=True)
class Copied:
    """How many rows each table received, in the order they were copied."""

    tables: tuple[tuple[str, int], ...]
    tallies: int

    @property
    def rows(self) -> int:
        return sum(count for _, count in self.tables)


async def _tables(source: Store) -> list[str]:
    # In the order the migrations created them: a table comes after those its rows refer to.
    rows = await source.rows(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
    )
    return [str(row[0]) for row in rows if str(row[0]) not in NOT_COPIED]


async def _columns(source: Store, table: str) -> tuple[list[str], str | None]:
    """The table's columns, and its integer primary key (an identity column in PostgreSQL), if any."""
    info = await source.rows(f"PRAGMA table_info({table})")
    keys = [row for row in info if int(row["pk"]) > 0]
    key = str(keys[0]["name"]) if len(keys) == 1 and str(keys[0]["type"]).upper() == "INTEGER" else None
    return [str(row["name"]) for row in info], key


async def _tallies(store: Store | Db) -> dict[str, int]:
    rows = await store.rows("SELECT name, count FROM tallies WHERE count > 0")
    return {str(row[0]): int(row[1]) for row in rows}


async def holdings(target: Store, tables: Sequence[str]) -> list[str]:
    """The tables of ``target`` that hold rows already."""
    return [table for table in tables if await target.row(f"SELECT 1 FROM {table} LIMIT 1") is not None]


async def copy_store(source: Store, target: Store) -> Copied:
    """Copy every row of ``source`` (SQLite) into ``target`` (empty, at the same schema version)."""
    if source.dialect.shared or not target.dialect.shared:
        raise CopyError("db copy moves an SQLite database into a PostgreSQL one")
    versions = await source.schema_version(), await target.schema_version()
    if versions[0] != versions[1]:
        raise CopyError(f"the schemas differ (source {versions[0]}, target {versions[1]}): upgrade both first")
    tables = await _tables(source)
    full = await holdings(target, [*tables, "tallies"])
    if full:
        raise CopyError(
            f"the database {target.where} is not empty (rows in {', '.join(full)}): db copy only fills an empty "
            "database; create a new one (createdb) and copy into that"
        )
    expected = await _tallies(source)
    copied: list[tuple[str, int]] = []
    async with target.transaction() as db:
        for table in tables:
            columns, key = await _columns(source, table)
            rows = await source.rows(f"SELECT {', '.join(columns)} FROM {table}")
            insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            for start in range(0, len(rows), BATCH):
                batch: list[tuple[Any, ...]] = [tuple(row) for row in rows[start : start + BATCH]]
                await db.executemany(insert, batch)
            if key is not None:
                for statement in target.dialect.identity_after_copy(table, key):
                    await db.script(statement)
            copied.append((table, len(rows)))
        if target.dialect.settle_counts:
            await db.script(target.dialect.settle_counts)
        counted = await _tallies(db)
        if counted != expected:
            names = expected.keys() | counted.keys()
            differ = sorted(name for name in names if expected.get(name) != counted.get(name))
            # Raised inside the transaction: nothing of the copy is kept.
            raise CopyError(f"the copied tallies differ from the source's ({', '.join(differ)}): nothing was copied")
    return Copied(tuple(copied), len(expected))


async def copy_database(source: Path, target: str) -> Copied:
    """Open both databases (bringing their schemas up to date) and copy ``source`` into ``target``."""
    sqlite = await Store.open(source)
    try:
        server = await Store.open(target)
        try:
            return await copy_store(sqlite, server)
        finally:
            await server.close()
    finally:
        await sqlite.close()
