"""Validation of what people type into forms: names, e-mail addresses, countries.

Each validator returns the cleaned value or raises :class:`FieldError` with an interface-string key
for the reason, so the question can be asked again with that reason in the user's language.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import email_validator
import pycountry
from babel import Locale, UnknownLocaleError, languages
from rapidfuzz import distance, fuzz, process

from bot.content.model import LANGUAGES
from bot.content.text import ECHO_CHARS, echo, words

MAX_NAME_CHARS = 100
MAX_EMAIL_CHARS = 254
# Joiners inside a name ("Mary-Jane O'Neil Jr."), beside letters and combining marks of any script.
NAME_PUNCTUATION = frozenset("-'’.,")


@dataclass
class FieldError(Exception):
    # Interface-string key of the reason, and its placeholders.
    reason: str
    params: dict[str, Any] = field(default_factory=dict)
    # Values the person probably meant (country codes, zones), best first, to offer as buttons.
    options: list[str] = field(default_factory=list)


def clean_name(text: str) -> str:
    name = " ".join(unicodedata.normalize("NFC", text).split())
    if not name:
        raise FieldError("form.name.empty")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in text if ch not in "\u200c\u200d"):
        raise FieldError("form.name.control")
    if len(name) > MAX_NAME_CHARS:
        raise FieldError("form.name.too_long", {"max": MAX_NAME_CHARS, "count": len(name)})
    for ch in name:
        category = unicodedata.category(ch)
        if not (category[0] in "LM" or ch == " " or ch in NAME_PUNCTUATION or ch in "\u200c\u200d"):
            raise FieldError("form.name.character", {"character": ch})
    if not unicodedata.category(name[0]).startswith("L"):
        raise FieldError("form.name.start")
    return name


def doubtful_name(name: str, stop_words: Iterable[frozenset[str]]) -> str | None:
    """Why a name is worth asking about before it goes on a petition, or None.

    A question or a command typed at the name step ("what is naloxone?") is not a name;
    a name made mostly of little words ("what is naloxone") is asked about (some real names are).
    """
    text = name.strip()
    if text.endswith(("?", "？")) or text.startswith(("¿", "/")):
        return "form.name.question"
    found = words(text)
    small = set().union(*stop_words)
    if found and sum(word in small for word in found) * 2 > len(found):
        return "form.name.confirm"
    return None


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


# The mail services most people use, in the bot's languages' countries. A domain one typo away from
# one of these is probably that one ("gmial.com"); the real domains most like them are listed too,
# so that they are never "corrected" (ymail.com, email.com).
COMMON_EMAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "ymail.com",
        "rocketmail.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "yahoo.es",
        "yahoo.com.br",
        "yahoo.com.mx",
        "yahoo.com.ar",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "hotmail.es",
        "hotmail.it",
        "hotmail.de",
        "hotmail.com.br",
        "hotmail.com.ar",
        "outlook.com",
        "outlook.fr",
        "outlook.es",
        "outlook.com.br",
        "outlook.pt",
        "live.com",
        "live.fr",
        "live.co.uk",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "mail.com",
        "email.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "gmx.fr",
        "web.de",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "tutanota.com",
        "tuta.io",
        "zoho.com",
        "yandex.ru",
        "yandex.com",
        "yandex.ua",
        "ya.ru",
        "mail.ru",
        "bk.ru",
        "inbox.ru",
        "list.ru",
        "rambler.ru",
        "ukr.net",
        "i.ua",
        "meta.ua",
        "orange.fr",
        "free.fr",
        "sfr.fr",
        "laposte.net",
        "wanadoo.fr",
        "bbox.fr",
        "uol.com.br",
        "bol.com.br",
        "terra.com.br",
        "ig.com.br",
        "sapo.pt",
        "telefonica.net",
        "movistar.es",
        "riseup.net",
        "posteo.de",
        "posteo.net",
        "mailbox.org",
        "fastmail.com",
        "disroot.org",
    }
)

_DOMAINS = sorted(COMMON_EMAIL_DOMAINS)


def email_suggestion(address: str) -> str | None:
    """The address with a likely typo in its domain corrected ("gmial.com" -> "gmail.com"), or None.

    One edit away (a transposition counts as one), two for long domains; only when a single common
    domain is that close. Nothing is looked up on the network.
    """
    local, _, domain = address.rpartition("@")
    domain = domain.lower()
    if not local or domain in COMMON_EMAIL_DOMAINS:
        return None
    limit = 2 if len(domain) >= 12 else 1
    close = process.extract(domain, _DOMAINS, scorer=distance.OSA.distance, score_cutoff=limit, limit=None)
    best = min((score for _, score, _ in close), default=None)
    nearest = [match for match, score, _ in close if score == best]
    return f"{local}@{nearest[0]}" if len(nearest) == 1 else None


@dataclass(frozen=True, slots=True)
class Country:
    code: str

    def name(self, lang: str = "en") -> str:
        return country_name(self.code, lang)


def country_name(code: str, lang: str = "en") -> str:
    """The everyday name (CLDR's: "Russia", not "Russian Federation") in ``lang``."""
    return str(Locale.parse(lang).territories.get(code) or Locale("en").territories.get(code) or code)


def resolve_country(text: str, lang: str) -> Country:
    """A country from an ISO code, or its name in any language the bot speaks or its own (accents and
    case ignored); a near miss raises "did you mean" with the likely countries as options."""
    query = text.strip()
    if not query:
        raise FieldError("form.country.empty")
    if query.isascii() and query.isalpha() and len(query) in (2, 3):
        code = _ALIASES.get(query.upper(), query.upper())
        by_code = pycountry.countries.get(alpha_2=code) if len(code) == 2 else pycountry.countries.get(alpha_3=code)
        if by_code is not None:
            return Country(str(by_code.alpha_2))
    names = _names(lang)
    key = " ".join(words(query))
    if key in names:
        return Country(names[key])
    # Whole-name resemblance: a partial one would offer Switzerland for "zz". No country's name is
    # anywhere near ECHO_CHARS long: nothing to suggest, and no time spent finding out.
    close = (
        process.extract(key, list(names), scorer=fuzz.ratio, limit=10, score_cutoff=80)
        if len(key) <= ECHO_CHARS
        else []
    )
    codes = list(dict.fromkeys(names[match] for match, _, _ in close))[:MAX_SUGGESTIONS]
    if codes:
        suggestions = ", ".join(country_name(code, lang) for code in codes)
        raise FieldError("form.country.suggest", {"text": echo(query), "suggestions": suggestions}, codes)
    raise FieldError("form.country.unknown", {"text": echo(query)})


def is_shorthand(text: str, country: Country, lang: str) -> bool:
    """Whether ``text`` is not simply the country's name in ``lang`` ("usa", "Alemania" in English):
    then the person is told which country it became."""
    return " ".join(words(text)) != " ".join(words(country.name(lang)))


MAX_SUGGESTIONS = 3
# Codes people use that ISO reserves for another meaning.
_ALIASES = {"UK": "GB", "EL": "GR"}
# Everyday names CLDR does not list (folded as keys are).
_NAME_ALIASES = {
    "eeuu": "US",
    "ee uu": "US",
    "eua": "US",
    "сша": "US",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "great britain": "GB",
    "holland": "NL",
}


@cache
def _territory_names(language: str) -> dict[str, list[str]]:
    territories = Locale.parse(language).territories
    return {str(country.alpha_2): [str(territories.get(country.alpha_2, ""))] for country in pycountry.countries}


@cache
def _endonyms() -> dict[str, list[str]]:
    """Each country's name in its own official languages ("Deutschland", "Brasil", "Україна")."""
    names: dict[str, list[str]] = {}
    for country in pycountry.countries:
        code = str(country.alpha_2)
        for language in languages.get_official_languages(code, de_facto=True):
            try:
                names.setdefault(code, []).append(str(Locale.parse(language).territories.get(code, "")))
            except (UnknownLocaleError, ValueError):
                continue  # a language CLDR has no names in
    return names


@cache
def _iso_names() -> dict[str, list[str]]:
    return {
        str(country.alpha_2): [
            str(getattr(country, a)) for a in ("name", "common_name", "official_name") if hasattr(country, a)
        ]
        for country in pycountry.countries
    }


@cache
def _names(lang: str) -> dict[str, str]:
    """Folded country name -> alpha-2 code. Where two countries share a name, ``lang`` wins, then
    English, the bot's other languages, the countries' own languages, ISO's names."""
    tiers = [_territory_names(language) for language in dict.fromkeys((lang, "en", *LANGUAGES))]
    names: dict[str, str] = dict(_NAME_ALIASES)
    for tier in (*tiers, _endonyms(), _iso_names()):
        for code, found in tier.items():
            for name in found:
                key = " ".join(words(name))
                if key:
                    names.setdefault(key, code)
    return names
