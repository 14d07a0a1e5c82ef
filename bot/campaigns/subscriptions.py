"""Subscriptions to topics (action days, petition updates, campaign news), each with the address to
deliver to, encrypted."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.campaigns.people import People
from bot.privacy.crypto import Keyring
from bot.storage.counters import add_counts
from bot.storage.database import Store, day_stamp

# The counters of opt-outs (the organisers' dashboard shows them per week): "opt-out:<topic>".
OPT_OUT = "opt-out"

ACTION_DAYS = "action-days"
# Who signs a petition may opt in to its updates: this topic.
UPDATES_TOPIC = "petitions"
TOPICS = (ACTION_DAYS, UPDATES_TOPIC, "news")


@dataclass(frozen=True, slots=True)
class Subscription:
    topic: str
    platform: str
    language: str
    created_at: datetime


class Subscriptions:
    def __init__(self, store: Store, keyring: Keyring, people: People) -> None:
        self.store = store
        self.keys = keyring
        self.people = people

    async def subscribe(self, user: str, platform: str, topic: str, address: str, language: str, now: datetime) -> bool:
        """Subscribe to ``topic``, delivering to ``address`` (a chat id, stored encrypted); False if already."""
        async with self.store.transaction() as db:
            await self.people.ensure(db, user, platform, now)
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
        """Unsubscribe from ``topics`` (every topic when None); returns how many were removed.

        Each removal is counted, by topic and day, in the same transaction: the count of opt-outs
        cannot drift from what was removed, and says nothing of who it was.
        """
        async with self.store.transaction() as db:
            if topics is None:
                rows = await db.rows("DELETE FROM subscriptions WHERE user_id = ? RETURNING topic", (user,))
            else:
                marks = ", ".join("?" * len(topics))
                rows = await db.rows(
                    f"DELETE FROM subscriptions WHERE user_id = ? AND topic IN ({marks}) RETURNING topic",
                    (user, *topics),
                )
            removed = Counter(f"{OPT_OUT}:{row[0]}" for row in rows)
            await add_counts(db, removed, datetime.now(UTC).date())
        return removed.total()

    async def topics_of(self, user: str) -> list[str]:
        rows = await self.store.rows("SELECT topic FROM subscriptions WHERE user_id = ? ORDER BY topic", (user,))
        return [str(row[0]) for row in rows]
