"""The message-size policy every adapter follows (bot.port.mechanics): where a long text is cut, and
which replies are joined, given only a platform's limits."""

from __future__ import annotations

from bot.port import markup
from bot.port.events import Button, Reply, ReplyKind, Share
from bot.port.markup import Bold, Link, Plain, plain
from bot.port.mechanics import MessageLimits, merge_replies, split, split_rich

TEN = MessageLimits(10)


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_a_text_is_cut_at_paragraphs_then_lines_then_spaces_then_anywhere() -> None:
    assert split("aaa bbb\n\nccc dd", TEN) == ["aaa bbb", "ccc dd"]
    assert split("aaa\nbbb cc dd", TEN) == ["aaa", "bbb cc dd"]
    assert split("aaa bbb ccc", TEN) == ["aaa bbb", "ccc"]
    assert split("x" * 25, TEN) == ["x" * 10, "x" * 10, "x" * 5]
    # A break right after a full message is used, and the whitespace at a cut is dropped.
    assert split("x" * 10 + "   \n\n  y", TEN) == ["x" * 10, "y"]
    assert split("   ", TEN) == [] and split("", TEN) == []


def test_the_platform_counts_the_size() -> None:
    # Emoji are two UTF-16 units each: five fit where Telegram counts ten.
    assert split("😀" * 12, MessageLimits(10, utf16)) == ["😀" * 5, "😀" * 5, "😀" * 2]


def test_bold_text_and_links_are_never_cut_unless_longer_than_a_message() -> None:
    text = (Plain("one two "), Bold("three"), Plain(" four"))
    assert split_rich(text, TEN) == [(Plain("one two"),), (Bold("three"), Plain(" four"))]
    link = Link("a link", "https://example.org")
    assert split_rich((Plain("some text "), link), TEN) == [(Plain("some text"),), (link,)]
    # A plain stretch with no break in the room left starts the next message rather than being cut.
    assert split_rich((Bold("bold"), Plain(" breakless")), TEN) == [(Bold("bold"),), (Plain("breakless"),)]
    assert split_rich((Bold("very long bold text"),), TEN) == [(Bold("very long"),), (Bold("bold text"),)]
    pieces = split_rich(markup.text("word " * 100), TEN)
    assert all(len(plain(piece)) <= 10 for piece in pieces) and len(pieces) == 50


def test_replies_join_where_nothing_keeps_them_apart_and_they_fit() -> None:
    def texts(replies: list[Reply]) -> list[str]:
        return [plain(reply.text) for reply in merge_replies(replies, MessageLimits(40), plain)]

    one, two = Reply(markup.text("one")), Reply(markup.text("two"))
    assert texts([one, two, one]) == ["one\n\ntwo\n\none"]
    # What keeps them apart: buttons, a hand-off, a share (they stay last), the emergency answer (alone
    # so that it cannot be missed), and a reply for the person alone beside one that is not.
    for first, second in (
        (Reply(markup.text("one"), ((Button("Go", "go:"),),)), two),
        (Reply(markup.text("one"), handoff="sign"), two),
        (Reply(markup.text("one"), share=Share("pledge", "x")), two),
        (Reply(markup.text("one"), kind=ReplyKind.EMERGENCY), two),
        (one, Reply(markup.text("two"), kind=ReplyKind.EMERGENCY)),
        (Reply(markup.text("one"), private=True), two),
    ):
        assert texts([first, second]) == ["one", "two"]
    # Together with the blank line between them they must fit: 18 + 2 + 20 = 40 does, 41 does not.
    assert len(texts([Reply(markup.text("x" * 18)), Reply(markup.text("y" * 20))])) == 1
    assert len(texts([Reply(markup.text("x" * 19)), Reply(markup.text("y" * 20))])) == 2
    # The joined reply keeps the last one's buttons.
    with_buttons = Reply(markup.text("two"), ((Button("Go", "go:"),),))
    (joined,) = merge_replies([one, with_buttons], MessageLimits(40), plain)
    assert joined.buttons == with_buttons.buttons
