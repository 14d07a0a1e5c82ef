"""The features: each module adds its commands, buttons and forms to the core's router.

``FEATURES`` lists them in the order /help shows their commands; the core finds it through the
registry (the ``advocacy_bot.features`` entry point), so it never imports a feature itself.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.core.router import Router
from bot.features import broadcasts, general, knowledge, organisers, petitions, pledges, privacy, subscriptions

FEATURES: tuple[Callable[[Router], None], ...] = tuple(
    module.register
    for module in (general, knowledge, pledges, petitions, subscriptions, privacy, organisers, broadcasts)
)


def build_router() -> Router:
    router = Router()
    for register in FEATURES:
        register(router)
    return router
