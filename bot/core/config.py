"""Configuration: a YAML file (optional) validated into frozen dataclasses.

Every option is documented in ``config.example.yaml``. Secrets never live here: they come from
environment variables. An invalid file fails at start with the option's name and what is wrong.
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

from bot.content import BUNDLED_CONTENT, LANGUAGES
from bot.content.yamlio import ContentError, Node, load_yaml
from bot.core import registry
from bot.delivery.settings import DeliveryConfig, RemindersConfig
from bot.port.delivery import PlatformLimits
from bot.sync.settings import SyncConfig
from bot.sync.settings import problems as sync_problems

CONFIG_ENV = "ADVOCACY_BOT_CONFIG"
# The PostgreSQL URL with its credentials: from the environment only, never the file.
DATABASE_URL_ENV = "ADVOCACY_BOT_DATABASE_URL"


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class ContentConfig:
    # Folder of curated YAML; None means the bundled content.
    path: Path | None = None


@dataclass(frozen=True)
class StorageConfig:
    # SQLite file; None means advocacy-bot.sqlite3 in the per-user data directory.
    path: Path | None = None
    # A PostgreSQL server instead (several instances may share it): postgresql://host[:port]/database,
    # never with a password; the full URL with credentials may come from ADVOCACY_BOT_DATABASE_URL.
    url: str | None = None
    # Connections each instance opens to the server at most (one of them writes).
    pool_size: int = 10
    # With a server: the folder for the bot's own files (the secret key, the console's history); None:
    # the per-user data directory. With SQLite they live beside the database file.
    data_dir: Path | None = None


@dataclass(frozen=True)
class AnsweringConfig:
    # Probability (0-1) that the best entry is right, at or above which it is answered outright;
    # None: as calibrated on the content's tuning set (calibration.yaml, ``advocacy-bot kb calibrate``).
    answer_threshold: float | None = None
    # Probability at or above which the bot asks "Did you mean…" instead of falling back; None: calibrated.
    clarify_threshold: float | None = None


@dataclass(frozen=True)
class ConversationsConfig:
    # Minutes of silence after which a half-finished form (a petition sign-up) is forgotten.
    timeout_minutes: int = 30


@dataclass(frozen=True)
class LoggingConfig:
    # DEBUG, INFO, WARNING, ERROR or CRITICAL; None: WARNING when someone reads the terminal (the
    # console, organiser commands), INFO for a server run. -v and -vv on the command line win.
    level: str | None = None
    # "text", or "json": one JSON object per line (time, level, logger, event, platform).
    format: str = "text"


@dataclass(frozen=True)
class MetricsConfig:
    # Serve /healthz and /metrics (Prometheus) over HTTP while the bot runs; needs the metrics extra.
    enabled: bool = False
    # The loopback address by default: the figures are for this machine's monitoring, not the world's.
    listen: str = "127.0.0.1"
    port: int = 9877


@dataclass(frozen=True)
class WebConfig:
    # Serve the organisers' dashboard while the bot runs; needs the web extra.
    enabled: bool = False
    # The loopback address by default: put a TLS-terminating reverse proxy in front to reach it from elsewhere.
    listen: str = "127.0.0.1"
    port: int = 9878
    # The address organisers open (the proxy's, e.g. https://dashboard.example.org): sign-in links
    # start with it, and an https one makes the session cookie Secure. None: http://listen:port.
    public_url: str | None = None
    # A knowledge-base entry last reviewed longer ago than this is overdue on the dashboard.
    review_months: int = 12


@dataclass(frozen=True)
class Config:
    default_language: str = "en"
    # People allowed to use organiser features, as "platform:user_id".
    organisers: tuple[str, ...] = ()
    # ISO 3166 alpha-2 code of the country this deployment serves: its emergency number goes first.
    emergency_country: str | None = None
    content: ContentConfig = field(default_factory=ContentConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    answering: AnsweringConfig = field(default_factory=AnsweringConfig)
    conversations: ConversationsConfig = field(default_factory=ConversationsConfig)
    delivery: DeliveryConfig = field(default_factory=DeliveryConfig)
    reminders: RemindersConfig = field(default_factory=RemindersConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    web: WebConfig = field(default_factory=WebConfig)
    # Each platform's section (console:, telegram:, ... in the file), by name: every platform the
    # registry knows has one, its defaults where the file says nothing.
    platforms: Mapping[str, Any] = field(default_factory=dict, metadata={"option": False})
    # The folder the configuration file was read from: relative paths in it are resolved there.
    base_dir: Path = field(default_factory=Path.cwd, compare=False, metadata={"option": False})
    # The configuration file itself (None: no file, the defaults), for telling people which it was.
    source: Path | None = field(default=None, compare=False, metadata={"option": False})

    def __post_init__(self) -> None:
        # Sections the file (or the caller) left out are the platforms' defaults.
        given, paces = dict(self.platforms), self.delivery.limits
        known = registry.platforms()
        object.__setattr__(self, "platforms", {name: given.get(name) or p.settings() for name, p in known.items()})
        limits = {name: paces.get(name) or p.limits for name, p in known.items()}
        object.__setattr__(self, "delivery", dataclasses.replace(self.delivery, limits=limits))

    def section(self, platform: str) -> Any:
        """The section of ``platform``: its settings dataclass."""
        return self.platforms[platform] if platform in self.platforms else registry.platform(platform).settings()

    def limits(self, platform: str) -> PlatformLimits:
        """The pace of deliveries to ``platform``: the configuration's, else the one the platform declares."""
        given = self.delivery.limits.get(platform)
        return given if given is not None else registry.platform(platform).limits

    def enabled(self) -> list[str]:
        """The platforms to run, in the registry's order."""
        return [name for name, platform in registry.platforms().items() if platform.enabled(self.section(name))]

    def with_section(self, platform: str, **changes: Any) -> Config:
        """This configuration with some options of one platform's section changed."""
        section = dataclasses.replace(self.section(platform), **changes)
        return dataclasses.replace(self, platforms={**self.platforms, platform: section})

    @property
    def data_dir(self) -> Path:
        if self.server_url is not None:
            return self.storage.data_dir or default_data_dir()
        return self.store_path.parent

    @property
    def server_url(self) -> str | None:
        """The PostgreSQL URL (credentials included, from the environment), or None for SQLite."""
        return os.environ.get(DATABASE_URL_ENV) or self.storage.url

    @property
    def database(self) -> Path | str:
        """What ``Store.open`` opens: the SQLite file, or the server's URL."""
        return self.server_url or self.store_path

    @property
    def store_path(self) -> Path:
        return self.storage.path or default_data_dir() / "advocacy-bot.sqlite3"

    @property
    def content_path(self) -> Path:
        return self.content.path or BUNDLED_CONTENT

    def is_organiser(self, platform: str, user_id: str) -> bool:
        return f"{platform}:{user_id}" in self.organisers


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("advocacy-bot", appauthor=False))


