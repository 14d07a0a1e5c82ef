"""What the core is made of, and what features answer through (``ctx.core``): the configuration, the
content and its index, the interface strings, and the records of the store, each kind on its own."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from bot import content as content_pkg
from bot.campaigns.conversations import Conversations
from bot.campaigns.people import People
from bot.campaigns.personal import Personal
from bot.campaigns.petitions import Signatures
from bot.campaigns.pledges import Pledges
from bot.campaigns.subscriptions import Subscriptions
from bot.content.i18n import Locales
from bot.content.model import Content
from bot.core import registry
from bot.core.config import Config
from bot.core.metrics import Metrics
from bot.delivery.settings import DeliveryConfig, RemindersConfig
from bot.port.clock import Clock, SystemClock
from bot.privacy.crypto import Keyring
from bot.qa.deciding import Decider
from bot.qa.replies import ReplyBuilder
from bot.storage.database import Store
from bot.sync.outbox import SyncOutbox


@dataclass
class Services:
    """What is built from the configuration and the content alone; separate so tests and tools can build
    one (the index takes seconds) without a store, and share it."""

    config: Config
    content: Content
    locales: Locales
    decider: Decider
    replies: ReplyBuilder


def build_services(config: Config, content: Content | None = None) -> Services:
    loaded = content or content_pkg.load(config.content_path)
    # The platforms' own strings stand behind the content's (which may reword them).
    locales = Locales(registry.strings(loaded.locales), config.default_language)
    answering = config.answering
    calibration = loaded.calibration
    if answering.answer_threshold is not None or answering.clarify_threshold is not None:
        # A deployment's own thresholds hold in every language.
        calibration = dataclasses.replace(
            calibration,
            answer=calibration.answer if answering.answer_threshold is None else answering.answer_threshold,
            clarify=calibration.clarify if answering.clarify_threshold is None else answering.clarify_threshold,
            languages={},
        )
    decider = Decider(loaded, calibration, config.default_language)
    return Services(config, loaded, locales, decider, ReplyBuilder(loaded, locales, config.emergency_country))


class Capabilities:
    def __init__(self, services: Services, store: Store, keyring: Keyring, clock: Clock | None = None) -> None:
        self.services = services
        self.config = services.config
        self.content = services.content
        self.locales = services.locales
        self.decider = services.decider
        self.replies = services.replies
        self.store = store
        self.keyring = keyring
        self.people = People(store, keyring)
        self.pledges = Pledges(store, self.people)
        self.signatures = Signatures(store, keyring, self.people)
        self.subscriptions = Subscriptions(store, keyring, self.people)
        self.conversations = Conversations(store, keyring, self.people)
        self.personal = Personal(store, self.people, self.pledges, self.signatures, self.conversations)
        self.sync = SyncOutbox(store, keyring)
        # Every "now" of the core comes from here, so tests can move time without sleeping.
        self.clock: Clock = clock or SystemClock()
        # Called when messages are queued, so that idle delivery engines start at once.
        self.wake_delivery: Callable[[], None] = lambda: None
        # Called when CRM events are queued, so that an idle sync engine starts at once.
        self.wake_sync: Callable[[], None] = lambda: None
        self.metrics = Metrics()

    @property
    def default_language(self) -> str:
        return self.config.default_language

    @property
    def delivery(self) -> DeliveryConfig:
        return self.config.delivery

    @property
    def reminders(self) -> RemindersConfig:
        return self.config.reminders

    @property
    def conversation_timeout(self) -> timedelta:
        return timedelta(minutes=self.config.conversations.timeout_minutes)
