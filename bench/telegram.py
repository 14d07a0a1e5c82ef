"""Benchmark the Telegram adapter against the local fake Bot API, beside a bare echo bot.

Run from the repository root:

    .venv/bin/python bench/telegram.py
    .venv/bin/python bench/telegram.py --updates 2000 --broadcast 5000 --limit 30

Throughput: ``--updates`` private messages ("what is naloxone", each from a different person) are
queued at once on the fake; the figure is updates handled per second, from the first getUpdates
that returns them to the last reply sent. Latency: one person at a time sends ``--latency-samples``
messages, each only after the previous reply, and the time from queueing the update to the reply
reaching the fake is taken (p50/p99; it includes the fake's long-poll wake-up). Both run for our
whole stack (python-telegram-bot, the adapter, the core with its SQLite store and answering) and
for a bare python-telegram-bot echo bot, in the same process and run, against the same fake, with
the fake's flood limits off (they would cap both at 30/s). Target: ours >= 80% of the echo bot's
throughput.

Broadcast: ``--broadcast`` subscribers get one message through the delivery engine and the
adapter's sender, with the fake enforcing Telegram's flood limits at ``--limit`` messages/s and the
engine configured for the same: 429s provoked (must be 0) and the achieved rate against the limit
(N / (first-to-last span + 1 s); target >= 90%).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# This file is bench/telegram.py: its own folder on the path would hide the telegram package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("PTB_TIMEDELTA", "true")
os.environ.setdefault("ADVOCACY_BOT_SECRET_KEY", "ef" * 32)

from fakes.telegram import FakeTelegram, FloodLimits, RateLimit, make_user, private_chat  # noqa: E402
from telegram import Update  # noqa: E402
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters  # noqa: E402

from adapters.telegram import TelegramAdapter  # noqa: E402
from bot.config import Config, DeliveryConfig, PlatformLimits, StorageConfig, TelegramConfig  # noqa: E402
from bot.core import Core, build_services  # noqa: E402
from bot.delivery import Engine, Scheduler  # noqa: E402
from bot.delivery.outbox import Outbox  # noqa: E402

QUESTION = "what is naloxone"

Start = Callable[[FakeTelegram], Awaitable[Callable[[], Awaitable[None]]]]


async def start_echo(tg: FakeTelegram) -> Callable[[], Awaitable[None]]:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_message is not None:
            await update.effective_message.reply_text(update.effective_message.text or "")

    app = ApplicationBuilder().token(tg.token).base_url(tg.base_url).concurrent_updates(64).build()
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


def ours(folder: Path) -> Start:
    async def start(tg: FakeTelegram) -> Callable[[], Awaitable[None]]:
        config = Config(
            storage=StorageConfig(folder / f"bench-{time.monotonic_ns()}.sqlite3"),
            telegram=TelegramConfig(enabled=True, base_url=tg.base_url),
        )
        core = await Core.open(config, services=build_services(config), create_key=False)
        adapter = TelegramAdapter(config, token=tg.token)
        stopping = asyncio.Event()
        task = asyncio.create_task(adapter.run(core, stopping))
        await adapter.ready()

        async def stop() -> None:
            stopping.set()
            await task
            await core.close()

        return stop

    return start


async def measure(start: Start, updates: int, samples: int) -> dict[str, float]:
    async with FakeTelegram(flood_limits=None) as tg:
        stop = await start(tg)
        try:
            users = [make_user(100_000 + i, f"U{i}") for i in range(updates)]
            begin = time.perf_counter()
            for user in users:
                tg.push_message(QUESTION, user=user)
            await tg.wait_for("sendMessage", count=updates, timeout=600)
            throughput = updates / (time.perf_counter() - begin)
            latencies = []
            person = make_user(99, "Solo")
            for index in range(samples):
                sent = time.perf_counter()
                tg.push_message(QUESTION, user=person)
                await tg.wait_for("sendMessage", lambda c: c.params.get("chat_id") == 99, count=index + 1)
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
        limits = PlatformLimits(limit, 1.0, 20.0)
        config = Config(
            storage=StorageConfig(folder / "broadcast.sqlite3"),
            telegram=TelegramConfig(enabled=True, base_url=tg.base_url),
            delivery=DeliveryConfig(window=max(25, int(limit)), telegram=limits),
        )
        core = await Core.open(config, services=build_services(config), create_key=False)
        adapter = TelegramAdapter(config, token=tg.token)
        stopping = asyncio.Event()
        task = asyncio.create_task(adapter.run(core, stopping))
        try:
            await adapter.ready()
            for index in range(recipients):
                user = make_user(500_000 + index, f"R{index}")
                tg.add_chat(private_chat(user))
                key = core.keyring.user_id("telegram", str(user["id"]))
                await core.records.subscribe(key, "telegram", "news", str(user["id"]), "en", core.clock())
            outbox = Outbox(core.store, core.keyring)
            now = core.clock()
            await outbox.create(
                kind="broadcast", topic="news", body="The day of action is in a week", send_at=now, now=now
            )
            await Scheduler(core, {}).tick()
            await Engine(core, adapter.sender(config)).run_once()
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
    with tempfile.TemporaryDirectory() as folder:
        echo = await measure(start_echo, args.updates, args.latency_samples)
        mine = await measure(ours(Path(folder)), args.updates, args.latency_samples)
        ratio = 100 * mine["updates_per_s"] / echo["updates_per_s"]
        print("throughput and latency (fake Bot API, flood limits off):")
        for name, figures in (("bare echo bot", echo), ("advocacy-bot", mine)):
            print(f"  {name:>14}: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
        print(f"  {'ours / echo':>14}: {ratio:.1f}% of the echo bot's throughput (target >= 80%)")
        sent = await broadcast(Path(folder), args.broadcast, args.limit)
        print(f"broadcast ({args.broadcast} recipients, fake enforcing {args.limit:.0f}/s):")
        for key, value in sent.items():
            print(f"  {key:>22}: {value}")
    return ratio >= 80 and sent["429s_provoked"] == 0 and sent["achieved_pct_of_limit"] >= 90


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--broadcast", type=int, default=5000)
    parser.add_argument("--limit", type=float, default=30.0)
    ok = asyncio.run(main_async(parser.parse_args()))
    print("result: ok" if ok else "result: BELOW TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
