"""Running adapters: one core and one store shared by every adapter, graceful shutdown on signals.

Beside the adapters run a delivery engine per platform, the scheduler, a heartbeat (so that the
organisers' commands know a bot is running) and, with ``metrics.enabled``, /healthz and /metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from bot.core.app import Core
from bot.core.config import Config
from bot.delivery import Engine, Scheduler
from bot.operations import heartbeat
from bot.port.platform import Adapter, AdapterError, DeliveringAdapter

if TYPE_CHECKING:
    from bot.operations.monitoring import Monitoring
    from bot.sync.engine import SyncEngine
    from bot.web.server import Dashboard

log = logging.getLogger(__name__)


class StartError(Exception):
    """Something beside the adapters could not start (the metrics server, the dashboard)."""


async def start_monitoring(core: Core, adapters: Sequence[Adapter]) -> Monitoring:
    settings = core.config.metrics
    try:
        from bot.operations.monitoring import Monitoring
    except ImportError as exc:
        raise StartError(
            f"metrics.enabled needs the metrics extra ({exc}): pip install 'advocacy-bot[metrics]'"
        ) from exc
    monitoring = Monitoring(core, adapters, settings)
    try:
        await monitoring.start()
    except OSError as exc:
        raise StartError(f"cannot serve /healthz and /metrics on {settings.listen}:{settings.port}: {exc}") from exc
    return monitoring


def crm_sync(core: Core, engines: Mapping[str, Engine]) -> SyncEngine:
    """The CRM sync engine, reporting to organisers through the delivery engines."""
    from bot.sync.destinations import client
    from bot.sync.engine import SyncEngine
    from bot.sync.report import organiser_report

    settings = core.config.sync
    clients = {name: client(d, settings.timeout_seconds) for name, d in settings.destinations.items()}
    report = organiser_report(core.locales, core.default_language, core.config.organisers, engines)
    return SyncEngine(core.store, core.keyring, core.clock, settings, clients, report=report)


async def start_dashboard(core: Core) -> Dashboard:
    settings = core.config.web
    try:
        from bot.web.server import Dashboard
    except ImportError as exc:
        raise StartError(f"web.enabled needs the web extra ({exc}): pip install 'advocacy-bot[web]'") from exc
    dashboard = Dashboard(core)
    try:
        await dashboard.start()
    except OSError as exc:
        raise StartError(f"cannot serve the dashboard on {settings.listen}:{settings.port}: {exc}") from exc
    return dashboard


async def serve(
    config: Config,
    adapters: Sequence[Adapter],
    *,
    notice: Callable[[str], None] | None = None,
    create_key: bool = True,
) -> None:
    """Run ``adapters`` until SIGINT/SIGTERM, or until every one of them has finished."""
    core = await Core.open(config, notice=notice, create_key=create_key)
    monitoring = dashboard = None
    try:
        monitoring = await start_monitoring(core, adapters) if config.metrics.enabled else None
        dashboard = await start_dashboard(core) if config.web.enabled else None
    except BaseException:
        if monitoring is not None:
            await monitoring.close()
        await core.close()
        raise
    # The content and its indexes live as long as the process: moved out of the collector's way,
    # they are not scanned again at every collection (about a tenth more updates per second).
    gc.collect()
    gc.freeze()
    engines = {
        adapter.name: Engine(core, adapter.sender()) for adapter in adapters if isinstance(adapter, DeliveringAdapter)
    }
    scheduler = Scheduler(core, engines)
    for engine in engines.values():
        engine.after_batch = scheduler.wake.set

    def wake() -> None:
        for engine in engines.values():
            engine.wake.set()

    core.wake_delivery = wake
    syncing = crm_sync(core, engines) if config.sync.destinations else None
    if syncing is not None:
        core.wake_sync = syncing.wake.set
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    failures: list[AdapterError] = []

    async def run(adapter: Adapter) -> None:
        try:
            await adapter.run(core, stop)
        except AdapterError as exc:
            # An adapter that cannot go on (a rejected token, another instance polling) stops the
            # others cleanly and is reported, rather than tearing everything down with a traceback.
            failures.append(exc)
            stop.set()

    try:
        async with asyncio.TaskGroup() as group:
            running = [group.create_task(run(a), name=f"adapter:{a.name}") for a in adapters]
            for engine in engines.values():
                group.create_task(engine.run(stop), name=f"delivery:{engine.platform}")
            group.create_task(scheduler.run(stop), name="scheduler")
            if engines:
                group.create_task(heartbeat.beat(core.store, list(engines), core.clock, stop), name="heartbeat")
            group.create_task(core.keep_tidy(stop), name="housekeeping")
            if syncing is not None:
                group.create_task(syncing.run(stop), name="crm-sync")
            log.info("running adapters: %s", ", ".join(a.name for a in adapters))
            # Delivery serves the adapters: when every adapter has finished (the console's input
            # ended), everything stops.
            await asyncio.wait(running)
            stop.set()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        if monitoring is not None:
            await monitoring.close()
        if dashboard is not None:
            await dashboard.close()
        await core.close()
        log.info("stopped")
    if failures:
        raise failures[0]
