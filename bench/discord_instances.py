"""Benchmark Discord with two processes of two shards each on one PostgreSQL database.

Run from the repository root (Debian's ``postgresql`` package installed; the script starts a
throwaway cluster and removes it):

    .venv/bin/python bench/discord_instances.py                  # 50 servers x 10 channels
    .venv/bin/python bench/discord_instances.py --servers 8 --channels 10

Against the fake gateway, two bot processes (each its own core and database pool) connect shards
0-1 and 2-3 of 4. The scenario is the test's (tests/test_discord_instances.py, at 80 channels there):
a message mentioning the bot in every server must be answered once, by the process whose shards hold
that server, and a broadcast to every channel must be delivered exactly once, by the elected sender.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests"))
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

from conftest import TEST_KEY  # noqa: E402
from fakes.discord import FakeDiscord  # noqa: E402
from pgcluster import Cluster  # noqa: E402
from test_discord_instances import SHARDS, broadcast_once, mention_every_server, processes, servers  # noqa: E402
from test_discord_support import TOKEN  # noqa: E402

from bot.core.app import build_services  # noqa: E402
from bot.core.config import Config  # noqa: E402


async def run(url: str, count: int, channels: int) -> dict[str, object]:
    services = build_services(Config())
    with tempfile.TemporaryDirectory() as folder:
        async with FakeDiscord(token=TOKEN, heartbeat_interval_ms=500) as fake:
            guilds = servers(fake, count, channels)
            async with processes(fake, url, Path(folder), services) as bots:
                split = await mention_every_server(fake, bots, guilds)
                # The answers to the mentions come at once (not paced: they answer people); counted apart.
                await asyncio.sleep(1.0)
                before = len(fake.rate_limit_violations)
                started = time.perf_counter()
                counts = await broadcast_once(fake, bots, guilds)
                seconds = time.perf_counter() - started
    first, second = split.known
    by_shard = all(guild.id in (first if fake.shard_of(guild.id) < SHARDS // 2 else second) for guild in guilds)
    return {
        "processes_x_shards": f"2 x {SHARDS // 2}",
        "servers": count,
        "servers_known_by_each_process": f"{len(first)} + {len(second)}",
        "each_server_in_one_process_by_shard": first.isdisjoint(second) and by_shard,
        "messages_answered_once_each": set(split.replies.values()) == {1} and len(split.replies) == count,
        "broadcast_channels": len(counts),
        "broadcast_delivered_exactly_once": set(counts.values()) == {1} and len(counts) == count * channels,
        "broadcast_seconds": round(seconds, 1),
        "rate_limit_violations_answering": before,
        "rate_limit_violations_broadcast": len(fake.rate_limit_violations) - before,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", type=int, default=50)
    parser.add_argument("--channels", type=int, default=10, help="text channels per server")
    args = parser.parse_args()
    os.environ["ADVOCACY_BOT_SECRET_KEY"] = TEST_KEY
    cluster = Cluster.start(durable=True)
    try:
        cluster.psql("CREATE DATABASE bench")
        figures = asyncio.run(run(cluster.url("bench"), args.servers, args.channels))
    finally:
        cluster.stop()
    for key, value in figures.items():
        print(f"{key:>38}: {value}")
    ok = all(figures[key] is True for key in figures if isinstance(figures[key], bool))
    return 0 if ok and figures["rate_limit_violations_broadcast"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
