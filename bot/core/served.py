"""How often each knowledge-base entry, the fallback, the emergency and the crisis answers were served:
counts only (no question is ever stored), kept in memory and written to the store's counters at each
housekeeping and at close, so that answering never waits for a write."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date

from bot.port.events import Reply, ReplyKind
from bot.qa.crisis import CRISIS_ENTRY
from bot.storage.counters import Counters

SERVED = "served"
# The names under SERVED: an entry is "entry:<id>".
FALLBACK, EMERGENCY, CRISIS, ENTRY = "fallback", "emergency", "crisis", "entry:"


def served_name(reply: Reply) -> str | None:
    if reply.kind is ReplyKind.EMERGENCY:
        return CRISIS if reply.entry == CRISIS_ENTRY else EMERGENCY
    if reply.kind is ReplyKind.FALLBACK:
        return FALLBACK
    if reply.kind is ReplyKind.ANSWER and reply.entry:
        return ENTRY + reply.entry
    return None


class Served:
    def __init__(self, counters: Counters) -> None:
        self.counters = counters
        self._pending: Counter[str] = Counter()

    def count(self, replies: Sequence[Reply]) -> None:
        self._pending.update(f"{SERVED}:{name}" for reply in replies if (name := served_name(reply)))

    async def flush(self, day: date) -> None:
        """Write what was counted since the last flush (to ``day``); kept for the next one if that fails."""
        pending, self._pending = self._pending, Counter()
        try:
            await self.counters.add(pending, day)
        except BaseException:
            self._pending.update(pending)
            raise
