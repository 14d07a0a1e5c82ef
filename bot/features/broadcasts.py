"""/broadcast for organisers: text -> topic -> language -> platform -> preview -> send.

The preview is built by the same function as the message each recipient gets.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from bot.campaigns.conversations import Conversation
from bot.campaigns.subscriptions import TOPICS
from bot.content.i18n import Locales, number
from bot.content.model import LANGUAGES
from bot.core import registry
from bot.core.context import Context
from bot.core.feature import Feature, command, pressed
from bot.delivery.broadcasts import MAX_BROADCAST_CHARS, create_broadcast
from bot.delivery.messages import broadcast_message
from bot.delivery.outbox import Outbox
from bot.port import markup
from bot.port.actions import CANCEL, Action
from bot.port.events import Button, Reply, ReplyKind
from bot.port.markup import RichText
from bot.port.outcome import FormField, OpenForm

log = logging.getLogger(__name__)

FLOW = "broadcast"
ALL = "all"
TEXT, TOPIC, LANGUAGE, PLATFORM, CONFIRM = "text", "topic", "language", "platform", "confirm"


def platforms() -> tuple[str, ...]:
    """The platforms a broadcast may be limited to: those serving people over a network first."""
    return tuple(sorted(registry.names(), key=lambda name: not registry.platform(name).server))


def text_prompt(locales: Locales, lang: str) -> RichText:
    """The request for the message, with the markup's syntax shown as typed (never applied to itself)."""
    syntax = locales.source(lang, "broadcast.syntax")
    return locales.plural(lang, "broadcast.ask_text", MAX_BROADCAST_CHARS, syntax=syntax)


@dataclass(frozen=True)
class Draft:
    """A broadcast being written, as it is stored with the conversation: the step it is at, and what
    was chosen so far (None for a language or platform: all of them)."""

    step: str
    body: str | None = None
    topic: str | None = None
    language: str | None = None
    platform: str | None = None

    @classmethod
    def stored(cls, state: Mapping[str, Any]) -> Draft:
        def value(key: str) -> str | None:
            found = state.get(key)
            return None if found is None else str(found)

        return cls(str(state.get("step")), value("body"), value("topic"), value("language"), value("platform"))

    def state(self) -> dict[str, Any]:
        chosen = {"body": self.body, "topic": self.topic, "language": self.language, "platform": self.platform}
        return {"step": self.step, **{key: value for key, value in chosen.items() if value is not None}}


