"""Pacing that never exceeds a platform's limits, counted over sliding windows."""

from __future__ import annotations

from collections import deque

from bot.config import PlatformLimits

# Never wait less than this: clock resolution must not turn a wait into a busy loop.
MIN_WAIT = 1e-6
# Windows are this much longer than the platform's: a request reaches the platform a little after
# the pacer lets it go, and that jitter must not put one message too many in someone's second.
MARGIN = 0.05


class Pacer:
    """Sliding-window limits: overall per second, per chat per second, per group per minute.

    Times are seconds (any epoch). ``wait`` says how long until a send to ``chat`` is allowed;
    ``record`` notes a send. A platform's retry-after is a pause that holds every send.
    """

    def __init__(self, limits: PlatformLimits) -> None:
        self.per_second = max(1, int(limits.per_second))
        self.chat_interval = 1.0 / limits.per_chat_per_second if limits.per_chat_per_second else 0.0
        self.per_group = max(1, int(limits.per_group_per_minute)) if limits.per_group_per_minute else None
        self._recent: deque[float] = deque()
        self._last_to_chat: dict[str, float] = {}
        self._group_sends: dict[str, deque[float]] = {}
        self._paused_until = 0.0

    def pause_until(self, until: float) -> None:
        self._paused_until = max(self._paused_until, until)

    def wait(self, now: float, chat: str, group: bool) -> float:
        self._forget(now)
        waits = [self._paused_until - now]
        if len(self._recent) >= self.per_second:
            waits.append(self._recent[-self.per_second] + 1.0 + MARGIN - now)
        last = self._last_to_chat.get(chat)
        if last is not None and self.chat_interval:
            waits.append(last + self.chat_interval + MARGIN - now)
        if group and self.per_group is not None:
            sends = self._group_sends.get(chat, ())
            if len(sends) >= self.per_group:
                waits.append(sends[-self.per_group] + 60.0 + MARGIN - now)
        longest = max(waits)
        return max(longest, MIN_WAIT) if longest > 0 else 0.0

    def record(self, now: float, chat: str, group: bool) -> None:
        self._recent.append(now)
        if self.chat_interval:
            self._last_to_chat[chat] = now
        if group and self.per_group is not None:
            self._group_sends.setdefault(chat, deque()).append(now)

    def _forget(self, now: float) -> None:
        """Drop what can no longer limit anything, so memory stays flat over any number of sends."""
        while self._recent and self._recent[0] <= now - 1.0 - MARGIN:
            self._recent.popleft()
        if len(self._last_to_chat) > 4 * self.per_second:
            horizon = now - self.chat_interval
            self._last_to_chat = {chat: t for chat, t in self._last_to_chat.items() if t > horizon}
        for chat in [c for c, sends in self._group_sends.items() if sends and sends[-1] <= now - 60.0]:
            del self._group_sends[chat]
        for sends in self._group_sends.values():
            while sends and sends[0] <= now - 60.0:
                sends.popleft()
