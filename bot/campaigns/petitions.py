"""Petition signatures: once per person and per e-mail address, personal fields encrypted.

Counts come from tallies that triggers keep in the same transaction as the rows they count; a count
returned by a write is read just after its commit: the total at that moment, the write included.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime

from bot.campaigns.conversations import forget_read
from bot.campaigns.people import People
from bot.campaigns.subscriptions import UPDATES_TOPIC
from bot.campaigns.tallies import count_of, tallies, tally, tally_after_commit
from bot.privacy.crypto import Keyring
from bot.storage.database import Db, Row, Statement, Store, day_stamp


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


class Signatures:
    def __init__(self, store: Store, keyring: Keyring, people: People) -> None:
        self.store = store
        self.keys = keyring
        self.people = people

    async def signature_count(self, petition_id: str) -> int:
        return await tally(self.store, "petition", petition_id)

    async def signature_counts(self) -> dict[str, int]:
        return await tallies(self.store, "petition")

    async def signed_at(self, petition_id: str, user: str) -> datetime | None:
        row = await self.store.row(
            "SELECT signed_at FROM signatures WHERE petition_id = ? AND user_id = ?", (petition_id, user)
        )
        return datetime.fromisoformat(row[0]) if row else None

    def _email_index(self, petition_id: str, email: str) -> str:
        return self.keys.blind_index(f"email:{petition_id}", email.casefold())

    async def email_signed(self, petition_id: str, email: str) -> bool:
        row = await self.store.row(
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

        async def unit(db: Db) -> tuple[list[Row], asyncio.Future[list[Row]]]:
            # Inserted only if neither this person nor this e-mail has signed (either unique key): one
            # statement, so the common case costs no separate look-up, and one that another instance's
            # concurrent sign-up cannot slip past. With the person's row and the end of the form: one
            # round trip to a server.
            writes: list[Statement] = [
                self.people.ensuring(user, platform, now, timezone),
                (
                    "INSERT INTO signatures (petition_id, user_id, name, email, country, email_index,"
                    " consent_version, signed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (
                        petition_id,
                        user,
                        cipher.encrypt(signer.name, "signatures.name"),
                        cipher.encrypt(signer.email, "signatures.email") if signer.email else None,
                        cipher.encrypt(signer.country, "signatures.country") if signer.country else None,
                        email_index,
                        consent_version,
                        day_stamp(now),
                    ),
                ),
            ]
            if end_conversation:
                forget_read()
                writes.append(("DELETE FROM conversations WHERE user_id = ?", (user,)))
            done = await db.execute_all(writes)
            clashes: list[Row] = []
            if done[1].rowcount != 1:
                clashes = await db.rows(
                    "SELECT signed_at, user_id = ? FROM signatures"
                    " WHERE petition_id = ? AND (user_id = ? OR email_index = ?)",
                    (user, petition_id, user, email_index),
                )
            return clashes, tally_after_commit(self.store, "petition", petition_id)

        # Safe to repeat after a lost connection: a signature is written once whatever happens.
        clashes, counted = await self.store.attempt(unit)
        count = count_of(await counted)
        mine = next((row for row in clashes if row[1]), None)
        if mine is not None:
            return Signed(count, already=datetime.fromisoformat(mine[0]))
        return Signed(count, email_taken=bool(clashes))

    def decrypted(self, row: Row, wants_updates: bool) -> Signature:
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
        rows = await self.store.rows(
            "SELECT s.*, EXISTS (SELECT 1 FROM subscriptions u WHERE u.user_id = s.user_id AND u.topic = ?)"
            " AS wants_updates FROM signatures s WHERE petition_id = ? ORDER BY signed_at, id",
            (UPDATES_TOPIC, petition_id),
        )
        # Decrypted in a worker thread: a large petition takes a while, and a running bot (its
        # dashboard) goes on answering meanwhile.
        return await asyncio.to_thread(lambda: [self.decrypted(row, bool(row["wants_updates"])) for row in rows])

    async def country_of(self, user: str) -> str | None:
        """The country a person gave when they last signed a petition (for their crisis line), if any."""
        row = await self.store.row(
            "SELECT country FROM signatures WHERE user_id = ? AND country IS NOT NULL ORDER BY signed_at DESC LIMIT 1",
            (user,),
        )
        return self.keys.cipher.decrypt(row["country"], "signatures.country") if row is not None else None

    async def signups_per_day(self, since: date) -> dict[date, int]:
        rows = await self.store.rows(
            "SELECT substr(signed_at, 1, 10) AS day, COUNT(*) FROM signatures WHERE signed_at >= ? GROUP BY day",
            (since.isoformat(),),
        )
        return {date.fromisoformat(row[0]): int(row[1]) for row in rows}
