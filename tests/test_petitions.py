"""The petition sign-up conversation through the console adapter, step by step."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any, TypedDict, Unpack

import pytest
from testbot import TestBot

from bot.core.app import Services
from bot.core.config import Config
from bot.port.clock import ManualClock
from bot.port.events import Chat, ChatKind, Command, Event, User
from bot.port.markup import plain

PETITION = "un-decriminalise"


@pytest.fixture
def clock(bot: TestBot) -> ManualClock:
    clock = ManualClock()
    bot.core.clock = clock
    return clock


async def sign(
    bot: TestBot, name: str = "Maria López", email: str | None = "maria@example.org", country: str = "PT"
) -> str:
    """Sign the bundled petition; returns the confirmation."""
    await bot.ask("/sign")
    await bot.ask(name)
    if email is None:
        await bot.press("Skip")
    else:
        await bot.ask(email)
    await bot.ask(country)
    return await bot.press("I agree")


async def form_state(bot: TestBot) -> dict[str, Any]:
    """What the tester's form under way holds."""
    conversation = await bot.core.conversations.conversation(bot.core.keyring.user_id("console", "tester"))
    assert conversation is not None
    return conversation.state


async def test_sign_shows_the_petition_privacy_notice_and_first_question(bot: TestBot) -> None:
    text = await bot.ask("/sign")
    assert "Decriminalise personal drug possession worldwide" in text
    assert "To: The UN Secretary-General and the UN Member States" in text
    assert "0 of 15,000 — 0%" in text
    assert "Privacy: your name, e-mail and country are encrypted" in text
    assert text.rstrip().endswith("What name should appear on the petition? (1 to 100 characters)\n  [1] Cancel")


async def test_full_sign_up_asks_each_field_then_consent_then_confirms(bot: TestBot) -> None:
    await bot.ask("/sign un-decriminalise")
    assert "e-mail address? It is optional" in await bot.ask("Maria López")
    assert "Which country do you live in?" in await bot.ask("maria@example.org")
    consent = await bot.ask("Portugal")
    assert "Please check before you sign:\nName: Maria López\nE-mail: maria@example.org\nCountry: Portugal" in consent
    assert "I agree that my name and country will be delivered" in consent
    assert consent.endswith("  [1] I agree\n  [2] Change name\n  [3] Change e-mail\n  [4] Change country\n  [5] Cancel")
    confirmed = await bot.press("I agree")
    assert "Thank you, Maria López! Your signature on" in confirmed
    assert "1 of 15,000 — 0%" in confirmed
    # The opt-in names the topic it subscribes to, as /subscribe and /mydata do.
    assert "Would you also like to receive petition updates here?" in confirmed
    assert "[1] Yes, send me updates" in confirmed
    assert "[2] No thanks" in confirmed
    (signature,) = await bot.core.signatures.signatures(PETITION)
    assert (signature.signer.name, signature.signer.email, signature.signer.country) == (
        "Maria López",
        "maria@example.org",
        "PT",
    )
    assert signature.consent_version == 1
    assert not signature.wants_updates


async def test_the_updates_opt_in_is_separate_and_unticked(bot: TestBot) -> None:
    await sign(bot)
    assert "no updates" in await bot.press("No thanks")
    assert not (await bot.core.signatures.signatures(PETITION))[0].wants_updates
    assert "you'll receive petition updates" in await bot.act(f"updates:yes:{PETITION}")
    assert (await bot.core.signatures.signatures(PETITION))[0].wants_updates
    assert "• Subscribed to petition updates since" in await bot.ask("/mydata")