class Broadcasts(Feature):
    flow = FLOW

    CHOOSE_TOPIC = Action("broadcast-topic", ("topic",), handoff="broadcast")
    # A language, or "all".
    CHOOSE_LANGUAGE = Action("broadcast-language", ("language",), handoff="broadcast")
    # A platform, or "all".
    CHOOSE_PLATFORM = Action("broadcast-platform", ("platform",), handoff="broadcast")
    SEND = Action("broadcast-send", handoff="broadcast")

    @staticmethod
    def cancel_row(ctx: Context) -> tuple[Button, ...]:
        return (Button(ctx.text("button.cancel"), CANCEL.build()),)

    @staticmethod
    async def save(ctx: Context, draft: Draft) -> None:
        await ctx.core.conversations.save_conversation(
            ctx.user_key, ctx.event.user.platform, FLOW, draft.state(), ctx.core.clock()
        )

    def question(self, ctx: Context, step: str, sizes: dict[str, int] | None = None) -> Reply:
        """The question at ``step``; ``sizes``: each topic's subscribers, shown on its button."""
        if step == TEXT:
            return Reply(text_prompt(ctx.core.locales, ctx.lang), (self.cancel_row(ctx),), asks_form=True)
        if step == TOPIC:
            action = self.CHOOSE_TOPIC
            choices = [(ctx.text(f"topic.{t}"), t) for t in TOPICS]
            if sizes is not None:
                choices = [(f"{label} ({number(ctx.lang, sizes[topic])})", topic) for label, topic in choices]
        elif step == LANGUAGE:
            action = self.CHOOSE_LANGUAGE
            choices = [(ctx.text("broadcast.every_language"), ALL)]
            choices += [(ctx.core.locales.text(lang, "language.name"), lang) for lang in LANGUAGES]
        else:
            action = self.CHOOSE_PLATFORM
            choices = [(ctx.text("broadcast.every_platform"), ALL)] + [(p.capitalize(), p) for p in platforms()]
        buttons = tuple((Button(label, action.build(value)),) for label, value in choices)
        return Reply(ctx.t(f"broadcast.ask_{step}"), (*buttons, self.cancel_row(ctx)), asks_form=True)

    async def ask(self, ctx: Context, step: str) -> Reply:
        sizes = None
        if step == TOPIC:
            # Each topic with its subscribers: who signs a petition opts in to petition updates, not
            # to campaign news, and the organiser sees that before choosing.
            outbox = Outbox(ctx.core.store, ctx.core.keyring)
            sizes = {topic: await outbox.audience_size(topic) for topic in TOPICS}
        return self.question(ctx, step, sizes)

    def send_row(self, ctx: Context) -> tuple[Button, ...]:
        return (Button(ctx.text("button.send_broadcast"), self.SEND.build()), *self.cancel_row(ctx))

    def form_buttons(self, ctx: Context, conversation: Conversation) -> tuple[Button, ...]:
        step = Draft.stored(conversation.state).step
        if step == CONFIRM:
            return self.send_row(ctx)
        return tuple(button for row in self.question(ctx, step).buttons for button in row)

    def open_form(self, ctx: Context, conversation: Conversation) -> OpenForm | None:
        if Draft.stored(conversation.state).step != TEXT:
            return None
        question = markup.plain(text_prompt(ctx.core.locales, ctx.lang))
        text = FormField(TEXT, True, question, MAX_BROADCAST_CHARS, paragraph=True)
        return OpenForm(FLOW, ctx.text("broadcast.title"), (text,))

    @command("broadcast", "command.broadcast", organiser_only=True, personal=True)
    async def start(self, ctx: Context, args: str) -> list[Reply]:
        await self.save(ctx, Draft(TEXT))
        return [await self.ask(ctx, TEXT)]

    async def form_text(self, ctx: Context, text: str, conversation: Conversation) -> list[Reply]:
        draft = Draft.stored(conversation.state)
        if draft.step != TEXT or not ctx.is_organiser:
            return [Reply(ctx.t("broadcast.use_buttons"), kind=ReplyKind.ERROR), await self.ask(ctx, draft.step)]
        body = text.strip()
        if not body or len(body) > MAX_BROADCAST_CHARS:
            reason = ctx.core.locales.plural(ctx.lang, "broadcast.bad_length", MAX_BROADCAST_CHARS, length=len(body))
            return [Reply(reason, kind=ReplyKind.ERROR), await self.ask(ctx, TEXT)]
        await self.save(ctx, Draft(TOPIC, body))
        return [await self.ask(ctx, TOPIC)]

    async def draft_at(self, ctx: Context, step: str) -> Draft | None:
        """The organiser's broadcast under way, if it is at ``step``: else the button is stale."""
        if not ctx.is_organiser:
            return None
        conversation = await ctx.core.conversations.conversation(ctx.user_key)
        if conversation is None or conversation.flow != FLOW:
            return None
        draft = Draft.stored(conversation.state)
        return draft if draft.step == step else None

    async def choose(
        self, ctx: Context, step: str, value: str, allowed: tuple[str, ...], following: str
    ) -> list[Reply]:
        """The organiser's choice at ``step`` (ALL: no limit), then the next question or the preview."""
        draft = await self.draft_at(ctx, step)
        if draft is None or value not in allowed:
            return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
        chosen: dict[str, Any] = {step: None if value == ALL else value}
        draft = replace(draft, step=following, **chosen)
        await self.save(ctx, draft)
        return await self.preview(ctx, draft) if following == CONFIRM else [await self.ask(ctx, following)]

    @pressed(CHOOSE_TOPIC)
    async def topic(self, ctx: Context, value: str) -> list[Reply]:
        return await self.choose(ctx, TOPIC, value, TOPICS, LANGUAGE)

    @pressed(CHOOSE_LANGUAGE)
    async def language(self, ctx: Context, value: str) -> list[Reply]:
        return await self.choose(ctx, LANGUAGE, value, (ALL, *LANGUAGES), PLATFORM)

    @pressed(CHOOSE_PLATFORM)
    async def platform(self, ctx: Context, value: str) -> list[Reply]:
        return await self.choose(ctx, PLATFORM, value, (ALL, *platforms()), CONFIRM)

    async def preview(self, ctx: Context, draft: Draft) -> list[Reply]:
        topic, language, platform = str(draft.topic), draft.language, draft.platform
        outbox = Outbox(ctx.core.store, ctx.core.keyring)
        audience = await outbox.audience_size(topic, language, platform)
        shown = broadcast_message(ctx.core.locales, str(draft.body), topic, language or ctx.lang)
        summary = ctx.core.locales.plural(
            ctx.lang,
            "broadcast.audience",
            audience,
            topic=ctx.text(f"topic.{topic}"),
            language=ctx.core.locales.text(language, "language.name")
            if language
            else ctx.text("broadcast.every_language"),
            platform=platform.capitalize() if platform else ctx.text("broadcast.every_platform"),
        )
        return [ctx.reply("broadcast.preview_heading"), shown, Reply(summary, (self.send_row(ctx),))]

    @pressed(SEND)
    async def send(self, ctx: Context) -> list[Reply]:
        draft = await self.draft_at(ctx, CONFIRM)
        if draft is None:
            return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
        created = await create_broadcast(
            Outbox(ctx.core.store, ctx.core.keyring),
            topic=str(draft.topic),
            body=str(draft.body),
            language=draft.language,
            platform=draft.platform,
            now=ctx.core.clock(),
            report_to=(ctx.event.user.platform, ctx.event.chat.id),
        )
        await ctx.core.conversations.end_conversation(ctx.user_key)
        queued = created.queued or 0
        log.info("broadcast %d queued from chat on %s: %d recipient(s)", created.id, ctx.event.user.platform, queued)
        ctx.core.wake_delivery()
        return [Reply(ctx.core.locales.plural(ctx.lang, "broadcast.queued", queued, id=created.id))]
