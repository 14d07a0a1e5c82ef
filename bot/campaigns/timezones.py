"""Time zones: by IANA name, by city (in any language the bot speaks), by abbreviation, or from a
country when it has one (the tz database's zone.tab; city names from CLDR via babel)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo, available_timezones

from babel.dates import get_timezone_location
from rapidfuzz import fuzz, process

from bot.campaigns.forms import MAX_SUGGESTIONS, FieldError, country_name, resolve_country
from bot.content.model import LANGUAGES
from bot.content.text import ECHO_CHARS, echo, words

# Abbreviations people give for their time zone, each with the zones it may mean (most likely first).
# Reviewed against the tz database and everyday use: one that means a single zone is set at once;
# any other is asked about. An abbreviation that is also a country's ISO code (EST: Estonia, PT:
# Portugal, ET: Ethiopia) gets that country's zone among the choices, never silently.
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "GMT": ("Europe/London", "Etc/UTC"),
    "BST": ("Europe/London", "Asia/Dhaka"),
    "IST": ("Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem"),
    "WET": ("Europe/Lisbon", "Atlantic/Canary"),
    "WEST": ("Europe/Lisbon", "Atlantic/Canary"),
    "CET": ("Europe/Paris", "Europe/Berlin", "Europe/Madrid", "Europe/Rome", "Europe/Warsaw"),
    "CEST": ("Europe/Paris", "Europe/Berlin", "Europe/Madrid", "Europe/Rome", "Europe/Warsaw"),
    "EET": ("Europe/Kyiv", "Europe/Athens", "Europe/Bucharest", "Europe/Helsinki", "Africa/Cairo"),
    "EEST": ("Europe/Kyiv", "Europe/Athens", "Europe/Bucharest", "Europe/Helsinki"),
    "MSK": ("Europe/Moscow",),
    "МСК": ("Europe/Moscow",),
    "SAMT": ("Europe/Samara",),
    "YEKT": ("Asia/Yekaterinburg",),
    "OMST": ("Asia/Omsk",),
    "NOVT": ("Asia/Novosibirsk",),
    "KRAT": ("Asia/Krasnoyarsk",),
    "IRKT": ("Asia/Irkutsk",),
    "YAKT": ("Asia/Yakutsk",),
    "VLAT": ("Asia/Vladivostok",),
    "MAGT": ("Asia/Magadan",),
    "PETT": ("Asia/Kamchatka",),
    "EST": ("America/New_York", "America/Toronto", "America/Panama"),
    "EDT": ("America/New_York", "America/Toronto"),
    "ET": ("America/New_York", "America/Toronto"),
    "CST": ("America/Chicago", "America/Mexico_City", "Asia/Shanghai", "America/Havana"),
    "CDT": ("America/Chicago", "America/Winnipeg", "America/Havana"),
    "CT": ("America/Chicago", "America/Winnipeg", "America/Mexico_City"),
    "MST": ("America/Denver", "America/Phoenix", "America/Edmonton"),
    "MDT": ("America/Denver", "America/Edmonton"),
    "MT": ("America/Denver", "America/Phoenix", "America/Edmonton"),
    "PST": ("America/Los_Angeles", "America/Vancouver", "Asia/Manila"),
    "PDT": ("America/Los_Angeles", "America/Vancouver"),
    "PT": ("America/Los_Angeles", "America/Vancouver"),
    "AKST": ("America/Anchorage",),
    "HST": ("Pacific/Honolulu",),
    "AST": ("America/Halifax", "America/Puerto_Rico", "Asia/Riyadh"),
    "ADT": ("America/Halifax",),
    "NST": ("America/St_Johns",),
    "BRT": ("America/Sao_Paulo",),
    "ART": ("America/Argentina/Buenos_Aires",),
    "CLT": ("America/Santiago",),
    "COT": ("America/Bogota",),
    "PET": ("America/Lima",),
    "UYT": ("America/Montevideo",),
    "WAT": ("Africa/Lagos",),
    "CAT": ("Africa/Maputo", "Africa/Johannesburg"),
    "EAT": ("Africa/Nairobi",),
    "SAST": ("Africa/Johannesburg",),
    "GST": ("Asia/Dubai",),
    "PKT": ("Asia/Karachi",),
    "ICT": ("Asia/Bangkok", "Asia/Ho_Chi_Minh"),
    "WIB": ("Asia/Jakarta",),
    "SGT": ("Asia/Singapore",),
    "HKT": ("Asia/Hong_Kong",),
    "PHT": ("Asia/Manila",),
    "JST": ("Asia/Tokyo",),
    "KST": ("Asia/Seoul",),
    "AEST": ("Australia/Sydney", "Australia/Melbourne", "Australia/Brisbane"),
    "AEDT": ("Australia/Sydney", "Australia/Melbourne"),
    "ACST": ("Australia/Adelaide", "Australia/Darwin"),
    "AWST": ("Australia/Perth",),
    "NZST": ("Pacific/Auckland",),
    "NZDT": ("Pacific/Auckland",),
}


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
def _zone_countries() -> dict[str, str]:
    return {name: code for code, name, _ in _zone_tab()}


@cache
def _main_zones() -> dict[str, str]:
    """Zones zone.tab describes as a country's main one ("most of Ukraine", "Portugal (mainland)")."""
    return {
        code: name
        for code, name, comment in _zone_tab()
        if comment.startswith("most of ") or comment.endswith("(mainland)")
    }


