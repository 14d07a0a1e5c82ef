"""What the CRM sync tests share: a configuration with destinations, content whose petition and
pledge name them, a sign-up through the bot, and an engine on a test bot's core."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence

from testbot import TestBot

from bot.content.model import CrmSync
from bot.core.app import Services
from bot.core.config import Config
from bot.sync.destinations import client
from bot.sync.engine import SyncEngine
from bot.sync.outbox import Notice
from bot.sync.settings import ACTION_NETWORK, WEBHOOK, Destination, SyncConfig

PETITION = "un-decriminalise"
PLEDGE = "carry-naloxone"
AN_TOKEN_ENV = "TEST_AN_TOKEN"
WEBHOOK_SECRET_ENV = "TEST_WEBHOOK_SECRET"
AN_TOKEN = "an-test-token"
WEBHOOK_SECRET = "webhook-test-secret"


def sync_config(
    config: Config, *, an: str | None = None, hook: str | None = None, per_second: float = 4.0, window: int = 8
) -> Config:
    destinations: dict[str, Destination] = {}
    if an is not None:
        destinations["an"] = Destination(
            kind=ACTION_NETWORK,
            organisation="Harm Reduction Now",
            base_url=an,
            secret_env=AN_TOKEN_ENV,
            tags=("advocacy-bot", "petition"),
            per_second=per_second,
        )
    if hook is not None:
        destinations["hook"] = Destination(
            kind=WEBHOOK, organisation="Drug Policy Network", url=hook, secret_env=WEBHOOK_SECRET_ENV, per_second=4.0
        )
    settings = SyncConfig(
        retry_base_seconds=0.05, retry_max_seconds=0.2, lease_seconds=1.0, window=window, destinations=destinations
    )
    return dataclasses.replace(config, sync=settings)


def sync_services(services: Services, destination: str, *, pledge: str | None = None) -> Services:
    """The bundled content with its petition synced to ``destination`` (and a pledge to ``pledge``)."""
    campaigns = services.content.campaigns
    petition = dataclasses.replace(campaigns.petitions[PETITION], sync=CrmSync(destination, "an-petition-1"))
    pledges = dict(campaigns.pledges)
    if pledge is not None:
        pledges[PLEDGE] = dataclasses.replace(pledges[PLEDGE], sync=CrmSync(pledge))
    campaigns = dataclasses.replace(campaigns, petitions={PETITION: petition}, pledges=pledges)
    return dataclasses.replace(services, content=dataclasses.replace(services.content, campaigns=campaigns))


async def sign_up(bot: TestBot, name: str = "Maria López", email: str = "maria@example.org") -> str:
    """Sign the petition through the bot; every reply to "I agree"."""
    await bot.ask(f"/sign {PETITION}")
    await bot.ask(name)
    await bot.ask(email)
    await bot.ask("Portugal")
    return await bot.press("I agree")


async def sign_up_and_share(bot: TestBot) -> None:
    """Sign the petition and say yes to sharing it with the destination."""
    await sign_up(bot)
    await bot.press("Yes, share")


class Reports:
    """An organisers' report that records what it was told."""

    def __init__(self) -> None:
        self.notices: list[Notice] = []

    async def __call__(self, notices: Sequence[Notice]) -> bool:
        self.notices.extend(notices)
        return True


# Engines made by engine_for, closed after each test (their HTTP sessions).
MADE: list[SyncEngine] = []


def engine_for(bot: TestBot, reports: Reports | None = None) -> SyncEngine:
    settings = bot.core.config.sync
    clients = {name: client(d, settings.timeout_seconds) for name, d in settings.destinations.items()}
    engine = SyncEngine(
        bot.core.store, bot.core.keyring, bot.core.clock, settings, clients, report=reports, rng=random.Random(0)
    )
    MADE.append(engine)
    return engine


async def close_engines() -> None:
    while MADE:
        await MADE.pop().close()
