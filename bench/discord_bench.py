"""Benchmark the Discord adapter against the local fake Discord (tests/fakes/discord.py).

Run from the repository root (about five minutes with the defaults, two of them the paced broadcast):

    .venv/bin/python bench/discord_bench.py
    .venv/bin/python bench/discord_bench.py --interactions 1000 --rounds 1 --dms 500

Interactions: slash commands from a pool of people in their DMs, ``--concurrency`` in flight: /topics
(a menu of buttons) and /ask (an answer from the knowledge base, with sources and buttons). Each goes
to a bare discord.py handler that answers with the very messages the whole stack sends for it (made
beforehand), and to the whole stack (the adapter, the core, SQLite): the difference is what the stack
adds. Handlers take turns for ``--rounds`` rounds, each on a fresh fake of the same kind (the fake's
records grow with every call and would slow down whoever runs later); throughput is the median
round's, latency (the fake dispatching the interaction to it receiving the answer) is over every
round. Target: the whole stack at 80% or more of the bare handler. The core's own time per command,
without Discord, is printed beside the stack's extra time.

Broadcast: ``--dms`` people subscribe with /subscribe in their DMs (through the whole stack), then a
broadcast to them goes through the real delivery engine and the adapter's sender, configured with
the platform's own limit (``--limit``, Discord's global 50 requests/s, which the fake enforces): the
broadcast must provoke no 429, deliver every message, and reach 95% of the limit or more.

``--busy`` keeps every core busy with other processes while all of it runs (``bench/load.py``);
``--broadcast-only`` skips the interactions.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests"))

import discord  # noqa: E402
import discord.gateway  # noqa: E402
import discord.http  # noqa: E402
import yarl  # noqa: E402
from discord import app_commands  # noqa: E402
from fakes.discord import FakeDiscord  # noqa: E402

from adapters.discord import DiscordConfig  # noqa: E402
from adapters.discord.adapter import DiscordAdapter, Timings  # noqa: E402
from adapters.discord.delivery import PLATFORM  # noqa: E402
from adapters.discord.render import Outgoing, compact, render  # noqa: E402
from bench.load import busy_cores  # noqa: E402
from bot.core.app import Core  # noqa: E402
from bot.core.config import Config, StorageConfig  # noqa: E402
from bot.delivery import Engine  # noqa: E402
from bot.delivery.outbox import Outbox  # noqa: E402
from bot.delivery.settings import DeliveryConfig  # noqa: E402
from bot.operations.logs import configure_logging  # noqa: E402
from bot.port.delivery import PlatformLimits  # noqa: E402
from bot.port.events import Chat, Command, Event, User  # noqa: E402

TOKEN = "bench-token"
KEY = "be" * 32
QUESTIONS = (
    "how does naloxone work",
    "what are fentanyl test strips",
    "where can I get tested for hepatitis c",
    "is it safe to use alone",
    "what did portugal decriminalise",
    "how do I know if someone is overdosing",
)
PEOPLE = 200
COMMANDS = ("topics", "ask")
# The whole stack's throughput against the bare handler's.
TARGET = 0.8
FAST = Timings(guild_ready_timeout=0.05, wait_before_reidentify=False)


@dataclass(frozen=True)
class Figures:
    """Interactions per second of each round, and every interaction's latency."""

    rates: tuple[float, ...]
    latencies_ms: tuple[float, ...]

    @property
    def per_second(self) -> float:
        # The median round: the machine may be busy with something else during one of them.
        return statistics.median(self.rates)

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    def __add__(self, other: Figures) -> Figures:
        return Figures(self.rates + other.rates, self.latencies_ms + other.latencies_ms)


NO_FIGURES = Figures((), ())


Answers = dict[tuple[str, str], list[Outgoing]]


