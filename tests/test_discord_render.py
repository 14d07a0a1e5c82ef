"""What the Discord adapter shows: escaping, cutting to Discord's sizes, button layout, custom ids."""

from __future__ import annotations

import re

import discord
import pytest

from adapters.discord.render import (
    ACTION,
    MAX_CONTENT,
    MAX_PER_ROW,
    MAX_ROWS,
    Choice,
    ChoiceButton,
    Outgoing,
    StaleButton,
    compact,
    escape,
    layout,
    render,
    to_markdown,
)
from bot.content import Content
from bot.port import markup
from bot.port.events import Button, Reply, ReplyKind
from bot.port.markup import Bold, Link, Plain, parse, plain

ROLE = "123456789012345678"


def library_escape(line: str) -> str:
    return discord.utils.escape_mentions(discord.utils.escape_markdown(line))


def test_content_is_escaped_exactly_as_discord_py_does_it(content: Content) -> None:
    """Every line of the content and interface strings, against discord.py's own escaping."""
    lines = [line for table in content.locales.values() for value in table.values() for line in value.split("\n")]
    for entry in content.kb.entries.values():
        lines += [*plain(entry.answer).split("\n"), entry.title]
    # discord.py's list rule misplaces its backslash (see the next test): those lines are compared there.
    compared = [line for line in lines if not re.match(r"\s*-", line)]
    assert len(compared) > 1000
    assert [escape(line, line_start=True) for line in compared] == [library_escape(line) for line in compared]


@pytest.mark.parametrize(
    ("text", "line_start", "shown"),
    [
        ("@everyone and @here", True, "@\u200beveryone and @\u200bhere"),
        (f"<@&{ROLE}> <@!{ROLE}>", True, f"<@\u200b&{ROLE}> <@\u200b!{ROLE}>"),
        (
            "**not bold** _nor italic_ ~~nor struck~~ ||nor hidden|| `nor code`",
            True,
            r"\*\*not bold\*\* \_nor italic\_ \~\~nor struck\~\~ \|\|nor hidden\|\| \`nor code\`",
        ),
        ("# not a heading\n> not a quote", True, "\\# not a heading\n\\> not a quote"),
        ("- not a list\n  - nor this", True, "\\- not a list\n  \\- nor this"),
        # After a bold span, the text continues a line: line-start rules do not apply.
        ("- a dash, # a hash", False, "- a dash, # a hash"),
        ("a [masked](https://x.y) link", True, r"a \[masked](https://x.y) link"),
        ("https://example.org/a_b_c stays a link", True, "https://example.org/a_b_c stays a link"),
    ],
)
def test_escaping(text: str, line_start: bool, shown: str) -> None:
    assert escape(text, line_start=line_start) == shown


def test_markup_becomes_markdown_with_the_text_escaped() -> None:
    rich = (Bold("Naloxone_"), Plain(" - reverses an overdose\n- see "), Link("the *guide*", "https://x.org/g"))
    assert to_markdown(rich) == "**Naloxone\\_** - reverses an overdose\n\\- see [the \\*guide\\*](https://x.org/g)"
    assert to_markdown(parse("[https://x.org](https://x.org)")) == "https://x.org"


def test_long_text_is_cut_at_paragraphs_then_lines_then_spaces() -> None:
    def split(text: str) -> list[str]:
        return [message.content for message in render(Reply(markup.text(text)))]

    paragraphs = "\n\n".join(f"Paragraph {n}. " + "word " * 150 for n in range(6))
    pieces = split(paragraphs)
    assert all(len(piece) <= MAX_CONTENT for piece in pieces)
    assert all(piece.startswith("Paragraph") for piece in pieces)
    assert " ".join(" ".join(pieces).split()) == " ".join(paragraphs.split())
    one_line = "word " * 1000
    assert all(len(piece) <= MAX_CONTENT for piece in split(one_line))
    assert split("x" * 4500) == ["x" * 2000, "x" * 2000, "x" * 500]
    # Counted as sent: escaped markdown (each "*" takes two characters) still fits.
    starred = split("*" * 3000)
    assert [len(piece) for piece in starred] == [2000, 2000, 2000]


def test_buttons_are_laid_out_as_discord_allows() -> None:
    choices = [Choice(f"b{n}", ACTION, f"a:{n}") for n in range(30)]
    assert layout([choices[:7]]) == [[choices[:5], choices[5:7]]]
    # Many one-button rows are packed five to a row; more than 25 buttons take a second message.
    packed = layout([[choice] for choice in choices])
    assert [len(rows) for rows in packed] == [MAX_ROWS, 1]
    assert all(len(row) <= MAX_PER_ROW for rows in packed for row in rows)


def test_a_reply_renders_as_messages_with_its_buttons_last() -> None:
    reply = Reply(parse("x " * 1500), ((Button("Yes", "forget:confirm"), Button("No", "forget:keep")),))
    first, last = render(reply)
    assert not first.rows and [c.custom_id for c in last.rows[0]] == ["v1:a:forget:confirm", "v1:a:forget:keep"]
    assert render(Reply(())) == []


def test_short_messages_are_joined_but_never_past_buttons() -> None:
    plain_one, plain_two = Outgoing("one"), Outgoing("two")
    with_buttons = Outgoing("three", ((Choice("Go", ACTION, "go:"),),))
    assert compact([plain_one, plain_two, with_buttons, plain_one]) == [
        Outgoing("one\n\ntwo\n\nthree", with_buttons.rows),
        plain_one,
    ]
    assert len(compact([Outgoing("x" * 1500), Outgoing("y" * 600)])) == 2
    assert len(compact([Outgoing("x", ephemeral=True), Outgoing("y")])) == 2
    # The emergency answer stays a message of its own, before and after.
    emergency = render(Reply(markup.text("call 112"), kind=ReplyKind.EMERGENCY))
    assert len(compact([plain_one, *emergency, plain_two])) == 3


def test_custom_ids_are_versioned_and_older_ones_are_told_apart() -> None:
    current, stale = ChoiceButton.__discord_ui_compiled_template__, StaleButton.__discord_ui_compiled_template__
    for custom_id in ("v1:a:kb:naloxone", "v1:h:sign-un-decriminalise", "v1:f:sign:un-decriminalise"):
        assert current.fullmatch(custom_id) and not stale.fullmatch(custom_id)
    for custom_id in ("kb:naloxone", "v0:a:kb:naloxone", "v1:x:something"):
        assert stale.fullmatch(custom_id) and not current.fullmatch(custom_id)
