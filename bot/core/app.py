"""The core: one per process, shared by every adapter. It handles events and returns their outcome,
and it is the port adapters are given (:class:`bot.port.services.Port`)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from bot.campaigns.conversations import read_once
from bot.campaigns.subscriptions import TOPICS
from bot.core import registry
from bot.core.capabilities import Capabilities, Services, build_services
from bot.core.config import Config
from bot.core.context import Context
from bot.core.router import Router
from bot.core.served import Served
from bot.port.clock import Clock, idle
from bot.port.events import ChatKind, Command, Event, Reply, ReplyKind, Text
from bot.port.languages import language_code
from bot.port.outcome import Outcome
from bot.port.redaction import without_message
from bot.port.services import CommandInfo, Strings
from bot.privacy.crypto import Keyring
from bot.privacy.secret_key import load_key
from bot.storage.counters import Counters
from bot.storage.database import Store, Term
from bot.storage.settings import PlatformSettings
from bot.storage.updates import Updates

__all__ = ["Core", "Services", "build_services"]

log = logging.getLogger(__name__)

# How often a running bot forgets abandoned forms: a half-filled sign-up holds a name and an
# e-mail address, and is kept no longer than the configured silence and this, together.
HOUSEKEEPING_SECONDS = 60.0
# How often an update waiting for an earlier one of its chat (on another instance) looks again.
TURN_POLL_SECONDS = 0.02


def build_router() -> Router:
    """A router with every installed feature on it, in the registry's order."""
    router = Router()
    for feature in registry.features():
        feature(router)
    return router


