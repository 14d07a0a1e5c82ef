"""Whatever arrives, the router answers without crashing and without writing half a record."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from testbot import TestBot

from bot.port.events import ButtonPress, Chat, ChatKind, Command, Event, Reply, Text, User

GROUP = Chat("g1", ChatKind.GROUP)
PRIVATE = Chat("p1", ChatKind.PRIVATE)

texts = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=500),
    st.text(alphabet=st.characters(categories=("Cc", "Cf", "Zs", "Mn")), max_size=200),
    st.just(""),
)
contents = st.one_of(
    texts.map(Text),
    st.builds(Command, st.sampled_from(["start", "help", "ask", "topics", "sources", "language", "nope"]), texts),
    texts.map(ButtonPress),
    st.builds(lambda p, a: ButtonPress(f"{p}:{a}"), st.sampled_from(["kb", "topics", "language", "help"]), texts),
)


async def _check(bot: TestBot, event: Event) -> None:
    replies = (await bot.core.handle(event)).replies
    assert isinstance(replies, list)
    assert all(isinstance(r, Reply) for r in replies)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(content=contents, chat=st.sampled_from([GROUP, PRIVATE]), language=st.one_of(st.none(), texts))
async def test_arbitrary_events_never_crash(
    bot: TestBot, content: Text | Command | ButtonPress, chat: Chat, language: str | None
) -> None:
    await _check(bot, Event(User("console", "fuzz", language), chat, content, addressed=chat is PRIVATE))


async def test_huge_and_control_character_input(bot: TestBot) -> None:
    for content in (
        Text(""),
        Text("\x00\x01\x02\u202e\ufeff\r\n"),
        Text("🧪" * 10000),
        Text("a" * 1_000_000),
        Text("overdose " * 150_000),
        Command("ask", "x" * 1_000_000),
        ButtonPress("kb:" + "y" * 1_000_000),
    ):
        await _check(bot, Event(User("console", "fuzz"), PRIVATE, content))
    # Still answering properly afterwards.
    assert "Sources" in await bot.ask("/ask what is naloxone")
