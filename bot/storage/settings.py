"""Settings the platforms keep in the store, each under its own name and by scope (a Discord server's
choices, Telegram's over-long button actions), and the core's own notes (the heartbeat)."""

from __future__ import annotations

from bot.storage.database import Store, utcnow


class PlatformSettings:
    """One platform's settings (see :class:`bot.port.services.Settings`)."""

    def __init__(self, store: Store, platform: str) -> None:
        self.store = store
        self.platform = platform

    async def get(self, scope: str, name: str) -> str | None:
        row = await self.store.row(
            "SELECT value FROM adapter_settings WHERE platform = ? AND scope = ? AND name = ?",
            (self.platform, scope, name),
        )
        return str(row[0]) if row else None

    async def all(self, scope: str) -> dict[str, str]:
        rows = await self.store.rows(
            "SELECT name, value FROM adapter_settings WHERE platform = ? AND scope = ?", (self.platform, scope)
        )
        return {str(row[0]): str(row[1]) for row in rows}

    async def set(self, scope: str, name: str, value: str | None) -> None:
        """Store (or, with None, remove) one setting."""
        async with self.store.transaction() as db:
            if value is None:
                await db.execute(
                    "DELETE FROM adapter_settings WHERE platform = ? AND scope = ? AND name = ?",
                    (self.platform, scope, name),
                )
            else:
                await db.execute(
                    "INSERT INTO adapter_settings (platform, scope, name, value, updated_at) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT (platform, scope, name) DO UPDATE SET value = excluded.value,"
                    " updated_at = excluded.updated_at",
                    (self.platform, scope, name, value, utcnow()),
                )

    async def forget(self, scope: str) -> int:
        """Remove every setting of one place (the bot left a Discord server)."""
        async with self.store.transaction() as db:
            cursor = await db.execute(
                "DELETE FROM adapter_settings WHERE platform = ? AND scope = ?", (self.platform, scope)
            )
        return cursor.rowcount
