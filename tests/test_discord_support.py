"""Fixtures for the Discord adapter's tests: the real adapter, on real discord.py, against FakeDiscord.

No tests here: test_discord.py and test_discord_delivery.py import what they need.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import discord
import discord.gateway
import discord.http
import pytest
from fakes import discord_payloads as payloads
from fakes.discord import Call, FakeDiscord, FakeGuild, InteractionRef, SentMessage
from fakes.discord_payloads import OptionValue

from adapters.discord import DiscordConfig
from adapters.discord.adapter import DiscordAdapter, Timings
from bot.core.app import Core, Services
from bot.core.config import Config
from bot.delivery import Engine

TOKEN = "adapter-test-token"
# on_ready 50 ms after the last server arrives, and no 5 s wait before a second IDENTIFY.
FAST = Timings(guild_ready_timeout=0.05, wait_before_reidentify=False)
MANAGE_SERVER = payloads.EVERYONE_PERMISSIONS | payloads.MANAGE_GUILD
START_TIMEOUT = 10.0
INTERACTION_PATHS = ("/interactions/", "/webhooks/")


@pytest.fixture
async def fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(token=TOKEN, heartbeat_interval_ms=500) as server:
        # The adapter points discord.py at the fake when it starts; these put the defaults back after.
        monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
        monkeypatch.setattr(
            discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        )
        yield server


@pytest.fixture
def guild(fake: FakeDiscord) -> FakeGuild:
    return fake.add_guild("Harm Reduction Hub", channels=("general",), announcement_channels=("announcements",))


def discord_config(config: Config, fake: FakeDiscord, **options: Any) -> Config:
    """``config`` with the Discord adapter enabled and pointed at ``fake``; ``options`` replace top-level ones."""
    section = DiscordConfig(enabled=True, api_base=fake.api_base, gateway_url=fake.gateway_url)
    return dataclasses.replace(config, platforms={**config.platforms, "discord": section}, **options)


@dataclass
class Exchange:
    """An interaction the fake dispatched and what the bot sent for it."""

    ref: InteractionRef
    messages: list[SentMessage]

    @property
    def text(self) -> str:
        return "\n\n".join(message.content for message in self.messages)

    def custom_ids(self) -> list[str]:
        return [custom_id for message in self.messages for custom_id in custom_ids(message)]


def custom_ids(message: SentMessage) -> list[str]:
    return [button["custom_id"] for row in message.components for button in row["components"]]


class Bot:
    """The running adapter, a real core on a temporary store, and the fake they talk to."""

    def __init__(self, fake: FakeDiscord, core: Core, adapter: DiscordAdapter) -> None:
        self.fake = fake
        self.core = core
        self.adapter = adapter

    @property
    def engine(self) -> Engine:
        return Engine(self.core, self.adapter.sender())

    def interaction_messages(self, ref: InteractionRef) -> list[SentMessage]:
        return [
            call.message
            for call in self.fake.calls
            if call.message is not None and call.message.interaction_id == ref.id
        ]

    async def answer(self, ref: InteractionRef, containing: str = "") -> Exchange:
        """Wait until the bot's answer to ``ref`` includes a message containing ``containing``."""

        def shown(call: Call) -> bool:
            message = call.message
            return message is not None and message.interaction_id == ref.id and containing in message.content

        await self.fake.wait_for(shown)
        return Exchange(ref, self.interaction_messages(ref))

    async def command(
        self, name: str, options: Mapping[str, OptionValue] | None = None, containing: str = "", **where: Any
    ) -> Exchange:
        return await self.answer(await self.fake.slash_command(name, options, **where), containing)

    async def click(self, action: str, containing: str = "", **where: Any) -> Exchange:
        """Click the button of the core's ``action`` on the bot's latest message showing it."""
        return await self.answer(await self.fake.button_click(f"v1:a:{action}", **where), containing)

    async def modal(self, ref: InteractionRef) -> payloads.JSON:
        """The modal the bot opened in response to ``ref``."""
        call = await self.fake.wait_for_response(ref)
        assert call.json["type"] == payloads.CallbackType.MODAL, call.json
        data: payloads.JSON = call.json["data"]
        return data

    async def dm(self, text: str, containing: str = "", **where: Any) -> list[SentMessage]:
        """Send a message (a DM unless ``where`` says otherwise); the bot's channel messages after it."""
        since = time.monotonic()
        message = await self.fake.message_create(text, **where)
        channel_id = int(message["channel_id"])

        def after(call: Call) -> SentMessage | None:
            sent = call.message
            return sent if call.at >= since and sent is not None and sent.channel_id == channel_id else None

        def wanted(call: Call) -> bool:
            sent = after(call)
            return sent is not None and containing in sent.content

        await self.fake.wait_for(wanted)
        return [sent for call in self.fake.calls if (sent := after(call)) is not None]

    async def deliver(self) -> None:
        """Send everything due through the adapter's sender, as the running engine would."""
        await self.engine.run_once()


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 5.0) -> None:
    """Wait for a change that leaves no trace at the fake (the store, after a gateway event)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"{check.__name__} still false after {seconds} s")
        await asyncio.sleep(0.01)


@asynccontextmanager
async def running(fake: FakeDiscord, config: Config, services: Services, timings: Timings = FAST) -> AsyncIterator[Bot]:
    """The adapter serving until the block ends, with a core of its own on ``config``'s store."""
    core = await Core.open(config, services=services)
    adapter = DiscordAdapter(config.section("discord"), config.limits("discord"), TOKEN, timings)
    stop = asyncio.Event()
    task = asyncio.create_task(adapter.run(core, stop))
    try:
        ready = asyncio.create_task(adapter.ready.wait())
        await asyncio.wait({task, ready}, timeout=START_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done():
            ready.cancel()
            if task.done():
                task.result()
            raise AssertionError("the adapter did not connect")
        yield Bot(fake, core, adapter)
        # Every answer to an interaction was accepted: in time, well-formed, and never answered twice.
        refused = [str(call) for call in fake.calls if call.path.startswith(INTERACTION_PATHS) and call.status >= 400]
        assert refused == []
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, START_TIMEOUT)
        finally:
            await core.close()
