"""Field encryption and the keyring."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.privacy import crypto
from bot.privacy.crypto import DecryptionError, FieldCipher, Keyring
from bot.privacy.secret_key import SecretKeyError, derive
from bot.storage.database import Store

SECRET = bytes(range(32))


def test_a_field_round_trips_and_each_encryption_differs() -> None:
    cipher = FieldCipher(bytes(32))
    first = cipher.encrypt("Олена", "signatures.name")
    second = cipher.encrypt("Олена", "signatures.name")
    assert first != second  # a fresh nonce each time: equal names do not look equal
    assert cipher.decrypt(first, "signatures.name") == cipher.decrypt(second, "signatures.name") == "Олена"


def test_a_tampered_or_moved_value_does_not_decrypt() -> None:
    cipher = FieldCipher(bytes(32))
    sealed = cipher.encrypt("maria@example.org", "signatures.email")
    with pytest.raises(DecryptionError, match="altered or belongs elsewhere"):
        cipher.decrypt(sealed, "signatures.name")
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(DecryptionError):
        cipher.decrypt(flipped, "signatures.email")
    with pytest.raises(DecryptionError, match="not an encrypted value"):
        cipher.decrypt(b"plain text", "signatures.email")


async def test_the_keyring_is_created_once_and_reopened(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        first = await Keyring.open(store, SECRET)
        sealed = first.cipher.encrypt("x", "t.c")
        again = await Keyring.open(store, SECRET)
        assert again.cipher.decrypt(sealed, "t.c") == "x"
        assert again.user_id("telegram", "1") == first.user_id("telegram", "1")
        assert again.blind_index("email", "a@b.org") == first.blind_index("email", "a@b.org")
        # Ids made before the keyring existed (HMAC with the derived key) stay the same.
        assert first.user_id_key == derive(SECRET, "user-id/v1")
    finally:
        await store.close()


async def test_rotation_rewraps_and_the_old_secret_stops_working(tmp_path: Path) -> None:
    store = await Store.open(tmp_path / "bot.sqlite3")
    try:
        keys = await Keyring.open(store, SECRET)
        sealed = keys.cipher.encrypt("kept", "t.c")
        await crypto.rotate(store, SECRET, b"\x07" * 32)
        with pytest.raises(SecretKeyError):
            await Keyring.open(store, SECRET)
        rotated = await Keyring.open(store, b"\x07" * 32)
        assert rotated.cipher.decrypt(sealed, "t.c") == "kept"
        assert rotated.user_id("discord", "9") == keys.user_id("discord", "9")
    finally:
        await store.close()
