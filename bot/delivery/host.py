"""What the delivery engine and the scheduler ask of the process they run in (the core provides it)."""

from __future__ import annotations

from typing import Protocol

from bot.campaigns.people import People
from bot.campaigns.subscriptions import Subscriptions
from bot.content.i18n import Locales
from bot.content.model import Content
from bot.delivery.settings import DeliveryConfig, RemindersConfig
from bot.port.clock import Clock
from bot.privacy.crypto import Keyring
from bot.storage.database import Store


class Counts(Protocol):
    def sent(self, platform: str) -> None: ...

    def failed(self, platform: str, reason: str) -> None: ...


class Host(Protocol):
    @property
    def store(self) -> Store: ...

    @property
    def keyring(self) -> Keyring: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def content(self) -> Content: ...

    @property
    def locales(self) -> Locales: ...

    @property
    def people(self) -> People: ...

    @property
    def subscriptions(self) -> Subscriptions: ...

    @property
    def metrics(self) -> Counts: ...

    @property
    def delivery(self) -> DeliveryConfig: ...

    @property
    def reminders(self) -> RemindersConfig: ...

    @property
    def default_language(self) -> str: ...
