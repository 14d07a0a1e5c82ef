"""Benchmark broadcast delivery: fan-out pace and memory, and a kill -9 halfway through.

Run from the repository root:

    .venv/bin/python bench/broadcast.py                  # 20,000 subscribers at 1,000 messages/s
    .venv/bin/python bench/broadcast.py --subscribers 5000 --rate 500

Fan-out: a broadcast to N subscribers goes through the real engine (outbox in SQLite, pacing,
outcome records) to an in-process sender configured for a limit of ``--rate`` messages/s, which
notes the time of every send. Figures:
- achieved rate against the limit: N / (time from first to last send + 1 s); the last send's
  second counts, since a sliding-window limiter sends a second's worth at once and
  N / (last - first) would flatter it by one second;
- the most sends in any sliding second (must not exceed the limit), duplicates and omissions;
- RSS sampled as the fan-out progresses: its peak, and its growth from the first quarter to the
  end ("flat" means the outbox is not held in memory).

Crash: a child process sends a broadcast to ``--crash-subscribers`` people, writing each delivery
to a file; the parent kills it with SIGKILL halfway, starts a new child on the same database (which
recovers the rows left "sending"), and compares the delivered set with the subscribers: omissions
must be 0 and duplicates at most the in-flight window (``delivery.in_flight: at-least-once``).

Several instances (``--postgres --instances 3``): a throwaway PostgreSQL cluster (fsync on, as a
server runs) holds the broadcast; three bot processes each run the delivery engine, which only the
elected one may use. Every send is logged with its time; the parent SIGKILLs the sending process
halfway, another takes over (the election, then the dead one's rows claimed again once their lease
of ``--lease`` seconds has run out). Figures: the takeover time (kill to the next send, by another
process), omissions (must be 0), duplicates (at most the in-flight window) and the most sends in any
sliding second across all processes (never above the limit).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests"))

from bot.core.app import Core, build_services  # noqa: E402
from bot.core.config import Config, StorageConfig  # noqa: E402
from bot.delivery import Engine, Scheduler  # noqa: E402
from bot.delivery.outbox import ADDRESS, Outbox  # noqa: E402
from bot.delivery.settings import DeliveryConfig  # noqa: E402
from bot.port.delivery import PlatformLimits  # noqa: E402
from bot.port.events import Reply  # noqa: E402

KEY = "cd" * 32
PLATFORM = "telegram"


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class BenchSender:
    platform = PLATFORM

    def __init__(self, rate: float, total: int, log: Path | None = None) -> None:
        self._limits = PlatformLimits(rate)
        self.times: list[float] = []
        self.addresses: list[str] = []
        self.rss: list[float] = []
        self.total = total
        self._log = log.open("a", encoding="ascii") if log else None

    def limits(self) -> PlatformLimits:
        return self._limits

    def is_group(self, address: str) -> bool:
        return False

    async def send(self, address: str, reply: Reply) -> None:
        self.times.append(time.monotonic())
        if self._log is not None:
            # Written before the send counts as done: a kill after this line is a delivery. The wall
            # clock, for comparing the sends of several processes.
            self._log.write(f"{address} {time.time():.6f}\n")
            self._log.flush()
        else:
            self.addresses.append(address)
        if len(self.times) % max(1, self.total // 8) == 0:
            self.rss.append(rss_mb())


async def open_core(db: Path | str, window: int, lease: float = 60.0) -> Core:
    os.environ["ADVOCACY_BOT_SECRET_KEY"] = KEY
    storage = StorageConfig(url=db, data_dir=Path(tempfile.gettempdir())) if isinstance(db, str) else StorageConfig(db)
    config = Config(storage=storage, delivery=DeliveryConfig(window=window, lease_seconds=lease))
    return await Core.open(config, services=build_services(config), create_key=False)


async def prepare(db: Path | str, subscribers: int, window: int) -> None:
    """N subscribers to "news" and one broadcast to them, queued."""
    core = await open_core(db, window)
    try:
        now = core.clock()
        cipher = core.keyring.cipher
        rows = []
        for index in range(subscribers):
            address = str(10_000_000 + index)
            user = core.keyring.user_id(PLATFORM, address)
            rows.append((user, PLATFORM, now.isoformat(), user, "news", PLATFORM, cipher.encrypt(address, ADDRESS)))
        async with core.store.transaction() as db_:
            await db_.executemany(
                "INSERT INTO users (id, platform, created_at) VALUES (?, ?, ?)", [r[:3] for r in rows]
            )
            await db_.executemany(
                "INSERT INTO subscriptions (user_id, topic, platform, address, language, created_at)"
                " VALUES (?, ?, ?, ?, 'en', ?)",
                [(r[3], r[4], r[5], r[6], now.isoformat()) for r in rows],
            )
        outbox = Outbox(core.store, core.keyring)
        await outbox.create(kind="broadcast", topic="news", body="The day of action is in a week", send_at=now, now=now)
        await Scheduler(core, {}).tick()
    finally:
        await core.close()


async def deliver(db: Path, sender: BenchSender, window: int) -> float:
    core = await open_core(db, window)
    try:
        engine = Engine(core, sender)
        await engine.recover()
        started = time.monotonic()
        await engine.run_once()
        return time.monotonic() - started
    finally:
        await core.close()


def max_per_sliding_second(times: list[float]) -> int:
    best = start = 0
    for end, t in enumerate(times):
        while times[start] <= t - 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


async def fan_out(subscribers: int, rate: float, window: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "bench.sqlite3"
        await prepare(db, subscribers, window)
        sender = BenchSender(rate, subscribers)
        elapsed = await deliver(db, sender, window)
    span = sender.times[-1] - sender.times[0]
    counts = Counter(sender.addresses)
    expected = {str(10_000_000 + i) for i in range(subscribers)}
    return {
        "subscribers": subscribers,
        "limit_per_s": rate,
        "achieved_per_s": round(len(sender.times) / (span + 1.0), 1),
        "achieved_pct_of_limit": round(100 * len(sender.times) / (span + 1.0) / rate, 1),
        "max_in_any_sliding_second": max_per_sliding_second(sender.times),
        "duplicates": sum(n - 1 for n in counts.values()),
        "omissions": len(expected - set(counts)),
        "wall_s": round(elapsed, 1),
        "rss_mb_samples": [round(r, 1) for r in sender.rss],
        "rss_growth_mb_first_quarter_to_end": round(sender.rss[-1] - sender.rss[1], 1) if len(sender.rss) > 2 else None,
    }


def child(db: Path, log: Path, rate: float, window: int, total: int) -> None:
    asyncio.run(deliver(db, BenchSender(rate, total, log), window))


async def instance(url: str, log: Path, rate: float, window: int, total: int, lease: float) -> None:
    """One bot process of several: its engine sends whenever this process is the elected sender."""
    core = await open_core(url, window, lease)
    try:
        await Engine(core, BenchSender(rate, total, log)).run(asyncio.Event())
    finally:
        await core.close()


def sent(log: Path) -> list[tuple[str, float]]:
    lines = [line.split() for line in log.read_text().splitlines()]
    return [(parts[0], float(parts[1])) for parts in lines if len(parts) == 2]


def takeover(subscribers: int, rate: float, window: int, instances: int, lease: float) -> dict[str, object]:
    from pgcluster import Cluster

    cluster = Cluster.start(durable=True)
    children: list[subprocess.Popen[bytes]] = []
    try:
        cluster.psql("CREATE DATABASE bench")
        url = cluster.url("bench")
        asyncio.run(prepare(url, subscribers, window))
        with tempfile.TemporaryDirectory() as folder:
            logs = [Path(folder) / f"instance-{n}.txt" for n in range(instances)]
            for log in logs:
                log.touch()
            for log in logs:
                options = [url, str(log), str(rate), str(window), str(subscribers), str(lease)]
                children.append(subprocess.Popen([sys.executable, __file__, "--instance", *options]))

            def delivered() -> list[list[tuple[str, float]]]:
                return [sent(log) for log in logs]

            while sum(map(len, delivered())) < subscribers // 2:
                time.sleep(0.01)
            senders = [n for n, rows in enumerate(delivered()) if rows]
            assert len(senders) == 1, f"more than one process sent: {senders}"
            victim = senders[0]
            children[victim].send_signal(signal.SIGKILL)
            killed = time.time()
            children[victim].wait()
            deadline = time.monotonic() + 10 * lease + 60
            while len({address for rows in delivered() for address, _ in rows}) < subscribers:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            time.sleep(1.0)  # a late duplicate would show now
            logged = delivered()
    finally:
        for process in children:
            process.kill()
            process.wait()
        cluster.stop()
    after = sorted(t for n, rows in enumerate(logged) if n != victim for _, t in rows if t > killed)
    times = sorted(t for rows in logged for _, t in rows)
    counts = Counter(address for rows in logged for address, _ in rows)
    expected = {str(10_000_000 + i) for i in range(subscribers)}
    duplicates = sum(n - 1 for n in counts.values())
    took_over = round(after[0] - killed, 2) if after else None
    most = max_per_sliding_second(times)
    return {
        "subscribers": subscribers,
        "instances": instances,
        "limit_per_s": rate,
        "lease_s": lease,
        "sent_by_the_killed_instance": len(logged[victim]),
        "takeover_s": took_over,
        "omissions": len(expected - set(counts)),
        "duplicates": duplicates,
        "in_flight_window": window,
        "max_in_any_sliding_second": most,
        "ok": took_over is not None
        and took_over <= 10
        and set(counts) == expected
        and duplicates <= window
        and most <= rate,
    }


def crash(subscribers: int, rate: float, window: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as folder:
        db, log = Path(folder) / "bench.sqlite3", Path(folder) / "delivered.txt"
        asyncio.run(prepare(db, subscribers, window))
        log.touch()
        command = [sys.executable, __file__, "--child", str(db), str(log), str(rate), str(window), str(subscribers)]
        first = subprocess.Popen(command)
        while len(log.read_text().splitlines()) < subscribers // 2:
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.wait()
        at_kill = len(log.read_text().splitlines())
        subprocess.run(command, check=True)
        delivered = Counter(log.read_text().split())
    expected = {str(10_000_000 + i) for i in range(subscribers)}
    duplicates = sum(n - 1 for n in delivered.values())
    return {
        "subscribers": subscribers,
        "delivered_before_kill": at_kill,
        "omissions": len(expected - set(delivered)),
        "duplicates": duplicates,
        "in_flight_window": window,
        "ok": set(delivered) == expected and duplicates <= window,
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _, _, db, log, rate, window, total = sys.argv
        child(Path(db), Path(log), float(rate), int(window), int(total))
        return 0
    if len(sys.argv) > 1 and sys.argv[1] == "--instance":
        _, _, url, log, rate, window, total, lease = sys.argv
        asyncio.run(instance(url, Path(log), float(rate), int(window), int(total), float(lease)))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--window", type=int, default=100, help="delivery.window (the in-flight bound)")
    parser.add_argument("--crash-subscribers", type=int, default=5_000)
    parser.add_argument("--postgres", action="store_true", help="several instances on a throwaway PostgreSQL")
    parser.add_argument("--instances", type=int, default=3, help="bot processes, with --postgres")
    parser.add_argument("--lease", type=float, default=5.0, help="delivery.lease_seconds, with --postgres")
    args = parser.parse_args()
    if args.postgres:
        when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
        print(f"{args.instances} instances on PostgreSQL, the sender SIGKILLed halfway ({when}):")
        result = takeover(args.subscribers, args.rate, args.window, args.instances, args.lease)
        for key, value in result.items():
            print(f"  {key:>36}: {value}")
        return 0 if result["ok"] else 1
    print(f"fan-out ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC):")
    figures = asyncio.run(fan_out(args.subscribers, args.rate, args.window))
    for key, value in figures.items():
        print(f"  {key:>36}: {value}")
    print("crash (SIGKILL halfway, then restart):")
    crashed = crash(args.crash_subscribers, args.rate, args.window)
    for key, value in crashed.items():
        print(f"  {key:>36}: {value}")
    ok = (
        float(str(figures["achieved_pct_of_limit"])) >= 90
        and int(str(figures["max_in_any_sliding_second"])) <= args.rate
        and figures["duplicates"] == 0
        and figures["omissions"] == 0
        and bool(crashed["ok"])
    )
    print(f"  {'result':>36}: {'ok' if ok else 'FAILED A TARGET'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
