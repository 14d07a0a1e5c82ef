"""Validation of every content file, reporting each problem with its file and line.

Validation never stops at the first problem: an author fixing a file wants the whole list.
"""

from __future__ import annotations

import re
import string
import zipfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pycountry

from bot.content.i18n import PLURAL_CATEGORIES, plural_categories, plural_category, plural_family
from bot.content.model import (
    CRISIS_CONCEPTS,
    EMERGENCY_CONCEPTS,
    LANGUAGES,
    SMALLTALK_INTENTS,
    SMALLTALK_NAME,
    UNCALIBRATED,
    AlarmWeights,
    Aspect,
    Calibration,
    ConceptTable,
    CrisisContent,
    CrisisLine,
    Directory,
    EmergencyContent,
    EmergencyNumber,
    Entry,
    EntryWeights,
    Group,
    KnowledgeBase,
    Lexicon,
    OutsideTopic,
    RefusalRule,
    ReviewStatus,
    Source,
    Translation,
)
from bot.content.text import words
from bot.content.yamlio import ContentError, Node, Problem, line_of, load_yaml
from bot.port import markup

MAX_ANSWER_CHARS = 1200
MIN_QUESTIONS = 3
ENTRY_ID = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
GROUP_ID = re.compile(r"^[A-Z]$")
LANG_CODE = re.compile(r"^[a-z]{2}$")
TRANSLATION_STATUSES = tuple(status.value for status in ReviewStatus)
# A figure as written in any of the languages: "1,016", "1.016", "1 016" and "1016" are one figure.
_FIGURE = re.compile(r"\d{1,3}(?:[,.\u00a0\u202f ]\d{3})+(?!\d)|\d+")
_GROUPING = re.compile(r"[,.\u00a0\u202f ]")


class Checker:
    """Collects problems for one file."""

    def __init__(self, path: Path, problems: list[Problem]) -> None:
        self.path = path
        self.problems = problems

    def fail(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path, line, message))

    def mapping(self, value: Any, line: int, what: str) -> Node | None:
        if not isinstance(value, dict):
            self.fail(line, f"{what}: expected a mapping, got {_kind(value)}")
            return None
        return value if isinstance(value, Node) else _as_node(value, line)

    def fields(self, node: Node, what: str, required: set[str], optional: set[str]) -> None:
        for key in node:
            if key not in required and key not in optional:
                allowed = ", ".join(sorted(required | optional))
                self.fail(node.line_of(key), f"{what}: unknown field {key!r} (allowed: {allowed})")
        for key in sorted(required - node.keys()):
            self.fail(node.line, f"{what}: missing field {key!r}")

    def string(self, node: Node, key: str, what: str, *, required: bool = True) -> str | None:
        value = node.get(key)
        if value is None:
            if required and key in node:
                self.fail(node.line_of(key), f"{what}.{key}: must not be empty")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(node.line_of(key), f"{what}.{key}: expected text, got {_kind(value)}")
            return None
        text = str(value).strip()
        if not text:
            self.fail(node.line_of(key), f"{what}.{key}: must not be empty")
            return None
        return text

    def strings(self, node: Node, key: str, what: str, *, minimum: int = 0) -> tuple[str, ...]:
        value = node.get(key)
        if value is None:
            if key in node and minimum:
                self.fail(node.line_of(key), f"{what}.{key}: must list at least {minimum}")
            return ()
        if not isinstance(value, list):
            self.fail(node.line_of(key), f"{what}.{key}: expected a list, got {_kind(value)}")
            return ()
        out: list[str] = []
        for index, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, str | int | float) or not str(item).strip():
                self.fail(line_of(value, index, node.line_of(key)), f"{what}.{key}[{index}]: expected text")
                continue
            out.append(str(item).strip())
        if len(out) < minimum:
            self.fail(node.line_of(key), f"{what}.{key}: must list at least {minimum}, found {len(out)}")
        return tuple(out)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | float):
        return f"the number {value}"
    return f"{type(value).__name__} {str(value)[:40]!r}"


def _as_node(value: dict[str, Any], line: int) -> Node:
    node = Node(value)
    node.line = line
    node.key_lines = {}
    return node


def _load(path: Path, problems: list[Problem]) -> Any:
    try:
        return load_yaml(path)
    except ContentError as exc:
        problems.extend(exc.problems)
        return None


# ---------------------------------------------------------------- knowledge base


def _check_source(check: Checker, value: Any, line: int, what: str) -> Source | None:
    node = check.mapping(value, line, what)
    if node is None:
        return None
    check.fields(node, what, {"organisation", "title"}, {"year", "url"})
    organisation = check.string(node, "organisation", what)
    title = check.string(node, "title", what)
    year = node.get("year")
    if year is not None and (not isinstance(year, int) or isinstance(year, bool) or not 1900 <= year <= 2100):
        check.fail(node.line_of("year"), f"{what}.year: expected a year such as 2023, got {_kind(year)}")
        year = None
    url = _check_url(check, node, "url", what)
    if organisation and title:
        return Source(organisation, title, year if isinstance(year, int) else None, url)
    return None


def _check_answer(check: Checker, node: Node, key: str, what: str) -> markup.RichText | None:
    answer = check.string(node, key, what)
    if answer is None:
        return None
    if len(answer) > MAX_ANSWER_CHARS:
        check.fail(
            node.line_of(key),
            f"{what}.{key}: {len(answer)} characters, over the limit of {MAX_ANSWER_CHARS}",
        )
    return markup.parse(answer)


