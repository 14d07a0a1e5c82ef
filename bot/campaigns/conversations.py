"""Forms under way (a petition sign-up, a broadcast being written), one per person, encrypted: kept in
the store so that they survive a restart, and forgotten after a silence."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.campaigns.people import People
from bot.privacy.crypto import Keyring
from bot.storage.database import Row, Store, minute_stamp, stamp

# People remembered as having no form under way.
CONVERSATION_CACHE = 50_000


@dataclass(frozen=True, slots=True)
class Conversation:
    flow: str
    state: dict[str, Any]
    updated_at: datetime


@dataclass(slots=True)
class _Read:
    """A person's form under way as read with their language at the start of an event (its row: None
    when there is none); ``user`` is None once a form was written, when it no longer holds."""

    user: str | None = None
    row: Row | None = None


# One per event (Core.handle), shared by whatever the event runs, child tasks included.
_READ: ContextVar[_Read | None] = ContextVar("conversation_read", default=None)


@contextmanager
def read_once() -> Iterator[None]:
    """Within: the form read with the person's language (Conversations.language_with_form) serves the
    look-ups of the form until a form is written (every writer calls :func:`forget_read`)."""
    token = _READ.set(_Read())
    try:
        yield
    finally:
        _READ.reset(token)


def forget_read() -> None:
    """A form was written (saved, ended, erased): what was read before no longer holds."""
    read = _READ.get()
    if read is not None:
        read.user = None


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
        read = _READ.get()
        if read is not None and read.user == user:
            return self._opened(read.row)
        saves = self._saves
        row = await self.store.row("SELECT flow, state, updated_at FROM conversations WHERE user_id = ?", (user,))
        if row is None:
            if saves == self._saves:
                self._no_conversation(user, True)
            return None
        return self._opened(row)

    def _opened(self, row: Row | None) -> Conversation | None:
        if row is None:
            return None
        state = json.loads(self.keys.cipher.decrypt(row["state"], "conversations.state"))
        return Conversation(row["flow"], state, datetime.fromisoformat(row["updated_at"]))

    async def language_with_form(self, user: str) -> str | None:
        """The person's /language choice, as :meth:`People.language` gives it, read in one query with
        their form under way: on a store shared by several instances, where neither is cached, the
        event's look-ups of the form (within :func:`read_once`) then ask the database nothing."""
        row = await self.store.row(
            "SELECT u.language, c.flow, c.state, c.updated_at FROM users u"
            " LEFT JOIN conversations c ON c.user_id = u.id WHERE u.id = ?",
            (user,),
        )
        read = _READ.get()
        if read is not None:
            read.user, read.row = user, row if row is not None and row["flow"] is not None else None
        return row["language"] if row is not None else None

    async def save_conversation(
        self, user: str, platform: str, flow: str, state: dict[str, Any], now: datetime
    ) -> None:
        sealed = self.keys.cipher.encrypt(json.dumps(state, ensure_ascii=False), "conversations.state")
        self._saves += 1
        forget_read()
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
        forget_read()
        async with self.store.transaction() as db:
            cursor = await db.execute("DELETE FROM conversations WHERE user_id = ?", (user,))
        return cursor.rowcount == 1

    async def purge_conversations(self, now: datetime, silence: timedelta) -> int:
        """Forget conversations silent for longer than ``silence`` (their half-typed answers too)."""
        forget_read()
        async with self.store.transaction() as db:
            cursor = await db.execute("DELETE FROM conversations WHERE updated_at < ?", (stamp(now - silence),))
        return cursor.rowcount
