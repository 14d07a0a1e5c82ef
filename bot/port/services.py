"""The one interface adapters are given: handle an event, and the few services a platform needs.

The core implements it (:class:`bot.core.app.Core`); an adapter never sees the store, the keys or the
features behind it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from bot.port.events import Event
from bot.port.markup import RichText
from bot.port.outcome import Outcome


class Strings(Protocol):
    """Interface strings by key, in a language (with the default language and English behind it)."""

    def has(self, lang: str, key: str) -> bool: ...

    def rich(self, lang: str, key: str, **params: Any) -> RichText: ...

    def text(self, lang: str, key: str, **params: Any) -> str: ...


class Settings(Protocol):
    """One platform's own settings, by scope (a Discord server, the buttons too long for Telegram)."""

    async def get(self, scope: str, name: str) -> str | None: ...

    async def all(self, scope: str) -> dict[str, str]: ...

    async def set(self, scope: str, name: str, value: str | None) -> None:
        """Store (or, with None, remove) one setting."""

    async def forget(self, scope: str) -> int:
        """Remove every setting of one scope."""


@dataclass(frozen=True)
class ArgumentChoice:
    """One value an argument may take, labelled in a language."""

    label: str
    value: str
    # The interface-string key of the label, when it is one: a platform may show it in each client's language.
    key: str | None = None


@dataclass(frozen=True)
class Argument:
    """A command's one argument, for platforms whose commands declare theirs (Discord's options)."""

    # What it is: "question", "petition", "topic"...
    name: str
    required: bool = False
    # The most characters it may have; None: as many as a message (a question).
    max_length: int | None = None
    # The values to choose from, labelled in a language; None: typed freely.
    choices: Callable[[str], list[ArgumentChoice]] | None = None


@dataclass(frozen=True)
class CommandInfo:
    """A command of the core, as platforms list it in their menus."""

    name: str
    # Interface-string key of its one-line description.
    description: str
    organiser_only: bool = False
    # Handles personal data: a platform should offer it only where it is private.
    personal: bool = False
    argument: Argument | None = None


class Role(Protocol):
    """Being the one instance that does something (polls a platform's updates)."""

    @property
    def lost(self) -> asyncio.Event:
        """Set when another instance may have taken the role over: stop at once."""


class Port(Protocol):
    @property
    def default_language(self) -> str: ...

    @property
    def strings(self) -> Strings: ...

    @property
    def organisers(self) -> tuple[str, ...]:
        """The organisers of the configuration, as "platform:user_id"."""

    def commands(self) -> Sequence[CommandInfo]:
        """Every command, in the order /help lists them."""

    def settings(self, platform: str) -> Settings: ...

    async def handle(self, event: Event) -> Outcome:
        """Every reply to one event. Never raises: a failure is logged and the person told."""

    async def current(self, event: Event) -> Outcome:
        """The language and the form under way of the person of ``event``, handling nothing: for what an
        adapter shows on its own (a button that expired, a form to open, its settings)."""

    def rate_limited(self, platform: str) -> None:
        """Count a 429 the platform answered."""

    async def subscribe_place(self, platform: str, place: str, address: str, language: str) -> None:
        """Subscribe a place (a server's announcement channel) to every topic, delivering to ``address``."""

    async def unsubscribe_place(self, platform: str, place: str) -> None: ...

    async def forget_place(self, platform: str, place: str) -> None:
        """Erase a place's subscriptions and what is queued for it (the bot left it)."""

    async def arrived(self, platform: str, update_id: int, chat: str | None) -> bool:
        """Note an update the platform numbered as it arrives, before the platform is told it did;
        False if it had arrived before (delivered again, to this instance or another): drop it."""

    def chat_turn(self, platform: str, update_id: int, chat: str | None) -> AbstractAsyncContextManager[None]:
        """Handle an update in its chat's turn: after the chat's earlier updates, whichever instance
        received them, and while no other instance handles one of that chat."""

    def elected(self, role: str, stop: asyncio.Event) -> AbstractAsyncContextManager[Role | None]:
        """Wait until this instance is the one that plays ``role`` (e.g. polls a platform): only one
        instance at a time does; None if ``stop`` came first."""
