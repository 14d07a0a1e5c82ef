"""Organiser commands: /stats, and /export (which points to the server: lists never go into chats)."""

from __future__ import annotations

import shlex

from bot.campaigns import stats
from bot.core.config import Config
from bot.core.context import Context
from bot.core.feature import Feature, command
from bot.features.petitions import PETITION
from bot.port.events import Reply


def export_command(config: Config, petition: str) -> str:
    """The command that exports ``petition``, on the configuration the bot runs with: without it, the
    command would read another database (the default one) on a server that sets storage.path."""
    configured = ["--config", str(config.source)] if config.source is not None else []
    return shlex.join(
        ["advocacy-bot", *configured, "export", "signatures", "--petition", petition, "--out", "signatures.csv"]
    )


class Organisers(Feature):
    @command("stats", "command.stats", organiser_only=True)
    async def show_stats(self, ctx: Context, args: str) -> list[Reply]:
        core = ctx.core
        text = await stats.report(
            core.pledges, core.signatures, core.content.campaigns, core.locales, ctx.lang, core.clock().date()
        )
        return [Reply(text)]

    @command("export", "command.export", organiser_only=True, argument=PETITION)
    async def export(self, ctx: Context, args: str) -> list[Reply]:
        petition = args.strip() or next(iter(ctx.core.content.campaigns.petitions), "ID")
        return [ctx.reply("export.on_server", command=export_command(ctx.core.config, petition))]