def _figures(text: str) -> set[str]:
    return {_GROUPING.sub("", figure) for figure in _FIGURE.findall(text)}


def _check_translations(
    check: Checker, value: Any, line: int, what: str, english: str | None
) -> dict[str, Translation]:
    node = check.mapping(value, line, f"{what}.translations")
    if node is None:
        return {}
    translations: dict[str, Translation] = {}
    for lang, translation in node.items():
        where = f"{what}.translations.{lang}"
        if not LANG_CODE.match(lang):
            check.fail(node.line_of(lang), f"{where}: not a two-letter language code")
        elif lang not in LANGUAGES or lang == "en":
            others = ", ".join(code for code in LANGUAGES if code != "en")
            check.fail(node.line_of(lang), f"{where}: unsupported language {lang!r} (use {others})")
        tnode = check.mapping(translation, node.line_of(lang), where)
        if tnode is None:
            continue
        check.fields(tnode, where, {"title", "questions", "answer", "status"}, {"reviewed"})
        title = check.string(tnode, "title", where)
        questions = check.strings(tnode, "questions", where, minimum=MIN_QUESTIONS)
        answer = _check_answer(check, tnode, "answer", where)
        status = tnode.get("status")
        if "status" in tnode and status not in TRANSLATION_STATUSES:
            check.fail(tnode.line_of("status"), f"{where}.status: must be one of {', '.join(TRANSLATION_STATUSES)}")
        reviewed = _check_date(check, tnode, "reviewed", where)
        if answer is not None and english is not None:
            # An unreviewed translation must not be able to change a number, a date or a phone line.
            ours, theirs = _figures(markup.plain(answer)), _figures(english)
            if ours != theirs:
                differences = [
                    f"{label} {', '.join(sorted(found))}"
                    for label, found in (("missing", theirs - ours), ("not in English", ours - theirs))
                    if found
                ]
                check.fail(
                    tnode.line_of("answer"),
                    f"{where}.answer: its figures differ from the English answer ({'; '.join(differences)})",
                )
        if title and questions and answer and status in TRANSLATION_STATUSES and lang in LANGUAGES:
            translations[lang] = Translation(title, questions, answer, ReviewStatus(status), reviewed)
    return translations


def _check_entry(check: Checker, value: Any, line: int, group: str) -> Entry | None:
    node = check.mapping(value, line, "entry")
    if node is None:
        return None
    entry_id = check.string(node, "id", "entry")
    what = f"entry {entry_id}" if entry_id else "entry"
    if entry_id and not ENTRY_ID.match(entry_id):
        check.fail(node.line_of("id"), f"{what}: id must be lowercase words joined by hyphens")
    check.fields(
        node,
        what,
        {"id", "title", "questions", "answer", "sources", "tags", "reviewed"},
        {"related", "translations"},
    )
    title = check.string(node, "title", what)
    questions = check.strings(node, "questions", what, minimum=MIN_QUESTIONS)
    answer = _check_answer(check, node, "answer", what)
    sources: list[Source] = []
    raw_sources = node.get("sources")
    if "sources" in node:
        if not isinstance(raw_sources, list) or not raw_sources:
            check.fail(node.line_of("sources"), f"{what}.sources: at least one source is required")
        else:
            for index, item in enumerate(raw_sources):
                source = _check_source(
                    check,
                    item,
                    line_of(raw_sources, index, node.line_of("sources")),
                    f"{what}.sources[{index}]",
                )
                if source:
                    sources.append(source)
    tags = check.strings(node, "tags", what, minimum=1)
    for tag in tags:
        if tag != tag.lower():
            check.fail(node.line_of("tags"), f"{what}.tags: {tag!r} must be lowercase")
    reviewed = _check_date(check, node, "reviewed", what)
    related = check.strings(node, "related", what)
    translations: dict[str, Translation] = {}
    if "translations" in node and node["translations"] is not None:
        english = markup.plain(answer) if answer is not None else None
        translations = _check_translations(check, node["translations"], node.line_of("translations"), what, english)
    if entry_id and title and questions and answer and sources and tags and reviewed:
        return Entry(entry_id, group, title, questions, answer, tuple(sources), tags, reviewed, related, translations)
    return None


def _check_date(check: Checker, node: Node, key: str, what: str) -> date | None:
    value = node.get(key)
    if key not in node:
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        check.fail(node.line_of(key), f"{what}.{key}: expected a date as YYYY-MM-DD, got {_kind(value)}")
        return None


