"""Running adapters: one core and one store shared by every adapter, graceful shutdown on signals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Sequence

from bot.adapters import Adapter
from bot.config import Config
from bot.core import Core

log = logging.getLogger(__name__)


async def serve(
    config: Config,
    adapters: Sequence[Adapter],
    *,
    notice: Callable[[str], None] | None = None,
    create_key: bool = True,
) -> None:
    """Run ``adapters`` until SIGINT/SIGTERM, or until every one of them has finished."""
    core = await Core.open(config, notice=notice, create_key=create_key)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        async with asyncio.TaskGroup() as group:
            for adapter in adapters:
                group.create_task(adapter.run(core, stop), name=f"adapter:{adapter.name}")
            log.info("running adapters: %s", ", ".join(a.name for a in adapters))
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await core.close()
        log.info("stopped")
