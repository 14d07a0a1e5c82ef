"""What a platform declares, and what its adapter offers the core.

A platform package declares a :class:`Platform` in its ``__init__`` (which imports no platform library)
and registers it under the ``advocacy_bot.platforms`` entry-point group; its adapter module, named by
``implementation``, is imported only when the platform is enabled, and defines ``create`` (and, for
``advocacy-bot doctor``, ``check``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from bot.port.delivery import PlatformLimits, Sender
from bot.port.services import Port

S = TypeVar("S")


class AdapterError(Exception):
    """An adapter cannot start or go on (a rejected token, a missing library): the reason, for people."""


class Adapter(Protocol):
    name: str

    async def run(self, core: Port, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set (or, for the console, until its input ends)."""


@runtime_checkable
class DeliveringAdapter(Protocol):
    """An adapter that can also deliver broadcasts and reminders to its platform."""

    name: str

    async def run(self, core: Port, stop: asyncio.Event) -> None: ...

    def sender(self) -> Sender: ...


@runtime_checkable
class Monitored(Protocol):
    """An adapter that can tell whether it is connected (for /healthz)."""

    def health(self) -> str | None:
        """None when connected and serving; otherwise why not, in a few words naming the platform."""


@dataclass(frozen=True)
class Setup(Generic[S]):
    """What an adapter is created with."""

    # Its section of the configuration.
    settings: S
    # The pace its deliveries keep.
    limits: PlatformLimits
    # Where the bot keeps its files (the console's history).
    data_dir: Path


@dataclass(frozen=True)
class Installing:
    """What ``advocacy-bot init --<platform>`` writes for a platform that a new installation may enable."""

    # The environment variable its token comes from, and where one gets the token.
    token_env: str
    token_source: str
    # An organiser on it, as platform:user_id (shown as an example in the configuration).
    organiser_example: str
    # Its section's lines after "enabled: true", indented, each option with a comment saying why.
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Platform(Generic[S]):
    name: str
    # Its section of the configuration: a frozen dataclass with an ``enabled`` option; every option
    # has a default. A field with ``metadata={"option": False}`` is set by the program, not the file.
    settings: type[S]
    # The pace of deliveries unless the configuration's delivery.<name> says otherwise.
    limits: PlatformLimits
    # The module defining ``create(setup) -> Adapter`` and ``async check(settings) -> str``.
    implementation: str
    # The extra that installs its library (pip install 'advocacy-bot[<extra>]'); None: none needed.
    extra: str | None = None
    # A folder of its own interface strings (<lang>.yaml), behind the content's.
    strings: Path | None = None
    # Whether it serves people over a network (a bot token): then a secret key must be configured,
    # and the doctor asks the platform whether it accepts the token.
    server: bool = True
    # Where its library logs request URLs or payloads: held at WARNING whatever the level.
    loggers: tuple[str, ...] = ()
    # Problems of a section, each "option: reason" (checked when the configuration is loaded).
    validate: Callable[[S], list[str]] = field(default=lambda settings: [])
    # Where it comes among the platforms (the doctor's checks, the adapters started, broadcast menus):
    # lower first, then by name.
    order: int = 100
    # What ``advocacy-bot init`` writes for it (its --<name> option); None: init offers no such option.
    installing: Installing | None = None

    def enabled(self, settings: Any) -> bool:
        return bool(getattr(settings, "enabled", False))
