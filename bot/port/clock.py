"""Time, injectable: the core and the delivery engine ask a clock, so tests never wait for real."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def __call__(self) -> datetime:
        """Now, timezone-aware (UTC)."""

    def monotonic(self) -> float:
        """Seconds that only ever go forward at the pace of real time: for pacing and timeouts."""

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def __call__(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        # Not the wall clock: that one can be stepped or slewed (NTP), and pacing must not be.
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ManualClock:
    """A clock that moves only when told to, or when someone sleeps on it.

    ``sleep`` advances the time by the amount slept and returns at once, which is exact for a
    single sleeper (the delivery engine's dispatcher is the only one) and makes a test of an hour
    of pacing run in milliseconds.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
        self.slept = 0.0

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.now.timestamp()

    async def sleep(self, seconds: float) -> None:
        # Let what is ready run at the current time first, as it would before a real sleep ends.
        await asyncio.sleep(0)
        if seconds > 0:
            self.now += timedelta(seconds=seconds)
            self.slept += seconds

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


async def idle(seconds: float | None, *events: asyncio.Event) -> None:
    """Wait ``seconds`` of real time (None: as long as it takes), or less if any of ``events`` is set."""
    waiters = {asyncio.ensure_future(event.wait()) for event in events}
    try:
        timeout = None if seconds is None else max(0.0, seconds)
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
