"""Where log lines go, at what level and in what form.

A console session or an organiser's command logs warnings only (``-v``: INFO, ``-vv``: DEBUG), so
that nothing comes between a question and its answer or into a command's output; a server run logs
INFO. Lines go to stderr: as text, or with ``logging.format: json`` as one JSON object per line
(time, level, logger, event, platform) for journald or a log shipper. No log call anywhere passes
message text or personal data.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The name of the handler configure_logging installs, so that it replaces its own and no other.
HANDLER_NAME = "advocacy-bot"
FORMATS = ("text", "json")
PLATFORMS = ("console", "telegram", "discord")


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
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: int, fmt: str = "text", stream: IO[str] | None = None) -> logging.Handler:
    """Our handler on the root logger (replacing the one installed before), writing to ``stream``
    (stderr); returns it."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
