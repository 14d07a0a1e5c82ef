"""``advocacy-bot dashboard link``: a sign-in link to the dashboard, made on the server (where the
organiser has no chat with the bot at hand, or the bot's chats are down)."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from bot.cli.common import EXIT_OK, EXIT_USAGE, Commands, notice
from bot.content import LANGUAGES
from bot.core.config import Config


def add_commands(sub: Commands, common: argparse.ArgumentParser) -> None:
    dashboard = sub.add_parser("dashboard", parents=[common], help="the organisers' web dashboard")
    dashboard_sub = dashboard.add_subparsers(dest="dashboard_command", metavar="WHAT", required=True)
    link = dashboard_sub.add_parser(
        "link", parents=[common], help="print a sign-in link (works once, within 10 minutes)"
    )
    link.add_argument(
        "--as", dest="organiser", required=True, metavar="PLATFORM:ID", help="an organiser of the configuration"
    )
    link.add_argument("--lang", choices=LANGUAGES, help="the dashboard's language (default: default_language)")


async def _link(config: Config, platform: str, user: str, lang: str) -> str:
    from bot.cli.database import opened
    from bot.web.signin import SignIn

    async with opened(config) as database:
        return await SignIn(database.store, database.keyring, config).link(platform, user, lang, datetime.now(UTC))


def cmd_dashboard(config: Config, args: argparse.Namespace) -> int:
    from bot.privacy.files import ExportError

    platform, _, user = args.organiser.partition(":")
    if not config.is_organiser(platform, user):
        notice(f"advocacy-bot: {args.organiser} is not among the organisers of the configuration")
        return EXIT_USAGE
    if not config.web.enabled:
        notice("advocacy-bot: web.enabled is off: the link works once the bot serves the dashboard")
    try:
        url = asyncio.run(_link(config, platform, user, args.lang or config.default_language))
    except ExportError as exc:
        notice(f"advocacy-bot: {exc}")
        return EXIT_USAGE
    print(url)
    return EXIT_OK
