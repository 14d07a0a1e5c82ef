"""The sync outbox: events for the organisers' CRMs, in the store, with the delivery outbox's states.

A row moves pending -> sending -> sent | failed | cancelled. Claiming rows and recording what
happened to them are each one transaction, so after a crash only rows still "sending" are in doubt:
they go again (Action Network finds the signer by e-mail and keeps one signature; a webhook event
carries its id, which a receiver has seen). What a request needs (a signer's name and e-mail) is
sealed in the row, encrypted, and dropped once the row is settled; it is decrypted only in memory,
to build the request.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.privacy.crypto import Keyring
from bot.storage.database import Store, day_stamp, stamp

SEALED = "sync_outbox.sealed"
SIGNATURE_CREATED = "signature.created"
SIGNATURE_ERASED = "signature.erased"
PLEDGE_TAKEN = "pledge.taken"
PLEDGE_WITHDRAWN = "pledge.withdrawn"


@dataclass(frozen=True, slots=True)
class Question:
    """The consent question as the signer read it."""

    destination: str
    version: int
    language: str
    text: str


@dataclass(frozen=True, slots=True)
class Consent:
    """A signer's recorded answer to the sharing question (for /mydata)."""

    petition_id: str
    destination: str
    shared: bool
    version: int
    answered_on: str


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row handed to a destination's client: the event and what it carries, decrypted."""

    id: int
    event_id: str
    destination: str
    event: str
    data: Mapping[str, Any]
    attempts: int
    created_at: datetime
    remote_id: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    id: int
    # "sent", "failed", or "pending" (again at ``due_at``)
    state: str
    attempts: int
    error: str | None = None
    due_at: datetime | None = None
    remote_id: str | None = None
    # A step the CRM's API leaves to the organisers (set when an erasure was sent).
    manual: str | None = None


