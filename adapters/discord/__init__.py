"""Discord, through discord.py (the discord extra): slash commands, buttons and modals."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bot.port.delivery import PlatformLimits
from bot.port.platform import Installing, Platform

TOKEN_ENV = "DISCORD_BOT_TOKEN"


@dataclass(frozen=True)
class DiscordConfig:
    enabled: bool = False
    # Where discord.py connects (REST, then the gateway's websocket); changed only for a test server.
    api_base: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg/"
    # Server ids whose organiser role (/setup organisers) may use organiser commands; empty: every
    # server the bot is in (then only you should be able to add it: Public Bot off in the portal).
    organiser_servers: tuple[str, ...] = ()
    # Sharding, for a bot in many servers (Discord requires it above 2,500) or run by several processes:
    # the servers are split into shard_count shards (by server id) and this process serves shard_ids
    # (every shard when empty). null: one connection for everything, as a small bot needs.
    shard_count: int | None = None
    shard_ids: tuple[str, ...] = ()


def _problems(settings: DiscordConfig) -> list[str]:
    problems = [
        f"{option}: {url!r} is not an http(s) or ws(s) address"
        for option, url in (("api_base", settings.api_base), ("gateway_url", settings.gateway_url))
        if not re.match(r"^(https?|wss?)://\S+$", url)
    ]
    count = settings.shard_count
    if count is not None and count < 1:
        problems.append("shard_count: must be at least 1")
    elif settings.shard_ids and count is None:
        problems.append("shard_ids: needs shard_count (how many shards there are in all)")
    elif count is not None:
        wrong = [s for s in settings.shard_ids if not s.isdigit() or int(s) >= count]
        if wrong:
            problems.append(f"shard_ids: {', '.join(wrong)} not among the shards 0 to {count - 1}")
    return problems


PLATFORM = Platform(
    name="discord",
    settings=DiscordConfig,
    limits=PlatformLimits(40.0),
    implementation="adapters.discord.adapter",
    extra="discord",
    # Its own interface strings (its /setup, its forms, its commands' options): locales/<lang>.yaml.
    strings=Path(__file__).parent,
    loggers=("discord", "aiohttp", "websockets"),
    validate=_problems,
    order=2,
    installing=Installing(
        TOKEN_ENV,
        "Discord developer portal: Bot, Reset Token (README: Running it on Discord)",
        "discord:123456789012345678",
        (
            "  # Server ids whose organiser role may use organiser commands; empty: every server the bot is in.",
            "  organiser_servers: []",
        ),
    ),
)
