"""``advocacy-bot ask`` and ``advocacy-bot kb``: the knowledge base's answers, how well questions are
answered, and when to answer (calibration)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

from bot.cli.common import EXIT_OK, EXIT_PROBLEMS, Commands, services
from bot.content import LANGUAGES
from bot.core.config import Config
from bot.port.plaintext import render

# ``ask --lang auto``: the language of each question, as the bot picks it for a chat message.
AUTO = "auto"
# The blind evaluation set, in the content folder.
BLIND_SET = Path("eval") / "blind.yaml"


def add_commands(sub: Commands, common: argparse.ArgumentParser) -> None:
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


def cmd_ask(config: Config, args: argparse.Namespace) -> int:
    built = services(config)
    decider, replies = built.decider, built.replies
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
            lang = decider.language_of(question) or config.default_language
        answer = decider.answer(question, lang)
        shown = replies.for_answer(answer, lang, country=config.emergency_country)
        text = "\n\n".join(render(reply) for reply in shown)
        if as_json:
            record = {
                "question": question,
                "kind": answer.kind.value,
                "entry": answer.entry,
                "candidates": list(answer.candidates),
                "outside": answer.outside,
                "lang": answer.lang,
                "score": round(answer.score, 4),
                "text": text,
            }
            print(json.dumps(record, ensure_ascii=False), flush=True)
        else:
            print(text, flush=True)
    return EXIT_OK


def cmd_kb(config: Config, args: argparse.Namespace) -> int:
    return cmd_kb_calibrate(config, args) if args.kb_command == "calibrate" else cmd_kb_eval(config, args)


def cmd_kb_eval(config: Config, args: argparse.Namespace) -> int:
    from bot.qa.evaluation import evaluate, load_cases, summarise

    built = services(config)
    ids = set(built.content.kb.entries)
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
        report = summarise(evaluate(built.decider, cases, args.lang), title, show_misses=show_misses)
        print(report.text, end="\n\n")
        ok = ok and report.ok
    return EXIT_OK if ok else EXIT_PROBLEMS


def cmd_kb_calibrate(config: Config, args: argparse.Namespace) -> int:
    """Train the learned models (each unless what it learns from is unchanged): the entry model, then the
    alarm detector; then fit when to answer with both in place (which questions reach the knowledge
    base depends on which raise alarms, and the ranking on the entry model)."""
    from datetime import date

    from bot.qa import alarm_model, entry_model
    from bot.qa.calibration import fit, render, same
    from bot.qa.evaluation import calibration_samples, load_cases

    built = services(config)
    content = built.content
    entries_file = config.content_path / "entries.npz"
    if content.entry_model is None or content.entry_model.digest != entry_model.digest(content.kb):
        if args.check:
            print(f"{entries_file} is out of date: run advocacy-bot kb calibrate")
            return EXIT_PROBLEMS
        print("training the entry model on every title and question variant (a few minutes)")
        entries = entry_model.train(content.kb)
        entry_model.save(entries, entries_file)
        print(f"wrote {entries_file}")
        # Read back rather than kept: the file holds half-precision weights, and what is fitted next
        # must see the model the bot will load, or the calibration it writes is stale on the next check.
        built = services(config)
    else:
        print(f"{entries_file} is up to date")
    tests = config.content_path / "kb-tests.yaml"
    cases = load_cases(tests, set(content.kb.entries))
    # Trained on messages as the bot reads them (translit in the Cyrillic it spells).
    readable = built.decider.readable
    examples, calm = alarm_model.examples_from(content.kb, ((readable(case.question), case.kind) for case in cases))
    checked = [
        is_calm and not built.decider.explains_away(example.text)
        for example, is_calm in zip(examples, calm, strict=True)
    ]
    alarms_file = config.content_path / "alarms.npz"
    if content.alarms is None or content.alarms.digest != alarm_model.digest(examples, checked):
        if args.check:
            print(f"{alarms_file} is out of date: run advocacy-bot kb calibrate")
            return EXIT_PROBLEMS
        print(f"training the alarm detector on {len(examples)} messages and question variants (a few minutes)")
        trained = alarm_model.train(examples, checked)
        alarm_model.save(trained, alarms_file)
        print(f"wrote {alarms_file} (alarms at P >= {trained.threshold:.4f})")
        built = services(config)
    else:
        print(f"{alarms_file} is up to date")
    calibration, achieved = fit(calibration_samples(built.decider, cases), date.today())
    target = config.content_path / "calibration.yaml"
    print(
        f"answer at P >= {calibration.answer}, did-you-mean at P >= {calibration.clarify} "
        f"({', '.join(f'{lang} {answer}/{clarify}' for lang, (answer, clarify) in calibration.languages.items())}): "
        f"{achieved['served']:.1%} of the questions expecting an entry get it, "
        f"{achieved['out_of_scope_answered']:.1%} of the out-of-scope ones get an entry anyway"
    )
    if args.check:
        if same(calibration, built.content.calibration):
            print(f"{target} is up to date")
            return EXIT_OK
        print(f"{target} is out of date: run advocacy-bot kb calibrate")
        return EXIT_PROBLEMS
    target.write_text(render(calibration, achieved, "kb-tests.yaml"), encoding="utf-8")
    print(f"wrote {target}")
    return EXIT_OK
