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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs

from bot.content import BUNDLED_CONTENT, LANGUAGES
from bot.content.yamlio import ContentError, Node, load_yaml

CONFIG_ENV = "ADVOCACY_BOT_CONFIG"
PLATFORMS = ("console", "telegram", "discord")


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
class PlatformLimits:
    # Messages per second to different chats, all together.
    per_second: float
    # Messages per second to one chat; None: no limit of its own.
    per_chat_per_second: float | None = None
    # Messages per minute to one group chat; None: no limit of its own.
    per_group_per_minute: float | None = None


@dataclass(frozen=True)
class DeliveryConfig:
    # A message that was being sent when the process died (kill -9, power cut): "at-least-once"
    # sends it again on restart (that person may get it twice), "at-most-once" never does (it is
    # counted as failed, outcome unknown). Either way at most `window` messages per platform.
    in_flight: str = "at-least-once"
    # Messages handed to a platform at once, per platform: the most a crash can double (or lose).
    window: int = 25
    # Attempts at a message that keeps failing with a temporary error, before giving up.
    max_attempts: int = 5
    # Waits between attempts double from `retry_base_seconds` up to `retry_max_seconds`, with jitter.
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 600.0
    telegram: PlatformLimits = field(default_factory=lambda: PlatformLimits(25.0, 1.0, 20.0))
    discord: PlatformLimits = field(default_factory=lambda: PlatformLimits(40.0))
    console: PlatformLimits = field(default_factory=lambda: PlatformLimits(50.0))


@dataclass(frozen=True)
class RemindersConfig:
    # Local hour (0-23) at which action-day reminders are sent, in each subscriber's time zone.
    hour: int = 10
    # Reminders missed (bot down) by less than this are sent late; older ones are skipped and logged.
    grace_hours: float = 6.0
    # The time zone of subscribers who have not set one with /timezone (an IANA name).
    default_timezone: str = "UTC"


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
class ConsoleConfig:
    enabled: bool = True
    # Who the console user is, so that organiser features can be tried locally.
    user_id: str = "local"
    language: str | None = None


@dataclass(frozen=True)
class TelegramConfig:
    enabled: bool = False
    base_url: str = "https://api.telegram.org/bot"
    # "polling" (nothing to expose) or "webhook" (Telegram calls webhook_url; needs HTTPS in front).
    mode: str = "polling"
    # Webhook mode: the address and port the bot listens on, the path, and the public HTTPS URL
    # Telegram is told to call (null: none, which is only valid in polling mode). The secret that
    # every webhook request must carry comes from TELEGRAM_WEBHOOK_SECRET.
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_path: str = "telegram"
    webhook_url: str | None = None
    # Updates handled at the same time (one chat's are always handled in order). Each one mostly
    # waits for Telegram, so more helps when it is far; but every extra connection costs CPU in the
    # HTTP client (bench/telegram.py: 4 gives ~80-95% of a bare echo bot's throughput, 32 ~60%).
    concurrent_updates: int = 4


@dataclass(frozen=True)
class DiscordConfig:
    enabled: bool = False
    # Where discord.py connects (REST, then the gateway's websocket); changed only for a test server.
    api_base: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg/"
    # Server ids whose organiser role (/setup organisers) may use organiser commands; empty: every
    # server the bot is in (then only you should be able to add it: Public Bot off in the portal).
    organiser_servers: tuple[str, ...] = ()


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
    console: ConsoleConfig = field(default_factory=ConsoleConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    discord: DiscordConfig = field(default_factory=DiscordConfig)
    # The folder the configuration file was read from: relative paths in it are resolved there.
    base_dir: Path = field(default_factory=Path.cwd, compare=False)
    # The configuration file itself (None: no file, the defaults), for telling people which it was.
    source: Path | None = field(default=None, compare=False)

    @property
    def data_dir(self) -> Path:
        return self.store_path.parent

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
    known = {f.name for f in dataclasses.fields(cls) if f.name not in ("base_dir", "source")}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        line = f"line {data.line_of(key)}: " if isinstance(data, Node) else ""
        if key not in known:
            raise ConfigError(f"{line}{name}: unknown option (known here: {', '.join(sorted(known))})")
        kwargs[key] = _convert(value, hints[key], name, base, line)
    if cls is Config:
        kwargs["base_dir"] = base
    return cls(**kwargs)


def _validate(config: Config) -> None:
    if config.default_language not in LANGUAGES:
        raise ConfigError(f"default_language: {config.default_language!r} is not one of {', '.join(LANGUAGES)}")
    if config.console.language is not None and config.console.language not in LANGUAGES:
        raise ConfigError(f"console.language: {config.console.language!r} is not one of {', '.join(LANGUAGES)}")
    for organiser in config.organisers:
        platform, _, user = organiser.partition(":")
        if platform not in PLATFORMS or not user:
            raise ConfigError(
                f"organisers: {organiser!r} must be platform:user_id with platform one of {', '.join(PLATFORMS)}"
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
    if delivery.max_attempts < 1 or not 0 < delivery.retry_base_seconds <= delivery.retry_max_seconds:
        raise ConfigError("delivery: need max_attempts >= 1 and 0 < retry_base_seconds <= retry_max_seconds")
    for platform in ("telegram", "discord", "console"):
        limits: PlatformLimits = getattr(delivery, platform)
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
    telegram = config.telegram
    if telegram.mode not in ("polling", "webhook"):
        raise ConfigError(f"telegram.mode: {telegram.mode!r} is not polling or webhook")
    if telegram.mode == "webhook" and not (telegram.webhook_url or "").startswith("https://"):
        raise ConfigError("telegram.webhook_url: webhook mode needs the public https:// address Telegram will call")
    if not 1 <= telegram.concurrent_updates <= 512:
        raise ConfigError("telegram.concurrent_updates: must be between 1 and 512")
    if not 1 <= telegram.webhook_port <= 65535:
        raise ConfigError("telegram.webhook_port: must be between 1 and 65535")
    if not 1 <= config.metrics.port <= 65535:
        raise ConfigError("metrics.port: must be between 1 and 65535")
    for name in ("telegram.base_url", "discord.api_base", "discord.gateway_url"):
        section, option = name.split(".")
        url = getattr(getattr(config, section), option)
        if url is not None and not re.match(r"^(https?|wss?)://\S+$", url):
            raise ConfigError(f"{name}: {url!r} is not an http(s) or ws(s) address")


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
