"""The console: chat with the bot in a terminal, interactively or piped (no library, no token)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.port.delivery import PlatformLimits
from bot.port.languages import LANGUAGES
from bot.port.platform import Platform


@dataclass(frozen=True)
class ConsoleConfig:
    enabled: bool = True
    # Who the console user is, so that organiser features can be tried locally.
    user_id: str = "local"
    language: str | None = None
    # Keep typed lines in a history file in the data directory (advocacy-bot console --no-history: no).
    history: bool = field(default=True, metadata={"option": False})


def _problems(settings: ConsoleConfig) -> list[str]:
    if settings.language is not None and settings.language not in LANGUAGES:
        return [f"language: {settings.language!r} is not one of {', '.join(LANGUAGES)}"]
    return []


PLATFORM = Platform(
    name="console",
    settings=ConsoleConfig,
    limits=PlatformLimits(50.0),
    implementation="adapters.console.adapter",
    server=False,
    validate=_problems,
    order=0,
)
