"""A petition's signatures, decrypted, as CSV or JSON for its organisers: written owner-only, whole
or not at all, each cell safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from bot.campaigns.forms import country_name
from bot.campaigns.petitions import Signature, Signatures
from bot.content.model import Petition
from bot.privacy.files import ExportError, write_private

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


async def export_signatures(
    records: Signatures, petitions: Mapping[str, Petition], petition_id: str, fmt: str, out: Path | None, *, force: bool
) -> int:
    if petition_id not in petitions:
        known = ", ".join(petitions) or "none"
        raise ExportError(f"there is no petition {petition_id!r} (petitions: {known})")
    signatures = await records.signatures(petition_id)
    text = render_signatures(petition_id, signatures, fmt)
    if out is None:
        sys.stdout.write(text)
    else:
        write_private(out, text, force=force)
    return len(signatures)
