"""The registry: the platforms and features installed, discovered through entry points.

A platform is registered in the ``advocacy_bot.platforms`` group under its name, pointing at its
:class:`bot.port.platform.Platform` declaration; the core derives from it all it needs (the
configuration's sections, the command line's choices, broadcast audiences, the doctor's checks), so
no list of platforms is written anywhere else. Features are registered in ``advocacy_bot.features``,
pointing at a sequence of feature classes (:class:`bot.core.feature.Feature`), or any callables, that
add their commands, buttons and forms to the router they are given; the project's own come first, in
their order. :func:`reload` forgets what was read (after installing a
package at run time, as the tests do).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

from bot.content.schema import load_locales
from bot.content.yamlio import ContentError, Problem
from bot.port.platform import Adapter, AdapterError, Platform, Setup

PLATFORMS = "advocacy_bot.platforms"
FEATURES = "advocacy_bot.features"
# The distribution whose features come first.
OWN = "advocacy-bot"


@cache
def platforms() -> dict[str, Platform[Any]]:
    """Every platform installed, by name: the project's own first, then others', each in the order they
    declare (then by name); it is the order of the doctor's checks, of the adapters started, of menus."""
    found: dict[str, tuple[tuple[bool, int, str], Platform[Any]]] = {}
    for point in sorted(entry_points(group=PLATFORMS), key=_own_first):
        declared = point.load()
        if not isinstance(declared, Platform) or declared.name != point.name:
            raise AdapterError(f"the entry point {point.name} = {point.value} is not the Platform named {point.name}")
        found.setdefault(declared.name, ((_own_first(point)[0], declared.order, declared.name), declared))
    if not found:
        raise AdapterError(
            f"no platform is registered (entry points {PLATFORMS}): the installation's metadata is missing "
            "or stale; install the bot again (pip install -e . in a checkout)"
        )
    return {name: declared for name, (_, declared) in sorted(found.items(), key=lambda item: item[1][0])}


@cache
def features() -> tuple[Callable[[Any], object], ...]:
    """What adds each feature to a router (given the router), in order."""
    found: list[Callable[[Any], object]] = []
    for point in sorted(entry_points(group=FEATURES), key=_own_first):
        loaded = point.load()
        found.extend(loaded if isinstance(loaded, Sequence) else [loaded])
    return tuple(found)


def _own_first(point: Any) -> tuple[bool, str]:
    return (point.dist.name if point.dist is not None else "") != OWN, point.name


def reload() -> None:
    platforms.cache_clear()
    features.cache_clear()


def names() -> tuple[str, ...]:
    return tuple(platforms())


def platform(name: str) -> Platform[Any]:
    found = platforms().get(name)
    if found is None:
        raise AdapterError(f"no adapter named {name!r} (known: {', '.join(sorted(platforms()))})")
    return found


def implementation(name: str) -> ModuleType:
    """The platform's adapter module, imported now: only an enabled platform's library is ever loaded."""
    declared = platform(name)
    try:
        return importlib.import_module(declared.implementation)
    except ImportError as exc:
        install = f"; install it with: pip install 'advocacy-bot[{declared.extra}]'" if declared.extra else ""
        raise AdapterError(f"the {name} adapter is enabled but cannot be loaded ({exc}){install}") from exc


def create(name: str, setup: Setup[Any]) -> Adapter:
    adapter: Adapter = implementation(name).create(setup)
    return adapter


async def check(name: str, settings: Any) -> str:
    """Whether a platform adapter could start: its token set and accepted (``doctor``).

    Returns what the platform says the bot is; raises AdapterError with the reason otherwise.
    """
    result: str = await implementation(name).check(settings)
    return result


def strings(content: Mapping[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """The content's interface strings with the platforms' own behind them (the content may reword them)."""
    merged = {lang: dict(table) for lang, table in content.items()}
    for declared in platforms().values():
        if declared.strings is None:
            continue
        problems: list[Problem] = []
        own = load_locales(declared.strings, problems)
        if problems:
            raise ContentError(problems)
        for lang, table in own.items():
            merged[lang] = {**table, **merged.get(lang, {})}
    return merged
