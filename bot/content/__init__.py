"""Curated content: loading, validation and the typed model the core serves from."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from bot.content.loading import load_content
from bot.content.model import LANGUAGES, Content, Entry, Group, KnowledgeBase, Source
from bot.content.yamlio import ContentError, Problem

# The content shipped with the project: the repository's top-level ``content/`` folder, installed as
# the package ``bot.bundled_content`` (a folder on disk in a wheel and in an editable install).
BUNDLED_CONTENT = Path(str(files("bot.bundled_content")))

__all__ = [
    "BUNDLED_CONTENT",
    "LANGUAGES",
    "Content",
    "ContentError",
    "Entry",
    "Group",
    "KnowledgeBase",
    "Problem",
    "Source",
    "check",
    "load",
]


def load(root: Path) -> Content:
    """Load the content under ``root``; any problem at all raises :class:`ContentError`."""
    content, problems = load_content(root)
    if problems:
        raise ContentError(problems)
    return content


def check(root: Path) -> list[Problem]:
    """Every problem in the content under ``root`` (an empty list when it is clean)."""
    return load_content(root)[1]
