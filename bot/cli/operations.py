"""``advocacy-bot init``, ``doctor``, ``backup``, ``restore`` and ``db copy``: setting an installation up,
checking it, keeping its database safe, and moving it to PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from bot.cli.common import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, Commands, notice
from bot.core.config import DATABASE_URL_ENV, Config
from bot.operations.init import installable


def add_setup_commands(sub: Commands, common: argparse.ArgumentParser) -> None:
    init = sub.add_parser(
        "init", help="start an installation: a commented config.yaml, an owner-only data directory, a secret key"
    )
    init.add_argument("directory", nargs="?", type=Path, default=Path(), help="where config.yaml goes (default: here)")
    init.add_argument("--data", type=Path, help="the data directory (default: DIRECTORY/data)")
    for platform in installable():
        init.add_argument(f"--{platform}", action="store_true", help=f"enable the {platform} adapter")
    init.add_argument("--metrics", action="store_true", help="serve /healthz and /metrics (the metrics extra)")
    where_key = init.add_mutually_exclusive_group()
    where_key.add_argument(
        "--env-file", type=Path, help="write the key (and empty token lines) to this environment file, for systemd"
    )
    where_key.add_argument(
        "--print-key", action="store_true", help="print the key as an export line on stdout and write it nowhere"
    )

    sub.add_parser(
        "doctor",
        parents=[common],
        help="check the configuration, key, database, content and platform tokens (exit 1 on any failure)",
    )


def add_backup_commands(sub: Commands, common: argparse.ArgumentParser) -> None:
    backup = sub.add_parser("backup", parents=[common], help="copy the database consistently (the bot may run)")
    backup.add_argument("directory", type=Path, help="where the copies go (created owner-only)")
    backup.add_argument("--keep", type=int, default=14, help="how many copies to keep, newest first (default: 14)")
    restore = sub.add_parser("restore", parents=[common], help="replace the database with a backup (bot stopped)")
    restore.add_argument("file", type=Path, help="a copy made by advocacy-bot backup")
    restore.add_argument("--force", action="store_true", help="even if a bot was running on the database lately")


def add_database_commands(sub: Commands, common: argparse.ArgumentParser) -> None:
    db = sub.add_parser("db", help="move the database: db copy")
    commands = db.add_subparsers(dest="db_command", metavar="COMMAND", required=True)
    copy = commands.add_parser(
        "copy",
        parents=[common],
        help="copy the SQLite database (storage.path) into an empty PostgreSQL one, as it is (bot stopped)",
    )
    copy.add_argument(
        "--to",
        metavar="URL",
        help=f"the PostgreSQL database, postgresql://user@host/name (default: ${DATABASE_URL_ENV}); give the "
        "password through PGPASSWORD or ~/.pgpass, not on the command line",
    )


def cmd_db_copy(config: Config, args: argparse.Namespace) -> int:
    from bot.storage.database import is_server_url, without_password
    from bot.storage.transfer import copy_database

    target = args.to or config.server_url
    if not target or not is_server_url(target):
        notice(f"advocacy-bot: db copy needs a postgresql:// URL: --to URL, or ${DATABASE_URL_ENV}")
        return EXIT_USAGE
    source = config.store_path
    if not source.exists():
        notice(f"advocacy-bot: there is no SQLite database at {source} to copy (check storage.path)")
        return EXIT_PROBLEMS
    copied = asyncio.run(copy_database(source, target))
    tables = ", ".join(f"{table} {count}" for table, count in copied.tables if count)
    notice(
        f"copied {copied.rows} rows ({tables or 'none'}) from {source} to {without_password(target)}; "
        f"the {copied.tallies} tallies match. Now set storage.url (and remove storage.path) and start the bot."
    )
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    from bot.operations.init import InitError, Plan, init

    directory: Path = args.directory.absolute()
    plan = Plan(
        directory,
        (args.data or directory / "data").absolute(),
        tuple(platform for platform in installable() if getattr(args, platform)),
        args.metrics,
        args.env_file.absolute() if args.env_file else None,
        args.print_key,
    )
    try:
        init(plan)
    except (InitError, OSError) as exc:
        notice(f"advocacy-bot: {exc}")
        return EXIT_PROBLEMS
    return EXIT_OK


def cmd_doctor(config_path: Path | None) -> int:
    from bot.operations.doctor import diagnose, report

    text, ok = report(asyncio.run(diagnose(config_path)))
    print(text)
    return EXIT_OK if ok else EXIT_PROBLEMS


def _on_server(config: Config, command: str) -> bool:
    if config.server_url is None:
        return False
    notice(
        f"advocacy-bot: {command} works on an SQLite database; with PostgreSQL (storage.url), use the server's "
        "own pg_dump and pg_restore (the secret key stays out of either)"
    )
    return True


def cmd_backup(config: Config, args: argparse.Namespace) -> int:
    from bot.operations.backup import BackupError, backup

    if _on_server(config, "backup"):
        return EXIT_PROBLEMS
    if args.keep < 1:
        notice("advocacy-bot: --keep must be at least 1")
        return EXIT_USAGE
    try:
        copy = backup(config.store_path, args.directory, args.keep, datetime.now(UTC))
    except (BackupError, OSError, sqlite3.Error) as exc:
        notice(f"advocacy-bot: backup failed: {exc}")
        return EXIT_PROBLEMS
    notice(f"backed up to {copy}")
    return EXIT_OK


def cmd_restore(config: Config, args: argparse.Namespace) -> int:
    from bot.operations.backup import BackupError, restore_database

    if _on_server(config, "restore"):
        return EXIT_PROBLEMS
    try:
        notice(restore_database(config, args.file, datetime.now(UTC), force=args.force, notice=notice))
    except (BackupError, OSError, sqlite3.Error) as exc:
        notice(f"advocacy-bot: restore failed: {exc}")
        return EXIT_PROBLEMS
    return EXIT_OK
