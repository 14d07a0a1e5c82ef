"""The features: each a class whose declared commands, buttons and forms join the core's router.

``FEATURES`` lists them in the order /help shows their commands; the core finds it through the
registry (the ``advocacy_bot.features`` entry point), so it never imports a feature itself.
"""

from __future__ import annotations

from bot.core.feature import Feature
from bot.core.router import Router
from bot.features.broadcasts import Broadcasts
from bot.features.general import General
from bot.features.knowledge import Knowledge
from bot.features.organisers import Organisers
from bot.features.petitions import Petitions
from bot.features.pledges import Pledges
from bot.features.privacy import Privacy
from bot.features.subscriptions import Subscriptions

FEATURES: tuple[type[Feature], ...] = (
    General,
    Knowledge,
    Pledges,
    Petitions,
    Subscriptions,
    Privacy,
    Organisers,
    Broadcasts,
)


def build_router() -> Router:
    router = Router()
    for feature in FEATURES:
        feature(router)
    return router
