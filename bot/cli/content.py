"""``advocacy-bot content check``: validate a content folder, and count what it holds."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli.common import EXIT_OK, EXIT_PROBLEMS, Commands
from bot.content import ContentError, check
from bot.content.i18n import counted
from bot.core.config import Config


def add_commands(sub: Commands, common: argparse.ArgumentParser) -> None:
    content = sub.add_parser("content", parents=[common], help="content tools")
    content_sub = content.add_subparsers(dest="content_command", metavar="CONTENT_COMMAND", required=True)
    checker = content_sub.add_parser("check", parents=[common], help="validate a content folder")
    checker.add_argument("path", nargs="?", type=Path, help="content folder (default: the configured content)")


def cmd_content_check(config: Config, args: argparse.Namespace) -> int:
    from bot.qa.evaluation import load_cases

    root: Path = args.path or config.content_path
    problems = check(root)
    cases = 0
    tests = root / "kb-tests.yaml"
    if tests.exists():
        from bot.content.schema import load_kb

        ids = set(load_kb(root, []).entries)
        try:
            cases = len(load_cases(tests, ids))
        except ContentError as exc:
            problems.extend(exc.problems)
    for problem in problems:
        print(problem)
    if problems:
        print(
            counted(len(problems), {"one": "{count} problem", "other": "{count} problems"}) + f" in {root}",
            file=sys.stderr,
        )
        return EXIT_PROBLEMS
    from bot.content import load

    content = load(root)
    figures = (
        (len(content.kb.entries), "entry", "entries"),
        (len(content.kb.groups), "group", "groups"),
        (len(content.emergency.texts), "emergency language", "emergency languages"),
        (len(content.refusals), "refusal rule", "refusal rules"),
        (len(content.locales), "locale", "locales"),
        (len(content.campaigns.pledges), "pledge", "pledges"),
        (len(content.campaigns.petitions), "petition", "petitions"),
        (cases, "eval case", "eval cases"),
    )
    entries, groups, *rest = (
        counted(n, {"one": f"{{count}} {one}", "other": f"{{count}} {other}"}) for n, one, other in figures
    )
    print(f"ok: {entries} in {groups}, {', '.join(rest)} ({root})")
    return EXIT_OK
