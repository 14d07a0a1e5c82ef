"""Benchmark the Telegram adapter against the local fake Bot API, beside a bare echo bot.

Run from the repository root:

    .venv/bin/python bench/telegram_bench.py
    .venv/bin/python bench/telegram_bench.py --updates 2000 --broadcast 5000 --limit 30

Throughput: ``--updates`` private messages ("what is naloxone", each from a different person) are
queued at once on the fake; the figure is updates handled per second, from queueing them to the
last reply sent. The fake runs in a process of its own (as Telegram is not in the bot's process).
Latency: one person at a time sends ``--latency-samples`` messages, each only after the previous
reply, and the time from queueing the update to the reply reaching the fake is taken (p50/p99; it
includes the fake's long-poll wake-up). Both run for our whole stack (python-telegram-bot, the
adapter, the core with its SQLite store and answering; at each ``--concurrency``) and for a bare
python-telegram-bot echo bot with the library's defaults, in the same run, against the same fake,
with the fake's flood limits off (they would cap both at 30/s). Target: ours >= 80% of the echo
bot's throughput.

Broadcast: ``--broadcast`` subscribers get one message through the delivery engine and the
adapter's sender, with the fake enforcing Telegram's flood limits at ``--limit`` messages/s and the
engine configured for the same: 429s provoked (must be 0) and the achieved rate against the limit
(N / (first-to-last span + 1 s); target >= 95%). ``--busy`` keeps every core busy with other
processes while all of it runs (``bench/load.py``): the bot gets the CPU in slices, and pacing must
still provoke no 429. ``--broadcast-only`` skips the throughput part.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("PTB_TIMEDELTA", "true")
os.environ.setdefault("ADVOCACY_BOT_SECRET_KEY", "ef" * 32)

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from fakes.telegram import DEFAULT_TOKEN, FakeTelegram, FloodLimits, RateLimit, make_user, private_chat  # noqa: E402
from telegram import Update  # noqa: E402
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters  # noqa: E402

from adapters.telegram import TelegramConfig  # noqa: E402
from adapters.telegram.adapter import TelegramAdapter  # noqa: E402
from bench.load import busy_cores  # noqa: E402
from bot.core.app import Core, build_services  # noqa: E402
from bot.core.config import Config, StorageConfig  # noqa: E402
from bot.delivery import Engine, Scheduler  # noqa: E402
from bot.delivery.outbox import Outbox  # noqa: E402
from bot.delivery.settings import DeliveryConfig  # noqa: E402
from bot.port.delivery import PlatformLimits  # noqa: E402

QUESTION = "what is naloxone"

Start = Callable[[str, str], Awaitable[Callable[[], Awaitable[None]]]]


async def start_echo(base_url: str, token: str) -> Callable[[], Awaitable[None]]:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message is not None:
            await update.effective_message.reply_text(update.effective_message.text or "")

    app = ApplicationBuilder().token(token).base_url(base_url).concurrent_updates(64).build()
    app.add_handler(MessageHandler(filters.TEXT, echo))
    await app.initialize()
    assert app.updater is not None
    await app.updater.start_polling(timeout=1)
    await app.start()

    async def stop() -> None:
        assert app.updater is not None
        await app.updater.stop()
        await app.stop()
        await app.shutdown()

    return stop


def ours(folder: Path, concurrency: int) -> Start:
    async def start(base_url: str, token: str) -> Callable[[], Awaitable[None]]:
        config = Config(
            storage=StorageConfig(folder / f"bench-{time.monotonic_ns()}.sqlite3"),
            platforms={"telegram": TelegramConfig(enabled=True, base_url=base_url, concurrent_updates=concurrency)},
        )
        core = await Core.open(config, services=build_services(config), create_key=False)
        # As bot.operations.serving.serve does once the core is open.
        gc.collect()
        gc.freeze()
        adapter = TelegramAdapter(config.section("telegram"), config.limits("telegram"), token=token)
        stopping = asyncio.Event()
        task = asyncio.create_task(adapter.run(core, stopping))
        await adapter.ready()

        async def stop() -> None:
            stopping.set()
            await task
            await core.close()

        return stop

    return start


class RemoteFake:
    """The fake Bot API in a process of its own, so that its work (parsing HTML, say) is not
    counted against the bot being measured, as Telegram's servers are not; driven over HTTP."""

    def __init__(self) -> None:
        self.process: asyncio.subprocess.Process | None = None
        self.base_url = ""
        self._control = ""
        self.token = DEFAULT_TOKEN

    async def __aenter__(self) -> RemoteFake:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--serve-fake", stdout=asyncio.subprocess.PIPE
        )
        assert self.process.stdout is not None
        line = (await self.process.stdout.readline()).decode().split()
        self.base_url, self._control = line[0], line[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        await self.process.wait()

    async def call(self, path: str, **params: Any) -> Any:
        async with aiohttp.ClientSession() as session, session.post(f"{self._control}/{path}", json=params) as reply:
            return await reply.json()


async def serve_fake() -> None:
    """Child process: the fake (flood limits off) plus a control API for the parent."""
    async with FakeTelegram(flood_limits=None) as tg:

        async def push(request: web.Request) -> web.Response:
            body = await request.json()
            for index in range(body["first"], body["first"] + body["count"]):
                tg.push_message(QUESTION, user=make_user(index, f"U{index}"))
            return web.json_response({})

        async def wait(request: web.Request) -> web.Response:
            body = await request.json()
            await tg.wait_for("sendMessage", count=body["count"], timeout=600)
            return web.json_response({})

        app = web.Application()
        app.router.add_post("/push", push)
        app.router.add_post("/wait", wait)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(tg.base_url, f"http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
        await asyncio.Event().wait()


async def measure(start: Start, updates: int, samples: int) -> dict[str, float]:
    async with RemoteFake() as fake:
        stop = await start(fake.base_url, fake.token)
        try:
            begin = time.perf_counter()
            await fake.call("push", first=100_000, count=updates)
            await fake.call("wait", count=updates)
            throughput = updates / (time.perf_counter() - begin)
            latencies = []
            for index in range(samples):
                sent = time.perf_counter()
                await fake.call("push", first=99, count=1)
                await fake.call("wait", count=updates + index + 1)
                latencies.append((time.perf_counter() - sent) * 1000)
        finally:
            await stop()
    latencies.sort()
    return {
        "updates_per_s": round(throughput, 1),
        "latency_p50_ms": round(statistics.median(latencies), 2),
        "latency_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
    }


async def broadcast(folder: Path, recipients: int, limit: float) -> dict[str, Any]:
    flood = FloodLimits(overall=RateLimit(int(limit), 1.0))
    async with FakeTelegram(flood_limits=flood) as tg:
        # The engine is configured with the platform's own limit: its pacer counts each message until
        # a second after its response, so however late requests reach the server, none is refused.
        limits = PlatformLimits(limit, 1.0, 20.0)
        config = Config(
            storage=StorageConfig(folder / "broadcast.sqlite3"),
            platforms={"telegram": TelegramConfig(enabled=True, base_url=tg.base_url)},
            delivery=DeliveryConfig(window=max(25, int(limit)), limits={"telegram": limits}),
        )
        core = await Core.open(config, services=build_services(config), create_key=False)
        adapter = TelegramAdapter(config.section("telegram"), config.limits("telegram"), token=tg.token)
        stopping = asyncio.Event()
        task = asyncio.create_task(adapter.run(core, stopping))
        try:
            await adapter.ready()
            for index in range(recipients):
                user = make_user(500_000 + index, f"R{index}")
                tg.add_chat(private_chat(user))
                key = core.keyring.user_id("telegram", str(user["id"]))
                await core.subscriptions.subscribe(key, "telegram", "news", str(user["id"]), "en", core.clock())
            outbox = Outbox(core.store, core.keyring)
            now = core.clock()
            await outbox.create(
                kind="broadcast", topic="news", body="The day of action is in a week", send_at=now, now=now
            )
            await Scheduler(core, {}).tick()
            await Engine(core, adapter.sender()).run_once()
            times = [call.time for call in tg.calls_to("sendMessage") if call.status == 200]
            rejected = [call for call in tg.calls_to("sendMessage") if call.status == 429]
        finally:
            stopping.set()
            await task
            await core.close()
    span = max(times) - min(times)
    return {
        "messages": len(times),
        "limit_per_s": limit,
        "achieved_per_s": round(len(times) / (span + 1.0), 1),
        "achieved_pct_of_limit": round(100 * len(times) / (span + 1.0) / limit, 1),
        "429s_provoked": len(rejected),
        "flood_violations": len(tg.flood_violations),
    }


async def main_async(args: argparse.Namespace) -> bool:
    ratio = 100.0
    with tempfile.TemporaryDirectory() as folder:
        if not args.broadcast_only:
            echo = await measure(start_echo, args.updates, args.latency_samples)
            print("throughput and latency (fake Bot API in its own process, flood limits off):")
            print("  bare echo bot (python-telegram-bot defaults): " + ", ".join(f"{k} {v}" for k, v in echo.items()))
            ratio = 0.0
            for concurrency in args.concurrency:
                mine = await measure(ours(Path(folder), concurrency), args.updates, args.latency_samples)
                share = 100 * mine["updates_per_s"] / echo["updates_per_s"]
                ratio = max(ratio, share)
                figures = ", ".join(f"{k} {v}" for k, v in mine.items())
                print(f"  advocacy-bot, concurrent_updates={concurrency}: {figures} ({share:.1f}% of the echo bot)")
            print(f"  best: {ratio:.1f}% of the echo bot's throughput (target >= 80%)")
        sent = await broadcast(Path(folder), args.broadcast, args.limit)
        print(f"broadcast ({args.broadcast} recipients, fake enforcing {args.limit:.0f}/s):")
        for key, value in sent.items():
            print(f"  {key:>22}: {value}")
    return ratio >= 80 and sent["429s_provoked"] == 0 and sent["achieved_pct_of_limit"] >= 95


def main() -> int:
    if sys.argv[1:] == ["--serve-fake"]:
        asyncio.run(serve_fake())
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--broadcast", type=int, default=5000)
    parser.add_argument("--limit", type=float, default=30.0)
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[4, 32], help="telegram.concurrent_updates values to measure"
    )
    parser.add_argument("--busy", action="store_true", help="keep every core busy with other processes meanwhile")
    parser.add_argument("--broadcast-only", action="store_true", help="only the paced broadcast")
    args = parser.parse_args()
    if args.busy:
        with busy_cores() as count:
            print(f"--busy: {count} processes keep every core busy")
            ok = asyncio.run(main_async(args))
    else:
        ok = asyncio.run(main_async(args))
    print("result: ok" if ok else "result: BELOW TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
