"""The languages the bot speaks: its interface, its emergency answer and its knowledge base."""

from __future__ import annotations

# In order of preference.
LANGUAGES: tuple[str, ...] = ("en", "es", "pt", "ru", "uk", "fr")


def language_code(tag: str | None) -> str | None:
    """A supported two-letter language from a platform's tag ("pt-BR" -> "pt"), or None."""
    if not tag:
        return None
    code = tag.replace("_", "-").split("-")[0].lower()
    return code if code in LANGUAGES else None
