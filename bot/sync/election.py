"""One instance does the CRM sync when several run on one store: the holder of a lease.

``Lease.hold`` is the one call the engine makes: it takes the lease if it is free or expired, renews
it if this instance holds it, and says whether it does. One conditional upsert, which SQLite and
PostgreSQL both accept; a PostgreSQL store's advisory lock can stand behind the same call.
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from datetime import datetime, timedelta

from bot.storage.database import Store, StoreError, stamp


class Lease:
    def __init__(self, store: Store, role: str, seconds: float, holder: str | None = None) -> None:
        self.store = store
        self.role = role
        self.seconds = seconds
        # Random per process: a restarted instance is a new holder, and waits for the old lease to expire.
        self.holder = holder or uuid.uuid4().hex

    async def hold(self, now: datetime) -> bool:
        """Take or renew the lease; whether this instance holds it until ``now`` + the lease's length."""
        async with self.store.transaction() as db:
            cursor = await db.execute(
                "INSERT INTO leases (role, holder, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (role) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at"
                " WHERE leases.holder = excluded.holder OR leases.expires_at < ?",
                (self.role, self.holder, stamp(now + timedelta(seconds=self.seconds)), stamp(now)),
            )
        return cursor.rowcount == 1

    async def release(self) -> None:
        """Give the lease up (a clean stop), so another instance takes over at once."""
        with contextlib.suppress(StoreError, sqlite3.Error):
            async with self.store.transaction() as db:
                await db.execute("DELETE FROM leases WHERE role = ? AND holder = ?", (self.role, self.holder))
