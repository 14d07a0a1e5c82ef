"""A bot process that only does the CRM sync, for the kill -9 test: ``python sync_worker.py CONFIG``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.core.app import Core
from bot.core.config import load_config
from bot.operations.serving import crm_sync


async def main(path: Path) -> None:
    core = await Core.open(load_config(path), create_key=False)
    try:
        await crm_sync(core, {}).run(asyncio.Event())
    finally:
        await core.close()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
