"""What a sender raises, by what the engine should do next (platform libraries stay in adapters)."""

from __future__ import annotations


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
