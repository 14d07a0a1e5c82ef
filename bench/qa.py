"""Benchmark question answering: load time, latency, peak memory and accuracy against plain BM25.

Run from the repository root:

    .venv/bin/python bench/qa.py                       # bundled KB, 10x and 100x synthetic KBs
    .venv/bin/python bench/qa.py --sizes 1,10 --passes 3

Each KB size runs in a fresh subprocess (``bench/qa.py --child --size N``) that prints one JSON
line, so the peak RSS is per size. Size 1 is the bundled KB; size N > 1 is the bundled KB plus
N - 1 perturbed copies of every entry, translations included (questions and title, in every
language, get one or two made-up words from a seeded synthetic vocabulary), built in memory. Every
language is loaded: the Decider builds the English index and one per translated language. For
synthetic sizes "load" is the bundled YAML load (the copies are never written to YAML) and "index"
is the Decider construction over all entries and languages. Latency is that of the served path of a
chat message from someone who chose no language: working out the question's language, deciding
(afresh: the answer memo is bypassed) and building the replies, with what exists by then frozen out
of the garbage collector's way, as the bot does when it starts serving. It is measured over every
question of the tuning set and the blind set (varied questions, none repeated within a pass) for
``--passes`` passes, the first pass included (typo corrections are cached after it, so the first pass
is also shown as "cold"); the p99 per language is shown too. Peak RSS is taken before the baseline
is built (its corpus is not the bot's memory). The accuracy figures are those of ``advocacy-bot kb eval``
on both sets.

The baseline is rank_bm25.BM25Okapi over title + questions + tags + answer text per entry, in
English and every translation, tokenised by ``re.findall(r"\\w+")`` on lowercased text; its answer
is the argmax entry. Cases expecting emergency or refusal are misses for it; fallback passes only
when its best score is 0. Accuracy is reported for the bundled KB only, over all cases and over the
cases expecting an entry (the fair comparison of ranking alone).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import random
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.content import BUNDLED_CONTENT, load  # noqa: E402
from bot.content.i18n import Locales  # noqa: E402
from bot.content.model import Content, Entry, Group, KnowledgeBase, Translation  # noqa: E402
from bot.port.markup import plain  # noqa: E402
from bot.qa.deciding import Decider  # noqa: E402
from bot.qa.evaluation import Case, evaluate, load_cases  # noqa: E402
from bot.qa.replies import ReplyBuilder  # noqa: E402

TARGETS = {"load_index_s": 1.0, "p99_ms_bundled": 5.0, "p99_ms_100x": 25.0, "index_s_100x": 5.0, "rss_mb": 120.0}
SEED = 20240601
VOCABULARY_SIZE = 4000
_TOKEN = re.compile(r"\w+")
T = TypeVar("T")


# ---------------------------------------------------------------------- synthetic knowledge bases


def made_up_words(count: int, rng: random.Random) -> list[str]:
    """``count`` distinct pronounceable non-words, e.g. "brosidel"."""
    onsets = ["b", "br", "d", "dr", "f", "g", "gl", "k", "kr", "l", "m", "n", "p", "pl", "r", "s", "st", "t",
              "tr", "v", "z"]  # fmt: skip
    vowels = ["a", "e", "i", "o", "u", "ae", "io", "ou"]
    codas = ["", "", "l", "n", "r", "s", "x", "nd", "rk"]
    found: set[str] = set()
    while len(found) < count:
        syllables = rng.randint(2, 4)
        found.add("".join(rng.choice(onsets) + rng.choice(vowels) + rng.choice(codas) for _ in range(syllables)))
    return sorted(found)


def synthetic(content: Content, size: int) -> Content:
    """The bundled content with ``size - 1`` perturbed copies of every entry added."""
    if size <= 1:
        return content
    rng = random.Random(SEED)
    vocabulary = made_up_words(VOCABULARY_SIZE, rng)

    def perturb(text: str) -> str:
        return " ".join([text, *rng.sample(vocabulary, rng.randint(1, 2))])

    def perturb_translation(translation: Translation) -> Translation:
        questions = tuple(perturb(q) for q in translation.questions)
        return dataclasses.replace(translation, title=perturb(translation.title), questions=questions)

    originals = list(content.kb.entries.values())
    entries: dict[str, Entry] = dict(content.kb.entries)
    members: dict[str, list[str]] = {g.id: list(g.entry_ids) for g in content.kb.groups}
    for k in range(1, size):
        for entry in originals:
            copy_id = f"{entry.id}-syn{k}"
            entries[copy_id] = dataclasses.replace(
                entry,
                id=copy_id,
                title=perturb(entry.title),
                questions=tuple(perturb(q) for q in entry.questions),
                related=tuple(f"{r}-syn{k}" for r in entry.related),
                translations={lang: perturb_translation(t) for lang, t in entry.translations.items()},
            )
            members[entry.group].append(copy_id)
    groups = tuple(Group(g.id, g.title, tuple(members[g.id])) for g in content.kb.groups)
    return dataclasses.replace(content, kb=KnowledgeBase(groups, entries))


# ---------------------------------------------------------------------- measuring


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return cuts[49], cuts[98]


def time_passes(run: Callable[[T], object], questions: list[T], passes: int) -> list[list[float]]:
    """Milliseconds per call, one list per pass over ``questions``."""
    out = []
    for _ in range(passes):
        samples = []
        for question in questions:
            start = time.perf_counter_ns()
            run(question)
            samples.append((time.perf_counter_ns() - start) / 1e6)
        out.append(samples)
    return out


def latency(per_pass: list[list[float]]) -> dict[str, float]:
    p50, p99 = percentiles([ms for samples in per_pass for ms in samples])
    return {"p50_ms": p50, "p99_ms": p99, "cold_p99_ms": percentiles(per_pass[0])[1]}


def p99_by_language(cases: list[Case], per_pass: list[list[float]]) -> dict[str, float]:
    """The p99 over every pass of the questions asked in each language."""
    by_lang: dict[str, list[float]] = {}
    for samples in per_pass:
        for case, ms in zip(cases, samples, strict=True):
            by_lang.setdefault(case.lang or "en", []).append(ms)
    return {lang: percentiles(samples)[1] for lang, samples in by_lang.items()}


def entry_text(entry: Entry) -> str:
    """Everything the baseline indexes for an entry: English and every translation."""
    texts = [entry.title, *entry.questions, *entry.tags, plain(entry.answer)]
    for translation in entry.translations.values():
        texts += [translation.title, *translation.questions, plain(translation.answer)]
    return " ".join(texts)


def share(flags: list[bool]) -> float:
    return sum(flags) / max(len(flags), 1)


def baseline_top1(bm25: Any, ids: list[str], question: str) -> str:
    """The baseline's answer: the best entry id, or "fallback" when nothing scores."""
    scores = bm25.get_scores(tokens(question))
    best = int(scores.argmax())
    return ids[best] if scores[best] > 0 else "fallback"


