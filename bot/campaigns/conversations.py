"""Forms under way (a petition sign-up, a broadcast being written), one per person, encrypted: kept in
the store so that they survive a restart, and forgotten after a silence."""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.campaigns.people import People
from bot.privacy.crypto import Keyring
from bot.storage.database import Store, minute_stamp, stamp

# People remembered as having no form under way.
CONVERSATION_CACHE = 50_000


@dataclass(frozen=True, slots=True)
class Conversation:
    flow: str
    state: dict[str, Any]
    updated_at: datetime


class Conversations:
    def __init__(self, store: Store, keyring: Keyring, people: People) -> None:
        self.store = store
        self.keys = keyring
        self.people = people
        # People known to have no form under way: every private message asks, and almost always
        # the answer is no. Remembered only when this process alone writes conversations (SQLite):
        # with several instances, a form started through another must be seen by the next message.
        self._without_conversation: OrderedDict[str, None] = OrderedDict()
        # Bumped by every form saved: a look-up that overlapped a save does not trust its "none".
        self._saves = 0

    def _no_conversation(self, user: str, none: bool) -> None:
        if none and not self.store.shared:
            self._without_conversation[user] = None
            self._without_conversation.move_to_end(user)
            if len(self._without_conversation) > CONVERSATION_CACHE:
                self._without_conversation.popitem(last=False)
        else:
            self._without_conversation.pop(user, None)

    async def conversation(self, user: str) -> Conversation | None:
        if user in self._without_conversation:
            return None
        saves = self._saves
        row = await self.store.row("SELECT flow, state, updated_at FROM conversations WHERE user_id = ?", (user,))
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
            await db.execute_all(
                [
                    self.people.ensuring(user, platform, now),
                    (
                        "INSERT INTO conversations (user_id, flow, state, updated_at) VALUES (?, ?, ?, ?)"
                        " ON CONFLICT(user_id) DO UPDATE SET flow = excluded.flow, state = excluded.state,"
                        " updated_at = excluded.updated_at",
                        (user, flow, sealed, minute_stamp(now)),
                    ),
                ]
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
