"""The durable outbox: broadcasts, and one row per recipient per broadcast, in the store.

A row moves pending -> sending -> sent | failed | skipped | expired | cancelled. Claiming rows
(pending -> sending) and recording what happened to them are each one transaction, so after a
crash the only rows in doubt are those still marked "sending": at most one window per platform.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.privacy.crypto import Keyring
from bot.storage.database import Db, Row, Store, stamp

ADDRESS = "subscriptions.address"
REPORT_ADDRESS = "broadcasts.report_address"
# Row states that are final: the row will not be touched again.
FINAL = ("sent", "failed", "skipped", "expired", "cancelled")


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: int
    kind: str
    topic: str
    body: str
    language: str | None
    platform: str | None
    state: str
    send_at: datetime
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    reminder_key: str | None = None


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row handed to a sender."""

    id: int
    broadcast: Broadcast
    user_id: str
    address: str
    language: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to a claimed row."""

    id: int
    # "sent", "failed", or "pending" (try again at ``due_at``)
    state: str
    attempts: int
    error: str | None = None
    due_at: datetime | None = None


@dataclass(slots=True)
class Lease:
    """How long claimed rows stay this instance's, and what becomes of rows whose claimer went quiet."""

    length: timedelta = timedelta(seconds=60)
    at_least_once: bool = True
    # Set by a claim: rows another instance held beyond their lease, settled as ``at_least_once`` says.
    abandoned: int = 0


@dataclass(frozen=True, slots=True)
class Report:
    broadcast: Broadcast
    counts: dict[str, int]
    report_platform: str | None
    report_address: str | None

    @property
    def duration(self) -> timedelta:
        start = self.broadcast.started_at or self.broadcast.send_at
        return (self.broadcast.finished_at or start) - start


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _broadcast(row: Row) -> Broadcast:
    return Broadcast(
        row["id"],
        row["kind"],
        row["topic"],
        row["body"],
        row["language"],
        row["platform"],
        row["state"],
        datetime.fromisoformat(row["send_at"]),
        datetime.fromisoformat(row["created_at"]),
        _when(row["started_at"]),
        _when(row["finished_at"]),
        row["reminder_key"],
    )


