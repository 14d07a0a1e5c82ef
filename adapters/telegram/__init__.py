"""Telegram, through python-telegram-bot (the telegram extra): long polling or a webhook."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.port.delivery import PlatformLimits
from bot.port.platform import Installing, Platform

TOKEN_ENV = "TELEGRAM_BOT_TOKEN"


@dataclass(frozen=True)
class TelegramConfig:
    enabled: bool = False
    base_url: str = "https://api.telegram.org/bot"
    # "polling" (nothing to expose) or "webhook" (Telegram calls webhook_url; needs HTTPS in front).
    mode: str = "polling"
    # Webhook mode: the address and port the bot listens on, the path, and the public HTTPS URL
    # Telegram is told to call (null: none, which is only valid in polling mode). The secret that
    # every webhook request must carry comes from TELEGRAM_WEBHOOK_SECRET.
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_path: str = "telegram"
    webhook_url: str | None = None
    # Updates handled at the same time (one chat's are always handled in order). Each one mostly
    # waits for Telegram, so more helps when it is far; but every extra connection costs CPU in the
    # HTTP client (bench/telegram_bench.py: 4 gives ~80-95% of a bare echo bot's throughput, 32 ~60%).
    concurrent_updates: int = 4


def _problems(settings: TelegramConfig) -> list[str]:
    problems = []
    if settings.mode not in ("polling", "webhook"):
        problems.append(f"mode: {settings.mode!r} is not polling or webhook")
    if settings.mode == "webhook" and not (settings.webhook_url or "").startswith("https://"):
        problems.append("webhook_url: webhook mode needs the public https:// address Telegram will call")
    if not 1 <= settings.concurrent_updates <= 512:
        problems.append("concurrent_updates: must be between 1 and 512")
    if not 1 <= settings.webhook_port <= 65535:
        problems.append("webhook_port: must be between 1 and 65535")
    if not re.match(r"^(https?|wss?)://\S+$", settings.base_url):
        problems.append(f"base_url: {settings.base_url!r} is not an http(s) or ws(s) address")
    return problems


PLATFORM = Platform(
    name="telegram",
    settings=TelegramConfig,
    # Telegram's flood limits: about 30 messages a second, one a second to a chat, 20 a minute to a group.
    limits=PlatformLimits(25.0, 1.0, 20.0),
    implementation="adapters.telegram.adapter",
    extra="telegram",
    loggers=("telegram", "httpx", "httpcore", "hpack", "tornado"),
    validate=_problems,
    order=1,
    installing=Installing(
        TOKEN_ENV,
        "from @BotFather (README: Running it on Telegram)",
        "telegram:123456789",
        ("  # polling needs nothing exposed; webhook: see config.example.yaml.", "  mode: polling"),
    ),
)
