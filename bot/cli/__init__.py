"""The ``advocacy-bot`` command line: the parser, assembled from each command group's module, and
:func:`main`, which runs a command with the configuration it names.

The groups: :mod:`~bot.cli.serving` (run, console), :mod:`~bot.cli.operations` (init, doctor, backup,
restore, db copy), :mod:`~bot.cli.kb` (ask, kb), :mod:`~bot.cli.export` (export, stats),
:mod:`~bot.cli.broadcasts`, :mod:`~bot.cli.sync`, :mod:`~bot.cli.dashboard`, :mod:`~bot.cli.keys` and
:mod:`~bot.cli.content`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from bot import __version__
from bot.cli import broadcasts, content, dashboard, export, kb, keys, operations, serving, sync
from bot.cli.common import (
    EXIT_DATABASE,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    common_options,
    no_history,
    notice,
    uses_database,
)
from bot.content import ContentError, check
from bot.core.config import ConfigError, load_config
from bot.operations.logs import HANDLER_NAME, configure_logging, level_for, log_uncaught
from bot.privacy.secret_key import SecretKeyError
from bot.storage.database import DatabaseUnusable, StoreError


def _parser() -> argparse.ArgumentParser:
    common = common_options()
    parser = argparse.ArgumentParser(
        prog="advocacy-bot",
        description="Harm-reduction and drug-policy chat bot. With no command: run the enabled adapters.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"advocacy-bot {__version__}")
    no_history(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    serving.add_commands(sub, common)
    operations.add_setup_commands(sub, common)
    kb.add_commands(sub, common)
    export.add_commands(sub, common)
    broadcasts.add_commands(sub, common)
    sync.add_commands(sub, common)
    dashboard.add_commands(sub, common)
    operations.add_backup_commands(sub, common)
    operations.add_database_commands(sub, common)
    keys.add_commands(sub, common)
    content.add_commands(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    root = logging.getLogger()
    level = root.level
    try:
        return _main(argv)
    except BrokenPipeError:
        # Whoever read the output stopped (`kb eval | head`): nothing went wrong in the command, and
        # Python's own flush of stdout at exit must not fail again on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    finally:
        # Called in-process (tests, tools), the command leaves logging as it found it: no handler
        # behind on a stream it no longer owns.
        for handler in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
            root.removeHandler(handler)
        root.setLevel(level)


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    verbosity = getattr(args, "verbose", 0)
    if args.command == "init":
        return operations.cmd_init(args)
    if args.command == "doctor":
        # Before the configuration is loaded: a broken one is the doctor's first finding.
        configure_logging(level_for(None, verbosity, quiet=True))
        return operations.cmd_doctor(getattr(args, "config", None))
    try:
        config = load_config(getattr(args, "config", None))
    except ConfigError as exc:
        notice(f"advocacy-bot: invalid configuration: {exc}")
        return EXIT_USAGE
    enabled = config.enabled()
    # Someone reads this terminal (a conversation, a command's output): warnings only, unless asked.
    serve = args.command in (None, "run") and "console" not in enabled
    configure_logging(level_for(config.logging.level, verbosity, quiet=not serve), config.logging.format)
    sys.excepthook = log_uncaught
    if args.command != "content":
        # Every other command needs usable content; say what is wrong rather than fail later.
        problems = check(config.content_path)
        if problems:
            for problem in problems:
                notice(str(problem))
            notice(f"advocacy-bot: the content in {config.content_path} has problems (see above)")
            return EXIT_PROBLEMS
    try:
        if args.command == "ask":
            return kb.cmd_ask(config, args)
        if args.command == "kb":
            return kb.cmd_kb(config, args)
        if args.command == "content":
            return content.cmd_content_check(config, args)
        uses_database(config)
        if args.command == "console":
            return serving.cmd_run(config, ["console"], args)
        if args.command == "export":
            return export.cmd_export(config, args)
        if args.command == "stats":
            return export.cmd_stats(config)
        if args.command == "broadcast":
            return broadcasts.cmd_broadcast(config, args)
        if args.command == "sync":
            return sync.cmd_sync(config, args)
        if args.command == "dashboard":
            return dashboard.cmd_dashboard(config, args)
        if args.command == "key":
            return keys.cmd_key_rotate(config)
        if args.command == "backup":
            return operations.cmd_backup(config, args)
        if args.command == "restore":
            return operations.cmd_restore(config, args)
        if args.command == "db":
            return operations.cmd_db_copy(config, args)
        return serving.cmd_run(config, enabled, args)
    except ContentError as exc:
        notice(str(exc))
        return EXIT_PROBLEMS
    except DatabaseUnusable as exc:
        notice(f"advocacy-bot: {exc}")
        return EXIT_DATABASE
    except (SecretKeyError, StoreError) as exc:
        notice(f"advocacy-bot: {exc}")
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        return 130