class Outbox:
    def __init__(self, store: Store, keyring: Keyring) -> None:
        self.store = store
        self.keys = keyring

    # ------------------------------------------------------------------ broadcasts

    async def create(
        self,
        *,
        kind: str,
        topic: str,
        body: str,
        send_at: datetime,
        now: datetime,
        language: str | None = None,
        platform: str | None = None,
        reminder_key: str | None = None,
        report_to: tuple[str, str] | None = None,
    ) -> int | None:
        """A new scheduled broadcast; None if a reminder with that key already exists."""
        report_address = self.keys.cipher.encrypt(report_to[1], REPORT_ADDRESS) if report_to else None
        async with self.store.transaction() as db:
            created = await db.row(
                "INSERT INTO broadcasts (kind, topic, language, platform, body, reminder_key, state, send_at,"
                " created_at, report_platform, report_address) VALUES (?, ?, ?, ?, ?, ?, 'scheduled', ?, ?, ?, ?)"
                " ON CONFLICT (reminder_key) DO NOTHING RETURNING id",
                (
                    kind,
                    topic,
                    language,
                    platform,
                    body,
                    reminder_key,
                    stamp(send_at),
                    stamp(now),
                    report_to[0] if report_to else None,
                    report_address,
                ),
            )
        return int(created[0]) if created is not None else None

    async def get(self, broadcast_id: int) -> Broadcast | None:
        row = await self.store.row("SELECT * FROM broadcasts WHERE id = ?", (broadcast_id,))
        return _broadcast(row) if row else None

    async def by_reminder_key(self, key: str) -> Broadcast | None:
        row = await self.store.row("SELECT * FROM broadcasts WHERE reminder_key = ?", (key,))
        return _broadcast(row) if row else None

    async def listing(self, limit: int = 50) -> list[Broadcast]:
        rows = await self.store.rows("SELECT * FROM broadcasts ORDER BY send_at DESC, id DESC LIMIT ?", (limit,))
        return [_broadcast(row) for row in rows]

    async def due(self, now: datetime) -> list[Broadcast]:
        rows = await self.store.rows(
            "SELECT * FROM broadcasts WHERE state = 'scheduled' AND send_at <= ? ORDER BY send_at, id", (stamp(now),)
        )
        return [_broadcast(row) for row in rows]

    async def audience_size(self, topic: str, language: str | None = None, platform: str | None = None) -> int:
        row = await self.store.row(
            "SELECT COUNT(*) FROM subscriptions WHERE topic = ? AND (CAST(? AS TEXT) IS NULL OR language = ?)"
            " AND (CAST(? AS TEXT) IS NULL OR platform = ?)",
            (topic, language, language, platform, platform),
        )
        return int(row[0]) if row else 0

    async def start(self, broadcast: Broadcast, now: datetime) -> int:
        """Queue one row per current subscriber and mark the broadcast as sending; returns the rows."""
        async with self.store.transaction() as db:
            cursor = await db.execute(
                "INSERT INTO outbox (broadcast_id, user_id, platform, address, language, due_at, state, updated_at)"
                " SELECT CAST(? AS INTEGER), user_id, platform, address, language, CAST(? AS TEXT), 'pending',"
                " CAST(? AS TEXT) FROM subscriptions WHERE topic = ? AND (CAST(? AS TEXT) IS NULL OR language = ?)"
                " AND (CAST(? AS TEXT) IS NULL OR platform = ?)"
                " ON CONFLICT DO NOTHING",
                (
                    broadcast.id,
                    stamp(now),
                    stamp(now),
                    broadcast.topic,
                    broadcast.language,
                    broadcast.language,
                    broadcast.platform,
                    broadcast.platform,
                ),
            )
            await db.execute(
                "UPDATE broadcasts SET state = 'sending', started_at = ? WHERE id = ? AND state = 'scheduled'",
                (stamp(now), broadcast.id),
            )
        return cursor.rowcount

    async def add_recipients(
        self, broadcast_id: int, rows: Sequence[tuple[str, str, bytes, str, datetime]], now: datetime
    ) -> int:
        """Queue rows (user, platform, encrypted address, language, due) not queued yet; returns how many."""
        if not rows:
            return 0
        before = await self._row_count(broadcast_id)
        async with self.store.transaction() as db:
            await db.executemany(
                "INSERT INTO outbox (broadcast_id, user_id, platform, address, language, due_at, state, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT DO NOTHING",
                [(broadcast_id, u, p, a, lang, stamp(due), stamp(now)) for u, p, a, lang, due in rows],
            )
            await db.execute(
                "UPDATE broadcasts SET state = 'sending', started_at = COALESCE(started_at, ?)"
                " WHERE id = ? AND state = 'scheduled'",
                (stamp(now), broadcast_id),
            )
        return await self._row_count(broadcast_id) - before

    async def _row_count(self, broadcast_id: int) -> int:
        row = await self.store.row("SELECT COUNT(*) FROM outbox WHERE broadcast_id = ?", (broadcast_id,))
        return int(row[0]) if row else 0

    async def queued_users(self, broadcast_id: int) -> set[str]:
        rows = await self.store.rows("SELECT user_id FROM outbox WHERE broadcast_id = ?", (broadcast_id,))
        return {str(row[0]) for row in rows}

    async def cancel(self, broadcast_id: int, now: datetime) -> int | None:
        """Cancel a broadcast: rows not yet handed to a sender are never sent. None if it had finished."""
        async with self.store.transaction() as db:
            cursor = await db.execute(
                "UPDATE broadcasts SET state = 'cancelled', finished_at = ?"
                " WHERE id = ? AND state IN ('scheduled', 'sending')",
                (stamp(now), broadcast_id),
            )
            if cursor.rowcount != 1:
                return None
            rows = await db.execute(
                "UPDATE outbox SET state = 'cancelled', updated_at = ? WHERE broadcast_id = ? AND state = 'pending'",
                (stamp(now), broadcast_id),
            )
        return rows.rowcount

    async def counts(self, broadcast_id: int) -> dict[str, int]:
        rows = await self.store.rows(
            "SELECT state, COUNT(*) FROM outbox WHERE broadcast_id = ? GROUP BY state", (broadcast_id,)
        )
        return {str(row[0]): int(row[1]) for row in rows}

    async def activity(self, broadcast_id: int) -> tuple[datetime | None, datetime | None]:
        """When the oldest message still waiting was due, and when any of the broadcast's rows last changed."""
        row = await self.store.row(
            "SELECT MIN(CASE WHEN state = 'pending' THEN due_at END), MAX(updated_at) FROM outbox"
            " WHERE broadcast_id = ?",
            (broadcast_id,),
        )
        if row is None:
            return None, None
        return _when(row[0]), _when(row[1])

    async def finish(self, now: datetime, keep_open: Sequence[int] = ()) -> list[Report]:
        """Mark done every sending broadcast with no row left to send (except ``keep_open``)."""
        rows = await self.store.rows(
            "SELECT * FROM broadcasts b WHERE state = 'sending' AND NOT EXISTS ("
            " SELECT 1 FROM outbox o WHERE o.broadcast_id = b.id AND o.state IN ('pending', 'sending'))"
        )
        reports: list[Report] = []
        for row in rows:
            if row["id"] in keep_open:
                continue
            async with self.store.transaction() as db:
                await db.execute(
                    "UPDATE broadcasts SET state = 'done', finished_at = ? WHERE id = ? AND state = 'sending'",
                    (stamp(now), row["id"]),
                )
            address = row["report_address"]
            finished = await self.get(int(row["id"]))
            assert finished is not None
            reports.append(
                Report(
                    finished,
                    await self.counts(finished.id),
                    row["report_platform"],
                    self.keys.cipher.decrypt(address, REPORT_ADDRESS) if address is not None else None,
                )
            )
        return reports

    # ------------------------------------------------------------------ rows

    async def recover(self, platform: str, at_least_once: bool, now: datetime) -> int:
        """Settle the rows another instance left "sending" (it crashed): send again, or count them failed.

        With SQLite, the only other instance was this one before a restart: all of them. With PostgreSQL,
        the ones whose lease has run out: an instance that merely lost touch for a moment may still be
        sending the others.
        """
        async with self.store.transaction() as db:
            return await self._recover(db, platform, at_least_once, now)

    async def _recover(self, db: Db, platform: str, at_least_once: bool, now: datetime) -> int:
        outcome = "state = 'pending'" if at_least_once else "state = 'failed', error = 'in-flight-at-crash'"
        lease = " AND (lease_until IS NULL OR lease_until <= ?)" if self.store.shared else ""
        done = await db.execute(
            f"UPDATE outbox SET {outcome}, claimed_by = NULL, lease_until = NULL, updated_at = ?"
            " WHERE platform = ? AND state = 'sending' AND (claimed_by IS NULL OR claimed_by <> ?)" + lease,
            (stamp(now), platform, self.store.instance, *((stamp(now),) if self.store.shared else ())),
        )
        return done.rowcount

    async def claim(
        self, platform: str, now: datetime, limit: int, grace: timedelta, lease: Lease | None = None
    ) -> tuple[list[Claimed], int, int]:
        """Hand out up to ``limit`` due rows (now "sending", claimed by this instance until the lease
        runs out, which every claim renews for the rows it still holds).

        Rows of people no longer subscribed are skipped, reminders later than ``grace`` expire; rows a
        dead instance held beyond their lease are settled first (``lease.abandoned`` counts them).
        Returns the claimed rows, and how many were skipped and expired.
        """
        lease = lease or Lease()
        until = stamp(now + lease.length)
        async with self.store.transaction() as db:
            lease.abandoned = await self._recover(db, platform, lease.at_least_once, now)
            await db.execute(
                "UPDATE outbox SET lease_until = ? WHERE platform = ? AND state = 'sending' AND claimed_by = ?",
                (until, platform, self.store.instance),
            )
            rows = await db.rows(
                "SELECT o.id AS row_id, o.user_id AS row_user, o.address AS row_address, o.language AS row_language,"
                " o.attempts AS row_attempts, o.due_at AS row_due, b.*,"
                " EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = o.user_id AND s.topic = b.topic)"
                " AS subscribed"
                " FROM outbox o JOIN broadcasts b ON b.id = o.broadcast_id"
                " WHERE o.platform = ? AND o.state = 'pending' AND o.due_at <= ? AND b.state = 'sending'"
                " ORDER BY o.due_at, o.id LIMIT ?" + self.store.dialect.skip_locked,
                (platform, stamp(now), limit),
            )
            claimed: list[Claimed] = []
            skipped: list[int] = []
            expired: list[int] = []
            broadcasts: dict[int, Broadcast] = {}
            for row in rows:
                broadcast = broadcasts.setdefault(row["id"], _broadcast(row))
                if not row["subscribed"]:
                    skipped.append(row["row_id"])
                elif broadcast.kind == "reminder" and datetime.fromisoformat(row["row_due"]) < now - grace:
                    expired.append(row["row_id"])
                else:
                    address = self.keys.cipher.decrypt(row["row_address"], ADDRESS)
                    claimed.append(
                        Claimed(
                            row["row_id"], broadcast, row["row_user"], address, row["row_language"], row["row_attempts"]
                        )
                    )
            for state, ids in (("sending", [c.id for c in claimed]), ("skipped", skipped), ("expired", expired)):
                if ids:
                    marks = ", ".join("?" * len(ids))
                    claimer = (self.store.instance, until) if state == "sending" else (None, None)
                    await db.execute(
                        "UPDATE outbox SET state = ?, claimed_by = ?, lease_until = ?, updated_at = ?"
                        f" WHERE id IN ({marks})",
                        (state, *claimer, stamp(now), *ids),
                    )
        return claimed, len(skipped), len(expired)

    async def record(self, outcomes: Sequence[Outcome], now: datetime) -> None:
        """What happened to claimed rows, all in one transaction."""
        if not outcomes:
            return
        me = self.store.instance
        async with self.store.transaction() as db:
            # Only rows this instance still holds: one taken over after its lease is the new claimer's.
            await db.executemany(
                "UPDATE outbox SET state = ?, attempts = ?, error = ?, due_at = COALESCE(?, due_at), updated_at = ?,"
                " claimed_by = NULL, lease_until = NULL WHERE id = ? AND state = 'sending' AND claimed_by = ?",
                [
                    (o.state, o.attempts, o.error, stamp(o.due_at) if o.due_at else None, stamp(now), o.id, me)
                    for o in outcomes
                ],
            )

    async def readdress(self, row_id: int, user: str, platform: str, new_address: str) -> None:
        """A chat moved: the row and every subscription of that person on that platform follow it."""
        sealed = self.keys.cipher.encrypt(new_address, ADDRESS)
        async with self.store.transaction() as db:
            await db.execute("UPDATE outbox SET address = ? WHERE id = ?", (sealed, row_id))
            await db.execute(
                "UPDATE subscriptions SET address = ? WHERE user_id = ? AND platform = ?", (sealed, user, platform)
            )

    async def next_due(self, platform: str) -> datetime | None:
        row = await self.store.row(
            "SELECT MIN(o.due_at) FROM outbox o JOIN broadcasts b ON b.id = o.broadcast_id"
            " WHERE o.platform = ? AND o.state = 'pending' AND b.state = 'sending'",
            (platform,),
        )
        return datetime.fromisoformat(row[0]) if row and row[0] else None
