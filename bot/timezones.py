"""Time zones: by IANA name, by city, or from a country when it has one (the tz database's zone.tab)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo, available_timezones

from bot.forms import FieldError, country_name, resolve_country
from bot.text import echo


@cache
def _zone_tab() -> list[tuple[str, str, str]]:
    """(country code, zone, comment) for every line of the tz database's zone.tab."""
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    rows = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            fields = line.split("\t")
            rows.append((fields[0], fields[2], fields[3] if len(fields) > 3 else ""))
    return rows


@cache
def _country_zones() -> dict[str, tuple[str, ...]]:
    """Country code -> its zones, in zone.tab's order."""
    zones: dict[str, list[str]] = {}
    for code, name, _ in _zone_tab():
        zones.setdefault(code, []).append(name)
    return {code: tuple(names) for code, names in zones.items()}


@cache
def _main_zones() -> dict[str, str]:
    """Zones zone.tab describes as a country's main one ("most of Ukraine", "Portugal (mainland)")."""
    return {
        code: name
        for code, name, comment in _zone_tab()
        if comment.startswith("most of ") or comment.endswith("(mainland)")
    }


@cache
def _by_name() -> dict[str, str]:
    """Folded zone name and city ("europe/lisbon", "lisbon", "new_york") -> zone."""
    names: dict[str, str] = {}
    for name in sorted(available_timezones()):
        names[name.casefold()] = name
    for zones in _country_zones().values():
        for name in zones:
            names.setdefault(name.rsplit("/", 1)[-1].casefold(), name)
    return names


def country_zone(country: str) -> str | None:
    """A country's zone: its main one, or its only time; None where it is not clear (Russia, the US)."""
    main = _main_zones().get(country.upper())
    if main is not None:
        return main
    zones = _country_zones().get(country.upper(), ())
    now = datetime.now(UTC)
    offsets = {now.astimezone(ZoneInfo(zone)).utcoffset() for zone in zones}
    return zones[0] if len(offsets) == 1 else None


def resolve_zone(text: str, lang: str) -> str:
    """A zone from its IANA name ("Europe/Lisbon", any case), a city ("Moscow") or a country."""
    query = text.strip()
    if not query:
        raise FieldError("timezone.empty")
    key = query.casefold().replace(" ", "_")
    # A country first: the tz database also has old names such as "Portugal" or "Japan".
    if "/" not in key:
        try:
            country = resolve_country(query, lang)
        except FieldError:
            country = None
        if country is not None:
            zone = country_zone(country.code)
            if zone is not None:
                return zone
            cities = [name.rsplit("/", 1)[-1].replace("_", " ") for name in _country_zones().get(country.code, ())]
            raise FieldError(
                "timezone.several", {"country": country_name(country.code, lang), "examples": ", ".join(cities[:4])}
            )
    zone = _by_name().get(key)
    if zone is None:
        raise FieldError("timezone.unknown", {"text": echo(query)})
    return zone
