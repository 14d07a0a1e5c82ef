"""The installation's secret key: from the environment, or a key file the console creates.

Nothing is encrypted with it directly: it wraps the store's working keys (see ``bot.privacy.crypto``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Callable
from pathlib import Path

from bot.port.redaction import register_key, register_secret
from bot.storage.database import private_folder

ENV_VAR = "ADVOCACY_BOT_SECRET_KEY"
# Only while rotating: the key that replaces the current one.
NEW_KEY_ENV = "ADVOCACY_BOT_NEW_SECRET_KEY"
KEY_FILE = "secret.key"
KEY_BYTES = 32


class SecretKeyError(Exception):
    pass


def parse_key(value: str) -> bytes:
    """A key given as 64 hex digits or as base64 (standard or URL-safe) of 32+ bytes."""
    value = value.strip()
    register_secret(value)
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        try:
            raw = base64.urlsafe_b64decode(value.replace("+", "-").replace("/", "_") + "=" * (-len(value) % 4))
        except (binascii.Error, ValueError):
            raw = b""
    if len(raw) < KEY_BYTES:
        raise SecretKeyError(
            f"{ENV_VAR} must be at least {KEY_BYTES} random bytes, written as hex or base64 "
            '(make one with: python3 -c "import secrets; print(secrets.token_hex(32))")'
        )
    register_key(raw)
    return raw


def load_key(data_dir: Path, *, create: bool, notice: Callable[[str], None] | None = None) -> bytes:
    """The key from the environment, else from the data directory (created there if allowed)."""
    value = os.environ.get(ENV_VAR)
    if value:
        return parse_key(value)
    path = data_dir / KEY_FILE
    if path.exists():
        return parse_key(path.read_text(encoding="ascii"))
    if not create:
        raise SecretKeyError(f"{ENV_VAR} is not set: this adapter refuses to start without a secret key")
    private_folder(data_dir)
    key = os.urandom(KEY_BYTES)
    register_key(key)
    # O_EXCL and mode 0600 at creation: the key is never readable by others, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.hex() + "\n")
    if notice is not None:
        notice(
            f"Created a new secret key in {path} (readable only by you). Keep a copy: without it the "
            f"stored data cannot be read. Set {ENV_VAR} to use your own."
        )
    return key


def derive(key: bytes, purpose: str) -> bytes:
    """A sub-key for one purpose, so that no two uses share key material."""
    return hmac.new(key, f"advocacy-bot/{purpose}".encode(), hashlib.sha256).digest()
