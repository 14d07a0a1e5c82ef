"""How broadcasts and reminders go out: the outbox's guarantees and pace, and the reminders' hour."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.port.delivery import PlatformLimits


@dataclass(frozen=True)
class DeliveryConfig:
    # A message that was being sent when the process died (kill -9, power cut): "at-least-once"
    # sends it again on restart (that person may get it twice), "at-most-once" never does (it is
    # counted as failed, outcome unknown). Either way at most `window` messages per platform.
    in_flight: str = "at-least-once"
    # Messages handed to a platform at once, per platform: the most a crash can double (or lose).
    window: int = 25
    # With several instances on one database (PostgreSQL): how long messages handed to a platform stay
    # the sending instance's. If it dies, another sends them again (or counts them failed, as
    # in_flight says) once this has passed; renewed while it lives, so it must only outlast a stall.
    lease_seconds: float = 60.0
    # Attempts at a message that keeps failing with a temporary error, before giving up.
    max_attempts: int = 5
    # Waits between attempts double from `retry_base_seconds` up to `retry_max_seconds`, with jitter.
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 600.0
    # Each platform's pace (delivery.<platform> in the file): those not given keep the pace the
    # platform declares (see bot.core.config.Config.limits).
    limits: Mapping[str, PlatformLimits] = field(default_factory=dict, metadata={"option": False})


@dataclass(frozen=True)
class RemindersConfig:
    # Local hour (0-23) at which action-day reminders are sent, in each subscriber's time zone.
    hour: int = 10
    # Reminders missed (bot down) by less than this are sent late; older ones are skipped and logged.
    grace_hours: float = 6.0
    # The time zone of subscribers who have not set one with /timezone (an IANA name).
    default_timezone: str = "UTC"
