"""Schema migrations, applied in order at start-up. Append; never edit one that has shipped."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    # One statement each: sqlite3's executescript() would commit the migration's transaction.
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "users",
        (
            """
        CREATE TABLE users (
            -- HMAC of platform and platform user id: the platform id itself is never stored.
            id TEXT PRIMARY KEY,
            platform TEXT NOT NULL,
            -- The language the user chose with /language; NULL means "follow the platform".
            language TEXT,
            created_at TEXT NOT NULL
        )
        """,
        ),
    ),
)