def load_kb(root: Path, problems: list[Problem]) -> KnowledgeBase:
    kb_dir = root / "kb"
    files = sorted(kb_dir.glob("*.yaml")) if kb_dir.is_dir() else []
    if not files:
        problems.append(Problem(kb_dir, 0, "no knowledge-base files (kb/*.yaml) found"))
    groups: list[Group] = []
    entries: dict[str, Entry] = {}
    entry_where: dict[str, tuple[Path, int]] = {}
    group_where: dict[str, Path] = {}
    related_refs: list[tuple[Checker, int, str, str]] = []
    for path in files:
        check = Checker(path, problems)
        data = _load(path, problems)
        if data is None:
            continue
        doc = check.mapping(data, 1, "file")
        if doc is None:
            continue
        check.fields(doc, "file", {"group", "entries"}, set())
        gnode = check.mapping(doc.get("group"), doc.line_of("group"), "group") if "group" in doc else None
        group_id = ""
        group_title = ""
        if gnode is not None:
            check.fields(gnode, "group", {"id", "title"}, set())
            group_id = check.string(gnode, "id", "group") or ""
            group_title = check.string(gnode, "title", "group") or ""
            if group_id and not GROUP_ID.match(group_id):
                check.fail(gnode.line_of("id"), f"group.id: must be one capital letter, got {group_id!r}")
            if group_id in group_where:
                check.fail(gnode.line_of("id"), f"duplicate group id {group_id!r} (also in {group_where[group_id]})")
            group_where.setdefault(group_id, path)
        raw_entries = doc.get("entries")
        if "entries" in doc and not isinstance(raw_entries, list):
            check.fail(doc.line_of("entries"), f"entries: expected a list, got {_kind(raw_entries)}")
            continue
        ids: list[str] = []
        for index, raw in enumerate(raw_entries or []):
            line = line_of(raw_entries, index, doc.line_of("entries"))
            entry = _check_entry(check, raw, line, group_id)
            raw_id = raw.get("id") if isinstance(raw, dict) else None
            if isinstance(raw_id, str) and raw_id in entry_where:
                first_path, first_line = entry_where[raw_id]
                check.fail(line, f"duplicate entry id {raw_id!r} (first at {first_path}:{first_line})")
                continue
            if isinstance(raw_id, str):
                entry_where[raw_id] = (path, line)
            if isinstance(raw, Node):
                for rel in raw.get("related") or []:
                    related_refs.append((check, raw.line_of("related"), str(raw_id), str(rel)))
            if entry:
                entries[entry.id] = entry
                ids.append(entry.id)
        if group_id and group_title:
            groups.append(Group(group_id, group_title, tuple(ids)))
    for check, line, entry_id, rel in related_refs:
        if rel not in entry_where:
            check.fail(line, f"entry {entry_id}.related: no entry with id {rel!r}")
        elif rel == entry_id:
            check.fail(line, f"entry {entry_id}.related: an entry cannot be related to itself")
    outside = load_outside(root, set(entry_where), problems)
    aspects = load_aspects(root, {*entry_where, *(topic.id for topic in outside)}, problems)
    return KnowledgeBase(tuple(groups), entries, outside, aspects)


def load_outside(root: Path, entry_ids: set[str], problems: list[Problem]) -> tuple[OutsideTopic, ...]:
    """``outside.yaml``, when there is one: the topics near the knowledge base's it does not answer."""
    check, items = _optional_list(root / "outside.yaml", "topics", problems)
    topics: list[OutsideTopic] = []
    for node, topic_id in items:
        what = f"topic {topic_id}"
        check.fields(node, what, {"id", "about", "questions"}, set())
        about = check.string(node, "about", what)
        questions = _per_language(check, node, "questions", what, "questions")
        if topic_id in entry_ids:
            # Both are indexed side by side: a shared id would make the entry a topic it does not answer.
            check.fail(node.line_of("id"), f"{what}: id is an entry's id too")
        elif about and questions:
            topics.append(OutsideTopic(topic_id, about, questions))
    return tuple(topics)


def load_aspects(root: Path, taken: set[str], problems: list[Problem]) -> tuple[Aspect, ...]:
    """``aspects.yaml``, when there is one: the sides of a subject answered only where an entry speaks
    of them. ``taken``: the ids of the entries and outside topics, which an aspect may not share: an id
    names one thing across the content."""
    check, items = _optional_list(root / "aspects.yaml", "aspects", problems)
    aspects: list[Aspect] = []
    for node, aspect_id in items:
        what = f"aspect {aspect_id}"
        check.fields(node, what, {"id", "about", "asks"}, set())
        about = check.string(node, "about", what)
        asks = _per_language(check, node, "asks", what, "phrases")
        if aspect_id in taken:
            check.fail(node.line_of("id"), f"{what}: id is an entry's or an outside topic's id too")
        elif about and asks:
            aspects.append(Aspect(aspect_id, about, asks))
    return tuple(aspects)


def _optional_list(path: Path, key: str, problems: list[Problem]) -> tuple[Checker, list[tuple[Node, str]]]:
    """The items listed under ``key`` in ``path``, none when there is no such file."""
    check = Checker(path, problems)
    return check, listed_items(check, _load(path, problems), key) if path.exists() else []


def _per_language(check: Checker, node: Node, key: str, what: str, listed: str) -> dict[str, tuple[str, ...]]:
    """The phrase lists under ``key`` per language, at least one language's when the field is there
    (its absence is the caller's to report, with the other required fields)."""
    if key not in node:
        return {}
    found = _check_phrase_lists(check, node[key], node.line_of(key), f"{what}.{key}")
    if not found:
        check.fail(node.line_of(key), f"{what}.{key}: list {listed} in at least one language")
    return found


def listed_items(check: Checker, doc: Any, key: str) -> list[tuple[Node, str]]:
    """The mappings listed under ``key``, each with its id checked (format and uniqueness)."""
    node = check.mapping(doc, 1, "file")
    if node is None:
        return []
    check.fields(node, "file", {key}, set())
    items = node.get(key)
    if not isinstance(items, list) or not items:
        check.fail(node.line_of(key) if key in node else node.line, f"{key}: expected a list of at least one")
        return []
    found: list[tuple[Node, str]] = []
    seen: dict[str, int] = {}
    for index, raw in enumerate(items):
        item = check.mapping(raw, line_of(items, index, node.line_of(key)), f"{key}[{index}]")
        if item is None:
            continue
        item_id = check.string(item, "id", f"{key}[{index}]")
        if item_id is None:
            continue
        if not ENTRY_ID.match(item_id):
            check.fail(item.line_of("id"), f"{key}[{index}]: id {item_id!r} must be lowercase words joined by hyphens")
        elif item_id in seen:
            check.fail(item.line_of("id"), f"{key}[{index}]: id {item_id!r} is already used on line {seen[item_id]}")
        else:
            seen[item_id] = item.line_of("id")
            found.append((item, item_id))
    return found


