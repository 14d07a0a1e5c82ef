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

Several instances (``--postgres --instances 3``): a throwaway PostgreSQL cluster (fsync and
synchronous commit on, as a server runs) and three bot processes, each with its own core. Each fills
in the forms of its share of the people, then all three are told to press "I agree" at once (timed:
people / (last confirmation in any process - first press)); then every person presses again twice,
through another process. Exactness is checked in the database: one signature per person, each
decrypting to the typed name, the tally equal to the people.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests"))

from bot.core.app import Core, build_services  # noqa: E402
from bot.core.config import Config, StorageConfig  # noqa: E402
from bot.port.events import ButtonPress, Chat, Event, User, parse_text  # noqa: E402
from bot.port.markup import plain  # noqa: E402

PETITION = "un-decriminalise"
PLEDGE = "carry-naloxone"
TARGET_PER_S = 1000.0
# Several instances on PostgreSQL, all together.
TARGET_POSTGRES_PER_S = 2000.0
KEY = "ab" * 32


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
    os.environ.setdefault("ADVOCACY_BOT_SECRET_KEY", KEY)
    config = Config(storage=StorageConfig(db_path))
    core = await Core.open(config, services=build_services(config))
    try:
        row = await core.store.row("PRAGMA synchronous")
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


def _server_config(url: str) -> Config:
    os.environ["ADVOCACY_BOT_SECRET_KEY"] = KEY
    return Config(storage=StorageConfig(url=url, data_dir=Path(tempfile.gettempdir())))


async def instance(url: str, share: range, others: range) -> None:
    """One bot process of several, driven through its standard input: "fill" fills in the forms of
    ``share``, "agree" presses "I agree" for them (timed), "again" presses twice for ``others``."""
    config = _server_config(url)
    core = await Core.open(config, services=build_services(config), create_key=False)
    loop = asyncio.get_running_loop()
    try:
        while command := (await loop.run_in_executor(None, sys.stdin.readline)).strip():
            result: dict[str, object] = {}
            if command == "fill":
                await asyncio.gather(*(fill_in(core, i) for i in share))
            elif command == "agree":
                done_at: list[float] = []
                pressed = time.time()
                outcomes = await asyncio.gather(*(agree(core, i, done_at) for i in share))
                ended = max(done_at) - time.perf_counter() + time.time()
                result = {
                    "pressed": pressed,
                    "ended": ended,
                    "thanked": sum(t[0].startswith("Thank you") for t in outcomes),
                }
            elif command == "again":
                replays = await asyncio.gather(*(agree(core, i, [], times=2) for i in others))
                result = {"thanked": sum(text.startswith("Thank you") for texts in replays for text in texts)}
            print(json.dumps(result), flush=True)
    finally:
        await core.close()


def several(people: int, instances: int) -> dict[str, float | int | bool]:
    from pgcluster import Cluster

    cluster = Cluster.start(durable=True)
    children: list[subprocess.Popen[str]] = []
    try:
        cluster.psql("CREATE DATABASE bench")
        url = cluster.url("bench")
        # Migrated once, before the processes start.
        asyncio.run(_check(url, 0))
        for n in range(instances):
            command = [sys.executable, __file__, "--instance", url, str(n), str(instances), str(people)]
            children.append(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))

        def each(command: str) -> list[dict[str, float]]:
            for child in children:
                assert child.stdin is not None
                child.stdin.write(command + "\n")
                child.stdin.flush()
            answers = []
            for child in children:
                assert child.stdout is not None
                answers.append(json.loads(child.stdout.readline()))
            return answers

        each("fill")
        agreed = each("agree")
        again = each("again")
        for child in children:
            assert child.stdin is not None
            child.stdin.close()
            child.wait()
        count, names, tally = asyncio.run(_check(url, people))
    finally:
        for child in children:
            child.kill()
            child.wait()
        cluster.stop()
    window = max(a["ended"] for a in agreed) - min(a["pressed"] for a in agreed)
    return {
        "people": people,
        "instances": instances,
        "signatures": count,
        "tally": tally,
        "exact": count == tally == people and names == sorted(name_of(i) for i in range(people)),
        "thanked_once_each": sum(int(a["thanked"]) for a in agreed) == people
        and sum(int(a["thanked"]) for a in again) == 0,
        "signups_per_s": people / window,
    }


async def _check(url: str, people: int) -> tuple[int, list[str], int]:
    """The signatures stored (decrypted names) and the petition's tally."""
    config = _server_config(url)
    core = await Core.open(config, services=build_services(config), create_key=False)
    try:
        signatures = await core.signatures.signatures(PETITION)
        tally = await core.signatures.signature_count(PETITION)
        return len(signatures), sorted(s.signer.name for s in signatures), tally
    finally:
        await core.close()


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--instance":
        url, number, instances, people = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        share = range(number, people, instances)
        others = range((number + 1) % instances, people, instances)
        asyncio.run(instance(url, share, others))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--postgres", action="store_true", help="several instances on a throwaway PostgreSQL")
    parser.add_argument("--instances", type=int, default=3, help="bot processes, with --postgres")
    args = parser.parse_args()
    if args.postgres:
        several_figures = several(args.people, args.instances)
        for key, value in several_figures.items():
            print(f"{key:>24}: {value:.1f}" if isinstance(value, float) else f"{key:>24}: {value}")
        fine = (
            several_figures["exact"]
            and several_figures["thanked_once_each"]
            and float(several_figures["signups_per_s"]) >= TARGET_POSTGRES_PER_S
        )
        verdict = "ok" if fine else "BELOW TARGET OR INEXACT"
        print(f"{'result':>24}: {verdict} (target {TARGET_POSTGRES_PER_S:.0f}/s in all, exact counts)")
        return 0 if fine else 1
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
