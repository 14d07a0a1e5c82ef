"""Validation of ``pledges.yaml``, ``petitions.yaml`` and ``calendar.yaml``, each problem with its file and line."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from bot.content.model import (
    LANGUAGES,
    ActionDay,
    Campaigns,
    CrmSync,
    Petition,
    PetitionField,
    Pledge,
    Translations,
)
from bot.content.schema import Checker, _check_date, _kind, _load, listed_items
from bot.content.yamlio import Node, Problem

PETITION_FIELDS = ("name", "email", "country")
# A CRM destination's name, as config.yaml's sync.destinations names it.
DESTINATION = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
# A petition's id in a CRM (Action Network's are UUIDs): no '/', so it stays one segment of a URL path.
REMOTE_ID = re.compile(r"[A-Za-z0-9._~-]{1,100}")
FIELD_RULES = ("required", "optional")
MAX_TITLE_CHARS = 120
MAX_TEXT_CHARS = 2000
MAX_REMIND_DAYS = 60


def _translations(check: Checker, node: Node, key: str, what: str, limit: int) -> Translations | None:
    """A ``{language: text}`` mapping with English present."""
    if key not in node:
        return None
    where = f"{what}.{key}"
    tnode = check.mapping(node.get(key), node.line_of(key), where)
    if tnode is None:
        return None
    texts: Translations = {}
    for lang in tnode:
        if lang not in LANGUAGES:
            check.fail(tnode.line_of(lang), f"{where}: unsupported language {lang!r} (use {', '.join(LANGUAGES)})")
            continue
        text = check.string(tnode, lang, where)
        if text is None:
            continue
        if len(text) > limit:
            check.fail(tnode.line_of(lang), f"{where}.{lang}: {len(text)} characters, over the limit of {limit}")
        texts[lang] = text
    if "en" not in tnode:
        check.fail(tnode.line, f"{where}: the English text is required")
        return None
    return texts


def _flag(check: Checker, node: Node, key: str, what: str, default: bool) -> bool:
    value = node.get(key, default)
    if not isinstance(value, bool):
        check.fail(node.line_of(key), f"{what}.{key}: expected true or false, got {_kind(value)}")
        return default
    return value


def _count(check: Checker, node: Node, key: str, what: str) -> int | None:
    value = node.get(key)
    if key not in node or value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        check.fail(node.line_of(key), f"{what}.{key}: expected a whole number above 0, got {_kind(value)}")
        return None
    return value


def _crm_sync(check: Checker, node: Node, what: str) -> CrmSync | None:
    """``sync:``: a destination's name, or ``{destination: <name>, petition: <its id in that CRM>}``."""
    if "sync" not in node:
        return None
    value, line = node["sync"], node.line_of("sync")
    remote: str | None = None
    if isinstance(value, dict):
        snode = check.mapping(value, line, f"{what}.sync")
        if snode is None:
            return None
        before = len(check.problems)
        check.fields(snode, f"{what}.sync", {"destination"}, {"petition"})
        if len(check.problems) > before:
            return None
        value = snode.get("destination")
        remote = check.string(snode, "petition", f"{what}.sync", required=False)
        if remote is not None and not REMOTE_ID.fullmatch(remote):
            check.fail(
                snode.line_of("petition"), f"{what}.sync.petition: {remote!r} is not an id (letters, digits, . _ ~ -)"
            )
            return None
    if not isinstance(value, str) or not DESTINATION.fullmatch(value):
        check.fail(
            line, f"{what}.sync: expected a destination's name from config.yaml's sync.destinations, got {_kind(value)}"
        )
        return None
    return CrmSync(value, remote, line)


def load_pledges(root: Path, problems: list[Problem]) -> dict[str, Pledge]:
    path = root / "pledges.yaml"
    if not path.exists():
        return {}
    check = Checker(path, problems)
    pledges: dict[str, Pledge] = {}
    for node, pledge_id in listed_items(check, _load(path, problems), "pledges"):
        what = f"pledge {pledge_id}"
        check.fields(node, what, {"id", "title", "text"}, {"goal", "open", "sync"})
        title = _translations(check, node, "title", what, MAX_TITLE_CHARS)
        text = _translations(check, node, "text", what, MAX_TEXT_CHARS)
        goal = _count(check, node, "goal", what)
        is_open = _flag(check, node, "open", what, True)
        crm = _crm_sync(check, node, what)
        if title and text:
            pledges[pledge_id] = Pledge(pledge_id, title, text, is_open, goal, crm)
    return pledges