# ---------------------------------------------------------------- emergency, safety, lexicon


def _check_phrase_lists(check: Checker, value: Any, line: int, what: str) -> dict[str, tuple[str, ...]]:
    node = check.mapping(value, line, what)
    if node is None:
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for lang in node:
        if lang not in LANGUAGES:
            check.fail(node.line_of(lang), f"{what}: unsupported language {lang!r} (use {', '.join(LANGUAGES)})")
            continue
        out[lang] = _check_phrases(check, node, lang, f"{what}.{lang}")
    return out


def _check_phrases(check: Checker, node: Node, key: str, what: str) -> tuple[str, ...]:
    phrases = check.strings(node, key, what.rsplit(".", 1)[0], minimum=1)
    for phrase in phrases:
        words = phrase.split()
        if any(w == "*" or "*" in w[:-1] for w in words):
            check.fail(node.line_of(key), f"{what}: {phrase!r}: '*' may only end a word")
    return phrases


def _check_concepts(check: Checker, doc: Node, names: tuple[str, ...], key: str = "concepts") -> ConceptTable:
    """A table of concepts (``key``): every one of ``names``, with phrases in every language."""
    if key not in doc:
        check.fail(doc.line, f"missing field {key!r}")
        return {}
    node = check.mapping(doc.get(key), doc.line_of(key), key)
    if node is None:
        return {}
    check.fields(node, key, set(names), set())
    table: ConceptTable = {}
    for name in names:
        if name not in node:
            continue
        table[name] = _check_phrase_lists(check, node[name], node.line_of(name), f"{key}.{name}")
        for lang in LANGUAGES:
            if lang not in table[name]:
                check.fail(node.line_of(name), f"{key}.{name}: no phrases for {lang!r}")
    return table


def _check_texts(check: Checker, doc: Node, what: str) -> dict[str, markup.RichText]:
    """``texts``: one text per language, every language present."""
    texts: dict[str, markup.RichText] = {}
    tnode = check.mapping(doc.get("texts"), doc.line_of("texts"), "texts") if "texts" in doc else None
    if tnode is None:
        return texts
    for lang in LANGUAGES:
        if lang not in tnode:
            check.fail(tnode.line, f"texts: {what} in {lang!r} is missing")
    for lang in tnode:
        if lang not in LANGUAGES:
            check.fail(tnode.line_of(lang), f"texts: unsupported language {lang!r}")
            continue
        text = check.string(tnode, lang, "texts")
        if text:
            texts[lang] = markup.parse(text)
    return texts


def _check_url(check: Checker, node: Node, key: str, what: str, *, required: bool = False) -> str | None:
    url = check.string(node, key, what, required=required)
    if url is not None and not re.match(r"^https?://\S+$", url):
        check.fail(node.line_of(key), f"{what}.{key}: not an http(s) address: {url!r}")
        return None
    return url


CONFIDENCE = ("verified", "secondary")


def _check_line(check: Checker, value: Any, line: int, index: int) -> CrisisLine | None:
    what = f"lines[{index}]"
    node = check.mapping(value, line, what)
    if node is None:
        return None
    check.fields(
        node,
        what,
        {"country", "emergency", "source", "reviewed", "confidence"},
        {"name", "phone", "text", "chat", "always", "free"},
    )
    country = check.string(node, "country", what)
    if country is not None:
        what = f"lines[{index}] ({country})"
        if not re.match(r"^[A-Z]{2}$", country) or pycountry.countries.get(alpha_2=country) is None:
            check.fail(node.line_of("country"), f"{what}.country: {country!r} is not an ISO 3166 alpha-2 code")
            country = None
    emergency = check.string(node, "emergency", what)
    if "source" not in node:
        check.fail(node.line, f"{what}: a crisis line needs a source (the page its facts come from)")
    source = _check_url(check, node, "source", what)
    reviewed = _check_date(check, node, "reviewed", what)
    confidence = check.string(node, "confidence", what)
    if confidence is not None and confidence not in CONFIDENCE:
        check.fail(node.line_of("confidence"), f"{what}.confidence: must be one of {', '.join(CONFIDENCE)}")
    name = check.string(node, "name", what, required=False)
    phone = check.string(node, "phone", what, required=False)
    text = check.string(node, "text", what, required=False)
    chat = _check_url(check, node, "chat", what)
    if name is not None and not (phone or text or chat):
        check.fail(node.line_of("name"), f"{what}: a named line needs a phone, text or chat")
    if name is None and (phone or text or chat):
        check.fail(node.line, f"{what}: a line with a phone, text or chat needs a name")
    flags = {}
    for flag in ("always", "free"):
        value = node.get(flag, False)
        if not isinstance(value, bool):
            check.fail(node.line_of(flag), f"{what}.{flag}: expected true or false")
        flags[flag] = value is True
    if country and emergency and source and reviewed and confidence in CONFIDENCE:
        return CrisisLine(
            country, emergency, source, reviewed, confidence, name, phone, text, chat, flags["always"], flags["free"]
        )
    return None


