"""Command, button and free-text handlers, grouped by feature."""

from __future__ import annotations

from bot.handlers import broadcasts, general, knowledge, organisers, petitions, pledges, privacy, subscriptions
from bot.router import Router


def build_router() -> Router:
    router = Router()
    for module in (general, knowledge, pledges, petitions, subscriptions, privacy, organisers, broadcasts):
        module.register(router)
    return router
