"""The Discord adapter's delivery and gateway: the sender's error mapping, rate limits honoured, closed DMs
unsubscribed, the configured pace kept, a resumed session that loses nothing, and commands registered
only when they changed.
"""

from __future__ import annotations

import asyncio
import types
from datetime import UTC, datetime
from typing import Any

import discord
import discord.http
import pytest
from fakes import discord_payloads as payloads
from fakes.discord import FakeDiscord, FakeGuild
from fakes.discord_payloads import GatewayOp
from test_discord_support import TOKEN, Bot, discord_config, running

from adapters.discord.adapter import GLOBAL_SCOPE, DiscordAdapter
from adapters.discord.delivery import PLATFORM
from bot.core import registry as adapters
from bot.core.app import Core, Services
from bot.core.config import Config
from bot.delivery import PermanentFailure, RecipientGone, RetryAfter, TemporaryFailure
from bot.delivery.outbox import Outbox
from bot.port.clock import ManualClock
from bot.port.events import Reply
from bot.port.markup import text
from bot.port.platform import AdapterError, Setup

# The fixtures fake and guild.
pytest_plugins = ["test_discord_support"]

MESSAGES = "/channels/{channel_id}/messages"


@pytest.fixture
async def bot(fake: FakeDiscord, guild: FakeGuild, config: Config, services: Services) -> Any:
    async with running(fake, discord_config(config, fake), services) as started:
        yield started


class FastAsyncio(types.ModuleType):
    """discord.http's asyncio with its 1, 3, 5, 7, 9 s back-off after a 5xx shrunk a hundredfold."""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    async def sleep(delay: float) -> None:
        await asyncio.sleep(delay / 100)


async def subscribe(bot: Bot, *users: int, topic: str = "news") -> list[str]:
    """Subscribe people as they would, with /subscribe in their DMs; their user keys."""
    for user in users:
        await bot.command("subscribe", {"topic": topic}, user_id=user)
    return [bot.core.keyring.user_id(PLATFORM, str(user)) for user in users]


async def broadcast(bot: Bot, body: str, topic: str = "news") -> None:
    now = bot.core.clock()
    outbox = Outbox(bot.core.store, bot.core.keyring)
    broadcast_id = await outbox.create(kind="broadcast", topic=topic, body=body, send_at=now, now=now)
    assert broadcast_id is not None
    queued = await outbox.get(broadcast_id)
    assert queued is not None
    await outbox.start(queued, now)


# --------------------------------------------------------------------------------- the sender


@pytest.mark.parametrize(
    ("status", "failure", "expected"),
    [
        (403, {"code": 50007}, RecipientGone),  # DMs closed
        (404, {"code": 10003}, RecipientGone),  # the channel was deleted
        (403, {"code": 50001}, RecipientGone),  # no access any more: the bot left the server
        (403, {"code": 50013}, PermanentFailure),  # missing a permission: a moderator can fix it
        (400, {"code": 50035}, PermanentFailure),
        (429, {"retry_after": 45.0}, RetryAfter),  # longer than discord.py sleeps through
        (502, {"times": 5}, TemporaryFailure),  # still failing after discord.py's own retries
    ],
)
async def test_send_failures_tell_the_engine_what_to_do(
    bot: Bot,
    guild: FakeGuild,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    failure: dict[str, Any],
    expected: type[Exception],
) -> None:
    monkeypatch.setattr(discord.http, "asyncio", FastAsyncio("asyncio"))
    bot.fake.fail("POST", MESSAGES, status, **failure)
    sender = bot.adapter.sender()

    with pytest.raises(expected) as raised:
        await sender.send(f"#{guild.default_channel_id}", Reply(text("Campaign news")))

    if isinstance(raised.value, RetryAfter):
        assert raised.value.seconds == 45.0


async def test_sender_knows_server_channels_from_dms(bot: Bot) -> None:
    sender = bot.adapter.sender()
    assert sender.is_group("#123") and not sender.is_group("123")
    assert sender.limits() == bot.core.config.limits("discord")


async def test_a_short_rate_limit_is_waited_out_then_the_message_sent(bot: Bot) -> None:
    await subscribe(bot, bot.fake.add_user("reader"))
    await broadcast(bot, "After a pause")
    bot.fake.fail("POST", MESSAGES, 429, retry_after=0.2)

    await bot.deliver()

    first, second = bot.fake.calls_to("POST", "/channels/*/messages")[-2:]
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 0.19
    assert "After a pause" in second.json["content"]


async def test_a_long_rate_limit_pauses_delivery_until_it_is_over(bot: Bot) -> None:
    clock = ManualClock(datetime(2027, 3, 2, 12, 0, tzinfo=UTC))
    bot.core.clock = clock
    await subscribe(bot, bot.fake.add_user("reader"))
    await broadcast(bot, "Later")
    bot.fake.fail("POST", MESSAGES, 429, retry_after=45.0)
    engine = bot.engine

    await engine.run_once()
    assert [call.status for call in bot.fake.calls_to("POST", "/channels/*/messages")] == [429]
    clock.advance(seconds=44)
    await engine.run_once()
    assert len(bot.fake.calls_to("POST", "/channels/*/messages")) == 1
    clock.advance(seconds=2)
    await engine.run_once()

    assert [call.status for call in bot.fake.calls_to("POST", "/channels/*/messages")] == [429, 200]


