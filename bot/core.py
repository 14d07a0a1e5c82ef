"""The core: content, store and router shared by every adapter in the process."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from bot import content as content_pkg
from bot.answering import Answerer, usual_country
from bot.clock import Clock, SystemClock, idle
from bot.config import Config
from bot.content.model import LANGUAGES, Content
from bot.crypto import Keyring
from bot.events import ChatKind, Command, Event, Reply, ReplyKind, Text
from bot.i18n import Locales
from bot.logs import without_message
from bot.metrics import Metrics
from bot.records import Records
from bot.router import Context, Router
from bot.secret_key import load_key
from bot.store import Store

log = logging.getLogger(__name__)

# How often a running bot forgets abandoned forms: a half-filled sign-up holds a name and an
# e-mail address, and is kept no longer than the configured silence and this, together.
HOUSEKEEPING_SECONDS = 60.0


def language_code(tag: str | None) -> str | None:
    """A supported two-letter language from a platform's tag ("pt-BR" -> "pt"), or None."""
    if not tag:
        return None
    code = tag.replace("_", "-").split("-")[0].lower()
    return code if code in LANGUAGES else None


@dataclass
class Services:
    """What the core is made of; separate so tests and tools can build one without a store."""

    config: Config
    content: Content
    locales: Locales
    answerer: Answerer


def build_services(config: Config, content: Content | None = None) -> Services:
    loaded = content or content_pkg.load(config.content_path)
    locales = Locales(loaded.locales, config.default_language)
    answering = config.answering
    calibration = dataclasses.replace(
        loaded.calibration,
        answer=loaded.calibration.answer if answering.answer_threshold is None else answering.answer_threshold,
        clarify=loaded.calibration.clarify if answering.clarify_threshold is None else answering.clarify_threshold,
    )
    answerer = Answerer(loaded, locales, calibration, config.emergency_country, config.default_language)
    return Services(config, loaded, locales, answerer)


class Core:
    def __init__(
        self,
        services: Services,
        store: Store,
        keyring: Keyring,
        router: Router,
        clock: Clock | None = None,
    ) -> None:
        self.services = services
        self.config = services.config
        self.content = services.content
        self.locales = services.locales
        self.answerer = services.answerer
        self.store = store
        self.keyring = keyring
        self.records = Records(store, keyring)
        self.router = router
        # Every "now" of the core comes from here, so tests can move time without sleeping.
        self.clock: Clock = clock or SystemClock()
        # Called when messages are queued, so that idle delivery engines start at once.
        self.wake_delivery: Callable[[], None] = lambda: None
        self.metrics = Metrics()

    @classmethod
    async def open(
        cls,
        config: Config,
        *,
        create_key: bool = True,
        notice: Callable[[str], None] | None = None,
        services: Services | None = None,
    ) -> Core:
        from bot.handlers import build_router

        # Prebuilt services (tests, tools) carry the content and index; the configuration is this one.
        services = dataclasses.replace(services, config=config) if services else build_services(config)
        secret = load_key(config.data_dir, create=create_key, notice=notice)
        store = await Store.open(config.store_path)
        try:
            keyring = await Keyring.open(store, secret)
            core = cls(services, store, keyring, build_router())
            sealed = await core.records.seal_timezones()
            if sealed:
                log.info("encrypted %d time zone(s) stored in clear by an earlier version", sealed)
            await core.maintain()
        except BaseException:
            await store.close()
            raise
        return core

    async def close(self) -> None:
        await self.store.close()

    @property
    def conversation_timeout(self) -> timedelta:
        return timedelta(minutes=self.config.conversations.timeout_minutes)

    async def maintain(self) -> None:
        """Housekeeping: forget sign-ups abandoned halfway (they may hold a name)."""
        purged = await self.records.purge_conversations(self.clock(), self.conversation_timeout)
        if purged:
            log.info("forgot %d abandoned conversation(s)", purged)

    async def keep_tidy(self, stop: asyncio.Event) -> None:
        """Housekeeping every ``HOUSEKEEPING_SECONDS`` while the bot runs (it also runs at start)."""
        while not stop.is_set():
            await idle(HOUSEKEEPING_SECONDS, stop)
            if stop.is_set():
                return
            try:
                await self.maintain()
            except Exception:
                log.exception("housekeeping failed; trying again in %d s", HOUSEKEEPING_SECONDS)

    async def language_for(self, event: Event, user_key: str) -> str:
        """The person's /language choice; else the language of their question when it can be told
        (from the question variants it matches when the detector is unsure); else their platform's
        language; else the configured default."""
        chosen = await self.store.user_language(user_key)
        if chosen:
            return chosen
        fallback = language_code(event.user.language) or self.config.default_language
        content = event.content
        if isinstance(content, Text):
            question = content.text
        elif isinstance(content, Command) and content.name == "ask":
            # The only command whose argument is a question.
            question = content.args
        else:
            return fallback
        detected = self.answerer.language_of(question, prefer=fallback)
        if detected is None or detected == fallback:
            return fallback
        # Text typed into a form (a name, a country, a broadcast's body) answers the form rather
        # than asking anything: the form goes on in the language it started in.
        if (
            isinstance(content, Text)
            and event.chat.kind is ChatKind.PRIVATE
            and await self.records.conversation(user_key) is not None
        ):
            return fallback
        return detected

    async def handle(self, event: Event) -> list[Reply]:
        """Every reply to one event. Never raises: a failure is logged and the user told."""
        started = time.perf_counter()
        replies = await self._handle(event)
        self.metrics.handled(event.user.platform, event.content, replies, time.perf_counter() - started)
        return replies

    async def _handle(self, event: Event) -> list[Reply]:
        user_key = self.keyring.user_id(event.user.platform, event.user.id)
        lang = self.config.default_language
        try:
            lang = await self.language_for(event, user_key)
            ctx = Context(self, event, user_key, lang)
            if event.chat.kind is ChatKind.GROUP and not event.addressed:
                return await self._unaddressed(ctx)
            return await self.router.dispatch(ctx)
        except Exception as exc:
            # Where it failed, but neither the text of the event nor the exception's message: either
            # may quote what someone typed (a name, an e-mail address, a question).
            log.error(
                "failed to handle a %s event on %s: %s",
                type(event.content).__name__,
                event.user.platform,
                without_message(exc),
            )
            return [Reply(self.locales.rich(lang, "error.internal"), kind=ReplyKind.ERROR)]

    async def _unaddressed(self, ctx: Context) -> list[Reply]:
        """In a group, text not meant for the bot gets an answer only if it describes an emergency or a
        crisis (the crisis answer goes to the person privately)."""
        content = ctx.event.content
        if isinstance(content, Text) and self.answerer.is_alarm(content.text):
            return await self.answer(ctx, content.text)
        return []

    async def answer(self, ctx: Context, question: str) -> list[Reply]:
        """The replies to a question, with the local emergency number and crisis line when it needs them."""
        answer = self.answerer.answer(question, ctx.lang)
        country = await self.country_of(ctx) if answer.kind is ReplyKind.EMERGENCY or answer.about_overdose else None
        return self.answerer.replies(answer, ctx.lang, country=country, in_group=ctx.event.chat.kind is ChatKind.GROUP)

    async def country_of(self, ctx: Context) -> str | None:
        """Where the person likely is: the deployment's country; else the one they gave when signing a
        petition; else the country their platform's language points to."""
        if self.config.emergency_country:
            return self.config.emergency_country
        return await self.records.country_of(ctx.user_key) or usual_country(ctx.event.user.language)