async def test_progress_reads_like_the_issue_example(config: Config, services: Services) -> None:
    petition = services.content.campaigns.petitions[PETITION]
    small = dataclasses.replace(petition, goal=3)
    campaigns = dataclasses.replace(services.content.campaigns, petitions={PETITION: small})
    content = dataclasses.replace(services.content, campaigns=campaigns)
    async with TestBot.started(config, dataclasses.replace(services, content=content)) as bot:
        assert "1 of 3 — 33%" in await sign(bot)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "The name can't be empty."),
        ("Maria\x07", "The name contains invisible control characters."),
        ("Ann\u202eBob", "The name contains invisible control characters."),
        ("x" * 101, "That name is 101 characters long; the limit is 100."),
        ("R2D2", 'A name can\'t contain "2"'),
        ("<b>Bob</b>", 'A name can\'t contain "<"'),
        ("-Bob", "A name must start with a letter."),
    ],
)
async def test_an_invalid_name_is_asked_again_with_the_reason(bot: TestBot, answer: str, reason: str) -> None:
    await bot.ask("/sign")
    text = await bot.ask(answer)
    assert reason in text
    assert "What name should appear on the petition?" in text
    assert (await form_state(bot))["step"] == "name"


@pytest.mark.parametrize("name", ["Олена Петренко", "李小龍", "Mary-Jane O'Neil Jr.", "José Ñúñez", "x" * 100])
async def test_names_in_any_script_are_accepted(bot: TestBot, name: str) -> None:
    await bot.ask("/sign")
    assert "e-mail address" in await bot.ask(name)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("maria@", "That is not a valid e-mail address: There must be something after the @-sign."),
        ("maria.example.org", "That is not a valid e-mail address"),
        ("maria@localhost", "That is not a valid e-mail address"),
        ("a b@example.org", "That is not a valid e-mail address"),
    ],
)
async def test_an_invalid_email_is_asked_again_with_the_reason(bot: TestBot, answer: str, reason: str) -> None:
    await bot.ask("/sign")
    await bot.ask("Maria")
    text = await bot.ask(answer)
    assert reason in text
    assert "What is your e-mail address?" in text


async def test_email_is_normalised_and_can_be_skipped(bot: TestBot) -> None:
    await sign(bot, email=None)
    assert (await bot.core.signatures.signatures(PETITION))[0].signer.email is None


@pytest.mark.parametrize(
    ("answer", "code"),
    [("Portugal", "PT"), ("pt", "PT"), ("PRT", "PT"), ("côte d'ivoire", "CI"), ("UK", "GB"), ("russia", "RU")],
)
async def test_country_by_name_or_iso_code(bot: TestBot, answer: str, code: str) -> None:
    await sign(bot, country=answer)
    assert (await bot.core.signatures.signatures(PETITION))[0].signer.country == code


async def test_country_in_the_users_language(config: Config, services: Services) -> None:
    async with TestBot.started(config, services, language="ru") as bot:
        await bot.ask("/sign")
        await bot.ask("Мария Лопес")
        await bot.ask("maria@example.org")
        await bot.ask("Германия")
        assert "Спасибо, Мария Лопес!" in await bot.press("Даю согласие")
        assert (await bot.core.signatures.signatures(PETITION))[0].signer.country == "DE"


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("Atlantis", 'I don\'t know a country called "Atlantis".'),
        ("Portugl", "Did you mean: Portugal?"),
        ("zz", 'I don\'t know a country called "zz".'),
    ],
)
async def test_an_unknown_country_is_asked_again(bot: TestBot, answer: str, reason: str) -> None:
    await bot.ask("/sign")
    await bot.ask("Maria")
    await bot.press("Skip")
    text = await bot.ask(answer)
    assert reason in text
    assert "Which country do you live in?" in text


async def test_typing_something_else_at_consent_does_not_sign(bot: TestBot) -> None:
    await bot.ask("/sign")
    await bot.ask("Maria")
    await bot.press("Skip")
    await bot.ask("PT")
    for typed in ("maybe later", "what is naloxone", "no"):
        assert "To sign, press or type I agree" in await bot.ask(typed)
    assert await bot.core.signatures.signature_count(PETITION) == 0


