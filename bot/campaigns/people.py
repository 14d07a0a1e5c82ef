"""People as the store knows them: a pseudonymous id (never a platform's), their chosen language and
their time zone (encrypted), and the day they first came. Every other record of a person hangs off
their row, which every write makes sure exists."""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime

from bot.privacy.crypto import Keyring
from bot.storage.database import Db, Statement, Store, day_stamp

ZONE = "users.zone"
# People whose language choice is kept in memory.
LANGUAGE_CACHE = 50_000


class People:
    def __init__(self, store: Store, keyring: Keyring) -> None:
        self.store = store
        self.keys = keyring
        self._languages: OrderedDict[str, str | None] = OrderedDict()

    async def ensure(self, db: Db, user: str, platform: str, now: datetime, timezone: str | None = None) -> None:
        """The person's row exists (with ``timezone`` if they had none): one statement, either way."""
        await db.execute(*self.ensuring(user, platform, now, timezone))

    def ensuring(self, user: str, platform: str, now: datetime, timezone: str | None = None) -> Statement:
        """The statement of :meth:`ensure`, to run together with others (:meth:`Db.execute_all`)."""
        return (
            "INSERT INTO users (id, platform, language, zone, created_at) VALUES (?, ?, NULL, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET zone = COALESCE(users.zone, excluded.zone)",
            (user, platform, self.sealed_zone(timezone), day_stamp(now)),
        )

    def sealed_zone(self, zone: str | None) -> bytes | None:
        return self.keys.cipher.encrypt(zone, ZONE) if zone else None

    def zone(self, sealed: bytes | None) -> str | None:
        """A time zone as stored (``users.zone``), decrypted."""
        return self.keys.cipher.decrypt(sealed, ZONE) if sealed is not None else None

    async def seal_timezones(self) -> int:
        """Encrypt the time zones that versions before schema 5 stored in clear; returns how many.

        Run at every start: one transaction, and only rows still holding a clear zone, so a crash
        halfway changes nothing and the next start does it all.
        """
        rows = await self.store.rows("SELECT id, timezone FROM users WHERE timezone IS NOT NULL")
        if not rows:
            return 0
        async with self.store.transaction() as db:
            await db.executemany(
                "UPDATE users SET zone = ?, timezone = NULL WHERE id = ?",
                [(self.sealed_zone(str(row["timezone"])), row["id"]) for row in rows],
            )
        return len(rows)

    async def timezone_of(self, user: str) -> str | None:
        row = await self.store.row("SELECT zone FROM users WHERE id = ?", (user,))
        return self.zone(row["zone"]) if row else None

    async def set_timezone(
        self, user: str, platform: str, zone: str, now: datetime, *, only_if_unset: bool = False
    ) -> bool:
        """Set the person's time zone; with ``only_if_unset``, only when they have none (an inference)."""
        async with self.store.transaction() as db:
            await self.ensure(db, user, platform, now)
            condition = " AND zone IS NULL" if only_if_unset else ""
            cursor = await db.execute(
                f"UPDATE users SET zone = ? WHERE id = ?{condition}", (self.sealed_zone(zone), user)
            )
        return cursor.rowcount == 1

    async def language(self, user_id: str) -> str | None:
        # Read on every event: cached when only this process writes it (set_language); with several
        # instances on one database, a choice made through another must count from the next message.
        if user_id in self._languages:
            self._languages.move_to_end(user_id)
            return self._languages[user_id]
        row = await self.store.row("SELECT language FROM users WHERE id = ?", (user_id,))
        language: str | None = row["language"] if row else None
        self._remember_language(user_id, language)
        return language

    def _remember_language(self, user_id: str, language: str | None) -> None:
        if self.store.shared:
            return
        self._languages[user_id] = language
        self._languages.move_to_end(user_id)
        if len(self._languages) > LANGUAGE_CACHE:
            self._languages.popitem(last=False)

    def forget_language(self, user_id: str) -> None:
        self._languages.pop(user_id, None)

    async def set_language(self, user_id: str, platform: str, language: str | None) -> None:
        async with self.store.transaction() as db:
            await db.execute(
                "INSERT INTO users (id, platform, language, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET language = excluded.language",
                (user_id, platform, language, day_stamp(datetime.now(UTC))),
            )
        self._remember_language(user_id, language)
