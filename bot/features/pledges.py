"""/pledge and /pledges: take a pledge (once), see the counts, withdraw."""

from __future__ import annotations

from bot.content.i18n import goal_progress, number
from bot.content.model import Pledge, localized
from bot.core.capabilities import Capabilities
from bot.core.context import Context
from bot.core.feature import Feature, command, pressed
from bot.core.router import ArgumentSpec
from bot.port import markup
from bot.port.actions import Action
from bot.port.events import Button, ChatKind, Reply, ReplyKind, Share
from bot.port.markup import RichText
from bot.port.services import ArgumentChoice


def progress(ctx: Context, count: int, goal: int | None) -> RichText:
    """ "12,122 of 15,000 — 81%", or just the count when there is no goal."""
    if goal is None:
        return ctx.core.locales.plural(ctx.lang, "progress.count", count)
    return goal_progress(ctx.core.locales, ctx.lang, count, goal)


def open_pledges(core: Capabilities, lang: str) -> list[ArgumentChoice]:
    pledges = core.content.campaigns.pledges.values()
    return [ArgumentChoice(localized(p.title, lang), p.id) for p in pledges if p.open]


PLEDGE = ArgumentSpec("pledge", choices=open_pledges)


class Pledges(Feature):
    # A pledge and its count (no pledge: the list of them).
    SHOW = Action("pledge", ("pledge",), handoff="pledge")
    TAKE = Action("pledge-take", ("pledge",), handoff="pledge")
    WITHDRAW = Action("pledge-withdraw", ("pledge",), handoff="pledges")

    @staticmethod
    def pledge_of(ctx: Context, pledge_id: str) -> Pledge | None:
        return ctx.core.content.campaigns.pledges.get(pledge_id)

    @command("pledge", "command.pledge", personal=True, argument=PLEDGE)
    async def listing(self, ctx: Context, args: str) -> list[Reply]:
        pledges = ctx.core.content.campaigns.pledges
        if args.strip() in pledges:
            return await self.show(ctx, args.strip())
        counts = await ctx.core.pledges.pledge_counts()
        mine = await ctx.core.pledges.pledges_of(ctx.user_key)

        def count(pledge: Pledge) -> str:
            return number(ctx.lang, counts.get(pledge.id, 0))

        buttons = tuple(
            (
                Button(
                    f"{'✓ ' if p.id in mine else ''}{localized(p.title, ctx.lang)} ({count(p)})",
                    self.SHOW.build(p.id),
                ),
            )
            for p in pledges.values()
            if p.open
        )
        if not buttons:
            return [ctx.reply("pledge.none_open")]
        return [Reply(ctx.t("pledge.choose"), buttons)]

    @pressed(SHOW)
    async def show(self, ctx: Context, pledge_id: str) -> list[Reply]:
        if not pledge_id:
            return await self.listing(ctx, "")
        pledge = self.pledge_of(ctx, pledge_id)
        if pledge is None:
            return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
        count = (await ctx.core.pledges.pledge_counts()).get(pledge.id, 0)
        taken = (await ctx.core.pledges.pledges_of(ctx.user_key)).get(pledge.id)
        text = markup.join(markup.parse(localized(pledge.text, ctx.lang)), progress(ctx, count, pledge.goal))
        if taken is not None:
            note = ctx.t("pledge.already", date=taken.date().isoformat())
            withdraw = Button(ctx.text("button.withdraw"), self.WITHDRAW.build(pledge.id))
            return [Reply(markup.join(text, note), ((withdraw,),))]
        if not pledge.open:
            return [Reply(markup.join(text, ctx.t("pledge.closed")))]
        buttons = (
            (
                Button(ctx.text("button.take_pledge"), self.TAKE.build(pledge.id)),
                Button(ctx.text("button.back"), self.SHOW.build()),
            ),
        )
        return [Reply(markup.join(text, ctx.t("pledge.confirm")), buttons)]

    @pressed(TAKE)
    async def take(self, ctx: Context, pledge_id: str) -> list[Reply]:
        pledge = self.pledge_of(ctx, pledge_id)
        if pledge is None:
            return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
        if not pledge.open:
            return [ctx.reply("pledge.closed")]
        new, count = await ctx.core.pledges.take_pledge(
            ctx.user_key, ctx.event.user.platform, pledge.id, ctx.core.clock()
        )
        title = localized(pledge.title, ctx.lang)
        if not new:
            return [ctx.reply("pledge.already_taken", title=title)]
        thanks = ctx.t("pledge.thanks", title=title)
        share = ctx.t("pledge.share", title=title)
        # The link itself is the adapter's to write (a Telegram deep link, a Discord command mention).
        text = markup.join(thanks, progress(ctx, count, pledge.goal), share)
        return [Reply(text, kind=ReplyKind.INFO, share=Share("pledge", pledge.id))]

    @pressed(WITHDRAW)
    async def withdraw(self, ctx: Context, pledge_id: str) -> list[Reply]:
        pledge = self.pledge_of(ctx, pledge_id)
        if pledge is None:
            return [ctx.reply("error.button_expired", ReplyKind.ERROR)]
        removed, count = await ctx.core.pledges.withdraw_pledge(ctx.user_key, pledge.id)
        key = "pledge.withdrawn" if removed else "pledge.not_taken"
        return [
            Reply(markup.join(ctx.t(key, title=localized(pledge.title, ctx.lang)), progress(ctx, count, pledge.goal)))
        ]

    @command("pledges", "command.pledges")
    async def overview(self, ctx: Context, args: str) -> list[Reply]:
        counts = await ctx.core.pledges.pledge_counts()
        mine = await ctx.core.pledges.pledges_of(ctx.user_key)
        lines = [ctx.t("pledges.heading")]
        for pledge in ctx.core.content.campaigns.pledges.values():
            status = () if pledge.open else ctx.t("pledges.closed_mark")
            title = (markup.Bold(localized(pledge.title, ctx.lang) + ":"),)
            lines.append(markup.join(title, status, progress(ctx, counts.get(pledge.id, 0), pledge.goal), sep=" "))
        buttons = tuple(
            (Button(ctx.text("button.withdraw_pledge", title=localized(p.title, ctx.lang)), self.WITHDRAW.build(p.id)),)
            for p in ctx.core.content.campaigns.pledges.values()
            if p.id in mine and ctx.event.chat.kind is ChatKind.PRIVATE
        )
        return [Reply(markup.join(*lines, sep="\n"), buttons)]
