"""Everything stored about one person, to show them (/mydata) or to erase (/forget) in one go."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.campaigns.conversations import Conversation, Conversations, forget_read
from bot.campaigns.people import People
from bot.campaigns.petitions import Signature, Signatures
from bot.campaigns.pledges import Pledges
from bot.campaigns.subscriptions import UPDATES_TOPIC, Subscription
from bot.storage.database import Store


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


class Personal:
    def __init__(
        self, store: Store, people: People, pledges: Pledges, signatures: Signatures, conversations: Conversations
    ) -> None:
        self.store = store
        self.people = people
        self.pledges = pledges
        self.signatures = signatures
        self.conversations = conversations

    async def personal_data(self, user: str) -> PersonalData:
        account = await self.store.row("SELECT language, zone, created_at FROM users WHERE id = ?", (user,))
        rows = await self.store.rows(
            "SELECT s.*, EXISTS (SELECT 1 FROM subscriptions u WHERE u.user_id = s.user_id AND u.topic = ?)"
            " AS wants_updates FROM signatures s WHERE user_id = ? ORDER BY signed_at",
            (UPDATES_TOPIC, user),
        )
        subscriptions = await self.store.rows(
            "SELECT topic, platform, language, created_at FROM subscriptions WHERE user_id = ? ORDER BY topic", (user,)
        )
        return PersonalData(
            datetime.fromisoformat(account["created_at"]) if account else None,
            account["language"] if account else None,
            self.people.zone(account["zone"]) if account else None,
            await self.pledges.pledges_of(user),
            tuple(self.signatures.decrypted(row, bool(row["wants_updates"])) for row in rows),
            tuple(
                Subscription(r["topic"], r["platform"], r["language"], datetime.fromisoformat(r["created_at"]))
                for r in subscriptions
            ),
            await self.conversations.conversation(user),
        )

    async def forget(self, user: str) -> Erased:
        """Erase everything about one person, in one transaction."""
        forget_read()
        async with self.store.transaction() as db:
            counts = []
            # Messages queued for them go too: their copies of the address are personal data.
            outbox = await db.execute("DELETE FROM outbox WHERE user_id = ?", (user,))
            for table in ("pledges_taken", "signatures", "subscriptions", "conversations", "users"):
                column = "id" if table == "users" else "user_id"
                cursor = await db.execute(f"DELETE FROM {table} WHERE {column} = ?", (user,))
                counts.append(cursor.rowcount)
        self.people.forget_language(user)
        return Erased(counts[0], counts[1], counts[2], counts[3], bool(counts[4]), outbox.rowcount)