class BareBot(discord.Client):
    """discord.py alone, answering each command with the messages the whole stack sends for it, made
    beforehand: what the stack adds (the core's work, rendering, state) is all the difference."""

    def __init__(self, answers: Answers) -> None:
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.05)
        self.ready = asyncio.Event()
        self.tree: app_commands.CommandTree[BareBot] = app_commands.CommandTree(self)

        async def send(interaction: discord.Interaction[BareBot], messages: list[Outgoing]) -> None:
            await interaction.response.send_message(**messages[0].kwargs())
            for message in messages[1:]:
                await interaction.followup.send(**message.kwargs())

        @self.tree.command(name="ask", description="Ask a question")
        async def ask(interaction: discord.Interaction[BareBot], question: str) -> None:
            await send(interaction, answers["ask", question])

        @self.tree.command(name="topics", description="Browse the topics")
        async def topics(interaction: discord.Interaction[BareBot]) -> None:
            await send(interaction, answers["topics", ""])

    async def setup_hook(self) -> None:
        await self.tree.sync()

    async def on_ready(self) -> None:
        self.ready.set()


async def closed_loop(
    fake: FakeDiscord, count: int, concurrency: int, command: Iterator[tuple[str, dict[str, Any], int]]
) -> Figures:
    """``count`` interactions, ``concurrency`` in flight; each answer's time as the fake recorded it."""
    loop = asyncio.get_running_loop()
    waiting: dict[str, asyncio.Future[float]] = {}
    arrived: dict[str, float] = {}
    latencies: list[float] = []
    remaining = itertools.count()
    stop_watching = asyncio.Event()

    async def watch() -> None:
        # Reads the fake's record of calls as they come (waiting on a predicate per call would cost the
        # event loop, shared with the bot, more than the bot's own work).
        seen = len(fake.calls)
        while not stop_watching.is_set():
            calls = fake.calls
            for call in calls[seen:]:
                if call.path.endswith("/callback") and call.status < 300:
                    future = waiting.pop(call.path, None)
                    if future is None:
                        arrived[call.path] = call.at
                    else:
                        future.set_result(call.at)
            seen = len(calls)
            await asyncio.sleep(0.0005)

    async def worker() -> None:
        while next(remaining) < count:
            name, options, user = next(command)
            started = time.monotonic()
            ref = await fake.slash_command(name, options, user_id=user)
            path = f"/interactions/{ref.id}/{ref.token}/callback"
            if path in arrived:
                answered = arrived.pop(path)
            else:
                waiting[path] = loop.create_future()
                answered = await asyncio.wait_for(waiting[path], 10)
            latencies.append((answered - started) * 1000)

    watcher = asyncio.create_task(watch())
    began = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.monotonic() - began
    stop_watching.set()
    await watcher
    return Figures((count / seconds,), tuple(latencies))


def commands(name: str, users: list[int]) -> Iterator[tuple[str, dict[str, Any], int]]:
    """/ask with a question (the core answers from the knowledge base), or /topics (a menu of buttons)."""
    for question, user in zip(itertools.cycle(QUESTIONS), itertools.cycle(users), strict=False):
        yield name, ({"question": question} if name == "ask" else {}), user


def subscriptions(users: list[int]) -> Iterator[tuple[str, dict[str, Any], int]]:
    for user in users:
        yield "subscribe", {"topic": "news"}, user


async def prepare(config: Config, count: int) -> tuple[Answers, dict[str, float]]:
    """The messages the whole stack sends for each command of the run (made with the core and the
    adapter), and the milliseconds the core alone takes to handle each command, without Discord."""
    core = await Core.open(config)
    made: Answers = {}
    alone: dict[str, float] = {}
    try:
        for name in COMMANDS:
            for argument in QUESTIONS if name == "ask" else ("",):
                replies = (
                    await core.handle(Event(User(PLATFORM, "bench", "en-US"), Chat("bench"), Command(name, argument)))
                ).replies
                made[name, argument] = compact([message for reply in replies for message in render(reply)])
            started = time.perf_counter()
            for number, (_, options, _) in zip(range(count), commands(name, list(range(PEOPLE))), strict=False):
                user = User(PLATFORM, f"alone-{number % PEOPLE}", "en-US")
                event = Event(user, Chat(user.id), Command(name, str(options.get("question", ""))))
                await core.handle(event)
            alone[name] = (time.perf_counter() - started) / count * 1000
    finally:
        await core.close()
    return made, alone


@asynccontextmanager
async def fresh_fake() -> AsyncIterator[tuple[FakeDiscord, list[int]]]:
    """A new fake for each run: its records (and some of its lookups) grow with every interaction, which
    would slow down whichever handler runs later. Yields it and the people who use the bot."""
    async with FakeDiscord(token=TOKEN) as fake:
        # The adapter points discord.py at the fake when it starts; the bare client needs it done here.
        discord.http.Route.BASE = fake.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
        yield fake, [fake.add_user(f"person{n}") for n in range(PEOPLE)]


