"""/subscribe, /unsubscribe, STOP, /timezone and /days."""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import timedelta
from functools import cache

from bot.campaigns import forms
from bot.campaigns.subscriptions import ACTION_DAYS, TOPICS
from bot.campaigns.timezones import is_zone, resolve_zone, zone_label
from bot.content.i18n import Locales
from bot.content.model import localized
from bot.content.text import echo, fold
from bot.core.capabilities import Capabilities
from bot.core.context import Context
from bot.core.feature import Feature, command, gone, keyword, pressed
from bot.core.router import ArgumentSpec
from bot.port import markup
from bot.port.actions import Action
from bot.port.events import Button, ChatKind, Reply, ReplyKind
from bot.port.services import ArgumentChoice

log = logging.getLogger(__name__)
# A STOP message may carry trailing punctuation or spaces ("Stop!", " stop. "), nothing else.
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")


@cache
def stop_words(locales: Locales, languages: tuple[str, ...]) -> frozenset[str]:
    """STOP and its equivalents in every interface language (a person may write in any of them).

    Cached: every private message is checked against these.
    """
    words: set[str] = set()
    for lang in languages:
        if locales.has(lang, "stop.keywords"):
            words.update(fold(w.strip()) for w in locales.text(lang, "stop.keywords").split(",") if w.strip())
    return frozenset(words)


def topics(core: Capabilities, lang: str) -> list[ArgumentChoice]:
    return [ArgumentChoice(core.locales.text(lang, f"topic.{t}"), t, f"topic.{t}") for t in TOPICS]


def topics_or_all(core: Capabilities, lang: str) -> list[ArgumentChoice]:
    every = ArgumentChoice(core.locales.text(lang, "button.unsubscribe_all"), "all", "button.unsubscribe_all")
    return [*topics(core, lang), every]


