"""Pacing that never exceeds a platform's limits as the platform counts them, whatever the local jitter.

A platform counts a message when it arrives, which is some time after the engine lets it go: later
still when the CPU is busy or the network slow, and by a different amount each time. So each send
counts against a limit from the moment it starts until a full window after its response, which
proves it has arrived. Any window of the platform's then holds at most the limit, however late or
bunched the arrivals (the send that starts last among those arriving in a window saw every other
one counted: in flight, or answered less than a window before it started).
"""

from __future__ import annotations

import random
from collections import Counter, deque
from datetime import timedelta

from bot.port.delivery import PlatformLimits

# Never wait less than this: clock resolution must not turn a wait into a busy loop.
MIN_WAIT = 1e-6
# While a limit is taken up by sends still in flight, look again this often.
POLL = 0.005
# Starts follow a grid of even slots; a send that woke late does not push the grid back (so wake-up
# delays do not add up to a slower pace), but at most this much of the grid is caught up at once.
CATCH_UP = 0.25
# After the platform says "too many requests" (someone else's traffic, a stricter limit than
# configured): the pace drops to this share of the limit...
BACK_OFF = 0.75
FLOOR = 0.1
# ...then climbs back by this share every RECOVERY_SECONDS without another.
RECOVERY_STEP = 0.05
RECOVERY_SECONDS = 5.0


class Pacer:
    """Sliding-window limits: overall per second, per chat per second, per group per minute.

    Times are seconds (any epoch). ``wait`` says how long until a send to ``chat`` may start;
    ``started`` and ``finished`` note a send's start and its response (or failure). Starts are also
    spread evenly over the second, so that sends do not leave in bunches. A platform's retry-after
    is a pause that holds every send; ``slow_down`` lowers the pace after one.
    """

    def __init__(self, limits: PlatformLimits) -> None:
        self.per_second = max(1, int(limits.per_second))
        self.chat_interval = 1.0 / limits.per_chat_per_second if limits.per_chat_per_second else 0.0
        self.per_group = max(1, int(limits.per_group_per_minute)) if limits.per_group_per_minute else None
        self._in_flight = 0
        self._answered: deque[float] = deque()
        self._chat_in_flight: Counter[str] = Counter()
        self._chat_answered: dict[str, float] = {}
        self._group_answered: dict[str, deque[float]] = {}
        self._next_slot = float("-inf")
        self._paused_until = 0.0
        self._share = 1.0
        self._share_since = 0.0

    @property
    def pace(self) -> int:
        """Sends allowed per second now: the limit, or less for a while after a 429."""
        return max(1, int(self.per_second * self._share))

    def pause_until(self, until: float) -> None:
        self._paused_until = max(self._paused_until, until)

    def slow_down(self, now: float) -> None:
        self._share = max(FLOOR, self._share * BACK_OFF)
        self._share_since = now

    def wait(self, now: float, chat: str, group: bool) -> float:
        self._recover(now)
        self._forget(now)
        pace = self.pace
        waits = [self._paused_until - now, self._next_slot - now]
        waits.append(_until_room(self._answered, self._in_flight, pace, 1.0, now))
        if self.chat_interval:
            if self._chat_in_flight[chat]:
                waits.append(POLL)
            last = self._chat_answered.get(chat)
            if last is not None:
                waits.append(last + self.chat_interval - now)
        if group and self.per_group is not None:
            answered = self._group_answered.get(chat, deque())
            waits.append(_until_room(answered, self._chat_in_flight[chat], self.per_group, 60.0, now))
        longest = max(waits)
        return max(longest, MIN_WAIT) if longest > 0 else 0.0

    def started(self, now: float, chat: str, group: bool) -> None:
        self._next_slot = max(self._next_slot, now - CATCH_UP) + 1.0 / self.pace
        self._in_flight += 1
        self._chat_in_flight[chat] += 1

    def finished(self, now: float, chat: str, group: bool) -> None:
        self._in_flight -= 1
        self._chat_in_flight[chat] -= 1
        if not self._chat_in_flight[chat]:
            del self._chat_in_flight[chat]
        self._answered.append(now)
        if self.chat_interval:
            self._chat_answered[chat] = now
        if group and self.per_group is not None:
            self._group_answered.setdefault(chat, deque()).append(now)

    def _recover(self, now: float) -> None:
        if self._share < 1.0 and now - self._share_since >= RECOVERY_SECONDS:
            steps = int((now - self._share_since) / RECOVERY_SECONDS)
            self._share = min(1.0, self._share + steps * RECOVERY_STEP)
            self._share_since += steps * RECOVERY_SECONDS

    def _forget(self, now: float) -> None:
        """Drop what can no longer limit anything, so memory stays flat over any number of sends."""
        while self._answered and self._answered[0] <= now - 1.0:
            self._answered.popleft()
        if len(self._chat_answered) > 4 * self.per_second:
            horizon = now - self.chat_interval
            self._chat_answered = {chat: t for chat, t in self._chat_answered.items() if t > horizon}
        for chat in [c for c, sends in self._group_answered.items() if sends and sends[-1] <= now - 60.0]:
            del self._group_answered[chat]
        for sends in self._group_answered.values():
            while sends and sends[0] <= now - 60.0:
                sends.popleft()


def _until_room(answered: deque[float], in_flight: int, limit: int, window: float, now: float) -> float:
    """How long until fewer than ``limit`` sends count in ``window``: those in flight, and those answered
    within the window (``answered`` in order, none older than the window)."""
    excess = in_flight + len(answered) - limit
    if excess < 0:
        return 0.0
    if excess < len(answered):
        return answered[excess] + window - now
    return POLL


def backoff(attempts: int, base: float, ceiling: float, rng: random.Random) -> timedelta:
    """The wait before attempt ``attempts`` + 1: capped exponential back-off with "equal jitter", half
    fixed, half random (retries of many rows that failed together spread out)."""
    top = min(ceiling, base * 2 ** (attempts - 1))
    return timedelta(seconds=top / 2 + rng.uniform(0, top / 2))
