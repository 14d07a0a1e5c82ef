"""Rotating the installation's secret key: the database's working keys re-wrapped, the data untouched."""

from __future__ import annotations

import os
from pathlib import Path

from bot.privacy import crypto
from bot.privacy.crypto import Keyring
from bot.privacy.files import write_private
from bot.privacy.secret_key import ENV_VAR, KEY_FILE, load_key, parse_key
from bot.storage.database import Store


async def rotate_key(data_dir: Path, database: Path | str, new_value: str) -> str:
    """Re-wrap the working keys with a new secret key; returns what the operator must do next."""
    new_secret = parse_key(new_value)
    old_secret = load_key(data_dir, create=False)
    key_file = None if os.environ.get(ENV_VAR) else data_dir / KEY_FILE
    if key_file is not None:
        # Saved before the database changes: a crash in between must not leave a database that
        # only a key nobody kept can open.
        write_private(key_file.with_name(KEY_FILE + ".new"), new_secret.hex() + "\n", force=True)
    store = await Store.open(database)
    try:
        await Keyring.open(store, old_secret)
        await crypto.rotate(store, old_secret, new_secret)
    finally:
        await store.close()
    if key_file is None:
        return f"Rotated. Set {ENV_VAR} to the new key everywhere the bot runs, then restart it."
    os.replace(key_file.with_name(KEY_FILE + ".new"), key_file)
    return f"Rotated. The new key is in {key_file}; the old key no longer opens this database."
