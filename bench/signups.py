"""Benchmark sign-ups and pledges under load: N people at once, through the whole core.

Run from the repository root:

    .venv/bin/python bench/signups.py               # 1,000 people
    .venv/bin/python bench/signups.py --people 5000

Each simulated person is a coroutine that drives ``Core.handle`` exactly as an adapter would.
Phase 1: everyone at once fills in the form (/sign, name, e-mail, country: four events each, each
answer saved in the store). Phase 2 (timed sign-ups): everyone presses "I agree" at the same
moment. A reply to "I agree" is produced only after its signature is committed (SQLite in WAL
mode, synchronous=FULL: an fsync per commit, grouped across concurrent writers). Phase 3 (not
timed): everyone presses "I agree" twice more at once, as a double tap or a replayed old button
would; nothing may be counted again. Phase 4 (timed pledges): the same people each take one
pledge at the same moment; then (not timed) twice more at once, which must not count.

Figures:
- "form_events_per_s": phase-1 events handled per second (each one a durable write).
- "signups_per_s": phase 2, people / (last confirmation - first press): durable sign-ups per second.
- "pledges_per_s": phase 3 likewise.
- exactness: signatures in the database == people, each decrypts to the name that was typed,
  every person thanked exactly once (the double tap gets "already"/"expired"), pledge count exact.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.core.app import Core, build_services  # noqa: E402
from bot.core.config import Config, StorageConfig  # noqa: E402
from bot.port.events import ButtonPress, Chat, Event, User, parse_text  # noqa: E402
from bot.port.markup import plain  # noqa: E402

PETITION = "un-decriminalise"
PLEDGE = "carry-naloxone"
TARGET_PER_S = 1000.0


def name_of(index: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    tag = "".join(letters[(index // 26**k) % 26] for k in range(3))
    return f"Person {tag.capitalize()}"


def who(index: int) -> tuple[User, Chat]:
    return User("bench", str(index)), Chat(f"bench:{index}")


async def fill_in(core: Core, index: int) -> None:
    user, chat = who(index)
    for text in ("/sign", name_of(index), f"person{index}@example.org", "PT"):
        await core.handle(Event(user, chat, parse_text(text)))


async def agree(core: Core, index: int, done_at: list[float], times: int = 1) -> list[str]:
    user, chat = who(index)
    press = Event(user, chat, ButtonPress(f"sign-consent:{PETITION}:1"))
    replies = await asyncio.gather(*(core.handle(press) for _ in range(times)))
    done_at.append(time.perf_counter())
    return [plain(outcome.replies[0].text) for outcome in replies]


async def pledger(core: Core, index: int, times: int = 1) -> list[str]:
    event = Event(*who(index), ButtonPress(f"pledge-take:{PLEDGE}"))
    replies = await asyncio.gather(*(core.handle(event) for _ in range(times)))
    return [plain(outcome.replies[0].text) for outcome in replies]


async def run(people: int, db_path: Path) -> dict[str, float | int | bool]:
    os.environ.setdefault("ADVOCACY_BOT_SECRET_KEY", "ab" * 32)
    config = Config(storage=StorageConfig(db_path))
    core = await Core.open(config, services=build_services(config))
    try:
        async with core.store.db.execute("PRAGMA synchronous") as cursor:
            row = await cursor.fetchone()
        # PRAGMA synchronous always answers one row.
        assert row is not None
        synchronous = row[0]
        started = time.perf_counter()
        await asyncio.gather(*(fill_in(core, i) for i in range(people)))
        filled = time.perf_counter()
        done_at: list[float] = []
        pressed = time.perf_counter()
        outcomes = await asyncio.gather(*(agree(core, i, done_at) for i in range(people)))
        signing_window = max(done_at) - pressed
        replays = await asyncio.gather(*(agree(core, i, [], times=2) for i in range(people)))
        signatures = await core.signatures.signatures(PETITION)

        pledge_started = time.perf_counter()
        pledge_outcomes = await asyncio.gather(*(pledger(core, i) for i in range(people)))
        pledge_finished = time.perf_counter()
        pledge_outcomes += await asyncio.gather(*(pledger(core, i, times=2) for i in range(people)))
        pledge_count = (await core.pledges.pledge_counts()).get(PLEDGE, 0)
    finally:
        await core.close()

    once = all(texts[0].startswith("Thank you") for texts in outcomes)
    replayed = [text for texts in replays for text in texts]
    not_again = all(not text.startswith("Thank you") for text in replayed)
    names = sorted(s.signer.name for s in signatures)
    pledges_new = sum(sum(t.startswith("Thank you") for t in texts) for texts in pledge_outcomes)
    return {
        "people": people,
        "synchronous_full": synchronous == 2,
        "signatures": len(signatures),
        "exact": len(signatures) == people and names == sorted(name_of(i) for i in range(people)),
        "thanked_once_each": once and not_again,
        "form_events_per_s": 4 * people / (filled - started),
        "signups_per_s": people / signing_window,
        "confirmation_p50_ms": statistics.median(d - pressed for d in done_at) * 1000,
        "pledges": pledge_count,
        "pledges_exact": pledge_count == people and pledges_new == people,
        "pledges_per_s": people / (pledge_finished - pledge_started),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        figures = asyncio.run(run(args.people, Path(folder) / "bench.sqlite3"))
    for key, value in figures.items():
        print(f"{key:>24}: {value:.1f}" if isinstance(value, float) else f"{key:>24}: {value}")
    ok = (
        figures["exact"]
        and figures["thanked_once_each"]
        and figures["pledges_exact"]
        and float(figures["signups_per_s"]) >= TARGET_PER_S
        and float(figures["pledges_per_s"]) >= TARGET_PER_S
    )
    print(f"{'result':>24}: {'ok' if ok else 'BELOW TARGET OR INEXACT'} (target {TARGET_PER_S:.0f}/s, exact counts)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