def load_crisis(root: Path, problems: list[Problem]) -> CrisisContent:
    path = root / "crisis.yaml"
    check = Checker(path, problems)
    empty = CrisisContent({}, {}, {}, None)
    if not path.exists():
        check.fail(0, "missing: the crisis answer is required")
        return empty
    data = _load(path, problems)
    doc = check.mapping(data, 1, "file") if data is not None else None
    if doc is None:
        return empty
    check.fields(doc, "file", {"texts", "concepts", "directory", "lines", "reviewed"}, set())
    texts = _check_texts(check, doc, "the crisis answer")
    concepts = _check_concepts(check, doc, CRISIS_CONCEPTS)
    directory = None
    dnode = check.mapping(doc.get("directory"), doc.line_of("directory"), "directory") if "directory" in doc else None
    if dnode is not None:
        check.fields(dnode, "directory", {"name", "url", "country_url", "source", "reviewed"}, set())
        name = check.string(dnode, "name", "directory")
        url = _check_url(check, dnode, "url", "directory")
        country_url = _check_url(check, dnode, "country_url", "directory")
        source = _check_url(check, dnode, "source", "directory")
        reviewed = _check_date(check, dnode, "reviewed", "directory")
        if name and url and country_url and source and reviewed:
            directory = Directory(name, url, country_url, source, reviewed)
    lines: dict[str, CrisisLine] = {}
    raw_lines = doc.get("lines")
    if "lines" in doc and not isinstance(raw_lines, list):
        check.fail(doc.line_of("lines"), "lines: expected a list")
    for index, raw in enumerate(raw_lines if isinstance(raw_lines, list) else []):
        at = line_of(raw_lines, index)
        found = _check_line(check, raw, at, index)
        if found is None:
            continue
        if found.country in lines:
            check.fail(at, f"lines[{index}]: a second line for {found.country}")
            continue
        lines[found.country] = found
    return CrisisContent(texts, concepts, lines, directory)


CALIBRATED_FEATURES = ("confidence", "coverage", "focus", "belief", "length")
# Calibrations fitted before the entry model existed have no weight for its belief, and those fitted
# before length was measured none for it: either counts 0.
OPTIONAL_FEATURES = {"belief", "length"}


def load_calibration(root: Path, problems: list[Problem]) -> Calibration:
    """``calibration.yaml``, written by ``advocacy-bot kb calibrate``; without it, the first release's thresholds."""
    path = root / "calibration.yaml"
    if not path.exists():
        return UNCALIBRATED
    check = Checker(path, problems)
    before = len(problems)
    data = _load(path, problems)
    doc = check.mapping(data, 1, "file") if data is not None else None
    if doc is None:
        return UNCALIBRATED
    check.fields(doc, "file", {"model", "answer", "clarify", "fitted"}, {"achieved", "languages"})
    numbers: dict[str, float] = {}
    model = check.mapping(doc.get("model"), doc.line_of("model"), "model") if "model" in doc else None
    if model is not None:
        check.fields(model, "model", {"bias", *CALIBRATED_FEATURES} - OPTIONAL_FEATURES, OPTIONAL_FEATURES)
    sections: list[tuple[Node, tuple[str, ...]]] = [(doc, ("answer", "clarify"))]
    if model is not None:
        sections.append(
            (model, ("bias", *(f for f in CALIBRATED_FEATURES if f in model or f not in OPTIONAL_FEATURES)))
        )
    for node, keys in sections:
        for key in keys:
            value = node.get(key)
            if isinstance(value, bool) or not isinstance(value, int | float):
                check.fail(node.line_of(key), f"{key}: expected a number, got {_kind(value)}")
            else:
                numbers[key] = float(value)
    answer, clarify = numbers.get("answer"), numbers.get("clarify")
    if answer is not None and clarify is not None and not 0 <= clarify <= answer <= 1:
        check.fail(doc.line_of("clarify"), "need 0 <= clarify <= answer <= 1")
    languages = _check_thresholds(check, doc.get("languages"), doc.line_of("languages")) if "languages" in doc else {}
    fitted = _check_date(check, doc, "fitted", "file")
    if len(problems) > before or fitted is None:
        return UNCALIBRATED
    weights = tuple(numbers.get(f, 0.0) for f in CALIBRATED_FEATURES)
    return Calibration(numbers["bias"], weights, numbers["answer"], numbers["clarify"], fitted, languages)


def _check_thresholds(check: Checker, value: Any, line: int) -> dict[str, tuple[float, float]]:
    """``languages:`` of calibration.yaml: each language's answer and clarify thresholds."""
    node = check.mapping(value, line, "languages")
    if node is None:
        return {}
    found: dict[str, tuple[float, float]] = {}
    for lang in node:
        what = f"languages.{lang}"
        if lang not in LANGUAGES:
            check.fail(node.line_of(lang), f"{what}: unsupported language (use {', '.join(LANGUAGES)})")
            continue
        pair = check.mapping(node[lang], node.line_of(lang), what)
        if pair is None:
            continue
        check.fields(pair, what, {"answer", "clarify"}, set())
        answer, clarify = pair.get("answer"), pair.get("clarify")
        if (
            not isinstance(answer, int | float)
            or not isinstance(clarify, int | float)
            or bool in (type(answer), type(clarify))
        ):
            check.fail(node.line_of(lang), f"{what}: answer and clarify must be numbers")
        elif not 0 <= clarify <= answer <= 1:
            check.fail(node.line_of(lang), f"{what}: need 0 <= clarify <= answer <= 1")
        else:
            found[lang] = (float(answer), float(clarify))
    return found