class Subscriptions(Feature):
    SUBSCRIBE = Action("subscribe", ("topic",), handoff="subscribe")
    # A topic, or "all".
    UNSUBSCRIBE = Action("unsubscribe", ("topic",), handoff="unsubscribe")
    SET_ZONE = Action("timezone-set", ("zone",), handoff="timezone")

    @staticmethod
    def topic_name(ctx: Context, topic: str) -> str:
        return ctx.text(f"topic.{topic}")

    @staticmethod
    async def zone_of(ctx: Context) -> str:
        return await ctx.core.people.timezone_of(ctx.user_key) or ctx.core.config.reminders.default_timezone

    @command("subscribe", "command.subscribe", personal=True, argument=ArgumentSpec("topic", choices=topics))
    @pressed(SUBSCRIBE)
    async def subscribe(self, ctx: Context, topic: str) -> list[Reply]:
        topic = topic.strip().lower()
        mine = await ctx.core.subscriptions.topics_of(ctx.user_key)
        if topic not in TOPICS:
            buttons = tuple(
                (Button(f"{'✓ ' if t in mine else ''}{self.topic_name(ctx, t)}", self.SUBSCRIBE.build(t)),)
                for t in TOPICS
            )
            intro = ctx.t("subscribe.choose") if not topic else ctx.t("subscribe.unknown", topic=echo(topic))
            return [Reply(intro, buttons)]
        if ctx.via_link and topic not in mine:
            question = ctx.t("subscribe.confirm", topic=self.topic_name(ctx, topic))
            return [ctx.confirm(question, self.SUBSCRIBE.build(topic))]
        added = await ctx.core.subscriptions.subscribe(
            ctx.user_key, ctx.event.user.platform, topic, ctx.event.chat.id, ctx.lang, ctx.core.clock()
        )
        key = "subscribe.done" if added else "subscribe.already"
        lines = [ctx.t(key, topic=self.topic_name(ctx, topic))]
        if topic == ACTION_DAYS:
            hour = f"{ctx.core.config.reminders.hour:02d}:00"
            lines.append(ctx.t("subscribe.when", hour=hour, zone=await self.zone_of(ctx)))
        lines.append(ctx.t("subscribe.how_to_stop"))
        return [Reply(markup.join(*lines))]

    @command("unsubscribe", "command.unsubscribe", personal=True, argument=ArgumentSpec("topic", choices=topics_or_all))
    @pressed(UNSUBSCRIBE)
    async def unsubscribe(self, ctx: Context, topic: str) -> list[Reply]:
        topic = topic.strip().lower()
        mine = await ctx.core.subscriptions.topics_of(ctx.user_key)
        if ctx.via_link and (topic in mine or (topic == "all" and mine)):
            question = (
                ctx.t("unsubscribe.confirm_all")
                if topic == "all"
                else ctx.t("unsubscribe.confirm", topic=self.topic_name(ctx, topic))
            )
            return [ctx.confirm(question, self.UNSUBSCRIBE.build(topic))]
        if topic == "all":
            removed = await ctx.core.subscriptions.unsubscribe(ctx.user_key)
            return [ctx.reply("unsubscribe.all" if removed else "unsubscribe.none")]
        if topic not in TOPICS:
            if not mine:
                return [ctx.reply("unsubscribe.none")]
            buttons = tuple((Button(self.topic_name(ctx, t), self.UNSUBSCRIBE.build(t)),) for t in mine)
            buttons += ((Button(ctx.text("button.unsubscribe_all"), self.UNSUBSCRIBE.build("all")),),)
            return [Reply(ctx.t("unsubscribe.choose"), buttons)]
        removed = await ctx.core.subscriptions.unsubscribe(ctx.user_key, [topic])
        key = "unsubscribe.done" if removed else "unsubscribe.not_subscribed"
        return [ctx.reply(key, topic=self.topic_name(ctx, topic))]

    @keyword
    async def stop(self, ctx: Context, text: str) -> list[Reply] | None:
        words = stop_words(ctx.core.locales, tuple(ctx.core.content.locales))
        if len(text) > 40 or fold(_EDGES.sub("", text)) not in words:
            return None
        removed = await ctx.core.subscriptions.unsubscribe(ctx.user_key)
        log.info("a STOP message unsubscribed someone on %s from %d topic(s)", ctx.event.user.platform, removed)
        return [ctx.reply("stop.done")]

    @gone
    async def unreachable(self, ctx: Context, args: str) -> list[Reply]:
        removed = await ctx.core.subscriptions.unsubscribe(ctx.user_key)
        if removed:
            log.info(
                "someone on %s can no longer be reached: unsubscribed from %d topic(s)",
                ctx.event.user.platform,
                removed,
            )
        return []

    @command("timezone", "command.timezone", personal=True, argument=ArgumentSpec("zone"))
    async def timezone(self, ctx: Context, args: str) -> list[Reply]:
        if not args.strip():
            return [ctx.reply("timezone.current", zone=await self.zone_of(ctx))]
        try:
            # Off the event loop: the first look-up reads CLDR's city and country names for ~1 s.
            zone = await asyncio.to_thread(resolve_zone, args, ctx.lang)
        except forms.FieldError as error:
            now = ctx.core.clock()
            buttons = tuple(
                (Button(zone_label(option, ctx.lang, now), self.SET_ZONE.build(option)),) for option in error.options
            )
            reason = ctx.t(error.reason, **error.params)
            if buttons:
                return [Reply(reason, buttons)]
            return [Reply(markup.join(reason, ctx.t("timezone.usage")), kind=ReplyKind.ERROR)]
        if ctx.via_link:
            return [ctx.confirm(ctx.t("timezone.confirm", zone=zone), self.SET_ZONE.build(zone))]
        return await self.set_zone(ctx, zone)

    @pressed(SET_ZONE)
    async def set_zone(self, ctx: Context, zone: str) -> list[Reply]:
        if not is_zone(zone):
            return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
        await ctx.core.people.set_timezone(ctx.user_key, ctx.event.user.platform, zone, ctx.core.clock())
        hour = f"{ctx.core.config.reminders.hour:02d}:00"
        return [ctx.reply("timezone.set", zone=zone, hour=hour)]

    @command("days", "command.days")
    async def days(self, ctx: Context, args: str) -> list[Reply]:
        today = ctx.core.clock().date()
        upcoming = sorted(
            ((day.next_on_or_after(today), day) for day in ctx.core.content.campaigns.calendar.values()),
            key=lambda pair: pair[0],
        )
        lines = [ctx.t("days.heading")]
        for when, day in upcoming:
            left = (when - today) // timedelta(days=1)
            name = localized(day.name, ctx.lang)
            if left == 0:
                lines.append(ctx.t("days.today", name=name, date=when.isoformat()))
            else:
                lines.append(ctx.core.locales.plural(ctx.lang, "days.line", left, name=name, date=when.isoformat()))
        buttons: tuple[tuple[Button, ...], ...] = ()
        if ctx.event.chat.kind is ChatKind.PRIVATE and ACTION_DAYS not in await ctx.core.subscriptions.topics_of(
            ctx.user_key
        ):
            buttons = ((Button(ctx.text("button.remind_me"), self.SUBSCRIBE.build(ACTION_DAYS)),),)
        return [Reply(markup.join(*lines, sep="\n"), buttons)]
