"""Whether a bot is running on a database, for the commands organisers run beside it.

A running bot notes the time in the store every half minute for each platform it delivers to, and
removes the notes when it stops; ``broadcast send`` and ``broadcast status`` read them to say
whether a queued broadcast will go out, ``restore`` to refuse to pull a database from under a bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from bot.port.clock import Clock, idle
from bot.storage.database import Store, StoreError, stamp
from bot.storage.settings import PlatformSettings

log = logging.getLogger(__name__)

# Stored with the adapter settings, under a platform name no adapter uses.
OWNER = "core"
SCOPE = "heartbeat"
INTERVAL_SECONDS = 30.0
# A bot not heard from for this long is taken to have stopped (a crash leaves its last note).
FRESH = timedelta(minutes=2)


def fresh(notes: Mapping[str, str], now: datetime) -> dict[str, datetime]:
    """Of the notes (platform: time), those recent enough that the bot is taken to be running."""
    seen = {platform: datetime.fromisoformat(at) for platform, at in notes.items()}
    return {platform: at for platform, at in seen.items() if now - at <= FRESH}


async def running(store: Store, now: datetime) -> dict[str, datetime]:
    """The platforms a bot delivered to recently, with when it was last heard from."""
    return fresh(await PlatformSettings(store, OWNER).all(SCOPE), now)


async def beat(store: Store, platforms: Iterable[str], clock: Clock, stop: asyncio.Event) -> None:
    """Note the time for ``platforms`` until ``stop``, then remove the notes."""
    platforms = list(platforms)
    notes = PlatformSettings(store, OWNER)
    try:
        while not stop.is_set():
            try:
                for platform in platforms:
                    await notes.set(SCOPE, platform, stamp(clock()))
            except (StoreError, sqlite3.Error):
                log.warning("could not note that the bot is running; trying again")
            await idle(INTERVAL_SECONDS, stop)
    finally:
        with contextlib.suppress(StoreError, sqlite3.Error):
            for platform in platforms:
                await notes.set(SCOPE, platform, None)


def describe(seen: dict[str, datetime], now: datetime) -> str:
    """``seen`` for a person: "telegram (12 s ago), discord (3 s ago)"."""
    return ", ".join(f"{platform} ({int((now - at).total_seconds())} s ago)" for platform, at in sorted(seen.items()))
