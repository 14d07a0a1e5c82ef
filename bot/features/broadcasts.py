"""/broadcast for organisers: text -> topic -> language -> platform -> preview -> send.

The preview is built by the same function as the message each recipient gets.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.campaigns.conversations import Conversation
from bot.campaigns.subscriptions import TOPICS
from bot.content.i18n import Locales, number
from bot.content.model import LANGUAGES
from bot.core import registry
from bot.core.context import Context
from bot.core.router import Router
from bot.delivery.broadcasts import MAX_BROADCAST_CHARS, create_broadcast
from bot.delivery.messages import broadcast_message
from bot.delivery.outbox import Outbox
from bot.port import markup
from bot.port.events import Button, Reply, ReplyKind
from bot.port.markup import RichText
from bot.port.outcome import FormField, OpenForm

log = logging.getLogger(__name__)

FLOW = "broadcast"
ALL = "all"


def platforms() -> tuple[str, ...]:
    """The platforms a broadcast may be limited to: those serving people over a network first."""
    return tuple(sorted(registry.names(), key=lambda name: not registry.platform(name).server))


def text_prompt(locales: Locales, lang: str) -> RichText:
    """The request for the message, with the markup's syntax shown as typed (never applied to itself)."""
    syntax = locales.source(lang, "broadcast.syntax")
    return locales.plural(lang, "broadcast.ask_text", MAX_BROADCAST_CHARS, syntax=syntax)


def register(router: Router) -> None:
    def cancel_row(ctx: Context) -> tuple[Button, ...]:
        return (Button(ctx.text("button.cancel"), "cancel:"),)

    async def save(ctx: Context, step: str, state: dict[str, Any]) -> None:
        await ctx.core.conversations.save_conversation(
            ctx.user_key, ctx.event.user.platform, FLOW, {**state, "step": step}, ctx.core.clock()
        )

    def question(ctx: Context, step: str, sizes: dict[str, int] | None = None) -> Reply:
        """The question at ``step``; ``sizes``: each topic's subscribers, shown on its button."""
        if step == "text":
            return Reply(text_prompt(ctx.core.locales, ctx.lang), (cancel_row(ctx),), asks_form=True)
        if step == "topic":
            choices = [(ctx.text(f"topic.{t}"), t) for t in TOPICS]
            if sizes is not None:
                choices = [(f"{label} ({number(ctx.lang, sizes[topic])})", topic) for label, topic in choices]
        elif step == "language":
            choices = [(ctx.text("broadcast.every_language"), ALL)]
            choices += [(ctx.core.locales.text(lang, "language.name"), lang) for lang in LANGUAGES]
        else:
            choices = [(ctx.text("broadcast.every_platform"), ALL)] + [(p.capitalize(), p) for p in platforms()]
        buttons = tuple((Button(label, f"broadcast-{step}:{value}"),) for label, value in choices)
        return Reply(ctx.t(f"broadcast.ask_{step}"), (*buttons, cancel_row(ctx)), asks_form=True)

    async def ask(ctx: Context, step: str) -> Reply:
        sizes = None
        if step == "topic":
            # Each topic with its subscribers: who signs a petition opts in to petition updates, not
            # to campaign news, and the organiser sees that before choosing.
            outbox = Outbox(ctx.core.store, ctx.core.keyring)
            sizes = {topic: await outbox.audience_size(topic) for topic in TOPICS}
        return question(ctx, step, sizes)

    def send_row(ctx: Context) -> tuple[Button, ...]:
        return (Button(ctx.text("button.send_broadcast"), "broadcast-send:"), *cancel_row(ctx))

    def offered(ctx: Context, conversation: Conversation) -> tuple[Button, ...]:
        step = str(conversation.state.get("step"))
        if step == "confirm":
            return send_row(ctx)
        return tuple(button for row in question(ctx, step).buttons for button in row)

    def form(ctx: Context, conversation: Conversation) -> OpenForm | None:
        if conversation.state.get("step") != "text":
            return None
        question = markup.plain(text_prompt(ctx.core.locales, ctx.lang))
        text = FormField("text", True, question, MAX_BROADCAST_CHARS, paragraph=True)
        return OpenForm(FLOW, ctx.text("broadcast.title"), (text,))

    @router.command("broadcast", "command.broadcast", organiser_only=True, personal=True)
    async def start(ctx: Context, args: str) -> list[Reply]:
        await save(ctx, "text", {})
        return [await ask(ctx, "text")]

    @router.flow(FLOW, offers=offered, form=form)
    async def typed(ctx: Context, text: str, conversation: Conversation) -> list[Reply]:
        state = conversation.state
        if state.get("step") != "text" or not ctx.is_organiser:
            return [Reply(ctx.t("broadcast.use_buttons"), kind=ReplyKind.ERROR), await ask(ctx, str(state.get("step")))]
        body = text.strip()
        if not body or len(body) > MAX_BROADCAST_CHARS:
            reason = ctx.core.locales.plural(ctx.lang, "broadcast.bad_length", MAX_BROADCAST_CHARS, length=len(body))
            return [Reply(reason, kind=ReplyKind.ERROR), await ask(ctx, "text")]
        await save(ctx, "topic", {"body": body})
        return [await ask(ctx, "topic")]

    async def state_at(ctx: Context, step: str) -> dict[str, Any] | None:
        if not ctx.is_organiser:
            return None
        conversation = await ctx.core.conversations.conversation(ctx.user_key)
        if conversation is None or conversation.flow != FLOW or conversation.state.get("step") != step:
            return None
        return dict(conversation.state)

    def choose(step: str, following: str, allowed: tuple[str, ...]) -> None:
        @router.action(f"broadcast-{step}", handoff="broadcast")
        async def chosen(ctx: Context, value: str) -> list[Reply]:
            state = await state_at(ctx, step)
            if state is None or value not in allowed:
                return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
            state[step] = None if value == ALL else value
            await save(ctx, following, state)
            return await preview(ctx, state) if following == "confirm" else [await ask(ctx, following)]

    choose("topic", "language", TOPICS)
    choose("language", "platform", (ALL, *LANGUAGES))
    choose("platform", "confirm", (ALL, *platforms()))

    async def preview(ctx: Context, state: dict[str, Any]) -> list[Reply]:
        topic, language, platform = state["topic"], state.get("language"), state.get("platform")
        outbox = Outbox(ctx.core.store, ctx.core.keyring)
        audience = await outbox.audience_size(topic, language, platform)
        shown = broadcast_message(ctx.core.locales, state["body"], topic, language or ctx.lang)
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
        return [ctx.reply("broadcast.preview_heading"), shown, Reply(summary, (send_row(ctx),))]

    @router.action("broadcast-send", handoff="broadcast")
    async def send(ctx: Context, args: str) -> list[Reply]:
        state = await state_at(ctx, "confirm")
        if state is None:
            return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
        created = await create_broadcast(
            Outbox(ctx.core.store, ctx.core.keyring),
            topic=state["topic"],
            body=state["body"],
            language=state.get("language"),
            platform=state.get("platform"),
            now=ctx.core.clock(),
            report_to=(ctx.event.user.platform, ctx.event.chat.id),
        )
        await ctx.core.conversations.end_conversation(ctx.user_key)
        queued = created.queued or 0
        log.info("broadcast %d queued from chat on %s: %d recipient(s)", created.id, ctx.event.user.platform, queued)
        ctx.core.wake_delivery()
        return [Reply(ctx.core.locales.plural(ctx.lang, "broadcast.queued", queued, id=created.id))]
