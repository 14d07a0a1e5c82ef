"""Each feature on its own: a core whose router holds that feature alone, driven through the console.

A feature's buttons are made by its declared Actions and read back by the same declarations; these
tests press them by their data (as an old button further up a chat is pressed), so a feature's
actions are exercised as declared, with nothing else registered that could answer in its place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from testbot import TestBot

from bot.core.app import Services
from bot.core.config import Config
from bot.core.feature import Feature
from bot.core.router import Router
from bot.features import FEATURES
from bot.features.broadcasts import Broadcasts, Draft
from bot.features.general import General
from bot.features.knowledge import Knowledge
from bot.features.organisers import Organisers
from bot.features.petitions import Offer, Petitions, SignUp
from bot.features.pledges import Pledges
from bot.features.privacy import Privacy
from bot.features.subscriptions import Subscriptions
from bot.port.actions import CANCEL, DISMISS, HELP, KB, TOPICS, Action

PETITION = "un-decriminalise"
PLEDGE = "carry-naloxone"


@asynccontextmanager
async def alone(
    feature: type[Feature], config: Config, services: Services, user_id: str = "tester"
) -> AsyncIterator[tuple[TestBot, Router]]:
    router = Router()
    feature(router)
    async with TestBot.started(config, services, user_id=user_id, router=router) as bot:
        yield bot, router


# ---------------------------------------------------------------- actions


def test_an_action_builds_button_data_and_parses_it_back() -> None:
    pick = Petitions.PICK
    data = pick.build(PETITION, "email", 1)
    assert data == "sign-pick:un-decriminalise:email:1"
    assert pick.parse(data) == (PETITION, "email", "1")
    # Values left out are empty, and the last value takes the rest: a forged press is read, then refused.
    assert pick.parse("sign-pick:un-decriminalise") == (PETITION, "", "")
    assert pick.parse("sign-pick:a:b:c:d") == ("a", "b", "c:d")
    assert pick.parse("sign-skip:un-decriminalise:email") is None
    # No value: the action alone ("the list of pledges", "cancel").
    assert Pledges.SHOW.build() == "pledge:" and Pledges.SHOW.parse("pledge:") == ("",)
    assert CANCEL.build() == "cancel:" and CANCEL.parse("cancel:") == ()
    with pytest.raises(TypeError, match="carries 1 value"):
        Pledges.TAKE.build(PLEDGE, "extra")
    with pytest.raises(ValueError, match="lowercase letters and dashes"):
        Action("Bad:name", public=True)


def test_buttons_already_sent_to_people_keep_their_meaning() -> None:
    # The data of buttons sent by the version before actions were declared (still in people's chats).
    sent = {
        "sign-consent:un-decriminalise:1": (Petitions.AGREE, (PETITION, "1")),
        "sign-change:un-decriminalise:country": (Petitions.CHANGE, (PETITION, "country")),
        "updates:yes:un-decriminalise": (Petitions.UPDATES, ("yes", PETITION)),
        "pledge-take:carry-naloxone": (Pledges.TAKE, (PLEDGE,)),
        "pledge-withdraw:carry-naloxone": (Pledges.WITHDRAW, (PLEDGE,)),
        "timezone-set:America/Argentina/Buenos_Aires": (Subscriptions.SET_ZONE, ("America/Argentina/Buenos_Aires",)),
        "broadcast-platform:all": (Broadcasts.CHOOSE_PLATFORM, ("all",)),
        "broadcast-send:": (Broadcasts.SEND, ()),
        "forget:confirm": (Privacy.FORGET, ("confirm",)),
        "language:pt": (General.CHOOSE_LANGUAGE, ("pt",)),
        "topics:A": (TOPICS, ("A",)),
        "kb:naloxone": (KB, ("naloxone",)),
        "help:": (HELP, ()),
        "dismiss:": (DISMISS, ()),
    }
    for data, (action, values) in sent.items():
        assert action.parse(data) == values, data
        assert action.build(*values) == data


def test_every_feature_declares_its_actions_once_with_where_they_may_run() -> None:
    router = Router()
    for feature in FEATURES:
        feature(router)
    declared = {
        value.name: value for feature in FEATURES for value in vars(feature).values() if isinstance(value, Action)
    }
    shared = {action.name: action for action in (HELP, TOPICS, KB, DISMISS, CANCEL)}
    # Every action the router dispatches is declared on a feature or shared, and nothing else is.
    assert set(router.actions()) == set(declared) | set(shared)
    assert all(router.actions()[name] == action.handoff for name, action in {**declared, **shared}.items())


# ---------------------------------------------------------------- each feature alone


async def test_general_alone(config: Config, services: Services) -> None:
    async with alone(General, config, services) as (bot, router):
        assert list(router.commands) == ["start", "help", "language"]
        start = await bot.ask("/start")
        assert "[1] Topics" in start and "[2] Help" in start
        help_text = await bot.act(HELP.build())
        assert "/language" in help_text and "/sign" not in help_text
        assert "Idioma elegido: Español" in await bot.act(General.CHOOSE_LANGUAGE.build("es"))
        # A link may not change a setting without a tap; No keeps it.
        asked = await bot.ask("/start language-pt")
        assert "[1] Sí" in asked and "[2] No" in asked
        assert await bot.core.people.language(bot.core.keyring.user_id("console", "tester")) == "es"
        await bot.act(DISMISS.build())
        assert await bot.core.people.language(bot.core.keyring.user_id("console", "tester")) == "es"


async def test_knowledge_alone(config: Config, services: Services) -> None:
    async with alone(Knowledge, config, services) as (bot, router):
        assert list(router.commands) == ["ask", "helpline", "topics", "sources"]
        assert "Naloxone" in await bot.ask("what is naloxone")
        group = await bot.act(TOPICS.build("A"))
        assert "[1]" in group and "Back" in group
        assert "Naloxone" in await bot.act(KB.build("naloxone"))
        assert "This button has expired" in await bot.act(KB.build("no-such-entry"))
        assert "Sources" in await bot.ask("/sources naloxone")


async def test_pledges_alone(config: Config, services: Services) -> None:
    async with alone(Pledges, config, services) as (bot, router):
        assert list(router.commands) == ["pledge", "pledges"]
        assert "I will carry naloxone (0)" in await bot.act(Pledges.SHOW.build())
        shown = await bot.act(Pledges.SHOW.build(PLEDGE))
        assert "Do you take this pledge?" in shown
        assert "Thank you! You pledged: I will carry naloxone." in await bot.act(Pledges.TAKE.build(PLEDGE))
        assert await bot.core.pledges.pledge_counts() == {PLEDGE: 1}
        assert "You withdrew" in await bot.act(Pledges.WITHDRAW.build(PLEDGE))
        assert await bot.core.pledges.pledge_counts() == {}
        assert "This button has expired" in await bot.act(Pledges.TAKE.build("no-such-pledge"))


async def test_petitions_alone(config: Config, services: Services) -> None:
    async with alone(Petitions, config, services) as (bot, router):
        assert list(router.commands) == ["sign", "cancel"]
        await bot.act(Petitions.SIGN.build(PETITION))
        await bot.ask("Maria López")
        # A likely slip is offered back; the offer is part of the typed state.
        suggested = await bot.ask("maria@gmial.com")
        assert "maria@gmail.com" in suggested
        user = bot.core.keyring.user_id("console", "tester")
        conversation = await bot.core.conversations.conversation(user)
        assert conversation is not None
        signup = SignUp.stored(conversation.state)
        assert signup == SignUp(
            PETITION,
            "email",
            {"name": "Maria López"},
            offer=Offer("email", ("maria@gmail.com", "maria@gmial.com"), "form.email.suggest", signup.offer.params),  # type: ignore[union-attr]
        )
        assert SignUp.stored(signup.state()) == signup
        await bot.act(Petitions.PICK.build(PETITION, "email", 0))
        review = await bot.ask("Portugal")
        assert "E-mail: maria@gmail.com" in review
        # Changed from the review, a field goes back to the review.
        await bot.act(Petitions.CHANGE.build(PETITION, "country"))
        assert "Country: Brazil" in await bot.ask("Brazil")
        # A consent text of another version is shown again, not signed.
        assert "Please check before you sign" in await bot.act(Petitions.AGREE.build(PETITION, 99))
        assert "Thank you, Maria López!" in await bot.act(Petitions.AGREE.build(PETITION, 1))
        assert "you'll receive petition updates" in await bot.act(Petitions.UPDATES.build("yes", PETITION))
        assert await bot.core.signatures.signature_count(PETITION) == 1
        assert "nothing to cancel" in (await bot.act(CANCEL.build())).lower()


async def test_subscriptions_alone(config: Config, services: Services) -> None:
    async with alone(Subscriptions, config, services) as (bot, router):
        assert list(router.commands) == ["subscribe", "unsubscribe", "timezone", "days"]
        assert "Subscribed: campaign news." in await bot.act(Subscriptions.SUBSCRIBE.build("news"))
        assert "Time zone set: Europe/Lisbon." in await bot.act(Subscriptions.SET_ZONE.build("Europe/Lisbon"))
        assert "This button has expired" in await bot.act(Subscriptions.SET_ZONE.build("Mars/Olympus"))
        # STOP is the feature's keyword: it unsubscribes from everything.
        await bot.ask("STOP")
        assert await bot.core.subscriptions.topics_of(bot.core.keyring.user_id("console", "tester")) == []
        assert "You are not subscribed to anything." in await bot.act(Subscriptions.UNSUBSCRIBE.build("all"))


async def test_privacy_alone(config: Config, services: Services) -> None:
    async with alone(Privacy, config, services) as (bot, router):
        assert list(router.commands) == ["mydata", "forget"]
        assert "I store nothing about you" in await bot.ask("/mydata")
        await bot.ask("/forget")
        assert "nothing was erased" in await bot.act(Privacy.FORGET.build("keep"))
        assert "pledges: 0, signatures: 0, subscriptions: 0" in await bot.act(Privacy.FORGET.build("confirm"))


async def test_organisers_alone(config: Config, services: Services) -> None:
    boss = dataclasses.replace(config, organisers=("console:boss",))
    async with alone(Organisers, boss, services, user_id="boss") as (bot, router):
        assert list(router.commands) == ["stats", "export"]
        assert "advocacy-bot export signatures --petition un-decriminalise" in await bot.ask("/export")
        assert "Pledges" in await bot.ask("/stats")


async def test_broadcasts_alone(config: Config, services: Services) -> None:
    boss = dataclasses.replace(config, organisers=("console:boss",))
    async with alone(Broadcasts, boss, services, user_id="boss") as (bot, router):
        assert list(router.commands) == ["broadcast"]
        await bot.ask("/broadcast")
        await bot.ask("Hello")
        await bot.act(Broadcasts.CHOOSE_TOPIC.build("news"))
        # A stale step's button does nothing.
        assert "This button has expired" in await bot.act(Broadcasts.CHOOSE_PLATFORM.build("all"))
        platforms = await bot.act(Broadcasts.CHOOSE_LANGUAGE.build("pt"))
        # Those serving people over a network first, in the order the platforms declare.
        assert "[1] Every platform\n  [2] Telegram\n  [3] Discord\n  [4] Console\n  [5] Cancel" in platforms
        user = bot.core.keyring.user_id("console", "boss")
        conversation = await bot.core.conversations.conversation(user)
        assert conversation is not None
        draft = Draft.stored(conversation.state)
        assert draft == Draft("platform", "Hello", "news", "pt")
        assert Draft.stored(draft.state()) == draft
        preview = await bot.act(Broadcasts.CHOOSE_PLATFORM.build("all"))
        assert "Preview" in preview
        assert "Broadcast #1 is on its way to 0 subscribers." in await bot.act(Broadcasts.SEND.build())
        assert await bot.core.conversations.conversation(user) is None