@pytest.mark.parametrize(
    "answers", [[], ["Maria"], ["Maria", "maria@example.org"], ["Maria", "maria@example.org", "PT"]]
)
async def test_cancel_leaves_at_any_step_and_saves_nothing(bot: TestBot, answers: list[str]) -> None:
    await bot.ask("/sign")
    for answer in answers:
        await bot.ask(answer)
    assert "Cancelled. Nothing was saved." in await bot.ask("/cancel")
    assert await bot.core.conversations.conversation(bot.core.keyring.user_id("console", "tester")) is None
    assert await bot.core.signatures.signature_count(PETITION) == 0
    # Free text is a question again, not a name.
    assert "Naloxone" in await bot.ask("what is naloxone")


async def test_the_cancel_button_and_cancel_with_nothing_under_way(bot: TestBot) -> None:
    assert "There is nothing to cancel." in await bot.ask("/cancel")
    await bot.ask("/sign")
    assert "Cancelled" in await bot.press("Cancel")


async def test_a_second_signature_says_when_they_signed(bot: TestBot, clock: ManualClock) -> None:
    await sign(bot)
    clock.advance(days=3)
    again = await bot.ask("/sign")
    assert 'You signed "Decriminalise personal drug possession worldwide" on 2026-11-21.' in again
    assert await bot.core.signatures.signature_count(PETITION) == 1


async def test_one_signature_per_email_across_accounts(bot: TestBot) -> None:
    await sign(bot, email="Shared@Example.org")
    other = TestBot(bot.core, user_id="someone-else")
    await other.ask("/sign")
    await other.ask("Jo")
    text = await other.ask("shared@example.org")
    assert "This e-mail address has already signed this petition." in text
    assert "What is your e-mail address?" in text
    await other.press("Skip")
    await other.ask("PT")
    assert "Thank you, Jo!" in await other.press("I agree")
    assert await bot.core.signatures.signature_count(PETITION) == 2


async def test_a_race_on_the_same_email_is_caught_at_consent(bot: TestBot) -> None:
    other = TestBot(bot.core, user_id="someone-else")
    for person in (bot, other):
        await person.ask("/sign")
        await person.ask("Jo")
        await person.ask("jo@example.org")
        await person.ask("PT")
    assert "Thank you, Jo!" in await bot.press("I agree")
    assert "your signature was not added" in await other.press("I agree")
    assert await bot.core.signatures.signature_count(PETITION) == 1


async def test_the_conversation_survives_a_restart(config: Config, services: Services) -> None:
    async with TestBot.started(config, services) as bot:
        await bot.ask("/sign")
        await bot.ask("Maria López")
    async with TestBot.started(config, services) as bot:
        assert "Which country" in await bot.ask("maria@example.org")
        await bot.ask("PT")
        assert "Thank you, Maria López!" in await bot.press("I agree")


async def test_the_conversation_expires_after_30_minutes_of_silence(bot: TestBot, clock: ManualClock) -> None:
    await bot.ask("/sign")
    clock.advance(minutes=29)
    await bot.ask("Maria")
    clock.advance(minutes=29)  # silence is counted from the last answer
    assert "Which country" in await bot.ask("maria@example.org")
    clock.advance(minutes=31)
    assert "Your sign-up timed out" in await bot.ask("Portugal")
    assert await bot.core.conversations.conversation(bot.core.keyring.user_id("console", "tester")) is None
    assert "Portugal" in await bot.ask("portugal decriminalisation")


async def test_expired_conversations_are_purged_with_what_was_typed(bot: TestBot, clock: ManualClock) -> None:
    await bot.ask("/sign")
    await bot.ask("Maria")
    clock.advance(minutes=31)
    await bot.core.maintain()
    assert [tuple(row) for row in await bot.core.store.rows("SELECT COUNT(*) FROM conversations")] == [(0,)]