def _key(text: str) -> str:
    return " ".join(words(text))


@cache
def _by_name() -> dict[str, str]:
    """Folded zone name ("europe/lisbon", "utc") -> zone."""
    return {name.casefold(): name for name in sorted(_zones())}


@cache
def _cities() -> dict[str, str]:
    """City (folded words) -> zone: CLDR's exemplar cities in every language the bot speaks
    ("Москва", "Nueva York", "Lisbonne"), and the city part of each zone name ("new york")."""
    cities: dict[str, str] = {}
    zones = [name for code, name, _ in _zone_tab()]
    for lang in LANGUAGES:
        for zone in zones:
            cities.setdefault(_key(str(get_timezone_location(zone, locale=lang, return_city=True))), zone)
    for zone in zones:
        cities.setdefault(_key(zone.rsplit("/", 1)[-1]), zone)
    cities.pop("", None)
    return cities


def country_zone(country: str) -> str | None:
    """A country's zone: its main one, or its only time; None where it is not clear (Russia, the US)."""
    main = _main_zones().get(country.upper())
    if main is not None:
        return main
    zones = _country_zones().get(country.upper(), ())
    now = datetime.now(UTC)
    offsets = {now.astimezone(ZoneInfo(zone)).utcoffset() for zone in zones}
    return zones[0] if len(offsets) == 1 else None


@cache
def _zones() -> frozenset[str]:
    # Cached: the tz database's names are read from disk.
    return frozenset(available_timezones())


def is_zone(name: str) -> bool:
    return name in _zones()


def zone_label(zone: str, lang: str, now: datetime) -> str:
    """A zone as people know it: "New York (United States, UTC−5)", in ``lang``."""
    offset = now.astimezone(ZoneInfo(zone)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "−"
    hours, rest = divmod(abs(minutes), 60)
    utc = f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "") if minutes else "UTC"
    if zone not in _zone_countries():
        return utc
    city = get_timezone_location(zone, locale=lang, return_city=True)
    return f"{city} ({country_name(_zone_countries()[zone], lang)}, {utc})"


def resolve_zone(text: str, lang: str) -> str:
    """A zone from its IANA name ("Europe/Lisbon", any case), a city in any of the bot's languages
    ("Москва"), a country, or an abbreviation ("MSK"). Where the text may mean several zones (EST,
    a country with several), :class:`FieldError` says so with them as options."""
    query = text.strip()
    if not query:
        raise FieldError("timezone.empty")
    if "/" in query:
        zone = _by_name().get(query.casefold().replace(" ", "_"))
        if zone is None:
            raise FieldError("timezone.unknown", {"text": echo(query)})
        return zone
    zones = list(ABBREVIATIONS.get(query.upper(), ()))
    if zones:
        # The same letters as a country's code (EST, PT): that country is one of the meanings.
        try:
            country = resolve_country(query, lang) if query.isascii() and len(query) in (2, 3) else None
        except FieldError:
            country = None
        zones += [z for z in _country_choices(country.code) if z not in zones] if country is not None else []
        if len(zones) == 1:
            return zones[0]
        raise FieldError("timezone.ambiguous", {"text": echo(query)}, zones)
    try:
        country = resolve_country(query, lang)
    except FieldError:
        country = None
    if country is not None:
        choices = _country_choices(country.code)
        if len(choices) == 1:
            return choices[0]
        if choices:
            raise FieldError("timezone.several", {"country": country_name(country.code, lang)}, choices)
    key = _key(query)
    zone = _cities().get(key) or _by_name().get(query.casefold().replace(" ", "_"))
    if zone is not None:
        return zone
    # No place's name is anywhere near ECHO_CHARS long: no time spent looking for one like it.
    close = (
        process.extract(key, list(_cities()), scorer=fuzz.ratio, limit=10, score_cutoff=80)
        if len(key) <= ECHO_CHARS
        else []
    )
    options = list(dict.fromkeys(_cities()[match] for match, _, _ in close))[:MAX_SUGGESTIONS]
    raise FieldError("timezone.suggest" if options else "timezone.unknown", {"text": echo(query)}, options)


def _country_choices(code: str) -> list[str]:
    """The zone of a country; where it has several times, one zone for each (the same offsets in winter
    and in summer), at most MAX_CHOICES: a well-known one (of ABBREVIATIONS: Sydney rather than
    Broken Hill), else the first zone.tab lists."""
    zone = country_zone(code)
    if zone is not None:
        return [zone]
    year = datetime.now(UTC).year
    seasons = (datetime(year, 1, 15, tzinfo=UTC), datetime(year, 7, 15, tzinfo=UTC))
    known = list(dict.fromkeys(name for names in ABBREVIATIONS.values() for name in names))
    zones = [name for name in _country_zones().get(code, ()) if not name.startswith("Antarctica/")]
    by_offsets: dict[tuple[object, ...], str] = {}
    for name in sorted(zones, key=lambda name: known.index(name) if name in known else len(known)):
        by_offsets.setdefault(tuple(moment.astimezone(ZoneInfo(name)).utcoffset() for moment in seasons), name)
    return sorted(by_offsets.values(), key=zones.index)[:MAX_CHOICES]


# Buttons offered for a country with several times: Russia has eleven.
MAX_CHOICES = 12
