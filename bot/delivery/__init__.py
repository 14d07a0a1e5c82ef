"""Broadcasts and reminders: a durable outbox, paced senders, and the scheduler that feeds them.

Adapters provide a :class:`Sender` per platform; the core runs one :class:`Engine` per sender and
one :class:`Scheduler` per process.
"""

from __future__ import annotations

from bot.delivery.engine import Engine
from bot.delivery.errors import ChatMoved, DeliveryError, PermanentFailure, RecipientGone, RetryAfter, TemporaryFailure
from bot.delivery.scheduler import Scheduler
from bot.delivery.sender import Sender

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
