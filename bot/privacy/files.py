"""Files that hold personal data or keys (exports, a new secret key): owner-only, whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


class ExportError(Exception):
    pass


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
