"""The delivery contract between the core and a platform: the pace a platform allows, the one thing
an adapter implements (sending one message to one address), and what it raises when it could not.

Platform libraries stay in adapters: a sender translates its library's errors into these.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.port.events import Reply


@dataclass(frozen=True)
class PlatformLimits:
    # Messages per second to different chats, all together.
    per_second: float
    # Messages per second to one chat; None: no limit of its own.
    per_chat_per_second: float | None = None
    # Messages per minute to one group chat; None: no limit of its own.
    per_group_per_minute: float | None = None


class Sender(Protocol):
    platform: str

    def limits(self) -> PlatformLimits:
        """The pace this platform allows (normally from the configuration)."""

    def is_group(self, address: str) -> bool:
        """Whether ``address`` is a group chat (groups have a per-minute limit of their own)."""

    async def send(self, address: str, reply: Reply) -> None:
        """Deliver ``reply``; raise a :class:`DeliveryError` when it was not delivered."""


class DeliveryError(Exception):
    """A message was not delivered."""


class RetryAfter(DeliveryError):
    """The platform asked us to wait (flood control): nothing may be sent before ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


class TemporaryFailure(DeliveryError):
    """Worth trying again later (network trouble, a 5xx)."""


class PermanentFailure(DeliveryError):
    """Trying again would fail the same way (a 400, say)."""


class RecipientGone(PermanentFailure):
    """The person can no longer be reached (blocked the bot, closed DMs, chat deleted)."""


class ChatMoved(DeliveryError):
    """The chat has a new address (a Telegram group that became a supergroup)."""

    def __init__(self, new_address: str) -> None:
        super().__init__("chat moved")
        self.new_address = new_address
