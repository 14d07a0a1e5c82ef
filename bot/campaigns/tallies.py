"""Counts of pledges and signatures, which triggers keep in the same transaction as the rows they count."""

from __future__ import annotations

from bot.storage.database import Store


async def tally(store: Store, kind: str, item: str) -> int:
    row = await store.row("SELECT count FROM tallies WHERE name = ?", (f"{kind}:{item}",))
    return int(row[0]) if row else 0


async def tallies(store: Store, kind: str) -> dict[str, int]:
    rows = await store.rows("SELECT name, count FROM tallies WHERE name LIKE ? AND count > 0", (f"{kind}:%",))
    return {str(row[0]).split(":", 1)[1]: int(row[1]) for row in rows}