async def test_closed_dms_unsubscribe(bot: Bot) -> None:
    closed, open_ = bot.fake.add_user("closed"), bot.fake.add_user("open")
    closed_key, open_key = await subscribe(bot, closed, open_)
    bot.fake.close_dms(closed)
    await broadcast(bot, "News")

    await bot.deliver()

    assert await bot.core.subscriptions.topics_of(closed_key) == []
    assert await bot.core.subscriptions.topics_of(open_key) == ["news"]


async def test_a_broadcast_keeps_the_configured_pace(bot: Bot) -> None:
    per_second = int(bot.core.config.limits("discord").per_second)
    readers = [bot.fake.add_user(f"reader{n}") for n in range(per_second + 5)]
    await subscribe(bot, *readers)
    await broadcast(bot, "Everyone hears this")

    await bot.deliver()

    sends = [call.at for call in bot.fake.calls_to("POST", "/channels/*/messages") if call.status == 200]
    assert len(sends) == len(readers)
    assert bot.fake.rate_limit_violations == []
    assert max(sum(1 for t in sends if start <= t < start + 1.0) for start in sends) <= per_second


# --------------------------------------------------------------------------------- the gateway


async def test_a_dropped_session_resumes_and_loses_no_event(bot: Bot) -> None:
    fake = bot.fake
    await bot.dm("what is naloxone", containing="Naloxone")

    await fake.reconnect()
    during = await fake.message_create("how do fentanyl test strips work")  # kept for the replay
    await fake.wait_for_op(GatewayOp.RESUME)
    await fake.wait_connected()
    await bot.dm("what is naloxone", containing="Naloxone")

    dm = int(during["channel_id"])
    answers = [message for message in fake.sent_messages(dm) if message.kind == "channel"]
    # One answer per question, in order: none lost, none answered twice.
    assert len(answers) == 3 and "test strip" in answers[1].content.lower()
    assert len(fake.identifies) == 1 and len(fake.resumes) == 1


async def test_a_new_session_after_an_invalid_one(bot: Bot) -> None:
    await bot.fake.invalidate_session(resumable=False)
    await bot.fake.wait_for_op(GatewayOp.IDENTIFY, 2)
    await bot.fake.wait_ready()

    await bot.dm("what is naloxone", containing="Naloxone")


# --------------------------------------------------------------------------------- commands


async def test_commands_are_registered_only_when_they_changed(
    fake: FakeDiscord, guild: FakeGuild, config: Config, services: Services
) -> None:
    configured = discord_config(config, fake)
    async with running(fake, configured, services) as bot:
        (put,) = fake.calls_to("PUT", "/applications/{app}/commands")
        commands = {command["name"]: command for command in put.json}
        assert set(commands) == {*bot.core.router.commands, "setup"}
        core = bot.core
    async with running(fake, configured, services):
        assert len(fake.calls_to("PUT", "/applications/{app}/commands")) == 1
    async with running(fake, discord_config(config, fake, default_language="pt"), services):
        assert len(fake.calls_to("PUT", "/applications/{app}/commands")) == 2

    setup = commands["setup"]
    assert setup["dm_permission"] is False and setup["default_member_permissions"] == payloads.MANAGE_GUILD
    assert [option["name"] for option in setup["options"]] == ["announcements", "organisers", "language"]
    assert [option["name"] for option in commands["ask"]["options"]] == ["question"]
    assert [choice["value"] for choice in commands["subscribe"]["options"][0]["choices"]] == list(
        ("action-days", "petitions", "news")
    )
    # Descriptions in the default language, localised where a language has the string.
    for name, spec in core.router.commands.items():
        assert commands[name]["description"] == core.locales.text("en", spec.description)[:100]
        localised = commands[name]["description_localizations"]
        for locale, lang in (("ru", "ru"), ("pt-BR", "pt"), ("es-419", "es")):
            if core.locales.has(lang, spec.description):
                assert localised[locale] == core.locales.text(lang, spec.description)[:100]
            else:
                assert locale not in localised


async def test_the_digest_is_stored(bot: Bot) -> None:
    stored = await bot.core.settings(PLATFORM).get(GLOBAL_SCOPE, "commands_hash")
    assert stored is not None and len(stored) == 64


# --------------------------------------------------------------------------------- start-up


def test_the_token_comes_from_the_environment(config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)
    setup = Setup(config.section("discord"), config.limits("discord"), config.data_dir)
    with pytest.raises(AdapterError, match="DISCORD_BOT_TOKEN"):
        adapters.create("discord", setup)

    monkeypatch.setenv("DISCORD_BOT_TOKEN", TOKEN)
    adapter = adapters.create("discord", setup)
    assert isinstance(adapter, DiscordAdapter) and adapter.token == TOKEN


async def test_a_refused_token_stops_the_adapter(fake: FakeDiscord, config: Config, services: Services) -> None:
    core = await Core.open(discord_config(config, fake), services=services)
    try:
        configured = discord_config(config, fake)
        adapter = DiscordAdapter(configured.section("discord"), configured.limits("discord"), "not-the-token")
        with pytest.raises(AdapterError, match="refused the bot token in DISCORD_BOT_TOKEN"):
            await asyncio.wait_for(adapter.run(core, asyncio.Event()), 10)
    finally:
        await core.close()
