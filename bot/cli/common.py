"""What the command groups share: the exit statuses, the options every command takes, and notices."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from bot.core.config import Config
from bot.storage.database import StoreError, owner_problem, without_password

if TYPE_CHECKING:
    from bot.core.app import Services

# The subcommands a group adds its commands to (argparse gives the type no public name).
Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
# The database cannot be used as it is (damaged, read-only, the disk full...): one line says what to do.
EXIT_DATABASE = 2


def common_options() -> argparse.ArgumentParser:
    """The options every command takes, as a parent parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help="configuration file (default: $ADVOCACY_BOT_CONFIG)",
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=argparse.SUPPRESS,
        help="log more on stderr: -v INFO, -vv DEBUG (default: warnings, or INFO for a server run)",
    )
    return common


def no_history(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-history",
        action="store_true",
        default=argparse.SUPPRESS,
        help="keep no history file of the lines typed into the console",
    )


def notice(message: str) -> None:
    print(message, file=sys.stderr)


def uses_database(config: Config) -> None:
    """Say which database this command works on, and from which configuration; refuse it as root
    when the database belongs to a service user."""
    where = f"configuration {config.source}" if config.source else "no configuration file: the defaults"
    if config.server_url is not None:
        notice(f"advocacy-bot: database {without_password(config.server_url)} ({where})")
        return
    notice(f"advocacy-bot: database {config.store_path} ({where})")
    problem = owner_problem(config.store_path)
    if problem is not None:
        raise StoreError(problem)


def services(config: Config) -> Services:
    from bot.core.app import build_services

    return build_services(config)
