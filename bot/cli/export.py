"""``advocacy-bot export`` and ``advocacy-bot stats``: campaign data for organisers, on the server."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path

from bot.cli.common import EXIT_OK, EXIT_PROBLEMS, Commands, notice
from bot.content.i18n import Locales, counted
from bot.core.config import Config
from bot.port.markup import plain


def add_commands(sub: Commands, common: argparse.ArgumentParser) -> None:
    export = sub.add_parser("export", parents=[common], help="export campaign data (decrypted: handle with care)")
    export_sub = export.add_subparsers(dest="export_command", metavar="WHAT", required=True)
    signatures = export_sub.add_parser("signatures", parents=[common], help="a petition's signatures")
    signatures.add_argument("--petition", required=True, help="the petition's id")
    signatures.add_argument("--format", choices=("csv", "json"), default="csv")
    signatures.add_argument("--out", type=Path, help="write to this file (owner-only permissions); default stdout")
    signatures.add_argument("--force", action="store_true", help="overwrite --out if it exists")

    sub.add_parser("stats", parents=[common], help="pledge and petition totals, sign-ups per day")


async def _export(config: Config, args: argparse.Namespace) -> int:
    from bot.campaigns.export import export_signatures
    from bot.cli.database import opened

    async with opened(config) as database:
        petitions = database.content.campaigns.petitions
        return await export_signatures(
            database.signatures, petitions, args.petition, args.format, args.out, force=args.force
        )


def cmd_export(config: Config, args: argparse.Namespace) -> int:
    from bot.privacy.files import ExportError

    try:
        count = asyncio.run(_export(config, args))
    except ExportError as exc:
        notice(f"advocacy-bot: {exc}")
        return EXIT_PROBLEMS
    if args.out is not None:
        signatures = counted(count, {"one": "{count} signature", "other": "{count} signatures"})
        notice(f"exported {signatures} of {args.petition} to {args.out}")
    return EXIT_OK


async def _stats(config: Config) -> str:
    from bot.campaigns import stats
    from bot.cli.database import opened

    async with opened(config) as database:
        locales = Locales(database.content.locales, config.default_language)
        today = datetime.now(UTC).date()
        campaigns = database.content.campaigns
        lang = config.default_language
        return plain(await stats.report(database.pledges, database.signatures, campaigns, locales, lang, today))


def cmd_stats(config: Config) -> int:
    print(asyncio.run(_stats(config)))
    return EXIT_OK