def baseline_passed(case: Case, got: str) -> bool:
    if case.kind in ("emergency", "refusal"):
        return False
    return got == case.expect


def child(size: int, passes: int) -> dict[str, Any]:
    start = time.perf_counter()
    bundled = load(BUNDLED_CONTENT)
    load_s = time.perf_counter() - start

    start = time.perf_counter()
    content = synthetic(bundled, size)
    synth_s = time.perf_counter() - start

    start = time.perf_counter()
    decider = Decider(content)
    index_s = time.perf_counter() - start
    replies = ReplyBuilder(content, Locales(content.locales))

    ids = set(bundled.kb.entries)
    tuning = load_cases(BUNDLED_CONTENT / "kb-tests.yaml", ids)
    blind_path = BUNDLED_CONTENT / "eval" / "blind.yaml"
    blind = load_cases(blind_path, ids) if blind_path.exists() else []
    cases = tuning + blind
    questions = [case.question for case in cases]

    # As the bot does once it is up (bot/operations/serving.py): what lives as long as the process is
    # moved out of the collector's way, so that a collection during a question does not scan the indexes.
    gc.collect()
    gc.freeze()

    def served(case: Case) -> None:
        lang = decider.language_of(case.question) or decider.default_language
        replies.for_answer(decider.decide(case.question, lang), lang)

    bot_passes = time_passes(served, cases, passes)
    bot_latency = latency(bot_passes)
    accuracy = answer_accuracy = blind_accuracy = blind_answer_accuracy = None
    if size == 1:
        outcomes = evaluate(decider, tuning)
        accuracy = share([o.passed for o in outcomes])
        answer_accuracy = share([o.passed for o in outcomes if o.case.kind == "answer"])
        if blind:
            blind_outcomes = evaluate(decider, blind)
            blind_accuracy = share([o.passed for o in blind_outcomes])
            blind_answer_accuracy = share([o.passed for o in blind_outcomes if o.case.kind == "answer"])
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # The baseline comes after the RSS reading: its corpus and index are not the bot's memory.
    from rank_bm25 import BM25Okapi

    entry_ids = list(content.kb.entries)
    corpus = [tokens(entry_text(e)) for e in content.kb.entries.values()]
    start = time.perf_counter()
    bm25 = BM25Okapi(corpus)
    bm25_index_s = time.perf_counter() - start
    bm25_latency = latency(time_passes(lambda q: baseline_top1(bm25, entry_ids, q), questions, passes))
    bm25_accuracy = bm25_answer_accuracy = None
    if size == 1:
        passed = [baseline_passed(c, baseline_top1(bm25, entry_ids, c.question)) for c in tuning]
        bm25_accuracy = share(passed)
        bm25_answer_accuracy = share([ok for ok, c in zip(passed, tuning, strict=True) if c.kind == "answer"])

    return {
        "size": size,
        "entries": len(content.kb.entries),
        "cases": len(cases),
        "passes": passes,
        "load_s": load_s,
        "synth_s": synth_s,
        "index_s": index_s,
        "rss_mb": rss_mb,
        "accuracy": accuracy,
        "answer_accuracy": answer_accuracy,
        "blind_accuracy": blind_accuracy,
        "blind_answer_accuracy": blind_answer_accuracy,
        "bot": bot_latency,
        "p99_ms_by_language": p99_by_language(cases, bot_passes),
        "bm25_index_s": bm25_index_s,
        "bm25": bm25_latency,
        "bm25_accuracy": bm25_accuracy,
        "bm25_answer_accuracy": bm25_answer_accuracy,
    }


