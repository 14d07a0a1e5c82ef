"""Loading every content file under one folder."""

from __future__ import annotations

from pathlib import Path

from bot.content.campaigns import load_campaigns
from bot.content.model import Content
from bot.content.schema import (
    load_alarms,
    load_calibration,
    load_crisis,
    load_emergency,
    load_entry_model,
    load_kb,
    load_lexicon,
    load_locales,
    load_refusals,
    load_smalltalk,
)
from bot.content.yamlio import Problem


def load_content(root: Path) -> tuple[Content, list[Problem]]:
    """Load and validate every content file under ``root``; returns what loaded and every problem."""
    problems: list[Problem] = []
    if not root.is_dir():
        problems.append(Problem(root, 0, "content folder not found"))
    kb = load_kb(root, problems)
    emergency = load_emergency(root, problems)
    refusals = load_refusals(root, set(kb.entries), problems)
    lexicon = load_lexicon(root, problems)
    locales = load_locales(root, problems)
    campaigns = load_campaigns(root, problems)
    crisis = load_crisis(root, problems)
    smalltalk = load_smalltalk(root, problems)
    calibration = load_calibration(root, problems)
    alarms = load_alarms(root, problems)
    entry_model = load_entry_model(root, kb, problems)
    content = Content(
        kb, emergency, refusals, lexicon, locales, campaigns, crisis, smalltalk, calibration, alarms, entry_model
    )
    return content, problems
