"""Replies as plain text, the way the console shows them and ``ask`` reports them."""

from __future__ import annotations

from bot.port.events import Button, Reply
from bot.port.markup import plain


def buttons_of(reply: Reply) -> list[Button]:
    return [button for row in reply.buttons for button in row]


def render(reply: Reply) -> str:
    """The reply's text (with its share: the command to pass on), then its buttons as numbered
    choices ("[1] Naloxone")."""
    lines = [plain(reply.text).rstrip()]
    if reply.share is not None:
        lines.append(f"/{reply.share.command} {reply.share.argument}".rstrip())
    for number, button in enumerate(buttons_of(reply), 1):
        lines.append(f"  [{number}] {button.label}")
    return "\n".join(lines)
