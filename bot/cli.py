"""The ``advocacy-bot`` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot import __version__, adapters
from bot.config import Config, ConfigError, load_config
from bot.content import LANGUAGES, ContentError, check
from bot.delivery.messages import TOPICS
from bot.logs import configure_logging, log_uncaught, secret_env
from bot.plaintext import render
from bot.secret_key import ENV_VAR, NEW_KEY_ENV, SecretKeyError
from bot.store import DatabaseUnusable, StoreError

if TYPE_CHECKING:
    from bot.core import Services

log = logging.getLogger("bot")

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
# The database cannot be used as it is (damaged, read-only, the disk full...): one line says what to do.
EXIT_DATABASE = 2
# ``ask --lang auto``: the language of each question, as the bot picks it for a chat message.
AUTO = "auto"


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        help="configuration file (default: $ADVOCACY_BOT_CONFIG)",
    )
    parser = argparse.ArgumentParser(
        prog="advocacy-bot",
        description="Harm-reduction and drug-policy chat bot. With no command: run the enabled adapters.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"advocacy-bot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("run", parents=[common], help="run every adapter enabled in the configuration")

    console = sub.add_parser("console", parents=[common], help="chat with the bot in this terminal")
    console.add_argument("--user-id", help="act as this user id (to try organiser features)")
    console.add_argument("--lang", choices=LANGUAGES, help="act as a user whose client speaks this language")

    ask = sub.add_parser("ask", parents=[common], help="answer one question (or '-' for one per line on stdin)")
    ask.add_argument(
        "--lang",
        choices=(AUTO, *LANGUAGES),
        default=AUTO,
        help="the language the asker chose; auto (default): each question's own language when it can be "
        "told reliably, else the configured default_language, as for someone who never used /language",
    )
    ask.add_argument("--json", action="store_true", help="print one JSON object per question")
    ask.add_argument("question", nargs="+", help="the question, or - to read questions from stdin")

    kb = sub.add_parser("kb", parents=[common], help="knowledge-base tools")
    kb_sub = kb.add_subparsers(dest="kb_command", metavar="KB_COMMAND", required=True)
    evaluate = kb_sub.add_parser("eval", parents=[common], help="top-1 accuracy on a YAML file of cases")
    evaluate.add_argument("file", nargs="?", type=Path, help="cases (default: kb-tests.yaml in the content)")
    evaluate.add_argument("--lang", choices=LANGUAGES, help="the askers' language (default: configured)")

    export = sub.add_parser("export", parents=[common], help="export campaign data (decrypted: handle with care)")
    export_sub = export.add_subparsers(dest="export_command", metavar="WHAT", required=True)
    signatures = export_sub.add_parser("signatures", parents=[common], help="a petition's signatures")
    signatures.add_argument("--petition", required=True, help="the petition's id")
    signatures.add_argument("--format", choices=("csv", "json"), default="csv")
    signatures.add_argument("--out", type=Path, help="write to this file (owner-only permissions); default stdout")
    signatures.add_argument("--force", action="store_true", help="overwrite --out if it exists")

    sub.add_parser("stats", parents=[common], help="pledge and petition totals, sign-ups per day")

    broadcast = sub.add_parser("broadcast", parents=[common], help="queue and follow broadcasts to subscribers")
    broadcast_sub = broadcast.add_subparsers(dest="broadcast_command", metavar="BROADCAST_COMMAND", required=True)
    send = broadcast_sub.add_parser("send", parents=[common], help="queue a broadcast (the running bot sends it)")
    send.add_argument("--text-file", type=Path, required=True, help="the message (light markup: **bold**, [text](url))")
    send.add_argument("--topic", required=True, choices=TOPICS, help="who gets it: subscribers of this topic")
    send.add_argument("--lang", choices=LANGUAGES, help="only subscribers who use this language")
    send.add_argument(
        "--platform", choices=("telegram", "discord", "console"), help="only subscribers on this platform"
    )
    send.add_argument("--at", help="when, ISO-8601 (default: now; without an offset: UTC)")
    send.add_argument("--dry-run", action="store_true", help="show the message and the audience; queue nothing")
    broadcast_sub.add_parser("list", parents=[common], help="the latest broadcasts")
    for name, what in (("status", "a broadcast's delivery figures"), ("cancel", "stop a broadcast")):
        one = broadcast_sub.add_parser(name, parents=[common], help=what)
        one.add_argument("id", type=int)

    key = sub.add_parser("key", parents=[common], help="secret-key tools")
    key_sub = key.add_subparsers(dest="key_command", metavar="KEY_COMMAND", required=True)
    key_sub.add_parser(
        "rotate",
        parents=[common],
        help=f"re-wrap the database's keys with the key in ${NEW_KEY_ENV} (the data stays as it is)",
    )

    content = sub.add_parser("content", parents=[common], help="content tools")
    content_sub = content.add_subparsers(dest="content_command", metavar="CONTENT_COMMAND", required=True)
    checker = content_sub.add_parser("check", parents=[common], help="validate a content folder")
    checker.add_argument("path", nargs="?", type=Path, help="content folder (default: the configured content)")
    return parser


def _notice(message: str) -> None:
    print(message, file=sys.stderr)


def _services(config: Config) -> Services:
    from bot.core import build_services

    return build_services(config)


def cmd_export(config: Config, args: argparse.Namespace) -> int:
    from bot.export import ExportError, export_signatures

    try:
        count = asyncio.run(export_signatures(config, args.petition, args.format, args.out, force=args.force))
    except ExportError as exc:
        _notice(f"advocacy-bot: {exc}")
        return EXIT_PROBLEMS
    if args.out is not None:
        _notice(f"exported {count} signature(s) of {args.petition} to {args.out}")
    return EXIT_OK


def cmd_broadcast(config: Config, args: argparse.Namespace) -> int:
    from bot import broadcasting
    from bot.export import ExportError

    try:
        if args.broadcast_command == "send":
            output = asyncio.run(
                broadcasting.send(
                    config, args.text_file, args.topic, args.lang, args.platform, args.at, dry_run=args.dry_run
                )
            )
        elif args.broadcast_command == "list":
            output = asyncio.run(broadcasting.listing(config))
        elif args.broadcast_command == "status":
            output = asyncio.run(broadcasting.status(config, args.id))
        else:
            output = asyncio.run(broadcasting.cancel(config, args.id))
    except ExportError as exc:
        _notice(f"advocacy-bot: {exc}")
        return EXIT_PROBLEMS
    print(output)
    return EXIT_OK


def cmd_stats(config: Config) -> int:
    from bot.export import stats_text

    print(asyncio.run(stats_text(config)))
    return EXIT_OK


def cmd_key_rotate(config: Config) -> int:
    from bot.export import rotate_key

    new_value = secret_env(NEW_KEY_ENV)
    if not new_value:
        _notice(f"advocacy-bot: set {NEW_KEY_ENV} to the new key (the current one stays in {ENV_VAR} or the key file)")
        return EXIT_USAGE
    _notice(asyncio.run(rotate_key(config, new_value)))
    return EXIT_OK


def cmd_run(config: Config, names: Sequence[str], console_args: argparse.Namespace | None = None) -> int:
    from bot.app import serve

    try:
        chosen = []
        for name in names:
            adapter = adapters.create(name, config)
            if console_args is not None and name == "console":
                from adapters.console import ConsoleAdapter

                adapter = ConsoleAdapter(
                    console_args.user_id or config.console.user_id,
                    console_args.lang or config.console.language,
                )
            chosen.append(adapter)
    except adapters.AdapterError as exc:
        _notice(f"advocacy-bot: {exc}")
        return EXIT_PROBLEMS
    if not chosen:
        _notice("advocacy-bot: no adapter is enabled in the configuration (console.enabled, telegram.enabled, ...)")
        return EXIT_PROBLEMS
    # Only a console user, on their own machine, may get a key created for them: a server
    # adapter without the key configured would lose every signature when the box is rebuilt.
    try:
        asyncio.run(serve(config, chosen, notice=_notice, create_key=all(a.name == "console" for a in chosen)))
    except adapters.AdapterError as exc:
        _notice(f"advocacy-bot: {exc}")
        return EXIT_PROBLEMS
    return EXIT_OK


def cmd_ask(config: Config, args: argparse.Namespace) -> int:
    services = _services(config)
    answerer = services.answerer
    questions: Iterable[str]
    if args.question == ["-"]:
        questions = (line.rstrip("\n") for line in sys.stdin if line.strip())
        as_json = True
    else:
        questions = [" ".join(args.question)]
        as_json = args.json
    for question in questions:
        lang = args.lang
        if lang == AUTO:
            lang = services.languages.detect(question) or config.default_language
        answer = answerer.answer(question, lang)
        text = "\n\n".join(render(reply) for reply in answerer.replies(answer, lang))
        if as_json:
            record = {
                "question": question,
                "kind": answer.kind.value,
                "entry": answer.entry,
                "candidates": list(answer.candidates),
                "lang": answer.lang,
                "score": round(answer.score, 4),
                "text": text,
            }
            print(json.dumps(record, ensure_ascii=False), flush=True)
        else:
            print(text, flush=True)
    return EXIT_OK


def cmd_kb_eval(config: Config, args: argparse.Namespace) -> int:
    from bot.evaluation import evaluate, load_cases, summarise

    services = _services(config)
    path = args.file or config.content_path / "kb-tests.yaml"
    cases = load_cases(path, set(services.content.kb.entries))
    report, ok = summarise(evaluate(services.answerer, cases, args.lang or config.default_language))
    print(report)
    return EXIT_OK if ok else EXIT_PROBLEMS


def cmd_content_check(config: Config, args: argparse.Namespace) -> int:
    from bot.evaluation import load_cases

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
        print(f"{len(problems)} problem(s) in {root}", file=sys.stderr)
        return EXIT_PROBLEMS
    from bot.content import load

    content = load(root)
    print(
        f"ok: {len(content.kb.entries)} entries in {len(content.kb.groups)} groups, "
        f"{len(content.emergency.texts)} emergency languages, {len(content.refusals)} refusal rules, "
        f"{len(content.locales)} locales, {len(content.campaigns.pledges)} pledges, "
        f"{len(content.campaigns.petitions)} petitions, {cases} eval cases ({root})"
    )
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(getattr(args, "config", None))
    except ConfigError as exc:
        _notice(f"advocacy-bot: invalid configuration: {exc}")
        return EXIT_USAGE
    configure_logging(config.logging.level)
    sys.excepthook = log_uncaught
    if args.command != "content":
        # Every other command needs usable content; say what is wrong rather than fail later.
        problems = check(config.content_path)
        if problems:
            for problem in problems:
                _notice(str(problem))
            _notice(f"advocacy-bot: the content in {config.content_path} has problems (see above)")
            return EXIT_PROBLEMS
    try:
        if args.command == "ask":
            return cmd_ask(config, args)
        if args.command == "kb":
            return cmd_kb_eval(config, args)
        if args.command == "content":
            return cmd_content_check(config, args)
        if args.command == "console":
            return cmd_run(config, ["console"], args)
        if args.command == "export":
            return cmd_export(config, args)
        if args.command == "stats":
            return cmd_stats(config)
        if args.command == "broadcast":
            return cmd_broadcast(config, args)
        if args.command == "key":
            return cmd_key_rotate(config)
        enabled = [name for name in ("console", "telegram", "discord") if getattr(config, name).enabled]
        return cmd_run(config, enabled)
    except ContentError as exc:
        _notice(str(exc))
        return EXIT_PROBLEMS
    except DatabaseUnusable as exc:
        _notice(f"advocacy-bot: {exc}")
        return EXIT_DATABASE
    except (SecretKeyError, StoreError) as exc:
        _notice(f"advocacy-bot: {exc}")
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        return 130