def _type_name(tp: Any) -> str:
    names = {
        bool: "true or false",
        str: "text",
        int: "a whole number",
        float: "a number",
        Path: "a file path",
    }
    if typing.get_origin(tp) in (types.UnionType, typing.Union):
        return " or ".join(_type_name(a) for a in typing.get_args(tp) if a is not type(None))
    if typing.get_origin(tp) is tuple:
        return "a list of text"
    return names.get(tp, getattr(tp, "__name__", str(tp)))


def _convert(value: Any, tp: Any, name: str, base: Path, line: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        if value is None:
            return None
        (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(value, inner, name, base, line)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, name, base, line)
    if origin is Mapping:
        # Named entries of one kind (sync.destinations): each checked like a section of its own.
        if not isinstance(value, dict):
            raise ConfigError(f"{line}{name}: expected a mapping of names to options, got {value!r}")
        _, kind = typing.get_args(tp)
        return {str(key): _convert(item, kind, f"{name}.{key}", base, line) for key, item in value.items()}
    if origin is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in value):
            raise ConfigError(f"{line}{name}: expected {_type_name(tp)}, got {value!r}")
        return tuple(str(v) for v in value)
    if tp is bool and isinstance(value, bool):
        return value
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is str and isinstance(value, str) and value.strip():
        return value.strip()
    if tp is Path and isinstance(value, str) and value.strip():
        path = Path(os.path.expanduser(value.strip()))
        return path if path.is_absolute() else base / path
    raise ConfigError(f"{line}{name}: expected {_type_name(tp)}, got {value!r}")


def _build(cls: Any, data: Any, prefix: str, base: Path, where: str) -> Any:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}{prefix or 'the file'}: expected a mapping of options, got {data!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.metadata.get("option", True)}
    # The platforms' sections: their settings at the top level, their pace under delivery.
    sections: dict[str, Any] = {}
    if cls in (Config, DeliveryConfig):
        sections = {
            name: platform.settings if cls is Config else PlatformLimits
            for name, platform in registry.platforms().items()
        }
    kwargs: dict[str, Any] = {}
    given: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        line = f"line {data.line_of(key)}: " if isinstance(data, Node) else ""
        if key in sections:
            given[key] = _build(sections[key], value, name, base, line)
        elif key not in known:
            raise ConfigError(f"{line}{name}: unknown option (known here: {', '.join(sorted(known | set(sections)))})")
        else:
            kwargs[key] = _convert(value, hints[key], name, base, line)
    if cls is Config:
        kwargs.update(base_dir=base, platforms=given)
    elif cls is DeliveryConfig:
        kwargs["limits"] = given
    return cls(**kwargs)


