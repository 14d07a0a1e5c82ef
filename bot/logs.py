"""Where log lines go, at what level and in what form, and no secret in any line written.

A console session or an organiser's command logs warnings only (``-v``: INFO, ``-vv``: DEBUG), so
that nothing comes between a question and its answer or into a command's output; a server run logs
INFO. Lines go to stderr: as text, or with ``logging.format: json`` as one JSON object per line
(time, level, logger, event, platform) for journald or a log shipper. No log call anywhere passes
message text or personal data.

Secrets are registered where they are read (:func:`secret_env`, :func:`register_key`); the filter on
every handler the bot installs replaces each of them, and anything shaped like a Telegram bot token,
in the message, its arguments and any traceback. Redaction does not rely on libraries staying
quiet; still, the libraries that log request URLs (the Bot API puts the token in them), payloads
(people's messages) or SQL statements with their parameters are held at WARNING whatever the level.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import sys
import traceback
import urllib.parse
from datetime import UTC, datetime
from types import TracebackType
from typing import IO

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The name of the handler configure_logging installs, so that it replaces its own and no other.
HANDLER_NAME = "advocacy-bot"
FORMATS = ("text", "json")
PLATFORMS = ("console", "telegram", "discord")
REDACTED = "[redacted]"
# A Telegram bot token is "<bot id>:<35 characters>". The look-behind starts a match only where a
# run of digits starts, so the scan stays linear however many digits a line holds.
TELEGRAM_TOKEN = re.compile(r"(?<!\d)\d+:[A-Za-z0-9_-]{30,}")
# Libraries whose records below WARNING hold request URLs, message payloads or statements.
QUIET = (
    "aiohttp",
    "aiosqlite",
    "asyncio",
    "discord",
    "hpack",
    "httpcore",
    "httpx",
    "telegram",
    "tornado",
    "websockets",
)
# Shorter values are not secrets worth the name, and would blank out ordinary words.
MIN_SECRET = 8

_secrets: tuple[str, ...] = ()


def register_secret(value: str) -> None:
    """Never write ``value`` (nor its URL-encoded form) to a log from now on."""
    global _secrets
    value = value.strip()
    if len(value) < MIN_SECRET:
        return
    forms = {value, urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}
    # Longest first: a secret that contains another is replaced whole.
    _secrets = tuple(sorted(set(_secrets) | forms, key=len, reverse=True))


def register_key(raw: bytes) -> None:
    """Never log key material, in any of the ways bytes get written out."""
    register_secret(raw.hex())
    register_secret(base64.b64encode(raw).decode())
    register_secret(base64.urlsafe_b64encode(raw).decode())
    register_secret(repr(raw)[2:-1])


def secret_env(name: str) -> str:
    """The environment variable ``name`` (stripped, "" when unset), registered as a secret."""
    value = os.environ.get(name, "").strip()
    register_secret(value)
    return value


def redact(text: str) -> str:
    # Plain substring replacement, not a pattern built from the secrets: linear, nothing to escape.
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return TELEGRAM_TOKEN.sub(REDACTED, text)


class RedactingFilter(logging.Filter):
    """Renders a record's message and traceback, and writes them back without any secret."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not stop the line, nor leak its arguments unredacted
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info:
            # Rendered here, once: a formatter further on would render the unredacted one again.
            record.exc_text = self._formatter.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def level_for(configured: str | None, verbosity: int, *, quiet: bool) -> int:
    """``-v``/``-vv`` first, then ``logging.level``, then WARNING when ``quiet`` (someone is reading
    the terminal) and INFO otherwise."""
    if verbosity:
        return logging.DEBUG if verbosity > 1 else logging.INFO
    if configured:
        return logging.getLevelNamesMapping()[configured.upper()]
    return logging.WARNING if quiet else logging.INFO


def platform_of(record: logging.LogRecord) -> str | None:
    """The chat platform a record is about: given with ``extra={"platform": ...}``, else told by the
    logger ("adapters.discord_delivery", "telegram.ext.Updater")."""
    given = getattr(record, "platform", None)
    if isinstance(given, str):
        return given
    parts = record.name.split(".")
    name = parts[1].split("_")[0] if parts[0] == "adapters" and len(parts) > 1 else parts[0]
    return name if name in PLATFORMS else None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        platform = platform_of(record)
        if platform is not None:
            entry["platform"] = platform
        # The redacting filter has rendered any traceback already (exc_text), without its secrets.
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: int | str, fmt: str = "text", stream: IO[str] | None = None) -> logging.Handler:
    """Our handler on the root logger (replacing the one installed before), redacting, writing to
    ``stream`` (stderr) as text or JSON; returns it."""
    levelno = level if isinstance(level, int) else logging.getLevelNamesMapping()[level.upper()]
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(levelno)
    for name in QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, levelno))
    # Python's warnings, too, reach stderr through the handler and its filter.
    logging.captureWarnings(True)
    return handler


def without_message(error: BaseException) -> str:
    """``error``'s type and traceback, without its message (which may quote what someone typed)."""
    frames = "".join(traceback.format_tb(error.__traceback__)).rstrip()
    return f"{type(error).__name__} (message withheld)\nTraceback (most recent call last):\n{frames}"


def log_uncaught(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    """``sys.excepthook``: an uncaught exception is logged (so redacted), not printed raw."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, trace)
        return
    logging.getLogger("bot").critical("uncaught exception", exc_info=(kind, error, trace))
