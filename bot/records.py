"""Pledges, signatures, subscriptions and conversations in the store, personal fields encrypted.

Every write is one transaction that also makes sure the person's row exists. Counts come from
tallies that triggers keep in the same transaction as the rows they count; a count returned by a
write is read just after its commit: the total at that moment, the write included.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiosqlite

from bot.crypto import Keyring
from bot.store import Store, day_stamp


def stamp(moment: datetime) -> str:
    """A UTC moment as stored: ISO text, which sorts in time order (a retry-after keeps its fraction)."""
    return moment.astimezone(UTC).isoformat()


def minute_stamp(moment: datetime) -> str:
    """``moment`` rounded up to the minute: for a form's last answer, no finer than its expiry needs
    (rounded up, so that a form is never forgotten early)."""
    rounded = moment.astimezone(UTC).replace(second=0, microsecond=0)
    return (rounded if rounded == moment else rounded + timedelta(minutes=1)).isoformat()


ZONE = "users.zone"


@dataclass(frozen=True, slots=True)
class Signer:
    name: str
    email: str | None
    # ISO 3166 alpha-2
    country: str | None


@dataclass(frozen=True, slots=True)
class Signed:
    """The outcome of a signature attempt."""

    count: int
    # Set when this person had already signed: when they did. Nothing was written.
    already: datetime | None = None
    # The e-mail address had already signed this petition (from another account).
    email_taken: bool = False

    @property
    def recorded(self) -> bool:
        return self.already is None and not self.email_taken


@dataclass(frozen=True, slots=True)
class Signature:
    petition_id: str
    signer: Signer
    consent_version: int
    signed_at: datetime
    wants_updates: bool = False


@dataclass(frozen=True, slots=True)
class Subscription:
    topic: str
    platform: str
    language: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Conversation:
    flow: str
    state: dict[str, Any]
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PersonalData:
    """Everything stored about one person (for /mydata)."""

    created_at: datetime | None
    language: str | None
    timezone: str | None
    pledges: dict[str, datetime]
    signatures: tuple[Signature, ...]
    subscriptions: tuple[Subscription, ...]
    conversation: Conversation | None


@dataclass(frozen=True, slots=True)
class Erased:
    pledges: int
    signatures: int
    subscriptions: int
    conversations: int
    account: bool
    messages: int


UPDATES_TOPIC = "petitions"
# People remembered as having no form under way.
CONVERSATION_CACHE = 50_000


class Records:
    def __init__(self, store: Store, keyring: Keyring) -> None:
        self.store = store
        self.keys = keyring
        # People known to have no form under way: every private message asks, and almost always
        # the answer is no. Only this process writes conversations, so it can remember.
        self._without_conversation: OrderedDict[str, None] = OrderedDict()
        # Bumped by every form saved: a look-up that overlapped a save does not trust its "none".
        self._saves = 0

    def _no_conversation(self, user: str, none: bool) -> None:
        if none:
            self._without_conversation[user] = None
            self._without_conversation.move_to_end(user)
            if len(self._without_conversation) > CONVERSATION_CACHE:
                self._without_conversation.popitem(last=False)
        else:
            self._without_conversation.pop(user, None)

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Row | None:
        return await self.store.row(sql, params)

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        return await self.store.rows(sql, params)

    async def _ensure_user(
        self, db: aiosqlite.Connection, user: str, platform: str, now: datetime, timezone: str | None = None
    ) -> None:
        """The person's row exists (with ``timezone`` if they had none): one statement, either way."""
        await db.execute(
            "INSERT INTO users (id, platform, language, zone, created_at) VALUES (?, ?, NULL, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET zone = COALESCE(users.zone, excluded.zone)",
            (user, platform, self._sealed_zone(timezone), day_stamp(now)),
        )

    def _sealed_zone(self, zone: str | None) -> bytes | None:
        return self.keys.cipher.encrypt(zone, ZONE) if zone else None

    def zone(self, sealed: bytes | None) -> str | None:
        """A time zone as stored (``users.zone``), decrypted."""
        return self.keys.cipher.decrypt(sealed, ZONE) if sealed is not None else None

    async def seal_timezones(self) -> int:
        """Encrypt the time zones that versions before schema 5 stored in clear; returns how many.

        Run at every start: one transaction, and only rows still holding a clear zone, so a crash
        halfway changes nothing and the next start does it all.
        """
        rows = await self._all("SELECT id, timezone FROM users WHERE timezone IS NOT NULL")
        if not rows:
            return 0
        async with self.store.transaction() as db:
            await db.executemany(
                "UPDATE users SET zone = ?, timezone = NULL WHERE id = ?",
                [(self._sealed_zone(str(row["timezone"])), row["id"]) for row in rows],
            )
        return len(rows)

    async def _tally(self, kind: str, item: str) -> int:
        row = await self._one("SELECT count FROM tallies WHERE name = ?", (f"{kind}:{item}",))
        return int(row[0]) if row else 0

    async def _tallies(self, kind: str) -> dict[str, int]:
        rows = await self._all("SELECT name, count FROM tallies WHERE name LIKE ? AND count > 0", (f"{kind}:%",))
        return {str(row[0]).split(":", 1)[1]: int(row[1]) for row in rows}

    # ------------------------------------------------------------------ pledges

    async def pledge_counts(self) -> dict[str, int]:
        return await self._tallies("pledge")

    async def pledges_of(self, user: str) -> dict[str, datetime]:
        rows = await self._all("SELECT pledge_id, taken_at FROM pledges_taken WHERE user_id = ?", (user,))
        return {str(row[0]): datetime.fromisoformat(row[1]) for row in rows}

    async def take_pledge(self, user: str, platform: str, pledge_id: str, now: datetime) -> tuple[bool, int]:
        """Record the pledge once; returns whether it is new and the pledge's count."""
        async with self.store.transaction() as db:
            await self._ensure_user(db, user, platform, now)
            cursor = await db.execute(
                "INSERT INTO pledges_taken (pledge_id, user_id, taken_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (pledge_id, user, day_stamp(now)),
            )
            new = cursor.rowcount == 1
        # Read after the commit, outside the shared transaction: the total now, this pledge included.
        return new, await self._tally("pledge", pledge_id)

    async def withdraw_pledge(self, user: str, pledge_id: str) -> tuple[bool, int]:
        async with self.store.transaction() as db:
            cursor = await db.execute(
                "DELETE FROM pledges_taken WHERE pledge_id = ? AND user_id = ?", (pledge_id, user)
            )
            removed = cursor.rowcount == 1
        return removed, await self._tally("pledge", pledge_id)

    # ------------------------------------------------------------------ petitions

    async def signature_count(self, petition_id: str) -> int:
        return await self._tally("petition", petition_id)

    async def signature_counts(self) -> dict[str, int]:
        return await self._tallies("petition")

    async def signed_at(self, petition_id: str, user: str) -> datetime | None:
        row = await self._one(
            "SELECT signed_at FROM signatures WHERE petition_id = ? AND user_id = ?", (petition_id, user)
        )
        return datetime.fromisoformat(row[0]) if row else None

    def _email_index(self, petition_id: str, email: str) -> str:
        return self.keys.blind_index(f"email:{petition_id}", email.casefold())

    async def email_signed(self, petition_id: str, email: str) -> bool:
        row = await self._one(
            "SELECT 1 FROM signatures WHERE petition_id = ? AND email_index = ?",
            (petition_id, self._email_index(petition_id, email)),
        )
        return row is not None

    async def sign(
        self,
        petition_id: str,
        user: str,
        platform: str,
        signer: Signer,
        consent_version: int,
        now: datetime,
        *,
        end_conversation: bool = True,
        timezone: str | None = None,
    ) -> Signed:
        """Record a signature once per person and per e-mail, ending the sign-up conversation.

        ``timezone``: inferred from the country, it becomes the person's if they have none yet.
        """
        cipher = self.keys.cipher
        email_index = self._email_index(petition_id, signer.email) if signer.email else None
        async with self.store.transaction() as db:
            await self._ensure_user(db, user, platform, now, timezone)
            # Inserted only if neither this person nor this e-mail has signed: one statement, so
            # the common case costs no separate look-up.
            cursor = await db.execute(
                "INSERT INTO signatures (petition_id, user_id, name, email, country, email_index,"
                " consent_version, signed_at) SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS ("
                " SELECT 1 FROM signatures WHERE petition_id = ? AND (user_id = ? OR email_index = ?))",
                (
                    petition_id,
                    user,
                    cipher.encrypt(signer.name, "signatures.name"),
                    cipher.encrypt(signer.email, "signatures.email") if signer.email else None,
                    cipher.encrypt(signer.country, "signatures.country") if signer.country else None,
                    email_index,
                    consent_version,
                    day_stamp(now),
                    petition_id,
                    user,
                    email_index,
                ),
            )
            clashes = []
            if cursor.rowcount != 1:
                clashes = await self._all(
                    "SELECT signed_at, user_id = ? FROM signatures"
                    " WHERE petition_id = ? AND (user_id = ? OR email_index = ?)",
                    (user, petition_id, user, email_index),
                )
            if end_conversation:
                await db.execute("DELETE FROM conversations WHERE user_id = ?", (user,))
        count = await self._tally("petition", petition_id)
        mine = next((row for row in clashes if row[1]), None)
        if mine is not None:
            return Signed(count, already=datetime.fromisoformat(mine[0]))
        return Signed(count, email_taken=bool(clashes))

    def _signature(self, row: aiosqlite.Row, wants_updates: bool) -> Signature:
        cipher = self.keys.cipher
        signer = Signer(
            cipher.decrypt(row["name"], "signatures.name"),
            cipher.decrypt(row["email"], "signatures.email") if row["email"] is not None else None,
            cipher.decrypt(row["country"], "signatures.country") if row["country"] is not None else None,
        )
        return Signature(
            row["petition_id"], signer, row["consent_version"], datetime.fromisoformat(row["signed_at"]), wants_updates
        )

    async def signatures(self, petition_id: str) -> list[Signature]:
        """Every signature of a petition, decrypted, oldest first (for organisers' exports)."""
        rows = await self._all(
            "SELECT s.*, EXISTS (SELECT 1 FROM subscriptions u WHERE u.user_id = s.user_id AND u.topic = ?)"
            " AS wants_updates FROM signatures s WHERE petition_id = ? ORDER BY signed_at, id",
            (UPDATES_TOPIC, petition_id),
        )
        return [self._signature(row, bool(row["wants_updates"])) for row in rows]

    async def country_of(self, user: str) -> str | None:
        """The country a person gave when they last signed a petition (for their crisis line), if any."""
        row = await self._one(
            "SELECT country FROM signatures WHERE user_id = ? AND country IS NOT NULL ORDER BY signed_at DESC LIMIT 1",
            (user,),
        )
        return self.keys.cipher.decrypt(row["country"], "signatures.country") if row is not None else None

    async def signups_per_day(self, since: date) -> dict[date, int]:
        rows = await self._all(
            "SELECT substr(signed_at, 1, 10) AS day, COUNT(*) FROM signatures WHERE signed_at >= ? GROUP BY day",
            (since.isoformat(),),
        )
        return {date.fromisoformat(row[0]): int(row[1]) for row in rows}

    # ------------------------------------------------------------------ subscriptions

    async def subscribe(self, user: str, platform: str, topic: str, address: str, language: str, now: datetime) -> bool:
        """Subscribe to ``topic``, delivering to ``address`` (a chat id, stored encrypted); False if already."""
        async with self.store.transaction() as db:
            await self._ensure_user(db, user, platform, now)
            cursor = await db.execute(
                "INSERT INTO subscriptions (user_id, topic, platform, address, language, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (
                    user,
                    topic,
                    platform,
                    self.keys.cipher.encrypt(address, "subscriptions.address"),
                    language,
                    day_stamp(now),
                ),
            )
        return cursor.rowcount == 1

    async def unsubscribe(self, user: str, topics: Sequence[str] | None = None) -> int:
        """Unsubscribe from ``topics`` (every topic when None); returns how many were removed."""
        async with self.store.transaction() as db:
            if topics is None:
                cursor = await db.execute("DELETE FROM subscriptions WHERE user_id = ?", (user,))
            else:
                marks = ", ".join("?" * len(topics))
                cursor = await db.execute(
                    f"DELETE FROM subscriptions WHERE user_id = ? AND topic IN ({marks})", (user, *topics)
                )
        return cursor.rowcount

    async def topics_of(self, user: str) -> list[str]:
        rows = await self._all("SELECT topic FROM subscriptions WHERE user_id = ? ORDER BY topic", (user,))
        return [str(row[0]) for row in rows]

    async def timezone_of(self, user: str) -> str | None:
        row = await self._one("SELECT zone FROM users WHERE id = ?", (user,))
        return self.zone(row["zone"]) if row else None

    async def set_timezone(
        self, user: str, platform: str, zone: str, now: datetime, *, only_if_unset: bool = False
    ) -> bool:
        """Set the person's time zone; with ``only_if_unset``, only when they have none (an inference)."""
        async with self.store.transaction() as db:
            await self._ensure_user(db, user, platform, now)
            condition = " AND zone IS NULL" if only_if_unset else ""
            cursor = await db.execute(
                f"UPDATE users SET zone = ? WHERE id = ?{condition}", (self._sealed_zone(zone), user)
            )
        return cursor.rowcount == 1

    # ------------------------------------------------------------------ conversations

    async def conversation(self, user: str) -> Conversation | None:
        if user in self._without_conversation:
            return None
        saves = self._saves
        row = await self._one("SELECT flow, state, updated_at FROM conversations WHERE user_id = ?", (user,))
        if row is None:
            if saves == self._saves:
                self._no_conversation(user, True)
            return None
        state = json.loads(self.keys.cipher.decrypt(row["state"], "conversations.state"))
        return Conversation(row["flow"], state, datetime.fromisoformat(row["updated_at"]))

    async def save_conversation(
        self, user: str, platform: str, flow: str, state: dict[str, Any], now: datetime
    ) -> None:
        sealed = self.keys.cipher.encrypt(json.dumps(state, ensure_ascii=False), "conversations.state")
        self._saves += 1
        self._no_conversation(user, False)
        async with self.store.transaction() as db:
            await self._ensure_user(db, user, platform, now)
            await db.execute(
                "INSERT INTO conversations (user_id, flow, state, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(user_id) DO UPDATE SET flow = excluded.flow, state = excluded.state,"
                " updated_at = excluded.updated_at",
                (user, flow, sealed, minute_stamp(now)),
            )

    async def end_conversation(self, user: str) -> bool:
        async with self.store.transaction() as db:
            cursor = await db.execute("DELETE FROM conversations WHERE user_id = ?", (user,))
        return cursor.rowcount == 1

    async def purge_conversations(self, now: datetime, silence: timedelta) -> int:
        """Forget conversations silent for longer than ``silence`` (their half-typed answers too)."""
        async with self.store.transaction() as db:
            cursor = await db.execute("DELETE FROM conversations WHERE updated_at < ?", (stamp(now - silence),))
        return cursor.rowcount

    # ------------------------------------------------------------------ privacy

    async def personal_data(self, user: str) -> PersonalData:
        account = await self._one("SELECT language, zone, created_at FROM users WHERE id = ?", (user,))
        rows = await self._all(
            "SELECT s.*, EXISTS (SELECT 1 FROM subscriptions u WHERE u.user_id = s.user_id AND u.topic = ?)"
            " AS wants_updates FROM signatures s WHERE user_id = ? ORDER BY signed_at",
            (UPDATES_TOPIC, user),
        )
        subscriptions = await self._all(
            "SELECT topic, platform, language, created_at FROM subscriptions WHERE user_id = ? ORDER BY topic", (user,)
        )
        return PersonalData(
            datetime.fromisoformat(account["created_at"]) if account else None,
            account["language"] if account else None,
            self.zone(account["zone"]) if account else None,
            await self.pledges_of(user),
            tuple(self._signature(row, bool(row["wants_updates"])) for row in rows),
            tuple(
                Subscription(r["topic"], r["platform"], r["language"], datetime.fromisoformat(r["created_at"]))
                for r in subscriptions
            ),
            await self.conversation(user),
        )

    async def forget(self, user: str) -> Erased:
        """Erase everything about one person, in one transaction."""
        async with self.store.transaction() as db:
            counts = []
            # Messages queued for them go too: their copies of the address are personal data.
            outbox = await db.execute("DELETE FROM outbox WHERE user_id = ?", (user,))
            for table in ("pledges_taken", "signatures", "subscriptions", "conversations", "users"):
                column = "id" if table == "users" else "user_id"
                cursor = await db.execute(f"DELETE FROM {table} WHERE {column} = ?", (user,))
                counts.append(cursor.rowcount)
        self.store.forget_language(user)
        return Erased(counts[0], counts[1], counts[2], counts[3], bool(counts[4]), outbox.rowcount)
