"""Another bot instance in a process of its own, for tests that SIGKILL it (``python tests/instance.py``).

    instance.py elect URL ROLE            win the election for ROLE, print "elected", then wait
    instance.py claim URL PLATFORM N SECS claim N due outbox rows with a lease of SECS, print "claimed N"

Either way it then waits until it is killed. The secret key comes from ADVOCACY_BOT_SECRET_KEY.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.delivery.outbox import Lease, Outbox
from bot.privacy.crypto import Keyring
from bot.privacy.secret_key import parse_key
from bot.storage.database import Store


async def main(command: str, url: str, *args: str) -> None:
    store = await Store.open(url)
    if command == "elect":
        async with store.elected(args[0]) as term:
            assert term is not None
            print("elected", flush=True)
            await asyncio.Event().wait()
    elif command == "claim":
        platform, count, seconds = args[0], int(args[1]), float(args[2])
        keyring = await Keyring.open(store, parse_key(os.environ["ADVOCACY_BOT_SECRET_KEY"]))
        lease = Lease(timedelta(seconds=seconds))
        claimed, _, _ = await Outbox(store, keyring).claim(platform, datetime.now(UTC), count, timedelta(0), lease)
        print(f"claimed {len(claimed)}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
