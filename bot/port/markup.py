"""Light markup: the only formatting the core produces.

Replies are sequences of spans rather than marked-up strings, so that each adapter escapes text
for its own platform (Telegram HTML, Discord markdown) and no user- or content-supplied text can
ever be read as markup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Plain:
    text: str


@dataclass(frozen=True, slots=True)
class Bold:
    text: str


@dataclass(frozen=True, slots=True)
class Link:
    text: str
    url: str


Span = Plain | Bold | Link
RichText = tuple[Span, ...]

# Content authors write **bold** and [text](https://url); nothing else is markup. A label holds no
# "[", so that no two attempts scan the same text: the time grows with the text, not its square.
_MARKUP = re.compile(r"\*\*(?P<bold>[^*\n]+?)\*\*|\[(?P<label>[^\[\]\n]+)\]\((?P<url>https?://[^)\s]+)\)")


def parse(source: str) -> RichText:
    """Turn an author's light-markup string into spans."""
    spans: list[Span] = []
    pos = 0
    for match in _MARKUP.finditer(source):
        if match.start() > pos:
            spans.append(Plain(source[pos : match.start()]))
        if match.group("bold") is not None:
            spans.append(Bold(match.group("bold")))
        else:
            spans.append(Link(match.group("label"), match.group("url")))
        pos = match.end()
    if pos < len(source):
        spans.append(Plain(source[pos:]))
    return tuple(spans)


def fill(template: RichText, params: dict[str, Any]) -> RichText:
    """Substitute ``{name}`` placeholders inside each span; values are never parsed as markup."""
    if not params:
        return template
    values = _SafeDict({k: str(v) for k, v in params.items()})
    out: list[Span] = []
    for span in template:
        if isinstance(span, Link):
            out.append(Link(span.text.format_map(values), span.url))
        elif isinstance(span, Bold):
            out.append(Bold(span.text.format_map(values)))
        else:
            out.append(Plain(span.text.format_map(values)))
    return tuple(out)


class _SafeDict(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def plain(text: RichText) -> str:
    """The text as a person reads it without formatting (console, JSON, search)."""
    parts: list[str] = []
    for span in text:
        if isinstance(span, Link):
            parts.append(span.text if span.text == span.url else f"{span.text} ({span.url})")
        else:
            parts.append(span.text)
    return "".join(parts)


def join(*texts: RichText, sep: str = "\n\n") -> RichText:
    """Concatenate rich texts, separated by ``sep`` (skipping empty ones)."""
    out: list[Span] = []
    for text in texts:
        if not text:
            continue
        if out and sep:
            out.append(Plain(sep))
        out.extend(text)
    return tuple(out)


def text(value: str) -> RichText:
    """Plain text, never interpreted as markup (for anything a user typed)."""
    return (Plain(value),) if value else ()


def first_paragraph(value: RichText) -> RichText:
    """The spans up to the first blank line: an answer's key line."""
    out: list[Span] = []
    for span in value:
        if isinstance(span, Plain) and "\n\n" in span.text:
            head = span.text.split("\n\n", 1)[0]
            if head:
                out.append(Plain(head))
            break
        out.append(span)
    return tuple(out)