# The shape of the learned models' arrays (bot/qa/ngrams.py): classes (three for the alarm detector,
# one per entry for the entry model) over hashed buckets.
ALARM_CLASSES = 3
NGRAM_BUCKETS = 1 << 17


def _load_linear(path: Path, classes: int | None, problems: list[Problem]) -> dict[str, Any] | None:
    """The arrays of a linear n-gram model file written by ``advocacy-bot kb calibrate`` (weights, bias,
    idf, digest and whatever else it holds), checked for shape; None when absent or unusable."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        # Column after column: a question reads a few hundred buckets of every class, each then in
        # one place rather than one per class, a cache miss apart (most of the time of a question).
        arrays["weights"] = np.asfortranarray(arrays["weights"])
        arrays["bias"] = arrays["bias"].astype(np.float32)
        arrays["idf"] = arrays["idf"].astype(np.float32)
        arrays["digest"] = str(arrays["digest"][0])
    except (OSError, ValueError, KeyError, IndexError, zipfile.BadZipFile) as exc:
        problems.append(Problem(path, 0, f"cannot be read ({exc}): run advocacy-bot kb calibrate"))
        return None
    rows = classes if classes is not None else arrays["weights"].shape[0]
    if (
        arrays["weights"].shape != (rows, NGRAM_BUCKETS)
        or arrays["bias"].shape != (rows,)
        or arrays["idf"].shape != (NGRAM_BUCKETS,)
    ):
        problems.append(Problem(path, 0, "written for another version: run advocacy-bot kb calibrate"))
        return None
    return arrays


def load_alarms(root: Path, problems: list[Problem]) -> AlarmWeights | None:
    """``alarms.npz``; without it, the rules alone raise alarms."""
    path = root / "alarms.npz"
    arrays = _load_linear(path, ALARM_CLASSES, problems)
    if arrays is None:
        return None
    try:
        threshold = float(arrays["threshold"][0])
    except (KeyError, IndexError, ValueError) as exc:
        problems.append(Problem(path, 0, f"cannot be read ({exc}): run advocacy-bot kb calibrate"))
        return None
    if not 0 < threshold < 1:
        problems.append(Problem(path, 0, f"threshold {threshold} is not between 0 and 1"))
        return None
    return AlarmWeights(
        arrays["weights"].astype(np.float32, order="F"), arrays["bias"], arrays["idf"], threshold, arrays["digest"]
    )


def load_entry_model(root: Path, kb: KnowledgeBase, problems: list[Problem]) -> EntryWeights | None:
    """``entries.npz``; without it, the lexical ranking alone orders the entries."""
    path = root / "entries.npz"
    arrays = _load_linear(path, None, problems)
    if arrays is None:
        return None
    entries = tuple(str(entry) for entry in arrays.get("entries", ()))
    if len(entries) != arrays["weights"].shape[0]:
        problems.append(Problem(path, 0, "written for another version: run advocacy-bot kb calibrate"))
        return None
    if set(entries) != set(kb.entries) | {topic.id for topic in kb.outside}:
        # Trained on another knowledge base (entries added or removed since): not used, the lexical
        # ranking works alone until `advocacy-bot kb calibrate` trains it again (its --check says so).
        return None
    # Kept in half precision, as written: one row per entry is the bulk of the bot's learned weights.
    return EntryWeights(entries, arrays["weights"], arrays["bias"], arrays["idf"], arrays["digest"])


def load_smalltalk(root: Path, problems: list[Problem]) -> ConceptTable:
    path = root / "smalltalk.yaml"
    check = Checker(path, problems)
    if not path.exists():
        check.fail(0, "missing: the small-talk phrases are required")
        return {}
    data = _load(path, problems)
    doc = check.mapping(data, 1, "file") if data is not None else None
    if doc is None:
        return {}
    check.fields(doc, "file", {"intents"}, {"names"})
    table = _check_concepts(check, doc, SMALLTALK_INTENTS, "intents")
    if "names" in doc:
        table[SMALLTALK_NAME] = _check_phrase_lists(check, doc["names"], doc.line_of("names"), "names")
    return table


def load_emergency(root: Path, problems: list[Problem]) -> EmergencyContent:
    path = root / "emergency.yaml"
    check = Checker(path, problems)
    empty = EmergencyContent({}, (), {})
    data = _load(path, problems) if path.exists() else None
    if not path.exists():
        check.fail(0, "missing: the emergency answer is required")
    if data is None:
        return empty
    doc = check.mapping(data, 1, "file")
    if doc is None:
        return empty
    check.fields(doc, "file", {"texts", "numbers", "concepts"}, {"reviewed"})
    texts = _check_texts(check, doc, "the emergency answer")
    numbers: list[EmergencyNumber] = []
    raw_numbers = doc.get("numbers")
    if "numbers" in doc and not isinstance(raw_numbers, list):
        check.fail(doc.line_of("numbers"), "numbers: expected a list")
    for index, raw in enumerate(raw_numbers if isinstance(raw_numbers, list) else []):
        what = f"numbers[{index}]"
        node = check.mapping(raw, line_of(raw_numbers, index), what)
        if node is None:
            continue
        check.fields(node, what, {"number", "where"}, {"countries"})
        number = check.string(node, "number", what)
        where = node.get("where")
        wnode = check.mapping(where, node.line_of("where"), f"{what}.where") if "where" in node else None
        where_texts = {str(k): str(v) for k, v in (wnode or {}).items()}
        if wnode is not None and "en" not in where_texts:
            check.fail(wnode.line, f"{what}.where: an English description is required")
        countries = check.strings(node, "countries", what)
        for code in countries:
            if not re.match(r"^[A-Z]{2}$", code):
                check.fail(node.line_of("countries"), f"{what}.countries: {code!r} is not an ISO 3166 alpha-2 code")
        if number and where_texts:
            numbers.append(EmergencyNumber(number, where_texts, countries))
    concepts = _check_concepts(check, doc, EMERGENCY_CONCEPTS)
    return EmergencyContent(texts, tuple(numbers), concepts)


def load_refusals(root: Path, entry_ids: set[str], problems: list[Problem]) -> tuple[RefusalRule, ...]:
    path = root / "safety.yaml"
    check = Checker(path, problems)
    if not path.exists():
        check.fail(0, "missing: the refusal rules are required")
        return ()
    data = _load(path, problems)
    doc = check.mapping(data, 1, "file") if data is not None else None
    if doc is None:
        return ()
    check.fields(doc, "file", {"refusals"}, set())
    raw_rules = doc.get("refusals")
    if "refusals" in doc and not isinstance(raw_rules, list):
        check.fail(doc.line_of("refusals"), "refusals: expected a list")
        return ()
    rules: list[RefusalRule] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_rules or []):
        node = check.mapping(raw, line_of(raw_rules, index), f"refusals[{index}]")
        if node is None:
            continue
        rule_id = check.string(node, "id", f"refusals[{index}]") or ""
        what = f"refusal {rule_id or index}"
        check.fields(node, what, {"id", "entry", "all_of"}, {"none_of"})
        if rule_id in seen:
            check.fail(node.line_of("id"), f"{what}: duplicate id")
        seen.add(rule_id)
        entry = check.string(node, "entry", what) or ""
        if entry and entry_ids and entry not in entry_ids:
            check.fail(node.line_of("entry"), f"{what}.entry: no entry with id {entry!r}")
        groups: list[tuple[str, ...]] = []
        raw_groups = node.get("all_of")
        if not isinstance(raw_groups, list) or not raw_groups:
            check.fail(node.line_of("all_of"), f"{what}.all_of: expected a non-empty list of phrase lists")
        else:
            for gindex, group in enumerate(raw_groups):
                holder = _as_node({"g": group}, line_of(raw_groups, gindex, node.line_of("all_of")))
                holder.key_lines = {"g": holder.line}
                phrases = _check_phrases(check, holder, "g", f"{what}.all_of[{gindex}]")
                if phrases:
                    groups.append(phrases)
        none_of = check.strings(node, "none_of", what)
        if rule_id and entry and groups:
            rules.append(RefusalRule(rule_id, entry, tuple(groups), none_of))
    return tuple(rules)


def load_lexicon(root: Path, problems: list[Problem]) -> Lexicon:
    path = root / "lexicon.yaml"
    check = Checker(path, problems)
    if not path.exists():
        check.fail(0, "missing: the synonym lexicon is required")
        return Lexicon({}, {})
    data = _load(path, problems)
    doc = check.mapping(data, 1, "file") if data is not None else None
    if doc is None:
        return Lexicon({}, {})
    check.fields(doc, "file", {"synonyms", "stopwords"}, set())
    synonyms: dict[str, dict[str, str]] = {}
    snode = check.mapping(doc.get("synonyms"), doc.line_of("synonyms"), "synonyms") if "synonyms" in doc else None
    for lang, table in (snode or {}).items():
        what = f"synonyms.{lang}"
        if lang not in LANGUAGES:
            check.fail(snode.line_of(lang) if snode else 0, f"{what}: unsupported language")
            continue
        tnode = check.mapping(table, snode.line_of(lang) if snode else 0, what)
        if tnode is None:
            continue
        mapping: dict[str, str] = {}
        for canonical in tnode:
            for variant in check.strings(tnode, canonical, what, minimum=1):
                previous = mapping.get(variant.lower())
                if previous is not None and previous != canonical:
                    check.fail(
                        tnode.line_of(canonical),
                        f"{what}.{canonical}: {variant!r} is already a variant of {previous!r}",
                    )
                mapping[variant.lower()] = str(canonical).lower()
        synonyms[lang] = mapping
    stopwords: dict[str, frozenset[str]] = {}
    wnode = check.mapping(doc.get("stopwords"), doc.line_of("stopwords"), "stopwords") if "stopwords" in doc else None
    for lang in wnode or {}:
        if lang not in LANGUAGES:
            check.fail(wnode.line_of(lang) if wnode else 0, f"stopwords.{lang}: unsupported language")
            continue
        if wnode is not None:
            # Folded like the questions they are compared with: "qué" must stop "que" too.
            stopwords[lang] = frozenset(w for phrase in check.strings(wnode, lang, "stopwords") for w in words(phrase))
    return Lexicon(synonyms, stopwords)


# ---------------------------------------------------------------- locales

_FORMATTER = string.Formatter()
# Counts tried to learn which numbers a plural category covers: CLDR integer rules repeat within
# every hundred, and "many" in es/pt/fr is for whole millions.
_SAMPLE_COUNTS = (*range(201), 1_000_000, 2_000_000)


def placeholders(template: str) -> set[str]:
    try:
        return {name for _, name, _, _ in _FORMATTER.parse(template) if name}
    except ValueError:
        return {"<invalid>"}


def _markup_problem(value: str) -> str | None:
    """What is wrong with the light markup of ``value``: whatever the parser left as plain text."""
    for span in markup.parse(value):
        if not isinstance(span, markup.Plain):
            continue
        if "**" in span.text:
            return "unbalanced **bold**: a ** without its pair on the same line"
        if "](" in span.text:
            return "broken link: write [text](https://address), the address without spaces"
    return None


def _counts_of(lang: str, category: str) -> list[int]:
    return [n for n in _SAMPLE_COUNTS if plural_category(lang, n) == category]


@dataclass(frozen=True, slots=True)
class _Family:
    """A plural family of en.yaml ("days.line" for days.line.one/.other) and its placeholders."""

    every: frozenset[str]  # in every English form
    some: frozenset[str]  # in at least one English form


def _families(english: dict[str, str]) -> dict[str, _Family]:
    forms: dict[str, list[set[str]]] = {}
    for key, value in english.items():
        plural = plural_family(key)
        if plural is not None:
            forms.setdefault(plural[0], []).append(placeholders(value))
    return {
        name: _Family(frozenset(set.intersection(*found)), frozenset(set.union(*found)))
        for name, found in forms.items()
    }


def _check_locale(
    check: Checker,
    lang: str,
    strings: dict[str, str],
    key_lines: dict[str, int],
    english: dict[str, str],
    families: dict[str, _Family],
) -> None:
    """Every key of English, no other, same placeholders; plural forms exactly as CLDR has them."""
    categories = plural_categories(lang)
    uses = ", ".join(c for c in PLURAL_CATEGORIES if c in categories)
    found: dict[str, set[str]] = {}
    for key, value in strings.items():
        line = key_lines.get(key, 0)
        plural = plural_family(key)
        if plural is not None and plural[0] in families:
            name, category = plural
            family = families[name]
            found.setdefault(name, set()).add(category)
            ours = placeholders(value)
            if category not in categories:
                check.fail(line, f"{key}: {lang} has no plural category {category!r} (it uses {uses})")
            elif not family.every <= ours <= family.some:
                check.fail(
                    line,
                    f"{key}: placeholders {sorted(ours)} differ from English {name}.* "
                    f"(needs {sorted(family.every)}, may use {sorted(family.some)})",
                )
            elif "count" in family.some and "count" not in ours and len(counts := _counts_of(lang, category)) > 1:
                shown = ", ".join(str(n) for n in counts[:4]) + ("..." if len(counts) > 4 else "")
                check.fail(line, f"{key}: in {lang} this form is used for {shown}: it must show {{count}}")
        elif key not in english:
            check.fail(line, f"{key}: not a key of en.yaml")
        elif placeholders(value) != placeholders(english[key]):
            check.fail(
                line,
                f"{key}: placeholders {sorted(placeholders(value))} differ from English "
                f"{sorted(placeholders(english[key]))}",
            )
    # A missing key is reported at the line it belongs after: that of the English key before it.
    insert_at = 1
    family_at: dict[str, int] = {}
    for key in english:
        insert_at = key_lines.get(key, insert_at)
        plural = plural_family(key)
        if plural is not None:
            family_at[plural[0]] = insert_at
        elif key not in strings:
            check.fail(insert_at, f"{key}: missing (every language needs every key of en.yaml)")
    for name, line in family_at.items():
        for category in (c for c in PLURAL_CATEGORIES if c in categories - found.get(name, set())):
            check.fail(line, f"{name}.{category}: missing (the plural forms of {lang} are {uses})")


def load_locales(root: Path, problems: list[Problem]) -> dict[str, dict[str, str]]:
    loc_dir = root / "locales"
    locales: dict[str, dict[str, str]] = {}
    lines: dict[str, dict[str, int]] = {}
    for path in sorted(loc_dir.glob("*.yaml")) if loc_dir.is_dir() else []:
        check = Checker(path, problems)
        lang = path.stem
        if lang not in LANGUAGES:
            check.fail(0, f"unsupported language {lang!r} (use {', '.join(LANGUAGES)})")
            continue
        data = _load(path, problems)
        doc = check.mapping(data, 1, "file") if data is not None else None
        if doc is None:
            continue
        strings: dict[str, str] = {}
        for key in doc:
            value = check.string(doc, key, "locale")
            if value is None:
                continue
            if "<invalid>" in placeholders(value):
                check.fail(doc.line_of(key), f"{key}: unbalanced braces in the template")
                continue
            problem = _markup_problem(value)
            if problem is not None:
                check.fail(doc.line_of(key), f"{key}: {problem}")
            strings[key] = value
        locales[lang] = strings
        lines[lang] = dict(doc.key_lines)
    if "en" not in locales:
        problems.append(Problem(loc_dir / "en.yaml", 0, "the English interface strings are required"))
        return locales
    for lang in LANGUAGES:
        path = loc_dir / f"{lang}.yaml"
        if not path.exists():
            problems.append(Problem(path, 0, f"missing: the interface in {lang!r} is required"))
    english = locales["en"]
    families = _families(english)
    for lang, strings in locales.items():
        check = Checker(loc_dir / f"{lang}.yaml", problems)
        _check_locale(check, lang, strings, lines[lang], english, families)
    return locales