# ---------------------------------------------------------------------- reporting


def run_child(size: int, passes: int) -> dict[str, Any]:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--size",
        str(size),
        "--passes",
        str(passes),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def label(size: int) -> str:
    return "bundled" if size == 1 else f"{size}x"


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def report(results: list[dict[str, Any]]) -> None:
    print(f"{'KB':<8} {'entries':>7} {'load s':>7} {'index s':>8} {'RSS MB':>7} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'cold p99':>8} {'top-1':>6}   {'BM25 p50':>8} {'BM25 p99':>8} {'BM25 top-1':>10}")  # fmt: skip
    for r in results:
        bot, bm25 = r["bot"], r["bm25"]
        print(
            f"{label(r['size']):<8} {r['entries']:>7} {r['load_s']:>7.3f} {r['index_s']:>8.3f} "
            f"{r['rss_mb']:>7.1f} {bot['p50_ms']:>7.2f} {bot['p99_ms']:>7.2f} {bot['cold_p99_ms']:>8.2f} "
            f"{pct(r['accuracy']):>6}   {bm25['p50_ms']:>8.2f} {bm25['p99_ms']:>8.2f} "
            f"{pct(r['bm25_accuracy']):>10}"
        )
    first = results[0]
    print(
        f"\n{first['cases']} questions (tuning and blind sets) x {first['passes']} passes per KB; latency = the "
        "served path (language, decision, replies), every language loaded."
        "\nload = bundled YAML parse+validate (synthetic copies are built in memory, not loaded from YAML);"
        "\nindex = Decider construction; cold p99 = first pass only (before typo corrections are cached)."
    )
    for r in results:
        if r["size"] > 1:
            print(f"{label(r['size'])}: building the synthetic copies took {r['synth_s']:.3f} s (not in load/index)")
    print("\np99 ms per asker's language:")
    for r in results:
        by_lang = "  ".join(f"{lang} {ms:.2f}" for lang, ms in r["p99_ms_by_language"].items())
        print(f"  {label(r['size']):<8} {by_lang}")

    by_size = {r["size"]: r for r in results}
    checks: list[tuple[str, str, float | None, float]] = []
    if 1 in by_size:
        b = by_size[1]
        checks.append(("bundled load + index", "s", b["load_s"] + b["index_s"], TARGETS["load_index_s"]))
        checks.append(("bundled answer p99", "ms", b["bot"]["p99_ms"], TARGETS["p99_ms_bundled"]))
    if 100 in by_size:
        checks.append(("100x answer p99", "ms", by_size[100]["bot"]["p99_ms"], TARGETS["p99_ms_100x"]))
        checks.append(("100x index build", "s", by_size[100]["index_s"], TARGETS["index_s_100x"]))
    for r in results:
        checks.append((f"{label(r['size'])} peak RSS", "MB", r["rss_mb"], TARGETS["rss_mb"]))

    print(f"\n{'target':<24} {'measured':>10} {'limit':>10}  met")
    for name, unit, value, limit in checks:
        met = "yes" if value is not None and value <= limit else "NO"
        shown = "n/a" if value is None else f"{value:.2f} {unit}"
        print(f"{name:<24} {shown:>10} {f'<= {limit:g} {unit}':>10}  {met}")
    if 1 in by_size:
        b = by_size[1]
        print(f"\n{'top-1 accuracy':<24} {'bot':>10} {'BM25':>10}  bot above baseline")
        for name, key in (("tuning set, all cases", "accuracy"), ("tuning set, entry cases", "answer_accuracy")):
            ours, theirs = b[key], b[f"bm25_{key}"]
            print(f"{name:<24} {pct(ours):>10} {pct(theirs):>10}  {'yes' if ours > theirs else 'NO'}")
        print(f"{'blind set, all cases':<24} {pct(b['blind_accuracy']):>10}")
        print(f"{'blind set, entry cases':<24} {pct(b['blind_answer_accuracy']):>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,10,100", help="KB sizes as multiples of the bundled KB")
    parser.add_argument("--passes", type=int, default=5, help="passes over kb-tests per KB")
    parser.add_argument("--size", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.size, args.passes)))
        return
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results = []
    for size in sizes:
        print(f"running {label(size)} ...", file=sys.stderr, flush=True)
        results.append(run_child(size, args.passes))
    report(results)


if __name__ == "__main__":
    main()
