"""Organiser tools on the server: signature export, campaign figures, secret-key rotation."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from bot import content as content_pkg
from bot import crypto, stats
from bot.config import Config
from bot.content.model import Content
from bot.crypto import Keyring
from bot.forms import country_name
from bot.i18n import Locales
from bot.markup import plain
from bot.records import Records, Signature
from bot.secret_key import ENV_VAR, KEY_FILE, load_key, parse_key
from bot.store import Store

CSV_COLUMNS = (
    "petition",
    "signed_at",
    "name",
    "email",
    "country",
    "country_name",
    "consent_version",
    "wants_updates",
)
# A spreadsheet runs a cell that starts with one of these as a formula ("CSV injection": an e-mail
# address such as =cmd|'/C calc'!A1@example.org is valid). In CSV such a cell gets a leading
# apostrophe, which spreadsheets show as text; JSON keeps every value exact.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportError(Exception):
    pass


@asynccontextmanager
async def opened(config: Config) -> AsyncIterator[tuple[Records, Content]]:
    """The records of an existing database, decryptable with the configured key, and the content."""
    if not config.store_path.exists():
        raise ExportError(f"there is no database at {config.store_path} (check storage.path)")
    secret = load_key(config.data_dir, create=False)
    content = content_pkg.load(config.content_path)
    store = await Store.open(config.store_path)
    try:
        records = Records(store, await Keyring.open(store, secret))
        # The first tool run after an upgrade, before the bot itself, leaves no zone in clear either.
        await records.seal_timezones()
        yield records, content
    finally:
        await store.close()


def _row(signature: Signature) -> dict[str, str | int | bool | None]:
    signer = signature.signer
    return {
        "petition": signature.petition_id,
        "signed_at": signature.signed_at.date().isoformat(),
        "name": signer.name,
        "email": signer.email,
        "country": signer.country,
        "country_name": country_name(signer.country) if signer.country else None,
        "consent_version": signature.consent_version,
        "wants_updates": signature.wants_updates,
    }


def _cell(value: str | int | bool | None) -> str | int | bool:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def render_signatures(petition_id: str, signatures: list[Signature], fmt: str) -> str:
    rows = [_row(signature) for signature in signatures]
    if fmt == "json":
        document = {
            "petition": petition_id,
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "count": len(rows),
            "signatures": rows,
        }
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    return buffer.getvalue()


def write_private(path: Path, text: str, *, force: bool) -> None:
    """Write ``text`` to ``path`` readable by the owner only, whole or not at all."""
    if path.exists() and not force:
        raise ExportError(f"{path} already exists: choose another file, or add --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        if force:
            os.replace(temporary, path)
        else:
            # A hard link fails if the name appeared meanwhile: never overwrite without --force.
            try:
                os.link(temporary, path)
            except FileExistsError as exc:
                raise ExportError(f"{path} already exists: add --force to overwrite it") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


async def export_signatures(config: Config, petition_id: str, fmt: str, out: Path | None, *, force: bool) -> int:
    async with opened(config) as (records, content):
        if petition_id not in content.campaigns.petitions:
            known = ", ".join(content.campaigns.petitions) or "none"
            raise ExportError(f"there is no petition {petition_id!r} (petitions: {known})")
        signatures = await records.signatures(petition_id)
    text = render_signatures(petition_id, signatures, fmt)
    if out is None:
        sys.stdout.write(text)
    else:
        write_private(out, text, force=force)
    return len(signatures)


async def stats_text(config: Config) -> str:
    async with opened(config) as (records, content):
        locales = Locales(content.locales, config.default_language)
        today = datetime.now(UTC).date()
        return plain(await stats.report(records, content.campaigns, locales, config.default_language, today))


async def rotate_key(config: Config, new_value: str) -> str:
    """Re-wrap the working keys with a new secret key; returns what the operator must do next."""
    new_secret = parse_key(new_value)
    old_secret = load_key(config.data_dir, create=False)
    key_file = None if os.environ.get(ENV_VAR) else config.data_dir / KEY_FILE
    if key_file is not None:
        # Saved before the database changes: a crash in between must not leave a database that
        # only a key nobody kept can open.
        write_private(key_file.with_name(KEY_FILE + ".new"), new_secret.hex() + "\n", force=True)
    store = await Store.open(config.store_path)
    try:
        await Keyring.open(store, old_secret)
        await crypto.rotate(store, old_secret, new_secret)
    finally:
        await store.close()
    if key_file is None:
        return f"Rotated. Set {ENV_VAR} to the new key everywhere the bot runs, then restart it."
    os.replace(key_file.with_name(KEY_FILE + ".new"), key_file)
    return f"Rotated. The new key is in {key_file}; the old key no longer opens this database."
