"""The database of an installation, opened for a command run beside the bot (export, stats, broadcast)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot import content as content_pkg
from bot.campaigns.people import People
from bot.campaigns.petitions import Signatures
from bot.campaigns.pledges import Pledges
from bot.content.model import Content
from bot.core.config import Config
from bot.delivery.outbox import Outbox
from bot.privacy.crypto import Keyring
from bot.privacy.files import ExportError
from bot.privacy.secret_key import load_key
from bot.storage.database import Store


@dataclass(frozen=True)
class Opened:
    store: Store
    keyring: Keyring
    content: Content
    pledges: Pledges
    signatures: Signatures

    @property
    def outbox(self) -> Outbox:
        return Outbox(self.store, self.keyring)


@asynccontextmanager
async def opened(config: Config) -> AsyncIterator[Opened]:
    """The records of an existing database, decryptable with the configured key, and the content."""
    if config.server_url is None and not config.store_path.exists():
        raise ExportError(f"there is no database at {config.store_path} (check storage.path)")
    secret = load_key(config.data_dir, create=False)
    content = content_pkg.load(config.content_path)
    store = await Store.open(config.database, pool_size=config.storage.pool_size)
    try:
        keyring = await Keyring.open(store, secret)
        people = People(store, keyring)
        # The first tool run after an upgrade, before the bot itself, leaves no zone in clear either.
        await people.seal_timezones()
        yield Opened(store, keyring, content, Pledges(store, people), Signatures(store, keyring, people))
    finally:
        await store.close()
