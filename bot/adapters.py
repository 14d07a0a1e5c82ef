"""The adapter contract and registry: adapters register by name; the core runs the enabled ones."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from bot.config import Config
    from bot.core import Core
    from bot.delivery import Sender


class Adapter(Protocol):
    name: str

    async def run(self, core: Core, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set (or, for the console, until its input ends)."""


@runtime_checkable
class DeliveringAdapter(Protocol):
    """An adapter that can also deliver broadcasts and reminders to its platform."""

    name: str

    async def run(self, core: Core, stop: asyncio.Event) -> None: ...

    def sender(self, config: Config) -> Sender: ...


@runtime_checkable
class Monitored(Protocol):
    """An adapter that can tell whether it is connected (for /healthz)."""

    def health(self) -> str | None:
        """None when connected and serving; otherwise why not, in a few words naming the platform."""


AdapterFactory = Callable[["Config"], Adapter]

# Built-in adapters are imported only when enabled: the core never imports a platform library.
_BUILTIN = {name: f"adapters.{name}" for name in ("console", "telegram", "discord")}
_REGISTRY: dict[str, AdapterFactory] = {}


class AdapterError(Exception):
    pass


def register(name: str, factory: AdapterFactory) -> None:
    _REGISTRY[name] = factory


def _builtin(name: str) -> ModuleType:
    try:
        return importlib.import_module(_BUILTIN[name])
    except ImportError as exc:
        raise AdapterError(
            f"the {name} adapter is enabled but cannot be loaded ({exc}); "
            f"install it with: pip install 'advocacy-bot[{name}]'"
        ) from exc


def create(name: str, config: Config) -> Adapter:
    if name not in _REGISTRY and name in _BUILTIN:
        _builtin(name).register()
    factory = _REGISTRY.get(name)
    if factory is None:
        raise AdapterError(f"no adapter named {name!r} (known: {', '.join(sorted(set(_BUILTIN) | set(_REGISTRY)))})")
    return factory(config)


async def check(name: str, config: Config) -> str:
    """Whether a built-in platform adapter could start: its token set and accepted (``doctor``).

    Returns what the platform says the bot is; raises AdapterError with the reason otherwise.
    """
    result: str = await _builtin(name).check(config)
    return result
