"""Organiser commands: /stats, and /export (which points to the server: lists never go into chats)."""

from __future__ import annotations

from bot import stats
from bot.events import Reply
from bot.router import Context, Router


def register(router: Router) -> None:
    @router.command("stats", "command.stats", organiser_only=True)
    async def show_stats(ctx: Context, args: str) -> list[Reply]:
        core = ctx.core
        text = await stats.report(core.records, core.content.campaigns, core.locales, ctx.lang, core.clock().date())
        return [Reply(text)]

    @router.command("export", "command.export", organiser_only=True)
    async def export(ctx: Context, args: str) -> list[Reply]:
        petition = args.strip() or next(iter(ctx.core.content.campaigns.petitions), "ID")
        return [ctx.reply("export.on_server", petition=petition)]