def stack_config(fake: FakeDiscord, folder: Path, limit: float = 40.0) -> Config:
    return Config(
        storage=StorageConfig(folder / "bench.sqlite3"),
        platforms={"discord": DiscordConfig(enabled=True, api_base=fake.api_base, gateway_url=fake.gateway_url)},
        delivery=DeliveryConfig(window=max(25, int(limit)), limits={"discord": PlatformLimits(limit)}),
    )


@asynccontextmanager
async def bare(made: Answers) -> AsyncIterator[tuple[FakeDiscord, list[int]]]:
    async with fresh_fake() as (fake, people):
        client = BareBot(made)
        task = asyncio.create_task(client.start(TOKEN))
        await asyncio.wait_for(client.ready.wait(), 30)
        try:
            yield fake, people
        finally:
            await client.close()
            await task


@asynccontextmanager
async def whole_stack(
    folder: Path, limit: float = 40.0
) -> AsyncIterator[tuple[FakeDiscord, list[int], Core, DiscordAdapter]]:
    """The adapter and a core, on a new store in ``folder``, serving a fresh fake (delivering at ``limit``/s)."""
    async with fresh_fake() as (fake, people):
        config = stack_config(fake, folder, limit)
        core = await Core.open(config)
        # As bot.operations.serving.serve does once the core is open.
        gc.collect()
        gc.freeze()
        adapter = DiscordAdapter(config.section("discord"), config.limits("discord"), TOKEN, FAST)
        stop = asyncio.Event()
        task = asyncio.create_task(adapter.run(core, stop))
        await asyncio.wait_for(adapter.ready.wait(), 30)
        try:
            yield fake, people, core, adapter
        finally:
            stop.set()
            await task
            await core.close()


async def measured(fake: FakeDiscord, people: list[int], name: str, count: int, concurrency: int) -> Figures:
    await closed_loop(fake, concurrency * 20, concurrency, commands(name, people))  # warm-up
    return await closed_loop(fake, count, concurrency, commands(name, people))


def most_in_a_second(times: list[float]) -> int:
    best, start = 0, 0
    for end, moment in enumerate(times):
        while times[start] <= moment - 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


async def broadcast(fake: FakeDiscord, core: Core, adapter: DiscordAdapter, dms: int) -> dict[str, Any]:
    now = core.clock()
    outbox = Outbox(core.store, core.keyring)
    broadcast_id = await outbox.create(
        kind="broadcast", topic="news", body="**Bench** broadcast to every subscriber", send_at=now, now=now
    )
    assert broadcast_id is not None
    queued = await outbox.get(broadcast_id)
    assert queued is not None
    recipients = await outbox.start(queued, now)
    before = len(fake.calls)
    engine = Engine(core, adapter.sender())
    began = time.monotonic()
    while await engine.run_once():
        pass
    seconds = time.monotonic() - began
    sends = [call for call in fake.calls[before:] if call.route == "POST /channels/{channel_id}/messages"]
    times = sorted(call.at for call in sends if call.status == 200)
    return {
        "recipients": recipients,
        "delivered": len(times),
        "seconds": seconds,
        # As bench/broadcast.py: the last send's second counts.
        "rate": len(times) / (times[-1] - times[0] + 1.0) if times else 0.0,
        "most in a second": most_in_a_second(times),
        "429s": sum(call.status == 429 for call in sends),
        "violations": len(fake.rate_limit_violations),
        "limit": core.config.limits("discord").per_second,
    }


