"""``advocacy-bot run`` and ``advocacy-bot console``: serve the enabled platforms, or chat in this terminal."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from bot.cli.common import EXIT_OK, EXIT_PROBLEMS, Commands, no_history, notice
from bot.content import LANGUAGES
from bot.core import registry
from bot.core.config import Config
from bot.port.platform import Adapter, AdapterError, Setup


def add_commands(sub: Commands, common: argparse.ArgumentParser) -> None:
    no_history(sub.add_parser("run", parents=[common], help="run every adapter enabled in the configuration"))

    console = sub.add_parser("console", parents=[common], help="chat with the bot in this terminal")
    console.add_argument("--user-id", help="act as this user id (to try organiser features)")
    console.add_argument("--lang", choices=LANGUAGES, help="act as a user whose client speaks this language")
    no_history(console)


def _adapter(config: Config, name: str, args: argparse.Namespace) -> Adapter:
    # The console's options on the command line stand in for its section of the configuration.
    if name == "console":
        section = config.section(name)
        config = config.with_section(
            name,
            user_id=getattr(args, "user_id", None) or section.user_id,
            language=getattr(args, "lang", None) or section.language,
            history=not getattr(args, "no_history", False),
        )
    return registry.create(name, Setup(config.section(name), config.limits(name), config.data_dir))


def cmd_run(config: Config, names: Sequence[str], args: argparse.Namespace) -> int:
    from bot.operations.serving import StartError, serve

    try:
        chosen = [_adapter(config, name, args) for name in names]
    except AdapterError as exc:
        notice(f"advocacy-bot: {exc}")
        return EXIT_PROBLEMS
    if not chosen:
        notice("advocacy-bot: no adapter is enabled in the configuration (console.enabled, telegram.enabled, ...)")
        return EXIT_PROBLEMS
    # Only a console user, on their own machine, may get a key created for them: a server
    # adapter without the key configured would lose every signature when the box is rebuilt.
    try:
        create_key = not any(registry.platform(adapter.name).server for adapter in chosen)
        asyncio.run(serve(config, chosen, notice=notice, create_key=create_key))
    except (AdapterError, StartError) as exc:
        notice(f"advocacy-bot: {exc}")
        return EXIT_PROBLEMS
    return EXIT_OK
