"""Interface strings, looked up by key in the user's language with an English fallback."""

from __future__ import annotations

from typing import Any

from bot import markup
from bot.markup import RichText


class Locales:
    def __init__(self, strings: dict[str, dict[str, str]], default: str = "en") -> None:
        self._parsed = {
            lang: {key: markup.parse(value) for key, value in table.items()} for lang, table in strings.items()
        }
        self.default = default

    def has(self, lang: str, key: str) -> bool:
        return key in self._parsed.get(lang, {})

    def rich(self, lang: str, key: str, **params: Any) -> RichText:
        """The string for ``key``, filled with ``params`` (never parsed as markup)."""
        for candidate in (lang, self.default, "en"):
            template = self._parsed.get(candidate, {}).get(key)
            if template is not None:
                return markup.fill(template, params)
        raise KeyError(f"no interface string {key!r}")

    def text(self, lang: str, key: str, **params: Any) -> str:
        return markup.plain(self.rich(lang, key, **params))
