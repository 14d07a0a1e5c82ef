"""Telegram with several instances on one PostgreSQL database: webhook mode behind a load balancer
(each update handled once however often it is delivered, each chat's in order across instances), and
polling by the elected instance alone, the others taking over when it goes."""

from __future__ import annotations

import asyncio
import itertools
import random
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_KEY
from fakes.telegram import FakeTelegram, FloodLimits, group_chat, make_user, private_chat

from adapters.telegram import TelegramConfig
from adapters.telegram.adapter import TelegramAdapter
from bot.core.app import Core, Services
from bot.core.config import Config, StorageConfig

USERNAME = "advocacy_test_bot"
# The instances answer a thousand messages in seconds: Telegram's flood limits are not what is tested.
UNLIMITED = FloodLimits(per_chat=None, overall=None, per_group=None)


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", TEST_KEY)
    monkeypatch.setenv("TELEGRAM_WEBHOOK_SECRET", "s3cret-token")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Instance:
    core: Core
    adapter: TelegramAdapter
    stop: asyncio.Event
    task: asyncio.Task[None]
    port: int

    async def end(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, timeout=15)


@asynccontextmanager
async def instances(
    tg: FakeTelegram, url: str, tmp_path: Path, services: Services, count: int, **options: Any
) -> AsyncIterator[list[Instance]]:
    """``count`` bot instances on one database, each with a core and a Telegram adapter of its own."""
    started: list[Instance] = []
    try:
        for _ in range(count):
            port = free_port()
            settings = TelegramConfig(enabled=True, base_url=tg.base_url, webhook_port=port, **options)
            config = Config(storage=StorageConfig(url=url, data_dir=tmp_path), platforms={"telegram": settings})
            core = await Core.open(config, services=services, create_key=False)
            adapter = TelegramAdapter(config.section("telegram"), config.limits("telegram"), token=tg.token)
            stop = asyncio.Event()
            instance = Instance(core, adapter, stop, asyncio.create_task(adapter.run(core, stop)), port)
            started.append(instance)
            await asyncio.wait_for(asyncio.shield(adapter.ready()), timeout=15)
        yield started
    finally:
        for instance in started:
            if not instance.task.done():
                await instance.end()
            await instance.core.close()


@dataclass(frozen=True)
class Round:
    """What :func:`webhook_round` saw."""

    updates: int
    replies: int
    seconds: float


async def webhook_round(tg: FakeTelegram, running: list[Instance], chats: int, per_chat: int, copies: int) -> Round:
    """``chats`` group chats each send ``per_chat`` commands, every update delivered ``copies`` times to
    instances picked at random (a load balancer in front); asserts exactly one reply per update, and
    every chat's replies in the order its messages were written."""
    rng = random.Random(16)
    users = [make_user(5000 + n, f"Member {n}") for n in range(chats)]
    groups = [group_chat(-7000 - n, f"Group {n}") for n in range(chats)]
    written: dict[int, list[int]] = {group["id"]: [] for group in groups}
    update_ids = itertools.count(1)

    async def chat(n: int) -> None:
        # Telegram sends a chat's next update once the last one was accepted (here: all its copies).
        for _ in range(per_chat):
            message = tg.written(f"/help@{USERNAME}", user=users[n], chat=groups[n])
            written[groups[n]["id"]].append(message["message_id"])
            update = {"update_id": next(update_ids), "message": message}
            targets = [rng.choice(running).port for _ in range(copies)]
            statuses = await asyncio.gather(
                *(tg.post_webhook(f"http://127.0.0.1:{port}/hook", update) for port in targets)
            )
            assert statuses == [200] * copies

    def answered() -> int:
        return sum(1 for call in tg.calls if call.method == "sendMessage")

    started = time.perf_counter()
    await asyncio.gather(*(chat(n) for n in range(chats)))
    total = chats * per_chat
    for _ in range(6000):
        if answered() >= total:
            break
        await asyncio.sleep(0.01)
    seconds = time.perf_counter() - started
    await asyncio.sleep(0.5)  # a late duplicate would show now
    replies = [m for m in tg.sent_messages() if "reply_to_message" in m]
    per_update = Counter((m["chat"]["id"], m["reply_to_message"]["message_id"]) for m in replies)
    # Exactly one reply per update...
    assert answered() == len(replies) == total
    assert len(per_update) == total and set(per_update.values()) == {1}
    # ...and every chat's replies in the order its messages were written.
    for group in groups:
        order = [m["reply_to_message"]["message_id"] for m in replies if m["chat"]["id"] == group["id"]]
        assert order == written[group["id"]]
    return Round(total, len(replies), seconds)


WEBHOOK = {"mode": "webhook", "webhook_path": "hook", "webhook_url": "https://bot.example.org/hook"}


async def test_webhook_updates_delivered_three_times_to_four_instances_are_each_answered_once_in_order(
    database_url: str, tmp_path: Path, services: Services
) -> None:
    # bench/telegram_instances.py runs the full size (50 chats, 1,000 updates).
    async with (
        FakeTelegram(username=USERNAME, flood_limits=UNLIMITED) as tg,
        instances(tg, database_url, tmp_path, services, 4, **WEBHOOK) as running,
    ):
        done = await webhook_round(tg, running, chats=10, per_chat=10, copies=3)
        assert done.replies == 100
        # Every update was recorded, and handled, once.
        handled = await running[0].core.store.rows("SELECT COUNT(*) FROM updates WHERE state = 'handled'")
        assert int(handled[0][0]) == 100


async def test_only_the_elected_instance_polls_and_another_takes_over_when_it_stops(
    database_url: str, tmp_path: Path, services: Services
) -> None:
    alice = make_user(1001, "Alice")
    async with (
        FakeTelegram(username=USERNAME, flood_limits=UNLIMITED) as tg,
        instances(tg, database_url, tmp_path, services, 2) as (first, second),
    ):
        # One of them polls; the other stands by (and is healthy, ready to take over).
        await asyncio.sleep(1.5)
        polling = [i for i in (first, second) if i.adapter.app.updater and i.adapter.app.updater.running]
        assert len(polling) == 1
        standing = second if polling[0] is first else first
        assert standing.adapter.health() is None
        tg.push_message("what is naloxone", user=alice)
        await tg.wait_for("sendMessage")
        # The poller goes; the other takes over within seconds and answers what comes next.
        await polling[0].end()
        before = len(tg.sent_messages(private_chat(alice)["id"]))
        tg.push_message("what is naloxone", user=alice)
        for _ in range(1000):
            if len(tg.sent_messages(private_chat(alice)["id"])) > before:
                break
            await asyncio.sleep(0.01)
        assert len(tg.sent_messages(private_chat(alice)["id"])) > before
        assert standing.adapter.app.updater is not None and standing.adapter.app.updater.running
        # Never two pollers at once: Telegram would have answered one of them 409 Conflict.
        assert [call for call in tg.calls if call.method == "getUpdates" and call.status == 409] == []
