"""Broadcasts and reminders on Discord: one request per message, to a DM channel or a server channel."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp
import discord

from adapters.discord.render import render
from bot.port.delivery import PermanentFailure, PlatformLimits, RecipientGone, RetryAfter, TemporaryFailure
from bot.port.events import Reply

PLATFORM = "discord"
# Addresses and chat ids: a DM channel's id, or "#" and a server channel's id.
GROUP_PREFIX = "#"
# A rate limit longer than this is handed to the delivery engine (RetryAfter), which pauses the whole
# broadcast, instead of being slept through inside discord.py (which accepts no less than 30 s).
MAX_RATELIMIT_SLEEP = 30.0
# Discord error codes that mean the recipient cannot be reached any more: DMs closed (50007), channel
# deleted (10003), no access to the channel any more, e.g. the bot left the server (50001).
GONE_CODES = frozenset({50007, 10003, 50001})
# How long a delivery waits for the gateway session before it counts as a temporary failure.
CONNECT_WAIT = 60.0


def group_chat_id(channel_id: int) -> str:
    return f"{GROUP_PREFIX}{channel_id}"


def delivery_error(exc: discord.HTTPException) -> Exception:
    """What a failed send means for the delivery engine."""
    if exc.status == 429:
        # discord.py retried and gave up, or Cloudflare refused: wait as long as they ask.
        return RetryAfter(float(exc.response.headers.get("Retry-After") or MAX_RATELIMIT_SLEEP))
    if exc.code in GONE_CODES:
        return RecipientGone(f"{exc.status} {exc.code}")
    if exc.status >= 500:
        return TemporaryFailure(f"{exc.status}")
    return PermanentFailure(f"{exc.status} {exc.code}")


class DiscordSender:
    platform = PLATFORM

    def __init__(self, connected: Callable[[], Awaitable[discord.Client]], limits: PlatformLimits) -> None:
        # The client, once its gateway session is up (the engine may start before the adapter has).
        self._connected = connected
        self._limits = limits

    def limits(self) -> PlatformLimits:
        return self._limits

    def is_group(self, address: str) -> bool:
        return address.startswith(GROUP_PREFIX)

    async def send(self, address: str, reply: Reply) -> None:
        try:
            client = await asyncio.wait_for(self._connected(), CONNECT_WAIT)
        except (TimeoutError, RuntimeError) as exc:
            raise TemporaryFailure("not connected to Discord") from exc
        channel = client.get_partial_messageable(int(address.removeprefix(GROUP_PREFIX)))
        try:
            for message in render(reply):
                await channel.send(**message.kwargs())
        except discord.RateLimited as exc:
            raise RetryAfter(exc.retry_after) from exc
        except discord.HTTPException as exc:
            raise delivery_error(exc) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise TemporaryFailure(type(exc).__name__) from exc
