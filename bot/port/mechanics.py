"""What every adapter does the same way, written once: one person's (or chat's) events handled in
turn, and the policy for message sizes: how a long reply is cut into messages, and which consecutive
messages are joined into one. A platform gives only its limits (:class:`MessageLimits`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from bot.port import markup
from bot.port.events import Reply, ReplyKind
from bot.port.markup import Plain, RichText, Span

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class KeyedLocks(Generic[K]):
    """One lock per key (a person, a chat), kept only while someone holds or awaits it: memory does not
    grow with every key ever seen."""

    def __init__(self) -> None:
        self._locks: dict[K, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return len(self._locks)

    @contextlib.asynccontextmanager
    async def of(self, key: K) -> AsyncIterator[None]:
        lock, waiting = self._locks.get(key, (None, 0))
        lock = lock or asyncio.Lock()
        self._locks[key] = (lock, waiting + 1)
        try:
            async with lock:
                yield
        finally:
            waiting = self._locks[key][1] - 1
            if waiting:
                self._locks[key] = (lock, waiting)
            else:
                del self._locks[key]


# ------------------------------------------------------------------------------ message sizes


@dataclass(frozen=True, slots=True)
class MessageLimits:
    """How much text one message of a platform holds, as the platform counts it."""

    chars: int
    # How the platform counts a text (Telegram: UTF-16 code units); never less than its length.
    measure: Callable[[str], int] = len


# Where a long text is cut, best first: between paragraphs, between lines, between words. Whitespace
# at a cut is dropped; only when a stretch has none is it cut where the message is full.
BREAKS = ("\n\n", "\n", " ")
# Between two messages joined into one.
JOINER = "\n\n"
_NOT_SPACE = re.compile(r"\S")


def _fitting(text: str, start: int, room: int, measure: Callable[[str], int]) -> int:
    """Where the longest stretch of ``text`` from ``start`` that fits in ``room`` ends.

    A measure is never less than the length, so the stretch is at most ``room`` characters: each
    message costs time in proportion to its size (all adapters share one event loop).
    """
    window = text[start : start + max(room, 0)]
    if measure(window) <= room:
        return start + len(window)
    fits, too_long = 0, len(window)
    while too_long - fits > 1:
        middle = (fits + too_long) // 2
        if measure(window[:middle]) <= room:
            fits = middle
        else:
            too_long = middle
    return start + fits


def cut(text: str, start: int, room: int, limits: MessageLimits, *, hard: bool = True) -> int:
    """Where a message that takes ``text`` from ``start``, with ``room`` left, ends: the end of the text
    if it fits; else at the last break that fits (BREAKS, best first); else, when ``hard``, as much as
    fits, and when not, ``start`` (nothing: the message ends before this text)."""
    end = _fitting(text, start, room, limits.measure)
    if end == len(text):
        return end
    for separator in BREAKS:
        at = text.rfind(separator, start + 1, end + 1)
        if at > start:
            return at
    return end if hard else start


def resume(text: str, at: int) -> int:
    """Where the next message goes on after a cut at ``at``: past the whitespace there."""
    found = _NOT_SPACE.search(text, at)
    return found.start() if found else len(text)


def split(text: str, limits: MessageLimits) -> list[str]:
    """``text`` as messages within ``limits``, cut as :func:`cut` says."""
    pieces: list[str] = []
    start = 0
    while start < len(text):
        end = max(cut(text, start, limits.chars, limits), start + 1)
        piece = text[start:end].rstrip()
        if piece:
            pieces.append(piece)
        start = resume(text, end)
    return pieces


def split_rich(text: RichText, limits: MessageLimits) -> list[RichText]:
    """Rich text as messages within ``limits``, cut by the same rule, counting the text people see.

    Bold text and links are never cut: one that does not fit in the rest of a message starts the
    next (only one longer than a whole message is cut, by the same rule). A plain stretch that has no
    break in the room left starts the next message too, rather than being cut mid-word.
    """
    pieces: list[RichText] = []
    current: list[Span] = []
    room = limits.chars

    def flush() -> None:
        nonlocal room
        while current and isinstance(current[-1], Plain) and not current[-1].text.strip():
            current.pop()
        if current:
            last = current[-1]
            if isinstance(last, Plain):
                current[-1] = Plain(last.text.rstrip())
            pieces.append(tuple(current))
        current.clear()
        room = limits.chars

    for span in text:
        body, start = span.text, 0
        if not isinstance(span, Plain) and current and limits.measure(body) > room:
            flush()
        while start < len(body):
            end = cut(body, start, room, limits, hard=not current)
            if end == start and not current:
                # A character wider than a whole message: it goes alone.
                end = start + 1
            if end == len(body):
                current.append(dataclasses.replace(span, text=body[start:]))
                room -= limits.measure(body[start:])
                break
            if end > start:
                current.append(dataclasses.replace(span, text=body[start:end]))
            start = resume(body, end)
            flush()
    flush()
    return pieces


def apart(previous: Reply, reply: Reply) -> bool:
    """What keeps two consecutive replies in messages of their own on every platform: the first ends
    with something to press or follow (buttons, a hand-off, a share), either is the emergency answer
    (a message of its own, so that it cannot be missed), or one is for the person alone and the other
    not."""
    return (
        bool(previous.buttons)
        or previous.handoff is not None
        or previous.share is not None
        or ReplyKind.EMERGENCY in (previous.kind, reply.kind)
        or previous.private != reply.private
    )


def merge(
    messages: Sequence[T],
    limits: MessageLimits,
    *,
    text: Callable[[T], str],
    kept_apart: Callable[[T, T], bool],
    join: Callable[[T, T, str], T],
) -> list[T]:
    """Consecutive messages as fewer: one joins the next, :data:`JOINER` between them, when together
    they fit in one message and nothing keeps them apart (``kept_apart``: :func:`apart`, as the
    platform's messages show it). Fewer messages keep a conversation under a platform's flood limits
    and ping people less."""
    out: list[T] = []
    joiner = limits.measure(JOINER)
    for message in messages:
        if out and not kept_apart(out[-1], message):
            previous = out[-1]
            if limits.measure(text(previous)) + joiner + limits.measure(text(message)) <= limits.chars:
                out[-1] = join(previous, message, JOINER)
                continue
        out.append(message)
    return out


def merge_replies(replies: Sequence[Reply], limits: MessageLimits, shown: Callable[[RichText], str]) -> list[Reply]:
    """:func:`merge` for replies, each measured as the platform shows its text (``shown``)."""
    return merge(
        replies,
        limits,
        text=lambda reply: shown(reply.text),
        kept_apart=apart,
        join=lambda previous, reply, joiner: dataclasses.replace(
            reply, text=markup.join(previous.text, reply.text, sep=joiner)
        ),
    )
