"""What never reaches a log: secrets, registered where they are read, and what people typed.

Secrets are registered where they are read (:func:`secret_env`, :func:`register_key`); the filter that
every handler the bot installs carries (:class:`RedactingFilter`) replaces each of them, and anything
shaped like a Telegram bot token, in the message, its arguments and any traceback. A failure is
logged with where it happened but without its message (:func:`without_message`), which may quote
what someone typed.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import traceback
import urllib.parse

REDACTED = "[redacted]"
# A Telegram bot token is "<bot id>:<35 characters>". The look-behind starts a match only where a
# run of digits starts, so the scan stays linear however many digits a line holds.
TELEGRAM_TOKEN = re.compile(r"(?<!\d)\d+:[A-Za-z0-9_-]{30,}")
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


def without_message(error: BaseException) -> str:
    """``error``'s type and traceback, without its message (which may quote what someone typed)."""
    frames = "".join(traceback.format_tb(error.__traceback__)).rstrip()
    return f"{type(error).__name__} (message withheld)\nTraceback (most recent call last):\n{frames}"
