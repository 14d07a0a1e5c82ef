"""The ``advocacy-bot`` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sqlite3
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot import __version__
from bot.campaigns.subscriptions import TOPICS
from bot.content import LANGUAGES, ContentError, check
from bot.content.i18n import Locales, counted
from bot.core import registry
from bot.core.config import Config, ConfigError, load_config
from bot.features.broadcasts import platforms as broadcast_platforms
from bot.operations.logs import HANDLER_NAME, configure_logging, level_for, log_uncaught
from bot.port.markup import plain
from bot.port.plaintext import render
from bot.port.platform import Adapter, AdapterError, Setup
from bot.port.redaction import secret_env
from bot.privacy.secret_key import ENV_VAR, NEW_KEY_ENV, SecretKeyError
from bot.storage.database import DatabaseUnusable, StoreError, owner_problem, without_password

if TYPE_CHECKING:
    from bot.core.app import Services

log = logging.getLogger("bot")

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
# The database cannot be used as it is (damaged, read-only, the disk full...): one line says what to do.
EXIT_DATABASE = 2
# ``ask --lang auto``: the language of each question, as the bot picks it for a chat message.
AUTO = "auto"
# The blind evaluation set, in the content folder.
BLIND_SET = Path("eval") / "blind.yaml"


def _no_history(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-history",
        action="store_true",
        default=argparse.SUPPRESS,
        help="keep no history file of the lines typed into the console",
    )


def _parser() -> argparse.ArgumentParser:
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
    parser = argparse.ArgumentParser(
        prog="advocacy-bot",
        description="Harm-reduction and drug-policy chat bot. With no command: run the enabled adapters.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"advocacy-bot {__version__}")
    _no_history(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    _no_history(sub.add_parser("run", parents=[common], help="run every adapter enabled in the configuration"))

    console = sub.add_parser("console", parents=[common], help="chat with the bot in this terminal")
    console.add_argument("--user-id", help="act as this user id (to try organiser features)")
    console.add_argument("--lang", choices=LANGUAGES, help="act as a user whose client speaks this language")
    _no_history(console)

    init = sub.add_parser(
        "init", help="start an installation: a commented config.yaml, an owner-only data directory, a secret key"
    )
    init.add_argument("directory", nargs="?", type=Path, default=Path(), help="where config.yaml goes (default: here)")
    init.add_argument("--data", type=Path, help="the data directory (default: DIRECTORY/data)")
    for platform in ("telegram", "discord"):
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
    evaluate = kb_sub.add_parser(
        "eval", parents=[common], help="how well questions are answered: the tuning set and the blind set"
    )
    evaluate.add_argument(
        "file", nargs="?", type=Path, help="one file of cases (default: kb-tests.yaml, then eval/blind.yaml)"
    )
    evaluate.add_argument(
        "--lang", choices=LANGUAGES, help="as if every asker had chosen this language (default: each question's own)"
    )
    evaluate.add_argument(
        "--show-blind", action="store_true", help="list the blind set's misses too (to read, never to tune on)"
    )
    calibrate = kb_sub.add_parser(
        "calibrate", parents=[common], help="fit when to answer on kb-tests.yaml and write calibration.yaml"
    )
    calibrate.add_argument(
        "--check", action="store_true", help="only check that calibration.yaml is what the tuning set gives"
    )

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
    send.add_argument("--platform", choices=broadcast_platforms(), help="only subscribers on this platform")
    send.add_argument("--at", help="when, ISO-8601 (default: now; without an offset: UTC)")
    send.add_argument("--dry-run", action="store_true", help="show the message and the audience; queue nothing")
    broadcast_sub.add_parser("list", parents=[common], help="the latest broadcasts")
    for name, what in (("status", "a broadcast's delivery figures"), ("cancel", "stop a broadcast")):
        one = broadcast_sub.add_parser(name, parents=[common], help=what)
        one.add_argument("id", type=int)

    backup = sub.add_parser("backup", parents=[common], help="copy the database consistently (the bot may run)")
    backup.add_argument("directory", type=Path, help="where the copies go (created owner-only)")
    backup.add_argument("--keep", type=int, default=14, help="how many copies to keep, newest first (default: 14)")
    restore = sub.add_parser("restore", parents=[common], help="replace the database with a backup (bot stopped)")
    restore.add_argument("file", type=Path, help="a copy made by advocacy-bot backup")
    restore.add_argument("--force", action="store_true", help="even if a bot was running on the database lately")

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


def _uses_database(config: Config) -> None:
    """Say which database this command works on, and from which configuration; refuse it as root
    when the database belongs to a service user."""
    where = f"configuration {config.source}" if config.source else "no configuration file: the defaults"
    if config.server_url is not None:
        _notice(f"advocacy-bot: database {without_password(config.server_url)} ({where})")
        return
    _notice(f"advocacy-bot: database {config.store_path} ({where})")
    problem = owner_problem(config.store_path)
    if problem is not None:
        raise StoreError(problem)


def _services(config: Config) -> Services:
    from bot.core.app import build_services

    return build_services(config)


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
        _notice(f"advocacy-bot: {exc}")
        return EXIT_PROBLEMS
    if args.out is not None:
        signatures = counted(count, {"one": "{count} signature", "other": "{count} signatures"})
        _notice(f"exported {signatures} of {args.petition} to {args.out}")
    return EXIT_OK


def cmd_broadcast(config: Config, args: argparse.Namespace) -> int:
    from bot.cli import broadcasts as broadcasting
    from bot.privacy.files import ExportError

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


def cmd_key_rotate(config: Config) -> int:
    from bot.privacy.rotation import rotate_key

    new_value = secret_env(NEW_KEY_ENV)
    if not new_value:
        _notice(f"advocacy-bot: set {NEW_KEY_ENV} to the new key (the current one stays in {ENV_VAR} or the key file)")
        return EXIT_USAGE
    _notice(asyncio.run(rotate_key(config.data_dir, config.database, new_value)))
    return EXIT_OK


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
        _notice(f"advocacy-bot: {exc}")
        return EXIT_PROBLEMS
    if not chosen:
        _notice("advocacy-bot: no adapter is enabled in the configuration (console.enabled, telegram.enabled, ...)")
        return EXIT_PROBLEMS
    # Only a console user, on their own machine, may get a key created for them: a server
    # adapter without the key configured would lose every signature when the box is rebuilt.
    try:
        create_key = not any(registry.platform(adapter.name).server for adapter in chosen)
        asyncio.run(serve(config, chosen, notice=_notice, create_key=create_key))
    except (AdapterError, StartError) as exc:
        _notice(f"advocacy-bot: {exc}")
        return EXIT_PROBLEMS
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    from bot.operations.init import InitError, Plan, init

    directory: Path = args.directory.absolute()
    plan = Plan(
        directory,
        (args.data or directory / "data").absolute(),
        tuple(platform for platform in ("telegram", "discord") if getattr(args, platform)),
        args.metrics,
        args.env_file.absolute() if args.env_file else None,
        args.print_key,
    )
    try:
        init(plan)
    except (InitError, OSError) as exc:
        _notice(f"advocacy-bot: {exc}")
        return EXIT_PROBLEMS
    return EXIT_OK


def cmd_doctor(config_path: Path | None) -> int:
    from bot.operations.doctor import diagnose, report

    text, ok = report(asyncio.run(diagnose(config_path)))
    print(text)
    return EXIT_OK if ok else EXIT_PROBLEMS


def cmd_backup(config: Config, args: argparse.Namespace) -> int:
    from bot.operations.backup import BackupError, backup

    if args.keep < 1:
        _notice("advocacy-bot: --keep must be at least 1")
        return EXIT_USAGE
    try:
        copy = backup(config.store_path, args.directory, args.keep, datetime.now(UTC))
    except (BackupError, OSError, sqlite3.Error) as exc:
        _notice(f"advocacy-bot: backup failed: {exc}")
        return EXIT_PROBLEMS
    _notice(f"backed up to {copy}")
    return EXIT_OK


def cmd_restore(config: Config, args: argparse.Namespace) -> int:
    from bot.operations.backup import BackupError, restore_database

    try:
        _notice(restore_database(config, args.file, datetime.now(UTC), force=args.force, notice=_notice))
    except (BackupError, OSError, sqlite3.Error) as exc:
        _notice(f"advocacy-bot: restore failed: {exc}")
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
            lang = answerer.language_of(question) or config.default_language
        answer = answerer.answer(question, lang)
        text = "\n\n".join(render(reply) for reply in answerer.replies(answer, lang, country=config.emergency_country))
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
    from bot.qa.evaluation import evaluate, load_cases, summarise

    services = _services(config)
    ids = set(services.content.kb.entries)
    if args.file is not None:
        files = [(args.file, "", True)]
    else:
        files = [
            (
                config.content_path / "kb-tests.yaml",
                "tuning set: thresholds, lexicons and triggers are tuned on it",
                True,
            ),
            (config.content_path / BLIND_SET, "blind set: written before any tuning, never tuned on", args.show_blind),
        ]
    ok = True
    for path, what, show_misses in files:
        if not path.exists():
            continue
        cases = load_cases(path, ids)
        title = f"{path}" + (f" ({what})" if what else "")
        report = summarise(evaluate(services.answerer, cases, args.lang), title, show_misses=show_misses)
        print(report.text, end="\n\n")
        ok = ok and report.ok
    return EXIT_OK if ok else EXIT_PROBLEMS


def cmd_kb_calibrate(config: Config, args: argparse.Namespace) -> int:
    from datetime import date

    from bot.qa.calibration import fit, render, same
    from bot.qa.evaluation import calibration_samples, load_cases

    services = _services(config)
    tests = config.content_path / "kb-tests.yaml"
    cases = load_cases(tests, set(services.content.kb.entries))
    calibration, achieved = fit(calibration_samples(services.answerer, cases), date.today())
    target = config.content_path / "calibration.yaml"
    print(
        f"answer at P >= {calibration.answer}, did-you-mean at P >= {calibration.clarify}: "
        f"{achieved['served']:.1%} of the questions expecting an entry get it, "
        f"{achieved['out_of_scope_answered']:.1%} of the out-of-scope ones get an entry anyway"
    )
    if args.check:
        if same(calibration, services.content.calibration):
            print(f"{target} is up to date")
            return EXIT_OK
        print(f"{target} is out of date: run advocacy-bot kb calibrate")
        return EXIT_PROBLEMS
    target.write_text(render(calibration, achieved, "kb-tests.yaml"), encoding="utf-8")
    print(f"wrote {target}")
    return EXIT_OK


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


def main(argv: Sequence[str] | None = None) -> int:
    root = logging.getLogger()
    level = root.level
    try:
        return _main(argv)
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
        return cmd_init(args)
    if args.command == "doctor":
        # Before the configuration is loaded: a broken one is the doctor's first finding.
        configure_logging(level_for(None, verbosity, quiet=True))
        return cmd_doctor(getattr(args, "config", None))
    try:
        config = load_config(getattr(args, "config", None))
    except ConfigError as exc:
        _notice(f"advocacy-bot: invalid configuration: {exc}")
        return EXIT_USAGE
    enabled = config.enabled()
    # Someone reads this terminal (a conversation, a command's output): warnings only, unless asked.
    serving = args.command in (None, "run") and "console" not in enabled
    configure_logging(level_for(config.logging.level, verbosity, quiet=not serving), config.logging.format)
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
            return cmd_kb_calibrate(config, args) if args.kb_command == "calibrate" else cmd_kb_eval(config, args)
        if args.command == "content":
            return cmd_content_check(config, args)
        _uses_database(config)
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
        if args.command == "backup":
            return cmd_backup(config, args)
        if args.command == "restore":
            return cmd_restore(config, args)
        return cmd_run(config, enabled, args)
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
