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

import json
import logging
import sys
from datetime import UTC, datetime
from types import TracebackType
from typing import IO

from bot.core import registry
from bot.port.redaction import RedactingFilter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The name of the handler configure_logging installs, so that it replaces its own and no other.
HANDLER_NAME = "advocacy-bot"
FORMATS = ("text", "json")
# Libraries whose records below WARNING hold request URLs, message payloads or statements: these,
# and those each platform declares (its library and the HTTP clients it uses).
QUIET = ("aiosqlite", "asyncio")


def quiet() -> tuple[str, ...]:
    declared = (logger for platform in registry.platforms().values() for logger in platform.loggers)
    return tuple(sorted({*QUIET, *declared}))


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
    logger ("adapters.discord.delivery", "telegram.ext.Updater": a platform's library is named as it is)."""
    given = getattr(record, "platform", None)
    if isinstance(given, str):
        return given
    parts = record.name.split(".")
    name = parts[1] if parts[0] == "adapters" and len(parts) > 1 else parts[0]
    return name if name in registry.names() else None


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
    for name in quiet():
        logging.getLogger(name).setLevel(max(logging.WARNING, levelno))
    # Python's warnings, too, reach stderr through the handler and its filter.
    logging.captureWarnings(True)
    return handler


def log_uncaught(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    """``sys.excepthook``: an uncaught exception is logged (so redacted), not printed raw."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, trace)
        return
    logging.getLogger("bot").critical("uncaught exception", exc_info=(kind, error, trace))