def _validate(config: Config) -> None:
    if config.default_language not in LANGUAGES:
        raise ConfigError(f"default_language: {config.default_language!r} is not one of {', '.join(LANGUAGES)}")
    names = registry.names()
    for organiser in config.organisers:
        platform, _, user = organiser.partition(":")
        if platform not in names or not user:
            raise ConfigError(
                f"organisers: {organiser!r} must be platform:user_id with platform one of {', '.join(names)}"
            )
    if config.emergency_country is not None and not re.fullmatch(r"[A-Z]{2}", config.emergency_country):
        raise ConfigError(f"emergency_country: {config.emergency_country!r} is not an ISO 3166 alpha-2 code")
    answering = config.answering
    thresholds = [t for t in (answering.clarify_threshold, answering.answer_threshold) if t is not None]
    if any(not 0 <= t <= 1 for t in thresholds) or thresholds != sorted(thresholds):
        raise ConfigError("answering: need 0 <= clarify_threshold <= answer_threshold <= 1")
    if not 1 <= config.conversations.timeout_minutes <= 24 * 60:
        raise ConfigError("conversations.timeout_minutes: must be between 1 and 1440")
    delivery = config.delivery
    if delivery.in_flight not in ("at-least-once", "at-most-once"):
        raise ConfigError(f"delivery.in_flight: {delivery.in_flight!r} is not at-least-once or at-most-once")
    if not 1 <= delivery.window <= 1000:
        raise ConfigError("delivery.window: must be between 1 and 1000")
    if not 1 <= delivery.lease_seconds <= 3600:
        raise ConfigError("delivery.lease_seconds: must be between 1 and 3600")
    if delivery.max_attempts < 1 or not 0 < delivery.retry_base_seconds <= delivery.retry_max_seconds:
        raise ConfigError("delivery: need max_attempts >= 1 and 0 < retry_base_seconds <= retry_max_seconds")
    for platform in names:
        limits = config.limits(platform)
        rates = (limits.per_second, limits.per_chat_per_second, limits.per_group_per_minute)
        if any(rate is not None and rate <= 0 for rate in rates):
            raise ConfigError(f"delivery.{platform}: every limit must be above 0")
    if not 0 <= config.reminders.hour <= 23 or config.reminders.grace_hours < 0:
        raise ConfigError("reminders: hour must be 0-23 and grace_hours at least 0")
    try:
        ZoneInfo(config.reminders.default_timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"reminders.default_timezone: {config.reminders.default_timezone!r} is not a time zone name"
        ) from exc
    level = config.logging.level
    if level is not None and level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigError(f"logging.level: {level!r} is not DEBUG, INFO, WARNING, ERROR or CRITICAL")
    if config.logging.format not in ("text", "json"):
        raise ConfigError(f"logging.format: {config.logging.format!r} is not text or json")
    _validate_storage(config.storage)
    if not 1 <= config.metrics.port <= 65535:
        raise ConfigError("metrics.port: must be between 1 and 65535")
    for problem in sync_problems(config.sync):
        raise ConfigError(problem)
    web = config.web
    if not 1 <= web.port <= 65535:
        raise ConfigError("web.port: must be between 1 and 65535")
    if web.public_url is not None and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", web.public_url):
        raise ConfigError(f"web.public_url: {web.public_url!r} is not an http:// or https:// address")
    if not 1 <= web.review_months <= 120:
        raise ConfigError("web.review_months: must be between 1 and 120")
    for name, declared in registry.platforms().items():
        for problem in declared.validate(config.section(name)):
            raise ConfigError(f"{name}.{problem}")


def _validate_storage(storage: StorageConfig) -> None:
    url = os.environ.get(DATABASE_URL_ENV) or storage.url
    if url is None:
        if storage.data_dir is not None:
            raise ConfigError("storage.data_dir: only with storage.url (with SQLite, files live beside storage.path)")
        return
    where = f"${DATABASE_URL_ENV}" if os.environ.get(DATABASE_URL_ENV) else "storage.url"
    if not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"{where}: must be a postgresql:// URL")
    if storage.path is not None:
        raise ConfigError("storage: path (SQLite) and url (PostgreSQL) cannot both be set")
    if storage.url is not None and urlsplit(storage.url).password is not None:
        raise ConfigError(
            f"storage.url: holds a password; keep credentials out of the file: set {DATABASE_URL_ENV} "
            "to the whole URL, or use PGPASSWORD or ~/.pgpass"
        )
    if not 2 <= storage.pool_size <= 1000:
        raise ConfigError("storage.pool_size: must be between 2 and 1000")


def from_mapping(data: Any, base: Path | None = None, where: str = "") -> Config:
    config: Config = _build(Config, data, "", base or Path.cwd(), where)
    _validate(config)
    return config


def load_config(path: Path | None = None) -> Config:
    """The configuration from ``path``, else from $ADVOCACY_BOT_CONFIG, else the defaults."""
    if path is None and os.environ.get(CONFIG_ENV):
        path = Path(os.environ[CONFIG_ENV])
    if path is None:
        return from_mapping({})
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    try:
        data = load_yaml(path)
    except ContentError as exc:
        raise ConfigError(str(exc)) from exc
    try:
        config = from_mapping(data, path.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return dataclasses.replace(config, source=path.resolve())
