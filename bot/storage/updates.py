"""A platform's updates as they arrive (Telegram's, by ``update_id``), for several instances behind one
webhook address: each update is recorded before the platform is told it arrived, so one delivered
again, to this instance or another, is handled once; and each chat's are handled in the order they
were recorded, whichever instance received them.

A chat is known by a keyed hash, emptied once its update is handled; rows are forgotten after a day.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.storage.database import Store, stamp

# An earlier update of the chat still unhandled after this long belongs to an instance that died
# while handling it: the later ones no longer wait for it.
STALE = timedelta(seconds=10)
# Long enough for any redelivery of an update the platform gave up on waiting for.
KEPT = timedelta(days=1)


class Updates:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def record(self, platform: str, update_id: int, chat: str, now: datetime) -> bool:
        """Note an update as it arrives; False if it had arrived before (a redelivery: drop it)."""
        async with self.store.transaction() as db:
            done = await db.execute(
                "INSERT INTO updates (platform, update_id, chat, state, received_at) VALUES (?, ?, ?, 'received', ?)"
                " ON CONFLICT DO NOTHING",
                (platform, update_id, chat, stamp(now)),
            )
        return done.rowcount == 1

    async def earlier_unhandled(self, platform: str, update_id: int, chat: str, now: datetime) -> bool:
        """Whether an earlier update of the same chat is still to be handled (by any instance)."""
        row = await self.store.row(
            "SELECT 1 FROM updates WHERE platform = ? AND chat = ? AND update_id < ? AND state = 'received'"
            " AND received_at > ? LIMIT 1",
            (platform, chat, update_id, stamp(now - STALE)),
        )
        return row is not None

    async def handled(self, platform: str, update_id: int) -> None:
        async with self.store.transaction() as db:
            await db.execute(
                "UPDATE updates SET state = 'handled', chat = '' WHERE platform = ? AND update_id = ?",
                (platform, update_id),
            )

    async def purge(self, now: datetime) -> int:
        async with self.store.transaction() as db:
            done = await db.execute("DELETE FROM updates WHERE received_at < ?", (stamp(now - KEPT),))
        return done.rowcount
