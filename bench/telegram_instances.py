"""Benchmark Telegram's webhook mode with several instances on one PostgreSQL database.

Run from the repository root (Debian's ``postgresql`` package installed; the script starts a
throwaway cluster and removes it):

    .venv/bin/python bench/telegram_instances.py                 # 4 instances, 50 chats x 20 updates x 3
    .venv/bin/python bench/telegram_instances.py --chats 10 --updates 10

The instances (each its own core, database pool and python-telegram-bot webhook server) sit behind a
"load balancer" that sends every delivery to any of them at random; each update is delivered three
times, as Telegram does when it sees no answer in time. The scenario is the test's
(tests/test_telegram_instances.py, at a tenth of the size there): it asserts exactly one reply per
update and every chat's replies in the order its messages were written, and prints how long the
instances took.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(ROOT / "tests"))
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
os.environ.setdefault("PTB_TIMEDELTA", "true")
os.environ.setdefault("TELEGRAM_WEBHOOK_SECRET", "bench-webhook-secret")

from conftest import TEST_KEY  # noqa: E402
from fakes.telegram import FakeTelegram  # noqa: E402
from pgcluster import Cluster  # noqa: E402
from test_telegram_instances import UNLIMITED, USERNAME, WEBHOOK, instances, webhook_round  # noqa: E402

from bot.core.app import build_services  # noqa: E402
from bot.core.config import Config  # noqa: E402


async def run(url: str, count: int, chats: int, updates: int, copies: int) -> dict[str, object]:
    services = build_services(Config())
    with tempfile.TemporaryDirectory() as folder:
        async with (
            FakeTelegram(username=USERNAME, flood_limits=UNLIMITED) as tg,
            instances(tg, url, Path(folder), services, count, **WEBHOOK) as running,
        ):
            done = await webhook_round(tg, running, chats=chats, per_chat=updates, copies=copies)
    return {
        "instances": count,
        "chats": chats,
        "updates": done.updates,
        "deliveries": done.updates * copies,
        "replies": done.replies,
        "exactly_one_reply_each_in_order": done.replies == done.updates,
        "seconds": round(done.seconds, 1),
        "updates_per_s": round(done.updates / done.seconds, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=4)
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--updates", type=int, default=20, help="updates per chat")
    parser.add_argument("--copies", type=int, default=3, help="deliveries of each update")
    args = parser.parse_args()
    os.environ["ADVOCACY_BOT_SECRET_KEY"] = TEST_KEY
    cluster = Cluster.start(durable=True)
    try:
        cluster.psql("CREATE DATABASE bench")
        figures = asyncio.run(run(cluster.url("bench"), args.instances, args.chats, args.updates, args.copies))
    finally:
        cluster.stop()
    for key, value in figures.items():
        print(f"{key:>32}: {value}")
    return 0 if figures["exactly_one_reply_each_in_order"] else 1


if __name__ == "__main__":
    sys.exit(main())
