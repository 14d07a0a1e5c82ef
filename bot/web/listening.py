"""Serving an aiohttp application on an address, as the bot's HTTP servers do (the dashboard here,
/healthz and /metrics in bot.operations.monitoring)."""

from __future__ import annotations

from aiohttp import web


def runner(app: web.Application) -> web.AppRunner:
    # No access log: a sign-in link's address holds its token, and who asked for what is nobody's business.
    return web.AppRunner(app, access_log=None, handle_signals=False)


async def listen(app_runner: web.AppRunner, host: str, port: int) -> None:
    """Listen on ``host:port``; an OSError (the port is taken) is the caller's to report."""
    await app_runner.setup()
    site = web.TCPSite(app_runner, host, port)
    try:
        await site.start()
    except BaseException:
        await app_runner.cleanup()
        raise
