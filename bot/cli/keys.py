"""``advocacy-bot key rotate``: re-wrap the database's keys with a new secret key."""

from __future__ import annotations

import argparse
import asyncio

from bot.cli.common import EXIT_OK, EXIT_USAGE, Commands, notice
from bot.core.config import Config
from bot.port.redaction import secret_env
from bot.privacy.secret_key import ENV_VAR, NEW_KEY_ENV


def add_commands(sub: Commands, common: argparse.ArgumentParser) -> None:
    key = sub.add_parser("key", parents=[common], help="secret-key tools")
    key_sub = key.add_subparsers(dest="key_command", metavar="KEY_COMMAND", required=True)
    key_sub.add_parser(
        "rotate",
        parents=[common],
        help=f"re-wrap the database's keys with the key in ${NEW_KEY_ENV} (the data stays as it is)",
    )


def cmd_key_rotate(config: Config) -> int:
    from bot.privacy.rotation import rotate_key

    new_value = secret_env(NEW_KEY_ENV)
    if not new_value:
        notice(f"advocacy-bot: set {NEW_KEY_ENV} to the new key (the current one stays in {ENV_VAR} or the key file)")
        return EXIT_USAGE
    notice(asyncio.run(rotate_key(config.data_dir, config.database, new_value)))
    return EXIT_OK
