"""Broadcasts and reminders: a durable outbox, paced senders, and the scheduler that feeds them.

Adapters provide a :class:`Sender` per platform (the contract is the port's: :mod:`bot.port.delivery`);
a running bot has one :class:`Engine` per sender and one :class:`Scheduler`.
"""

from __future__ import annotations

from bot.delivery.engine import Engine
from bot.delivery.scheduler import Scheduler
from bot.port.delivery import (
    ChatMoved,
    DeliveryError,
    PermanentFailure,
    RecipientGone,
    RetryAfter,
    Sender,
    TemporaryFailure,
)

__all__ = [
    "ChatMoved",
    "DeliveryError",
    "Engine",
    "PermanentFailure",
    "RecipientGone",
    "RetryAfter",
    "Scheduler",
    "Sender",
    "TemporaryFailure",
]
