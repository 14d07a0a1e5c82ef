"""Validation of what people type into forms: names, e-mail addresses, countries.

Each validator returns the cleaned value or raises :class:`FieldError` with an interface-string key
for the reason, so the question can be asked again with that reason in the user's language.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import email_validator
import pycountry
from babel import Locale
from rapidfuzz import process

from bot.text import ECHO_CHARS, echo, fold

MAX_NAME_CHARS = 100
MAX_EMAIL_CHARS = 254
# Joiners inside a name ("Mary-Jane O'Neil Jr."), beside letters and combining marks of any script.
NAME_PUNCTUATION = frozenset("-'’.,")


@dataclass
class FieldError(Exception):
    # Interface-string key of the reason, and its placeholders.
    reason: str
    params: dict[str, Any] = field(default_factory=dict)


def clean_name(text: str) -> str:
    name = " ".join(unicodedata.normalize("NFC", text).split())
    if not name:
        raise FieldError("form.name.empty")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in text if ch not in "\u200c\u200d"):
        raise FieldError("form.name.control")
    if len(name) > MAX_NAME_CHARS:
        raise FieldError("form.name.too_long", {"max": MAX_NAME_CHARS, "length": len(name)})
    for ch in name:
        category = unicodedata.category(ch)
        if not (category[0] in "LM" or ch == " " or ch in NAME_PUNCTUATION or ch in "\u200c\u200d"):
            raise FieldError("form.name.character", {"character": ch})
    if not unicodedata.category(name[0]).startswith("L"):
        raise FieldError("form.name.start")
    return name


def clean_email(text: str) -> str:
    candidate = text.strip()
    if not candidate:
        raise FieldError("form.email.empty")
    if len(candidate) > MAX_EMAIL_CHARS:
        raise FieldError("form.email.invalid", {"detail": f"longer than {MAX_EMAIL_CHARS} characters"})
    try:
        # Syntax only: a DNS lookup would leak who signs to the resolver, and tests run offline.
        result = email_validator.validate_email(candidate, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise FieldError("form.email.invalid", {"detail": str(exc)}) from exc
    return str(result.normalized)


@dataclass(frozen=True, slots=True)
class Country:
    code: str

    def name(self, lang: str = "en") -> str:
        return country_name(self.code, lang)


def country_name(code: str, lang: str = "en") -> str:
    """The everyday name (CLDR's: "Russia", not "Russian Federation") in ``lang``."""
    return str(Locale.parse(lang).territories.get(code) or Locale("en").territories.get(code) or code)


def resolve_country(text: str, lang: str) -> Country:
    """A country from an ISO code or its name in ``lang`` or English (accents and case ignored)."""
    query = text.strip()
    if not query:
        raise FieldError("form.country.empty")
    if query.isascii() and query.isalpha() and len(query) in (2, 3):
        code = _ALIASES.get(query.upper(), query.upper())
        by_code = pycountry.countries.get(alpha_2=code) if len(code) == 2 else pycountry.countries.get(alpha_3=code)
        if by_code is not None:
            return Country(str(by_code.alpha_2))
    names = _names(lang)
    key = fold(query)
    if key in names:
        return Country(names[key])
    # No country's name is anywhere near that long: nothing to suggest, and no time spent finding out.
    close = process.extract(key, list(names), limit=3, score_cutoff=80) if len(key) <= ECHO_CHARS else []
    suggestions = sorted({country_name(names[match], lang) for match, _, _ in close})
    if suggestions:
        raise FieldError("form.country.suggest", {"text": echo(query), "suggestions": ", ".join(suggestions)})
    raise FieldError("form.country.unknown", {"text": echo(query)})


# Codes people use that ISO reserves for another meaning.
_ALIASES = {"UK": "GB", "EL": "GR"}


@cache
def _names(lang: str) -> dict[str, str]:
    """Folded country name -> alpha-2 code: everyday names in ``lang`` and English, ISO names."""
    names: dict[str, str] = {}
    local, english = Locale.parse(lang).territories, Locale("en").territories
    for country in pycountry.countries:
        code = str(country.alpha_2)
        iso = [str(getattr(country, a)) for a in ("name", "common_name", "official_name") if hasattr(country, a)]
        for name in [local.get(code, ""), english.get(code, ""), *iso]:
            if name:
                names.setdefault(fold(name), code)
    return names
