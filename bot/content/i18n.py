"""Interface strings, looked up by key in the user's language with an English fallback."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from babel import Locale, numbers

from bot.port import markup
from bot.port.markup import RichText

# Every CLDR plural category. An interface key ending in one of them is one form of a plural
# family ("days.line.few"); which forms a language needs comes from babel, never from us.
PLURAL_CATEGORIES = ("zero", "one", "two", "few", "many", "other")


class Locales:
    def __init__(self, strings: dict[str, dict[str, str]], default: str = "en") -> None:
        self._source = strings
        self._parsed = {
            lang: {key: markup.parse(value) for key, value in table.items()} for lang, table in strings.items()
        }
        self.default = default

    def has(self, lang: str, key: str) -> bool:
        return key in self._parsed.get(lang, {})

    def rich(self, lang: str, key: str, **params: Any) -> RichText:
        """The string for ``key``, filled with ``params`` (never parsed as markup); for a plural family
        ("form.name.too_long.one/.other"), its form for ``params["count"]``."""
        if "count" in params and isinstance(params["count"], int) and not self.has("en", key):
            count = params.pop("count")
            return self.plural(lang, key, count, **params)
        for candidate in (lang, self.default, "en"):
            template = self._parsed.get(candidate, {}).get(key)
            if template is not None:
                return markup.fill(template, params)
        raise KeyError(f"no interface string {key!r}")

    def text(self, lang: str, key: str, **params: Any) -> str:
        return markup.plain(self.rich(lang, key, **params))

    def source(self, lang: str, key: str) -> str:
        """The string for ``key`` as written, markup unparsed: to show people the markup's own syntax."""
        for candidate in (lang, self.default, "en"):
            template = self._source.get(candidate, {}).get(key)
            if template is not None:
                return template
        raise KeyError(f"no interface string {key!r}")

    def plural(self, lang: str, key: str, count: int, **params: Any) -> RichText:
        """``key.<category>`` for ``count`` by the language's CLDR plural rules, ``{count}`` filled."""
        language = next((c for c in (lang, self.default, "en") if self.has(c, f"{key}.other")), "en")
        # The rules of the language the string is in: Russian "21" is "one", English "21" is "other".
        category = plural_category(language, count)
        chosen = f"{key}.{category}" if self.has(language, f"{key}.{category}") else f"{key}.other"
        return self.rich(language, chosen, count=number(lang, count), **params)


def counted(count: int, forms: Mapping[str, str], lang: str = "en") -> str:
    """``forms[category]`` for ``count`` by ``lang``'s CLDR plural rules, ``{count}`` filled: for text
    outside the interface strings (the command line, in English). "other" is required."""
    form = forms.get(plural_category(lang, count), forms["other"])
    return form.format(count=number(lang, count))


def plural_categories(lang: str) -> frozenset[str]:
    """The plural categories ``lang`` tells apart, "other" included (Russian: one, few, many, other)."""
    return frozenset(_locale(lang).plural_form.tags) | {"other"}


def plural_category(lang: str, count: int) -> str:
    return str(_locale(lang).plural_form(count))


def plural_family(key: str) -> tuple[str, str] | None:
    """``("days.line", "few")`` for ``"days.line.few"``; None for a key that is not a plural form."""
    family, _, category = key.rpartition(".")
    return (family, category) if family and category in PLURAL_CATEGORIES else None


def goal_progress(locales: Locales, lang: str, count: int, goal: int) -> RichText:
    """ "12,122 of 15,000 — 81%", in the language's number formats."""
    return locales.rich(
        lang,
        "progress.goal",
        count=number(lang, count),
        goal=number(lang, goal),
        percent=percent(lang, count / goal),
    )


def number(lang: str, value: int) -> str:
    """A whole number as the language writes it: 12,122 (en), 12 122 (fr), 12.122 (pt)."""
    return str(numbers.format_decimal(value, locale=_locale(lang)))


def percent(lang: str, fraction: float) -> str:
    return str(numbers.format_percent(fraction, locale=_locale(lang)))


@cache
def _locale(lang: str) -> Locale:
    return Locale.parse(lang)