@dataclass(frozen=True, slots=True)
class Status:
    pending: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0
    cancelled: int = 0
    # When the oldest row still to send was queued.
    oldest_pending: datetime | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """Something organisers must hear about: a row given up, or a step left to them."""

    id: int
    destination: str
    event: str
    subject: str
    # "failed" (with the error) or "manual" (with the step)
    kind: str
    detail: str
    day: str


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What /forget did at one destination."""

    destination: str
    # Whether anything of this person had reached (or may have reached) the destination.
    reached: bool
    # Unsent events of theirs that were cancelled.
    cancelled: int = 0
    petitions: tuple[str, ...] = field(default_factory=tuple)


def _settled_stamp(moment: datetime) -> str:
    # Once settled, the day is enough: the exact moment, joined with a platform's logs, points at an account.
    return day_stamp(moment)


class SyncOutbox:
    def __init__(self, store: Store, keyring: Keyring) -> None:
        self.store = store
        self.keys = keyring

    def supporter(self, destination: str, user: str) -> str:
        """The signer's id at ``destination``: stable there, unlinkable across destinations and to the chat."""
        return self.keys.blind_index(f"sync:{destination}", user)

    def _seal(self, data: Mapping[str, Any]) -> bytes:
        return self.keys.cipher.encrypt(json.dumps(data, ensure_ascii=False, sort_keys=True), SEALED)

    # ------------------------------------------------------------------ queuing

    async def answered(self, user: str, petition_id: str) -> bool | None:
        """The signer's answer to the sharing question for this petition, if they gave one."""
        row = await self.store.row(
            "SELECT shared FROM sync_consents WHERE user_id = ? AND petition_id = ?", (user, petition_id)
        )
        return bool(row[0]) if row is not None else None

    async def consents(self, user: str) -> list[Consent]:
        rows = await self.store.rows(
            "SELECT petition_id, destination, shared, version, answered_at FROM sync_consents WHERE user_id = ?"
            " ORDER BY answered_at, petition_id",
            (user,),
        )
        return [Consent(r[0], r[1], bool(r[2]), int(r[3]), str(r[4])[:10]) for r in rows]

    async def share(
        self, user: str, petition_id: str, remote_id: str | None, question: Question, shared: bool, now: datetime
    ) -> bool:
        """Record the signer's answer (once) and, if they said yes, queue their signature; False if answered before
        or there is no signature to share."""
        async with self.store.transaction() as db:
            signature = await self.store.row(
                "SELECT name, email, country, signed_at FROM signatures WHERE petition_id = ? AND user_id = ?",
                (petition_id, user),
            )
            if signature is None:
                return False
            cursor = await db.execute(
                "INSERT INTO sync_consents (user_id, petition_id, destination, shared, version, language, question,"
                " answered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (
                    user,
                    petition_id,
                    question.destination,
                    int(shared),
                    question.version,
                    question.language,
                    question.text,
                    day_stamp(now),
                ),
            )
            if cursor.rowcount != 1:
                return False
            if not shared:
                return True
            cipher = self.keys.cipher
            data = {
                "petition": petition_id,
                "remote_petition": remote_id,
                "supporter": self.supporter(question.destination, user),
                "name": cipher.decrypt(signature["name"], "signatures.name"),
                "email": cipher.decrypt(signature["email"], "signatures.email") if signature["email"] else None,
                "country": cipher.decrypt(signature["country"], "signatures.country") if signature["country"] else None,
                "signed_on": str(signature["signed_at"])[:10],
                "consent": {"version": question.version, "language": question.language, "text": question.text},
            }
            await self._queue(db, question.destination, SIGNATURE_CREATED, petition_id, user, data, now)
        return True

    async def _queue(
        self,
        db: Any,
        destination: str,
        event: str,
        subject: str,
        user: str | None,
        data: Mapping[str, Any],
        now: datetime,
    ) -> None:
        await db.execute(
            "INSERT INTO sync_outbox (event_id, destination, event, subject, user_id, sealed, state, created_at,"
            " due_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
            (uuid.uuid4().hex, destination, event, subject, user, self._seal(data), stamp(now), stamp(now), stamp(now)),
        )

    async def pledge(self, destination: str, event: str, pledge_id: str, user: str, count: int, now: datetime) -> None:
        """Queue a pledge taken or withdrawn: no personal data, and the signer's id at the destination only
        if they agreed to share their details with it."""
        consented = await self.store.row(
            "SELECT 1 FROM sync_consents WHERE user_id = ? AND destination = ? AND shared = 1", (user, destination)
        )
        data = {
            "pledge": pledge_id,
            "count": count,
            "on": day_stamp(now)[:10],
            "supporter": self.supporter(destination, user) if consented else None,
        }
        async with self.store.transaction() as db:
            await self._queue(db, destination, event, pledge_id, user if consented else None, data, now)

    async def forget(self, user: str, erasable: Mapping[str, bool], now: datetime) -> list[Forgotten]:
        """Before someone's data is erased: cancel their unsent events, queue ``signature.erased`` where a
        signature of theirs was (or may have been) sent, and drop their id from every row.

        ``erasable``: the configured destinations, and whether each needs the e-mail to erase (Action Network
        unsubscribes it)."""
        results: list[Forgotten] = []
        async with self.store.transaction() as db:
            cancelled = await self.store.rows(
                "SELECT destination, COUNT(*) FROM sync_outbox WHERE user_id = ? AND state IN ('pending', 'failed')"
                " GROUP BY destination",
                (user,),
            )
            counts = {str(row[0]): int(row[1]) for row in cancelled}
            await db.execute(
                "UPDATE sync_outbox SET state = 'cancelled', sealed = NULL, error = 'forgotten', updated_at = ?"
                " WHERE user_id = ? AND state IN ('pending', 'failed')",
                (_settled_stamp(now), user),
            )
            reached = await self.store.rows(
                "SELECT DISTINCT o.destination, o.subject, o.remote_id, s.email FROM sync_outbox o"
                " LEFT JOIN signatures s ON s.petition_id = o.subject AND s.user_id = o.user_id"
                " WHERE o.user_id = ? AND o.event = ? AND o.state IN ('sent', 'sending')",
                (user, SIGNATURE_CREATED),
            )
            by_destination: dict[str, list[str]] = {}
            for row in reached:
                destination, petition_id = str(row["destination"]), str(row["subject"])
                by_destination.setdefault(destination, []).append(petition_id)
                if destination not in erasable:
                    continue
                email = row["email"]
                data = {
                    "petition": petition_id,
                    "supporter": self.supporter(destination, user),
                    "remote_signature": row["remote_id"],
                    "email": self.keys.cipher.decrypt(email, "signatures.email")
                    if email is not None and erasable[destination]
                    else None,
                }
                await self._queue(db, destination, SIGNATURE_ERASED, petition_id, None, data, now)
            await db.execute("UPDATE sync_outbox SET user_id = NULL WHERE user_id = ?", (user,))
            await db.execute("DELETE FROM sync_consents WHERE user_id = ?", (user,))
        for destination in sorted(set(counts) | set(by_destination)):
            petitions = tuple(by_destination.get(destination, ()))
            results.append(Forgotten(destination, bool(petitions), counts.get(destination, 0), petitions))
        return results

    # ------------------------------------------------------------------ sending

    async def recover(self, destination: str, now: datetime) -> int:
        """Rows a crashed holder left "sending" go again (the CRM or the receiver keeps one of each)."""
        async with self.store.transaction() as db:
            cursor = await db.execute(
                "UPDATE sync_outbox SET state = 'pending', updated_at = ? WHERE destination = ? AND state = 'sending'",
                (stamp(now), destination),
            )
        return cursor.rowcount

    async def claim(self, destination: str, now: datetime, limit: int) -> list[Claimed]:
        """Up to ``limit`` due rows, now "sending", oldest first."""
        async with self.store.transaction() as db:
            rows = await self.store.rows(
                "SELECT id, event_id, event, sealed, attempts, created_at, remote_id FROM sync_outbox"
                " WHERE destination = ? AND state = 'pending' AND due_at <= ? ORDER BY due_at, id LIMIT ?",
                (destination, stamp(now), limit),
            )
            if rows:
                marks = ", ".join("?" * len(rows))
                await db.execute(
                    f"UPDATE sync_outbox SET state = 'sending', updated_at = ? WHERE id IN ({marks})",
                    (stamp(now), *(row["id"] for row in rows)),
                )
        cipher = self.keys.cipher
        return [
            Claimed(
                row["id"],
                row["event_id"],
                destination,
                row["event"],
                json.loads(cipher.decrypt(row["sealed"], SEALED)),
                row["attempts"],
                datetime.fromisoformat(row["created_at"]),
                row["remote_id"],
            )
            for row in rows
        ]

    async def record(self, outcomes: Sequence[Outcome], now: datetime) -> None:
        """What happened to claimed rows, in one transaction. A sent row loses its sealed data; a failed one
        keeps it (``sync retry --failed`` sends it again) until /forget or a retry sends it."""
        if not outcomes:
            return
        async with self.store.transaction() as db:
            for o in outcomes:
                settled = o.state != "pending"
                sent = o.state == "sent"
                await db.execute(
                    "UPDATE sync_outbox SET state = ?, attempts = ?, error = ?, due_at = ?,"
                    " remote_id = COALESCE(?, remote_id), manual = COALESCE(?, manual),"
                    " sealed = CASE WHEN ? = 1 THEN NULL ELSE sealed END,"
                    " created_at = CASE WHEN ? = 1 THEN substr(created_at, 1, 10) || 'T00:00:00+00:00'"
                    " ELSE created_at END,"
                    " updated_at = ? WHERE id = ? AND state = 'sending'",
                    (
                        o.state,
                        o.attempts,
                        o.error,
                        _settled_stamp(now) if settled else stamp(o.due_at or now),
                        o.remote_id,
                        o.manual,
                        int(sent),
                        int(settled),
                        _settled_stamp(now) if settled else stamp(now),
                        o.id,
                    ),
                )
            # A signature whose signer asked to be forgotten while it was in flight, and did not arrive:
            # it never goes again, and its sealed copy goes now (the erasure queued for it follows anyway).
            marks = ", ".join("?" * len(outcomes))
            await db.execute(
                "UPDATE sync_outbox SET state = 'cancelled', sealed = NULL, error = 'forgotten', due_at = ?,"
                " created_at = substr(created_at, 1, 10) || 'T00:00:00+00:00', updated_at = ?"
                f" WHERE id IN ({marks}) AND user_id IS NULL AND event = ? AND state IN ('pending', 'failed')",
                (_settled_stamp(now), _settled_stamp(now), *(o.id for o in outcomes), SIGNATURE_CREATED),
            )

    async def next_due(self, destination: str) -> datetime | None:
        row = await self.store.row(
            "SELECT MIN(due_at) FROM sync_outbox WHERE destination = ? AND state = 'pending'", (destination,)
        )
        return datetime.fromisoformat(row[0]) if row is not None and row[0] else None

    # ------------------------------------------------------------------ for organisers

    async def status(self) -> dict[str, Status]:
        """Per destination: how many rows are in each state, and when the oldest one still to send was queued."""
        rows = await self.store.rows(
            "SELECT destination, state, COUNT(*), MIN(created_at) FROM sync_outbox GROUP BY destination, state"
        )
        counts: dict[str, dict[str, Any]] = {}
        for row in rows:
            figures = counts.setdefault(str(row[0]), {})
            figures[str(row[1])] = int(row[2])
            if row[1] == "pending":
                figures["oldest_pending"] = datetime.fromisoformat(row[3])
        return {destination: Status(**figures) for destination, figures in sorted(counts.items())}

    async def retry(self, now: datetime, *, failed: bool = False) -> int:
        """Send waiting rows now rather than after their back-off; with ``failed``, also try failed rows again
        (those whose data is still sealed: a row given up after /forget is not)."""
        states = "('pending', 'failed')" if failed else "('pending')"
        async with self.store.transaction() as db:
            cursor = await db.execute(
                f"UPDATE sync_outbox SET state = 'pending', due_at = ?, reported = 0,"
                f" attempts = CASE WHEN state = 'failed' THEN 0 ELSE attempts END, updated_at = ?"
                f" WHERE state IN {states} AND sealed IS NOT NULL",
                (stamp(now), stamp(now)),
            )
        return cursor.rowcount

    async def notices(self, *, unreported: bool = False) -> list[Notice]:
        """Rows given up and steps left to organisers (every one, or those not reported yet)."""
        rows = await self.store.rows(
            "SELECT id, destination, event, subject, state, error, manual, updated_at FROM sync_outbox"
            " WHERE (state = 'failed' OR manual IS NOT NULL)"
            + (" AND reported = 0" if unreported else "")
            + " ORDER BY id"
        )
        return [
            Notice(
                row["id"],
                row["destination"],
                row["event"],
                row["subject"],
                "manual" if row["manual"] is not None else "failed",
                row["manual"] if row["manual"] is not None else row["error"] or "unknown",
                str(row["updated_at"])[:10],
            )
            for row in rows
        ]

    async def mark_reported(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        marks = ", ".join("?" * len(ids))
        async with self.store.transaction() as db:
            await db.execute(f"UPDATE sync_outbox SET reported = 1 WHERE id IN ({marks})", tuple(ids))

    async def manual_done(self, row_id: int) -> bool:
        """An organiser did the step left to them: it leaves the list."""
        async with self.store.transaction() as db:
            cursor = await db.execute(
                "UPDATE sync_outbox SET manual = NULL WHERE id = ? AND manual IS NOT NULL", (row_id,)
            )
        return cursor.rowcount == 1


async def pending_manual_steps(store: Store, keyring: Keyring) -> list[Notice]:
    """The erasures left to organisers (for the dashboard and the organisers' report)."""
    return [notice for notice in await SyncOutbox(store, keyring).notices() if notice.kind == "manual"]
