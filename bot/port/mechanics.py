"""What every adapter does the same way, written once: one person's (or chat's) events handled in
turn, and consecutive messages joined where a platform would take them as one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class KeyedLocks(Generic[K]):
    """One lock per key (a person, a chat), kept only while someone holds or awaits it: memory does not
    grow with every key ever seen."""

    def __init__(self) -> None:
        self._locks: dict[K, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return len(self._locks)

    @contextlib.asynccontextmanager
    async def of(self, key: K) -> AsyncIterator[None]:
        lock, waiting = self._locks.get(key, (None, 0))
        lock = lock or asyncio.Lock()
        self._locks[key] = (lock, waiting + 1)
        try:
            async with lock:
                yield
        finally:
            waiting = self._locks[key][1] - 1
            if waiting:
                self._locks[key] = (lock, waiting)
            else:
                del self._locks[key]


def coalesce(items: Sequence[T], joinable: Callable[[T, T], bool], join: Callable[[T, T], T]) -> list[T]:
    """Consecutive ``items`` joined wherever ``joinable(previous, next)``: fewer messages keep a
    conversation under a platform's flood limits and ping people less."""
    out: list[T] = []
    for item in items:
        if out and joinable(out[-1], item):
            out[-1] = join(out[-1], item)
        else:
            out.append(item)
    return out