def _fields(check: Checker, node: Node, what: str) -> tuple[PetitionField, ...]:
    fnode = check.mapping(node.get("fields"), node.line_of("fields"), f"{what}.fields") if "fields" in node else None
    if fnode is None:
        return ()
    fields: list[PetitionField] = []
    for name in fnode:
        rule, line = fnode[name], fnode.line_of(name)
        if name not in PETITION_FIELDS:
            check.fail(line, f"{what}.fields: unknown field {name!r} (known: {', '.join(PETITION_FIELDS)})")
        elif rule not in FIELD_RULES:
            check.fail(line, f"{what}.fields.{name}: must be 'required' or 'optional', got {_kind(rule)}")
        else:
            fields.append(PetitionField(name, rule == "required"))
    if not any(f.name == "name" and f.required for f in fields):
        check.fail(fnode.line, f"{what}.fields: a signature needs the name, as 'required'")
    # Asked in a fixed order, whatever the order in the file.
    return tuple(sorted(fields, key=lambda f: PETITION_FIELDS.index(f.name)))


def load_petitions(root: Path, problems: list[Problem]) -> dict[str, Petition]:
    path = root / "petitions.yaml"
    if not path.exists():
        return {}
    check = Checker(path, problems)
    petitions: dict[str, Petition] = {}
    for node, petition_id in listed_items(check, _load(path, problems), "petitions"):
        what = f"petition {petition_id}"
        check.fields(
            node,
            what,
            {"id", "title", "addressee", "text", "goal", "fields", "consent", "privacy"},
            {"deadline", "open", "sync"},
        )
        title = _translations(check, node, "title", what, MAX_TITLE_CHARS)
        addressee = _translations(check, node, "addressee", what, MAX_TITLE_CHARS)
        text = _translations(check, node, "text", what, MAX_TEXT_CHARS)
        privacy = _translations(check, node, "privacy", what, MAX_TEXT_CHARS)
        goal = _count(check, node, "goal", what)
        fields = _fields(check, node, what)
        deadline = _check_date(check, node, "deadline", what)
        is_open = _flag(check, node, "open", what, True)
        crm = _crm_sync(check, node, what)
        consent_version: int | None = None
        consent: Translations | None = None
        cnode = None
        if "consent" in node:
            cnode = check.mapping(node["consent"], node.line_of("consent"), f"{what}.consent")
        if cnode is not None:
            check.fields(cnode, f"{what}.consent", {"version", "text"}, set())
            consent_version = _count(check, cnode, "version", f"{what}.consent")
            consent = _translations(check, cnode, "text", f"{what}.consent", MAX_TEXT_CHARS)
        if title and addressee and text and privacy and goal and fields and consent_version and consent:
            petitions[petition_id] = Petition(
                petition_id,
                title,
                addressee,
                text,
                goal,
                fields,
                consent_version,
                consent,
                privacy,
                is_open,
                deadline,
                crm,
            )
    return petitions


def _remind(check: Checker, node: Node, what: str) -> tuple[int, ...]:
    value = node.get("remind")
    if not isinstance(value, list) or not value:
        check.fail(node.line_of("remind"), f"{what}.remind: expected a list of days before, such as [7, 0]")
        return ()
    days: list[int] = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= MAX_REMIND_DAYS:
            check.fail(
                node.line_of("remind"),
                f"{what}.remind: {_kind(item)} is not a whole number of days, 0-{MAX_REMIND_DAYS}",
            )
        elif item in days:
            check.fail(node.line_of("remind"), f"{what}.remind: {item} is listed twice")
        else:
            days.append(item)
    return tuple(sorted(days, reverse=True))


def _yearly_date(month: Any, day: Any) -> tuple[int, int] | None:
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (month, day)):
        return None
    try:
        date(2024, month, day)  # a leap year: 29 February is a valid yearly date
    except ValueError:
        return None
    return month, day


def load_calendar(root: Path, problems: list[Problem]) -> dict[str, ActionDay]:
    path = root / "calendar.yaml"
    if not path.exists():
        return {}
    check = Checker(path, problems)
    days: dict[str, ActionDay] = {}
    for node, day_id in listed_items(check, _load(path, problems), "days"):
        what = f"day {day_id}"
        check.fields(node, what, {"id", "month", "day", "name", "message", "remind"}, {"link"})
        when = _yearly_date(node.get("month"), node.get("day"))
        if when is None and "month" in node and "day" in node:
            check.fail(
                node.line_of("day"),
                f"{what}: month {_kind(node.get('month'))} and day {_kind(node.get('day'))} are not a calendar date",
            )
        name = _translations(check, node, "name", what, MAX_TITLE_CHARS)
        message = _translations(check, node, "message", what, MAX_TEXT_CHARS)
        remind = _remind(check, node, what) if "remind" in node else ()
        link = check.string(node, "link", what, required=False)
        if link is not None and not re.match(r"^https?://\S+$", link):
            check.fail(node.line_of("link"), f"{what}.link: not an http(s) address: {link!r}")
            link = None
        if when is not None and name and message and remind:
            days[day_id] = ActionDay(day_id, when[0], when[1], name, message, remind, link)
    return days


def load_campaigns(root: Path, problems: list[Problem]) -> Campaigns:
    return Campaigns(load_pledges(root, problems), load_petitions(root, problems), load_calendar(root, problems))
