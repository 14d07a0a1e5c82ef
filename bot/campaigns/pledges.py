"""Pledges taken: once per person, withdrawn at will; the counts kept by the store's tallies."""

from __future__ import annotations

import asyncio
from datetime import datetime

from bot.campaigns.people import People
from bot.campaigns.tallies import count_of, tallies, tally, tally_after_commit
from bot.storage.database import Db, Row, Store, day_stamp


class Pledges:
    def __init__(self, store: Store, people: People) -> None:
        self.store = store
        self.people = people

    async def pledge_counts(self) -> dict[str, int]:
        return await tallies(self.store, "pledge")

    async def pledges_of(self, user: str) -> dict[str, datetime]:
        rows = await self.store.rows("SELECT pledge_id, taken_at FROM pledges_taken WHERE user_id = ?", (user,))
        return {str(row[0]): datetime.fromisoformat(row[1]) for row in rows}

    async def take_pledge(self, user: str, platform: str, pledge_id: str, now: datetime) -> tuple[bool, int]:
        """Record the pledge once; returns whether it is new and the pledge's count."""

        async def unit(db: Db) -> tuple[bool, asyncio.Future[list[Row]]]:
            _, taken = await db.execute_all(
                [
                    self.people.ensuring(user, platform, now),
                    (
                        "INSERT INTO pledges_taken (pledge_id, user_id, taken_at) VALUES (?, ?, ?)"
                        " ON CONFLICT DO NOTHING",
                        (pledge_id, user, day_stamp(now)),
                    ),
                ]
            )
            return taken.rowcount == 1, tally_after_commit(self.store, "pledge", pledge_id)

        # Safe to repeat after a lost connection: a pledge is taken once whatever happens.
        new, counted = await self.store.attempt(unit)
        # Read after the commit: the total now, this pledge included.
        return new, count_of(await counted)

    async def withdraw_pledge(self, user: str, pledge_id: str) -> tuple[bool, int]:
        async with self.store.transaction() as db:
            cursor = await db.execute(
                "DELETE FROM pledges_taken WHERE pledge_id = ? AND user_id = ?", (pledge_id, user)
            )
            removed = cursor.rowcount == 1
        return removed, await tally(self.store, "pledge", pledge_id)
