"""Counts of pledges and signatures, which triggers keep in the same transaction as the rows they count."""

from __future__ import annotations

import asyncio

from bot.storage.database import Row, Store

_COUNT = "SELECT count FROM tallies WHERE name = ?"


async def tally(store: Store, kind: str, item: str) -> int:
    return count_of(await store.rows(_COUNT, (f"{kind}:{item}",)))


def tally_after_commit(store: Store, kind: str, item: str) -> asyncio.Future[list[Row]]:
    """Inside a unit of a transaction: the count read once it has committed, the unit's write included
    (one read for every unit of the batch that asks); :func:`count_of` gives the figure."""
    return store.after_commit(_COUNT, (f"{kind}:{item}",))


def count_of(rows: list[Row]) -> int:
    return int(rows[0][0]) if rows else 0


async def tallies(store: Store, kind: str) -> dict[str, int]:
    rows = await store.rows("SELECT name, count FROM tallies WHERE name LIKE ? AND count > 0", (f"{kind}:%",))
    return {str(row[0]).split(":", 1)[1]: int(row[1]) for row in rows}
