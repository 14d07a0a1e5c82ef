"""``/healthz`` and ``/metrics`` over HTTP while the bot runs (``metrics.enabled``).

``/healthz`` answers 200 "ok" when every adapter is connected and the store answers, and 503 with
one reason per line otherwise: for a supervisor, a load balancer or an uptime check. ``/metrics`` is
the Prometheus text format (``bot.core.metrics``). Served by aiohttp (the metrics extra), on the loopback
address unless configured otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Sequence

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.core.app import Core
from bot.core.config import MetricsConfig
from bot.port.platform import Adapter, Monitored
from bot.storage.database import StoreError
from bot.web.listening import listen, runner

log = logging.getLogger(__name__)

# A store that takes longer than this to answer one trivial query is not healthy.
STORE_TIMEOUT = 5.0


class Monitoring:
    def __init__(self, core: Core, adapters: Sequence[Adapter], settings: MetricsConfig) -> None:
        self.core = core
        self.adapters = list(adapters)
        self.settings = settings
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = runner(app)

    async def start(self) -> None:
        """Listen; an OSError (the port is taken) is the caller's to report."""
        await listen(self._runner, self.settings.listen, self.settings.port)
        log.info("health and metrics on http://%s:%d/healthz and /metrics", self.settings.listen, self.settings.port)

    async def close(self) -> None:
        await self._runner.cleanup()

    async def problems(self) -> list[str]:
        """Why the bot is not healthy, one reason each; empty when it is."""
        problems = [why for adapter in self.adapters if isinstance(adapter, Monitored) and (why := adapter.health())]
        try:
            await asyncio.wait_for(self.core.store.row("SELECT 1"), STORE_TIMEOUT)
        except TimeoutError:
            problems.append(f"store: no answer within {STORE_TIMEOUT:g} s")
        except (sqlite3.Error, StoreError, ValueError) as exc:
            problems.append(f"store: {type(exc).__name__}")
        return problems

    async def _healthz(self, request: web.Request) -> web.Response:
        problems = await self.problems()
        if problems:
            return web.Response(status=503, text="\n".join(problems) + "\n")
        return web.Response(text="ok\n")

    async def _metrics(self, request: web.Request) -> web.Response:
        core = self.core
        try:
            await core.metrics.refresh(core.pledges, core.signatures, core.content.campaigns, core.clock())
        except (sqlite3.Error, StoreError, ValueError) as exc:
            return web.Response(status=503, text=f"store: {type(exc).__name__}\n")
        return web.Response(body=core.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})
