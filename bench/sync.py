"""Benchmark the CRM sync: sign-ups with consent reaching a fake Action Network at its allowed pace.

Run from the repository root (about five minutes: 1,000 requests at 4 a second take over four):

    .venv/bin/python bench/sync.py                  # 1,000 sign-ups at once, then a steady minute
    .venv/bin/python bench/sync.py --people 200 --steady-seconds 30

Phase 1 (the backlog): N people sign the petition and agree to share at the same moment (through
the core's records: the signature, then the consent that queues the event). The sync engine sends
them to the fake Action Network (tests/fakes/crm.py), which allows 4 requests a second (a sliding
second, 429 + Retry-After beyond it) and answers after 50 ms. Phase 2 (once the backlog has cleared):
people sign at half the allowed rate for ``--steady-seconds``.

Figures:
- per phase: sign-ups delivered, the rate achieved, lag from agreeing to arrival (p50/p95/max);
- the most requests the fake saw in any sliding second, and the 429s the bot provoked (must be 0);
- delivered once: one signature per person at the fake, none posted twice, none lost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from fakes.crm import FakeActionNetwork  # noqa: E402

from bot.campaigns.petitions import Signer  # noqa: E402
from bot.content import BUNDLED_CONTENT, load  # noqa: E402
from bot.content.model import CrmSync  # noqa: E402
from bot.core.app import Core, build_services  # noqa: E402
from bot.core.config import Config, StorageConfig  # noqa: E402
from bot.sync.destinations import client  # noqa: E402
from bot.sync.engine import SyncEngine  # noqa: E402
from bot.sync.outbox import Question  # noqa: E402
from bot.sync.settings import ACTION_NETWORK, Destination, SyncConfig  # noqa: E402

PETITION = "un-decriminalise"
ALLOWED_PER_S = 4.0
TOKEN_ENV = "BENCH_AN_TOKEN"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def busiest_second(arrivals: list[float]) -> int:
    """The most arrivals in any sliding second."""
    ordered, most, first = sorted(arrivals), 0, 0
    for last, moment in enumerate(ordered):
        while moment - ordered[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


async def sign(core: Core, index: int, signed: dict[str, float]) -> None:
    email = f"person{index}@example.org"
    user = core.keyring.user_id("bench", str(index))
    await core.signatures.sign(PETITION, user, "bench", Signer("Ana Silva", email, "PT"), 1, core.clock())
    question = Question("an", 1, "en", "Share my name and e-mail with Bench so they can contact me?")
    await core.sync.share(user, PETITION, "bench-petition", question, True, core.clock())
    signed[email] = time.monotonic()


def lags(an: FakeActionNetwork, signed: dict[str, float]) -> list[float]:
    arrived = {s.email: s.arrived for s in an.signatures.values()}
    return [arrived[email] - moment for email, moment in signed.items() if email in arrived]


def report(name: str, an: FakeActionNetwork, signed: dict[str, float], seconds: float) -> None:
    delays = lags(an, signed)
    print(
        f"{name}: {len(delays)}/{len(signed)} delivered in {seconds:.1f} s ({len(delays) / seconds:.2f}/s); "
        f"lag p50 {statistics.median(delays):.1f} s, p95 {percentile(delays, 0.95):.1f} s, max {max(delays):.1f} s"
    )


async def until_delivered(an: FakeActionNetwork, count: int) -> None:
    while True:
        if len(an.signatures) >= count:
            return
        await asyncio.sleep(0.05)


async def main(people: int, steady_seconds: float) -> None:
    os.environ[TOKEN_ENV] = "bench-token"
    async with FakeActionNetwork(token="bench-token", per_second=ALLOWED_PER_S, delay=0.05) as an:
        destination = Destination(
            kind=ACTION_NETWORK, organisation="Bench", base_url=an.base_url, secret_env=TOKEN_ENV, per_second=4
        )
        with tempfile.TemporaryDirectory() as folder:
            os.environ.setdefault("ADVOCACY_BOT_SECRET_KEY", "22" * 32)
            config = Config(
                storage=StorageConfig(Path(folder) / "bench.sqlite3"),
                sync=SyncConfig(destinations={"an": destination}),
            )
            content = load(BUNDLED_CONTENT)
            petition = replace(content.campaigns.petitions[PETITION], sync=CrmSync("an", "bench-petition"))
            content = replace(content, campaigns=replace(content.campaigns, petitions={PETITION: petition}))
            core = await Core.open(config, services=build_services(config, content))
            engine = SyncEngine(
                core.store,
                core.keyring,
                core.clock,
                config.sync,
                {"an": client(destination, 20.0)},
                rng=random.Random(0),
            )
            stop = asyncio.Event()
            running = asyncio.create_task(engine.run(stop))
            try:
                backlog: dict[str, float] = {}
                start = time.monotonic()
                await asyncio.gather(*(sign(core, index, backlog) for index in range(people)))
                print(f"{people} sign-ups with consent recorded in {time.monotonic() - start:.1f} s")
                engine.wake.set()
                await until_delivered(an, people)
                report("backlog", an, backlog, time.monotonic() - start)
                steady: dict[str, float] = {}
                start = time.monotonic()
                index = people
                while time.monotonic() - start < steady_seconds:
                    await sign(core, index, steady)
                    engine.wake.set()
                    index += 1
                    await asyncio.sleep(1 / (ALLOWED_PER_S / 2))
                await until_delivered(an, index)
                report("steady, after the backlog", an, steady, time.monotonic() - start)
            finally:
                stop.set()
                await running
                await core.close()
        posts = sum(s.posts for s in an.signatures.values())
        arrivals = [s.arrived for s in an.signatures.values()]
        print(
            f"busiest second at the fake: {busiest_second(arrivals)} requests (allowed {ALLOWED_PER_S:.0f}); "
            f"429s provoked: {an.too_many}"
        )
        found = len(an.signatures)
        print(f"signatures at the fake: {found} for {index} people; twice: {posts - found}; lost: {index - found}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--steady-seconds", type=float, default=60.0)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.people, arguments.steady_seconds))
