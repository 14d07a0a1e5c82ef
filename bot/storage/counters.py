"""Durable counts per UTC day (answers served, opt-outs): a name and a number, never who or what.

The upsert is standard SQL (``ON CONFLICT ... DO UPDATE``) that SQLite and PostgreSQL both accept.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from bot.storage.database import Db, Store

_ADD = (
    "INSERT INTO counters (name, day, count) VALUES (?, ?, ?)"
    " ON CONFLICT (name, day) DO UPDATE SET count = counters.count + excluded.count"
)


async def add_counts(db: Db, counts: Mapping[str, int], day: date) -> None:
    """Add ``counts`` to the day's, inside the caller's transaction."""
    await db.executemany(_ADD, [(name, day.isoformat(), count) for name, count in counts.items() if count])


class Counters:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, counts: Mapping[str, int], day: date) -> None:
        if not any(counts.values()):
            return
        async with self.store.transaction() as db:
            await add_counts(db, counts, day)

    async def totals(self, prefix: str) -> dict[str, int]:
        """Every count whose name starts with ``prefix:``, summed over the days, by the rest of its name."""
        rows = await self.store.rows(
            "SELECT name, SUM(count) FROM counters WHERE name LIKE ? GROUP BY name", (f"{prefix}:%",)
        )
        return {str(row[0]).split(":", 1)[1]: int(row[1]) for row in rows}

    async def per_day(self, prefix: str, since: date) -> dict[date, int]:
        """The counts named ``prefix:...`` per day from ``since`` on, summed over the names."""
        rows = await self.store.rows(
            "SELECT day, SUM(count) FROM counters WHERE name LIKE ? AND day >= ? GROUP BY day",
            (f"{prefix}:%", since.isoformat()),
        )
        return {date.fromisoformat(row[0]): int(row[1]) for row in rows}
