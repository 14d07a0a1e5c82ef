"""Discord with several processes on one PostgreSQL database: the servers split among them by shard
(``discord.shard_count`` / ``discord.shard_ids``), each server's events handled by one process, and a
broadcast sent once, by the process elected to send."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import TEST_KEY
from fakes.discord import FakeDiscord, FakeGuild
from test_discord_support import Bot, running

from adapters.discord import DiscordConfig
from bot.core.app import Services
from bot.core.config import Config, StorageConfig
from bot.delivery import Engine
from bot.delivery.broadcasts import create_broadcast
from bot.delivery.outbox import Outbox
from bot.port.delivery import PlatformLimits

# The fixture fake.
pytest_plugins = ["test_discord_support"]

SHARDS = 4
# Process 0 serves shards 0 and 1, process 1 shards 2 and 3.
PROCESSES = (("0", "1"), ("2", "3"))
# A snowflake's time part, the same for every server added here: a server's shard is then its number.
EPOCH = 1 << 40
# Fast enough that a broadcast of hundreds takes no more than a few seconds.
PACE = PlatformLimits(per_second=45.0)


@pytest.fixture(autouse=True)
def secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADVOCACY_BOT_SECRET_KEY", TEST_KEY)


def servers(fake: FakeDiscord, count: int, channels: int = 1) -> list[FakeGuild]:
    """``count`` servers, spread evenly over the shards, with ``channels`` text channels each."""
    names = tuple(f"c{n}" for n in range(channels))
    return [fake.add_guild(f"Server {n}", channels=names, guild_id=(EPOCH + n) << 22) for n in range(count)]


@asynccontextmanager
async def processes(fake: FakeDiscord, url: str, tmp_path: Path, services: Services) -> AsyncIterator[list[Bot]]:
    """One bot process per entry of PROCESSES, each with its own core and Discord shards."""
    async with AsyncExitStack() as stack:
        bots = []
        for shard_ids in PROCESSES:
            section = DiscordConfig(
                enabled=True,
                api_base=fake.api_base,
                gateway_url=fake.gateway_url,
                shard_count=SHARDS,
                shard_ids=shard_ids,
            )
            config = Config(storage=StorageConfig(url=url, data_dir=tmp_path), platforms={"discord": section})
            config = dataclasses.replace(
                config, delivery=dataclasses.replace(config.delivery, limits={"discord": PACE})
            )
            bots.append(await stack.enter_async_context(running(fake, config, services)))
        await fake.wait_shards(SHARDS)
        yield bots


@dataclass(frozen=True)
class Split:
    """Which process knew which server, and how the messages in them were answered."""

    known: list[set[int]]
    replies: Counter[int]


async def mention_every_server(fake: FakeDiscord, bots: list[Bot], guilds: list[FakeGuild]) -> Split:
    known = [{guild.id for guild in bot.adapter.client.guilds} for bot in bots if bot.adapter.client is not None]
    for guild in guilds:
        await fake.message_create(f"<@{fake.bot_user_id}> what is naloxone", guild_id=guild.id)
    channels = {guild.default_channel_id: guild.id for guild in guilds}

    def answered() -> Counter[int]:
        sent = [call.message for call in fake.calls if call.message is not None]
        return Counter(channels[m.channel_id] for m in sent if m.channel_id in channels)

    for _ in range(1000):
        if len(answered()) == len(guilds):
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)  # a second answer would show now
    return Split(known, answered())


async def broadcast_once(fake: FakeDiscord, bots: list[Bot], guilds: list[FakeGuild]) -> Counter[int]:
    """Every channel of ``guilds`` subscribed, one broadcast, every process's engine running: the
    messages each channel got."""
    core = bots[0].core
    now = datetime.now(UTC)
    addresses = [channel for guild in guilds for channel in guild.channels.values()]
    for channel in addresses:
        await core.subscriptions.subscribe(f"place-{channel}", "discord", "news", f"#{channel}", "en", now)
    created = await create_broadcast(
        Outbox(core.store, core.keyring), topic="news", body="Campaign news", language=None, platform=None, now=now
    )
    assert created.queued == len(addresses)
    stop = asyncio.Event()
    engines = [asyncio.create_task(Engine(bot.core, bot.adapter.sender()).run(stop)) for bot in bots]

    def delivered() -> Counter[int]:
        sends = [call.message for call in fake.calls_to("POST", "/channels/*/messages") if call.status == 200]
        return Counter(m.channel_id for m in sends if m is not None and "Campaign news" in m.content)

    try:
        for _ in range(6000):
            if sum(delivered().values()) >= len(addresses):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)
    finally:
        stop.set()
        await asyncio.gather(*engines)
    counts = delivered()
    assert set(counts) == set(addresses)
    return counts


async def test_two_processes_of_two_shards_split_the_servers_and_one_sends_a_broadcast(
    fake: FakeDiscord, database_url: str, tmp_path: Path, services: Services
) -> None:
    guilds = servers(fake, 8, channels=10)
    async with processes(fake, database_url, tmp_path, services) as bots:
        assert fake.shards == dict.fromkeys(range(SHARDS), SHARDS)
        split = await mention_every_server(fake, bots, guilds)
        # Each process knows its own shards' servers only, and together they know them all...
        first, second = split.known
        assert first.isdisjoint(second) and first | second == {guild.id for guild in guilds}
        assert first == {guild.id for guild in guilds if fake.shard_of(guild.id) in (0, 1)}
        # ...so each message in a server was answered once, by the process serving it.
        assert split.replies == Counter({guild.id: 1 for guild in guilds})
        # bench/discord_bench.py --instances sends to 500 channels.
        counts = await broadcast_once(fake, bots, guilds)
        assert set(counts.values()) == {1} and len(counts) == 80
        assert fake.rate_limit_violations == []
