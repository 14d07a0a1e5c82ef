"""/broadcast for organisers: text -> topic -> language -> platform -> preview -> send.

The preview is built by the same function as the message each recipient gets.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.content.model import LANGUAGES
from bot.delivery.messages import TOPICS, broadcast_message
from bot.delivery.outbox import Outbox
from bot.events import Button, Reply, ReplyKind
from bot.records import Conversation
from bot.router import Context, Router

log = logging.getLogger(__name__)

FLOW = "broadcast"
PLATFORMS = ("telegram", "discord", "console")
MAX_BROADCAST_CHARS = 3000
ALL = "all"


def register(router: Router) -> None:
    def cancel_row(ctx: Context) -> tuple[Button, ...]:
        return (Button(ctx.text("button.cancel"), "cancel:"),)

    async def save(ctx: Context, step: str, state: dict[str, Any]) -> None:
        await ctx.core.records.save_conversation(
            ctx.user_key, ctx.event.user.platform, FLOW, {**state, "step": step}, ctx.core.clock()
        )

    def ask(ctx: Context, step: str) -> Reply:
        if step == "text":
            return Reply(ctx.t("broadcast.ask_text", max=MAX_BROADCAST_CHARS), (cancel_row(ctx),))
        if step == "topic":
            choices = [(ctx.text(f"topic.{t}"), t) for t in TOPICS]
        elif step == "language":
            choices = [(ctx.text("broadcast.every_language"), ALL)]
            choices += [(ctx.core.locales.text(lang, "language.name"), lang) for lang in LANGUAGES]
        else:
            choices = [(ctx.text("broadcast.every_platform"), ALL)] + [(p.capitalize(), p) for p in PLATFORMS]
        buttons = tuple((Button(label, f"broadcast-{step}:{value}"),) for label, value in choices)
        return Reply(ctx.t(f"broadcast.ask_{step}"), (*buttons, cancel_row(ctx)))

    @router.command("broadcast", "command.broadcast", organiser_only=True, personal=True)
    async def start(ctx: Context, args: str) -> list[Reply]:
        await save(ctx, "text", {})
        return [ask(ctx, "text")]

    @router.flow(FLOW)
    async def typed(ctx: Context, text: str, conversation: Conversation) -> list[Reply]:
        state = conversation.state
        if state.get("step") != "text" or not ctx.is_organiser:
            return [Reply(ctx.t("broadcast.use_buttons"), kind=ReplyKind.ERROR), ask(ctx, str(state.get("step")))]
        body = text.strip()
        if not body or len(body) > MAX_BROADCAST_CHARS:
            reason = ctx.t("broadcast.bad_length", length=len(body), max=MAX_BROADCAST_CHARS)
            return [Reply(reason, kind=ReplyKind.ERROR), ask(ctx, "text")]
        await save(ctx, "topic", {"body": body})
        return [ask(ctx, "topic")]

    async def state_at(ctx: Context, step: str) -> dict[str, Any] | None:
        if not ctx.is_organiser:
            return None
        conversation = await ctx.core.records.conversation(ctx.user_key)
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
            return await preview(ctx, state) if following == "confirm" else [ask(ctx, following)]

    choose("topic", "language", TOPICS)
    choose("language", "platform", (ALL, *LANGUAGES))
    choose("platform", "confirm", (ALL, *PLATFORMS))

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
        buttons = ((Button(ctx.text("button.send_broadcast"), "broadcast-send:"), *cancel_row(ctx)),)
        return [ctx.reply("broadcast.preview_heading"), shown, Reply(summary, buttons)]

    @router.action("broadcast-send", handoff="broadcast")
    async def send(ctx: Context, args: str) -> list[Reply]:
        state = await state_at(ctx, "confirm")
        if state is None:
            return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
        now = ctx.core.clock()
        outbox = Outbox(ctx.core.store, ctx.core.keyring)
        broadcast_id = await outbox.create(
            kind="broadcast",
            topic=state["topic"],
            body=state["body"],
            language=state.get("language"),
            platform=state.get("platform"),
            send_at=now,
            now=now,
            report_to=(ctx.event.user.platform, ctx.event.chat.id),
        )
        await ctx.core.records.end_conversation(ctx.user_key)
        assert broadcast_id is not None
        broadcast = await outbox.get(broadcast_id)
        assert broadcast is not None
        queued = await outbox.start(broadcast, now)
        log.info("broadcast %d queued from chat on %s: %d recipient(s)", broadcast_id, ctx.event.user.platform, queued)
        ctx.core.wake_delivery()
        return [Reply(ctx.core.locales.plural(ctx.lang, "broadcast.queued", queued, id=broadcast_id))]
