"""Encryption of personal fields, and the keyring that makes the secret key rotatable.

The store holds three random working keys, each wrapped (AES-GCM) with a key derived from the
installation's secret key: one encrypts personal fields, one keys the pseudonymous user ids, one
keys the blind indexes used to find duplicates (the same e-mail signing twice). A stolen database
file is useless without the secret key; rotating the secret key only re-wraps the three rows.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.port.redaction import register_key
from bot.privacy.secret_key import ENV_VAR, SecretKeyError, derive
from bot.storage.database import Store, utcnow

NONCE_BYTES = 12
# First byte of every encrypted field: the format, so that a later scheme can live beside this one.
FORMAT_V1 = b"\x01"
PURPOSES = ("fields", "user-ids", "index")


class DecryptionError(Exception):
    pass


class FieldCipher:
    """AES-256-GCM with a fresh random nonce per value, bound to where the value is stored."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def encrypt(self, value: str, context: str) -> bytes:
        # ``context`` (e.g. "signatures.name") is authenticated data: a value moved to another
        # column or table no longer decrypts, so ciphertexts cannot be swapped around.
        nonce = os.urandom(NONCE_BYTES)
        return FORMAT_V1 + nonce + self._aead.encrypt(nonce, value.encode(), context.encode())

    def decrypt(self, blob: bytes, context: str) -> str:
        if not blob.startswith(FORMAT_V1) or len(blob) < 1 + NONCE_BYTES + 16:
            raise DecryptionError(f"{context}: not an encrypted value this version can read")
        nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, sealed, context.encode()).decode()
        except InvalidTag as exc:
            raise DecryptionError(f"{context}: the value was altered or belongs elsewhere") from exc


@dataclass(frozen=True)
class Keyring:
    cipher: FieldCipher
    # Keys the HMAC of platform:user_id that the store knows people by.
    user_id_key: bytes
    _index_key: bytes

    def user_id(self, platform: str, platform_user_id: str) -> str:
        """The pseudonymous id of a platform account: platform ids are never stored."""
        return hmac.new(self.user_id_key, f"{platform}:{platform_user_id}".encode(), hashlib.sha256).hexdigest()

    def blind_index(self, kind: str, value: str) -> str:
        """A keyed hash of ``value`` for finding equal values without storing them."""
        return hmac.new(self._index_key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()

    @classmethod
    async def open(cls, store: Store, secret: bytes) -> Keyring:
        """The working keys of ``store``, created on first use, unwrapped with ``secret``."""
        wrapped = await _wrapped_keys(store)
        if not wrapped:
            fresh = {
                # Derived rather than random: ids made before the keyring existed stay valid.
                "user-ids": derive(secret, "user-id/v1"),
                "fields": os.urandom(32),
                "index": os.urandom(32),
            }
            async with store.transaction() as db:
                for purpose, key in fresh.items():
                    await db.execute(
                        "INSERT INTO keyring (purpose, wrapped, created_at) VALUES (?, ?, ?)",
                        (purpose, _wrap(secret, purpose, key), utcnow()),
                    )
            wrapped = await _wrapped_keys(store)
        keys = unwrap_keys(secret, wrapped)
        return cls(FieldCipher(keys["fields"]), keys["user-ids"], keys["index"])


def unwrap_keys(secret: bytes, wrapped: Mapping[str, bytes]) -> dict[str, bytes]:
    """The working keys, unwrapped with ``secret``; SecretKeyError if it is not the right key."""
    keys = {purpose: _unwrap(secret, purpose, blob) for purpose, blob in wrapped.items()}
    # Key material never reaches a log, however it would be written out.
    for key in (derive(secret, "keyring/v1"), *keys.values()):
        register_key(key)
    missing = set(PURPOSES) - set(keys)
    if missing:
        raise SecretKeyError(f"the database's keyring is missing {', '.join(sorted(missing))}")
    return keys


async def rotate(store: Store, old_secret: bytes, new_secret: bytes) -> None:
    """Re-wrap the working keys with ``new_secret``, in one transaction: the data stays as it is."""
    async with store.transaction() as db:
        rows = [(str(row[0]), bytes(row[1])) for row in await store.rows("SELECT purpose, wrapped FROM keyring")]
        if not rows:
            raise SecretKeyError("this database has no keyring yet: start the bot once before rotating")
        for purpose, blob in rows:
            key = _unwrap(old_secret, purpose, blob)
            await db.execute(
                "UPDATE keyring SET wrapped = ?, created_at = ? WHERE purpose = ?",
                (_wrap(new_secret, purpose, key), utcnow(), purpose),
            )


async def _wrapped_keys(store: Store) -> dict[str, bytes]:
    return {str(row[0]): bytes(row[1]) for row in await store.rows("SELECT purpose, wrapped FROM keyring")}


def _wrap(secret: bytes, purpose: str, key: bytes) -> bytes:
    return FieldCipher(derive(secret, "keyring/v1")).encrypt(key.hex(), f"keyring.{purpose}")


def _unwrap(secret: bytes, purpose: str, blob: bytes) -> bytes:
    try:
        return bytes.fromhex(FieldCipher(derive(secret, "keyring/v1")).decrypt(blob, f"keyring.{purpose}"))
    except DecryptionError as exc:
        raise SecretKeyError(
            f"the secret key ({ENV_VAR}, or secret.key in the data directory) is not the one this database "
            "was created with; if the key was rotated, use the new one"
        ) from exc
