"""The one thing an adapter implements for delivery: sending one message to one address."""

from __future__ import annotations

from typing import Protocol

from bot.config import PlatformLimits
from bot.events import Reply


class Sender(Protocol):
    platform: str

    def limits(self) -> PlatformLimits:
        """The pace this platform allows (normally from the configuration)."""

    def is_group(self, address: str) -> bool:
        """Whether ``address`` is a group chat (groups have a per-minute limit of their own)."""

    async def send(self, address: str, reply: Reply) -> None:
        """Deliver ``reply``; raise a :mod:`bot.delivery.errors` exception when it was not delivered."""