class Core(Capabilities):
    def __init__(
        self,
        services: Services,
        store: Store,
        keyring: Keyring,
        router: Router,
        clock: Clock | None = None,
    ) -> None:
        super().__init__(services, store, keyring, clock)
        self.router = router
        self.served = Served(Counters(store))
        self.updates = Updates(store)

    @classmethod
    async def open(
        cls,
        config: Config,
        *,
        create_key: bool = True,
        notice: Callable[[str], None] | None = None,
        services: Services | None = None,
        router: Router | None = None,
    ) -> Core:
        """The core on ``config``'s store; ``router``: only these features (a test of one), else every
        installed one."""
        # Prebuilt services (tests, tools) carry the content and index; the configuration is this one.
        services = dataclasses.replace(services, config=config) if services else build_services(config)
        secret = load_key(config.data_dir, create=create_key, notice=notice)
        store = await Store.open(config.database, pool_size=config.storage.pool_size)
        try:
            keyring = await Keyring.open(store, secret)
            core = cls(services, store, keyring, router or build_router())
            sealed = await core.people.seal_timezones()
            if sealed:
                log.info("encrypted %d time zone(s) stored in clear by an earlier version", sealed)
            await core.maintain()
        except BaseException:
            await store.close()
            raise
        return core

    async def close(self) -> None:
        try:
            await self.served.flush(self.clock().date())
        except Exception as exc:
            # The counts are figures for organisers: losing the last minute's must not stop a shutdown.
            log.warning("could not write the counts of answers served: %s", type(exc).__name__)
        await self.store.close()

    async def maintain(self) -> None:
        """Housekeeping: forget sign-ups abandoned halfway (they may hold a name); write the counts of
        answers served."""
        await self.served.flush(self.clock().date())
        purged = await self.conversations.purge_conversations(self.clock(), self.conversation_timeout)
        if purged:
            log.info("forgot %d abandoned conversation(s)", purged)
        await self.updates.purge(self.clock())

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

    # ------------------------------------------------------------------ handling

    def user_key(self, event: Event) -> str:
        """The pseudonymous id the store knows the person of ``event`` by."""
        return self.keyring.user_id(event.user.platform, event.user.id)

    async def language_for(self, event: Event, user_key: str) -> str:
        """The person's /language choice; else the language of their question when it can be told
        (from the question variants it matches when the detector is unsure); else their platform's
        language; else the configured default."""
        if self.store.shared and event.chat.kind is ChatKind.PRIVATE:
            # Neither is cached on a shared store: one query for both (a private event reads its form).
            chosen = await self.conversations.language_with_form(user_key)
        else:
            chosen = await self.people.language(user_key)
        if chosen:
            return chosen
        platform = language_code(event.user.language)
        fallback = platform or self.config.default_language
        content = event.content
        if isinstance(content, Text):
            question = content.text
        elif isinstance(content, Command) and content.name == "ask":
            # The only command whose argument is a question.
            question = content.args
        else:
            return fallback
        detected = self.decider.language_of(question, prefer=platform)
        if detected is None or detected == fallback:
            return fallback
        # Text typed into a form (a name, a country, a broadcast's body) answers the form rather
        # than asking anything: the form goes on in the language it started in.
        if (
            isinstance(content, Text)
            and event.chat.kind is ChatKind.PRIVATE
            and await self.conversations.conversation(user_key) is not None
        ):
            return fallback
        return detected

    async def handle(self, event: Event) -> Outcome:
        """Every reply to one event, in the language used. Never raises: a failure is logged and the
        person told."""
        started = time.perf_counter()
        with read_once():
            outcome = await self._handle(event)
        self.served.count(outcome.replies)
        self.metrics.handled(event.user.platform, event.content, outcome.replies, time.perf_counter() - started)
        return outcome

    async def _handle(self, event: Event) -> Outcome:
        user_key = self.user_key(event)
        lang = self.config.default_language
        try:
            lang = await self.language_for(event, user_key)
            ctx = Context(self, event, user_key, lang)
            if event.chat.kind is ChatKind.GROUP and not event.addressed:
                return Outcome(await self._unaddressed(ctx), lang)
            replies = await self.router.dispatch(ctx)
            if event.chat.kind is ChatKind.PRIVATE and any(reply.asks_form for reply in replies):
                return await self._with_form(ctx, replies)
            return Outcome(replies, lang)
        except Exception as exc:
            # Where it failed, but neither the text of the event nor the exception's message: either
            # may quote what someone typed (a name, an e-mail address, a question).
            log.error(
                "failed to handle a %s event on %s: %s",
                type(event.content).__name__,
                event.user.platform,
                without_message(exc),
            )
            return Outcome([Reply(self.locales.rich(lang, "error.internal"), kind=ReplyKind.ERROR)], lang)

    async def _with_form(self, ctx: Context, replies: list[Reply]) -> Outcome:
        conversation = await self.conversations.conversation(ctx.user_key)
        form = self.router.form(ctx, conversation) if conversation is not None else None
        return Outcome(replies, ctx.lang, form, in_form=conversation is not None)

    async def _unaddressed(self, ctx: Context) -> list[Reply]:
        """In a group, text not meant for the bot gets an answer only if it describes an emergency or a
        crisis (the crisis answer goes to the person privately)."""
        content = ctx.event.content
        if isinstance(content, Text) and self.decider.is_alarm(content.text):
            return await ctx.answer(content.text)
        return []

    # ------------------------------------------------------------------ the port's services

    async def current(self, event: Event) -> Outcome:
        user_key = self.user_key(event)
        lang = await self.language_for(event, user_key)
        conversation = await self.conversations.conversation(user_key)
        form = None
        if conversation is not None and event.chat.kind is ChatKind.PRIVATE:
            form = self.router.form(Context(self, event, user_key, lang), conversation)
        return Outcome([], lang, form, in_form=conversation is not None)

    @property
    def strings(self) -> Strings:
        return self.locales

    @property
    def organisers(self) -> tuple[str, ...]:
        return self.config.organisers

    def commands(self) -> Sequence[CommandInfo]:
        return [spec.info(self) for spec in self.router.commands.values()]

    def settings(self, platform: str) -> PlatformSettings:
        return PlatformSettings(self.store, platform)

    def rate_limited(self, platform: str) -> None:
        self.metrics.rate_limited(platform)

    def _place_key(self, platform: str, place: str) -> str:
        # A place is a subscriber of its own, as pseudonymous as a person.
        return self.keyring.user_id(platform, place)

    async def subscribe_place(self, platform: str, place: str, address: str, language: str) -> None:
        key = self._place_key(platform, place)
        for topic in TOPICS:
            await self.subscriptions.subscribe(key, platform, topic, address, language, self.clock())

    async def unsubscribe_place(self, platform: str, place: str) -> None:
        await self.subscriptions.unsubscribe(self._place_key(platform, place))

    async def forget_place(self, platform: str, place: str) -> None:
        await self.personal.forget(self._place_key(platform, place))

    # ------------------------------------------------------------------ several instances

    def _chat_key(self, platform: str, chat: str | None) -> str:
        return self.keyring.user_id(platform, f"chat:{chat}") if chat is not None else ""

    async def arrived(self, platform: str, update_id: int, chat: str | None) -> bool:
        # One process alone on its SQLite file: the platform's own numbering already keeps it right.
        if not self.store.shared:
            return True
        return await self.updates.record(platform, update_id, self._chat_key(platform, chat), self.clock())

    @asynccontextmanager
    async def chat_turn(self, platform: str, update_id: int, chat: str | None) -> AsyncIterator[None]:
        if not self.store.shared:
            yield
            return
        key = self._chat_key(platform, chat)
        # What is awaited happens in another process: the database is asked again until it has.
        while await self.updates.earlier_unhandled(platform, update_id, key, self.clock()):  # noqa: ASYNC110
            await asyncio.sleep(TURN_POLL_SECONDS)
        async with self.store.turn(f"{platform}:{key}"):
            try:
                yield
            finally:
                await self.updates.handled(platform, update_id)

    def elected(self, role: str, stop: asyncio.Event) -> AbstractAsyncContextManager[Term | None]:
        return self.store.elected(role, stop)
