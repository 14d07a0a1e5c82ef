"""Pledges through the console adapter: list, take once, counts, withdraw, closed pledges."""

from __future__ import annotations

import dataclasses

from testbot import TestBot

from bot.core.app import Services
from bot.core.config import Config


async def test_pledge_lists_open_pledges_with_counts(bot: TestBot) -> None:
    text = await bot.ask("/pledge")
    assert "I will carry naloxone (0)" in text
    assert "I will take part on 26 June (0)" in text


async def test_taking_a_pledge_asks_for_confirmation_then_thanks_with_the_count(bot: TestBot) -> None:
    await bot.ask("/pledge")
    shown = await bot.press("carry naloxone")
    assert "Naloxone reverses an opioid overdose" in shown
    assert "0 of 1,000 — 0%" in shown
    assert "Do you take this pledge?" in shown
    thanks = await bot.press("I pledge")
    assert "Thank you! You pledged: I will carry naloxone." in thanks
    assert "1 of 1,000 — 0%" in thanks
    assert "Ask your friends to join you" in thanks
    assert "✓ I will carry naloxone (1)" in await bot.ask("/pledge")


async def test_a_pledge_is_recorded_once_per_person(bot: TestBot) -> None:
    await bot.ask("/pledge carry-naloxone")
    await bot.press("I pledge")
    shown = await bot.ask("/pledge carry-naloxone")
    assert "You took this pledge on 2026-" in shown
    assert "I pledge" not in shown
    # The old confirmation button, pressed again, does not count twice.
    again = await bot.act("pledge-take:carry-naloxone")
    assert 'You have already taken the pledge "I will carry naloxone".' in again
    assert await bot.core.pledges.pledge_counts() == {"carry-naloxone": 1}


async def test_counts_add_up_across_people(config: Config, services: Services) -> None:
    async with TestBot.started(config, services, user_id="a") as first:
        second = TestBot(first.core, user_id="b")
        for person in (first, second):
            await person.ask("/pledge day-of-action")
            await person.press("I pledge")
        text = await second.ask("/pledges")
    assert "I will take part on 26 June: 2 of 500 — 0%" in text


async def test_pledges_shows_progress_and_withdraw_lowers_the_count(bot: TestBot) -> None:
    await bot.ask("/pledge support-decriminalisation")
    await bot.press("I pledge")
    overview = await bot.ask("/pledges")
    assert "I support decriminalising drug possession: 1 of 5,000 — 0%" in overview
    withdrawn = await bot.press("Withdraw: I support")
    assert 'You withdrew the pledge "I support decriminalising drug possession".' in withdrawn
    assert "0 of 5,000" in withdrawn
    assert await bot.core.pledges.pledge_counts() == {}


async def test_withdraw_from_the_pledge_itself_and_twice(bot: TestBot) -> None:
    await bot.ask("/pledge carry-naloxone")
    await bot.press("I pledge")
    await bot.ask("/pledge carry-naloxone")
    assert "You withdrew" in await bot.press("Withdraw my pledge")
    assert 'You had not taken the pledge "I will carry naloxone".' in await bot.act("pledge-withdraw:carry-naloxone")


async def test_a_closed_pledge_shows_its_count_but_cannot_be_taken(config: Config, services: Services) -> None:
    campaigns = services.content.campaigns
    closed = dataclasses.replace(campaigns.pledges["carry-naloxone"], open=False)
    pledges = {**campaigns.pledges, "carry-naloxone": closed}
    content = dataclasses.replace(services.content, campaigns=dataclasses.replace(campaigns, pledges=pledges))
    async with TestBot.started(config, dataclasses.replace(services, content=content)) as bot:
        assert "carry naloxone" not in await bot.ask("/pledge")
        shown = await bot.ask("/pledge carry-naloxone")
        assert "This pledge is closed." in shown
        assert "I pledge" not in shown
        assert "I will carry naloxone: (closed) 0 of 1,000" in await bot.ask("/pledges")
        assert "This pledge is closed." in await bot.act("pledge-take:carry-naloxone")
        assert await bot.core.pledges.pledge_counts() == {}


async def test_an_unknown_pledge_button_has_expired(bot: TestBot) -> None:
    assert "This button has expired" in await bot.act("pledge-take:gone")