def report_interactions(results: dict[str, tuple[Figures, Figures]], alone: dict[str, float], concurrency: int) -> bool:
    """Print the figures of each command; whether every one met the target."""
    met = True
    for name, (bare_figures, stack) in results.items():
        print(f"/{name} in DMs, {concurrency} in flight, {len(stack.latencies_ms)} each")
        print(f"  {'':<18}{'per second':>12}{'p50 ms':>10}{'p99 ms':>10}")
        for label, figures in (("bare discord.py", bare_figures), ("whole stack", stack)):
            p50, p99 = figures.percentile(0.50), figures.percentile(0.99)
            print(f"  {label:<18}{figures.per_second:>12.0f}{p50:>10.2f}{p99:>10.2f}")
        share = stack.per_second / bare_figures.per_second
        met = met and share >= TARGET
        print(f"  whole stack / bare: {share:.0%} ({'meets' if share >= TARGET else 'MISSES'} the {TARGET:.0%} target)")
        extra = 1000 / stack.per_second - 1000 / bare_figures.per_second
        print(f"  the stack's extra time per interaction: {extra:.2f} ms; the core alone: {alone[name]:.2f} ms")
    return met


async def interactions_met(folder: Path, interactions: int, concurrency: int, rounds: int) -> bool:
    made, alone = await prepare(Config(storage=StorageConfig(folder / "prepare.sqlite3")), interactions)
    bare_figures = dict.fromkeys(COMMANDS, NO_FIGURES)
    stack_figures = dict.fromkeys(COMMANDS, NO_FIGURES)
    # Rounds taking turns, so that whatever else the machine does weighs on both alike.
    for round_number in range(rounds):
        for name in COMMANDS:
            async with bare(made) as (fake, people):
                bare_figures[name] += await measured(fake, people, name, interactions, concurrency)
            async with whole_stack(folder / f"{name}-{round_number}") as (fake, people, _, _):
                stack_figures[name] += await measured(fake, people, name, interactions, concurrency)
    results = {name: (bare_figures[name], stack_figures[name]) for name in COMMANDS}
    return report_interactions(results, alone, concurrency)


async def run(args: argparse.Namespace) -> int:
    concurrency, dms = args.concurrency, args.dms
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        met = args.broadcast_only or await interactions_met(folder, args.interactions, concurrency, args.rounds)
        async with whole_stack(folder / "broadcast", args.limit) as (fake, _, core, adapter):
            subscribers = [fake.add_user(f"reader{n}") for n in range(dms)]
            joined = await closed_loop(fake, dms, concurrency, subscriptions(subscribers))
            print(
                f"\n/subscribe through the whole stack: {joined.per_second:.0f} per second, "
                f"p50 {joined.percentile(0.5):.2f} ms, p99 {joined.percentile(0.99):.2f} ms"
            )
            figures = await broadcast(fake, core, adapter, dms)
    print(f"\nBroadcast to {figures['recipients']:,} DMs at {figures['limit']:.0f}/s")
    print(f"  delivered {figures['delivered']:,} in {figures['seconds']:.1f} s: {figures['rate']:.1f}/s")
    print(f"  most sends in any second: {figures['most in a second']}")
    print(f"  429s: {figures['429s']}, global-limit violations at the fake: {figures['violations']}")
    share = figures["rate"] / figures["limit"]
    print(f"  {share:.1%} of the limit (target >= 95%)")
    ok = (
        met
        and figures["delivered"] == figures["recipients"] == dms
        and figures["429s"] == 0
        and figures["violations"] == 0
        and share >= 0.95
    )
    print("result: ok" if ok else "result: BELOW TARGET")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interactions", type=int, default=2000, help="interactions per round (default 2000)")
    parser.add_argument("--concurrency", type=int, default=8, help="interactions in flight (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="turns of each handler (default 3)")
    parser.add_argument("--dms", type=int, default=5000, help="subscribers the broadcast goes to (default 5000)")
    parser.add_argument("--limit", type=float, default=50.0, help="messages per second, as the fake allows (50)")
    parser.add_argument("--busy", action="store_true", help="keep every core busy with other processes meanwhile")
    parser.add_argument("--broadcast-only", action="store_true", help="only the subscriptions and the broadcast")
    args = parser.parse_args()
    os.environ.setdefault("ADVOCACY_BOT_SECRET_KEY", KEY)
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    configure_logging("WARNING")
    # The fake's own warnings about the application being public, and discord.py's about voice.
    logging.getLogger("adapters.discord.adapter").setLevel(logging.ERROR)
    logging.getLogger("discord").setLevel(logging.ERROR)
    if not args.busy:
        return asyncio.run(run(args))
    with busy_cores() as count:
        print(f"--busy: {count} processes keep every core busy")
        return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
