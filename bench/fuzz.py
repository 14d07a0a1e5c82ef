"""Fuzz the core for a long run: forged buttons, junk commands and 100 KB messages (tests/fuzzing.py).

Run from the repository root:

    .venv/bin/python bench/fuzz.py                     # 150,000 events
    .venv/bin/python bench/fuzz.py --events 1000000 --seed 7

Every event goes through the core on a real store, as from the console; every reply is rendered for
the console, Telegram and Discord and checked against their limits; every 1,000 events the bot must
still answer a plain question. Prints the events handled, the crashes (the core's own failures,
exceptions, replies that do not render), and the slowest input with its time. Target: no crash, and
100,000 events in under 10 minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[0] = str(ROOT)
sys.path.insert(1, str(ROOT / "tests"))
os.environ.setdefault("ADVOCACY_BOT_SECRET_KEY", "f0" * 32)

from fuzzing import ORGANISER, check_renders, failures_logged, random_event, still_answers, vocabulary  # noqa: E402

from bot.core.app import Core  # noqa: E402
from bot.core.config import Config, StorageConfig  # noqa: E402
from bot.operations.logs import configure_logging  # noqa: E402
from bot.port.events import ButtonPress, Command, Event, Text  # noqa: E402

CHECK_EVERY = 1_000


def describe(event: Event) -> str:
    """An event as it can be printed: its kind and where, and at most 60 characters of its text."""
    content = event.content
    if isinstance(content, Command):
        kind, text = f"/{content.name}", content.args
    elif isinstance(content, ButtonPress):
        kind, text = "button", content.action
    elif isinstance(content, Text):
        kind, text = "text", content.text
    else:
        kind, text = type(content).__name__, ""
    shown = repr(text[:60]) + (f"... ({len(text):,} characters)" if len(text) > 60 else "")
    return f"{kind} {shown} in a {event.chat.kind} chat"


async def run(events: int, seed: int) -> int:
    rng = random.Random(seed)
    crashes: list[str] = []
    slowest = (0.0, "")
    with tempfile.TemporaryDirectory() as folder:
        config = Config(storage=StorageConfig(Path(folder) / "fuzz.sqlite3"), organisers=(ORGANISER,))
        core = await Core.open(config)
        words = vocabulary(core.router, core.content)
        began = time.perf_counter()
        try:
            with failures_logged() as failures:
                for number in range(1, events + 1):
                    event = random_event(rng, words)
                    started = time.perf_counter()
                    try:
                        for reply in (await core.handle(event)).replies:
                            check_renders(reply)
                        if number % CHECK_EVERY == 0:
                            await still_answers(core)
                    except Exception:
                        crashes.append(f"{describe(event)}:\n{traceback.format_exc()}")
                    took = time.perf_counter() - started
                    slowest = max(slowest, (took, describe(event)))
                    if failures:
                        crashes.extend(f"{describe(event)}: {record.getMessage()}" for record in failures)
                        failures.clear()
        finally:
            await core.close()
        seconds = time.perf_counter() - began
    print(f"events: {events:,} in {seconds:.0f} s ({events / seconds:,.0f} per second), seed {seed}")
    print(f"crashes: {len(crashes)}")
    for crash in crashes[:10]:
        print(f"  {crash}")
    print(f"slowest: {slowest[0] * 1000:.1f} ms, {slowest[1]}")
    ok = not crashes and (events < 100_000 or seconds * 100_000 / events < 600)
    print("result: ok" if ok else "result: BELOW TARGET")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=150_000, help="events to send (default 150,000)")
    parser.add_argument("--seed", type=int, default=1, help="the random seed (the same seed, the same events)")
    args = parser.parse_args()
    # The core logs each refused organiser command (a warning): only its failures matter here.
    configure_logging("ERROR")
    return asyncio.run(run(args.events, args.seed))


if __name__ == "__main__":
    sys.exit(main())