async def test_a_stale_consent_button_does_nothing(bot: TestBot) -> None:
    assert "This button has expired" in await bot.act(f"sign-consent:{PETITION}:1")
    await bot.ask("/sign")
    assert "This button has expired" in await bot.act(f"sign-consent:{PETITION}:1")  # not at consent yet
    assert "This button has expired" in await bot.act(f"sign-skip:{PETITION}:name")  # the name is required
    assert await bot.core.signatures.signature_count(PETITION) == 0


async def test_an_emergency_mid_form_is_answered_first_and_the_form_waits(bot: TestBot) -> None:
    await bot.ask("/sign")
    text = await bot.ask("my friend is not breathing")
    assert text.index("emergency") < text.index("What name should appear")
    assert "Thank you, Maria" in await sign_from_name(bot)


async def sign_from_name(bot: TestBot) -> str:
    await bot.ask("Maria")
    await bot.press("Skip")
    await bot.ask("PT")
    return await bot.press("I agree")


async def test_unknown_petition_lists_the_open_ones(bot: TestBot) -> None:
    text = await bot.ask("/sign nope")
    assert 'There is no petition called "nope".' in text
    assert "[1] Decriminalise personal drug possession worldwide" in text


class PetitionChanges(TypedDict, total=False):
    """What these tests change in a petition."""

    open: bool
    deadline: date | None


def _with_petition(services: Services, **changes: Unpack[PetitionChanges]) -> Services:
    petition = dataclasses.replace(services.content.campaigns.petitions[PETITION], **changes)
    campaigns = dataclasses.replace(services.content.campaigns, petitions={PETITION: petition})
    return dataclasses.replace(services, content=dataclasses.replace(services.content, campaigns=campaigns))


async def test_a_closed_petition_says_so(config: Config, services: Services) -> None:
    async with TestBot.started(config, _with_petition(services, open=False)) as bot:
        assert "is closed: it no longer takes signatures" in await bot.ask(f"/sign {PETITION}")


async def test_a_past_deadline_petition_says_so(config: Config, services: Services) -> None:
    async with TestBot.started(config, _with_petition(services, deadline=date(2026, 11, 20))) as bot:
        bot.core.clock = ManualClock()
        assert "closed on 2026-11-20" in await bot.ask(f"/sign {PETITION}")


async def test_a_deadline_passing_mid_conversation_is_caught_at_consent(config: Config, services: Services) -> None:
    async with TestBot.started(config, _with_petition(services, deadline=date(2026, 11, 21))) as bot:
        clock = ManualClock()
        bot.core.clock = clock
        await bot.ask("/sign")
        await bot.ask("Maria")
        await bot.press("Skip")
        await bot.ask("PT")
        clock.advance(hours=12)
        assert "closed on 2026-11-21" in await bot.press("I agree")
        assert await bot.core.signatures.signature_count(PETITION) == 0


async def test_start_offers_a_sign_button(bot: TestBot) -> None:
    await bot.ask("/start")
    assert "What name should appear" in await bot.press("Sign the petition")


async def test_in_a_group_sign_moves_to_a_private_chat(bot: TestBot) -> None:
    group = Chat("group-1", ChatKind.GROUP)
    (reply,) = (await bot.core.handle(Event(User("console", "tester"), group, Command("sign", PETITION)))).replies
    assert "let's continue in a private chat" in plain(reply.text)
    assert reply.handoff == f"sign-{PETITION}"
    assert await bot.core.conversations.conversation(bot.core.keyring.user_id("console", "tester")) is None
    # The private chat opens with /start <payload>, which carries on where the group left off.
    assert "What name should appear" in await bot.ask(f"/start {reply.handoff}")


async def test_in_a_group_free_text_is_never_taken_as_a_form_answer(bot: TestBot) -> None:
    await bot.ask("/sign")
    group = Chat("group-1", ChatKind.GROUP)
    from bot.port.events import Text

    event = Event(User("console", "tester"), group, Text("what is naloxone"), addressed=True)
    replies = (await bot.core.handle(event)).replies
    assert "Naloxone" in plain(replies[0].text)
    state = await form_state(bot)
    assert state["answers"] == {}
