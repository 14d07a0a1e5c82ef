"""Light markup (:mod:`bot.port.markup`) as HTML: the same spans Telegram and Discord render their way,
escaped here for the dashboard, so a preview shows what recipients will read."""

from __future__ import annotations

from markupsafe import Markup, escape

from bot.port.markup import Bold, Link, RichText


def html(text: RichText) -> Markup:
    parts: list[Markup] = []
    for span in text:
        if isinstance(span, Bold):
            parts.append(Markup("<strong>{}</strong>").format(span.text))
        elif isinstance(span, Link):
            # markup.parse lets only http(s) addresses through: no javascript: link can reach here.
            parts.append(Markup('<a href="{}" rel="noopener noreferrer">{}</a>').format(span.url, span.text))
        else:
            parts.append(escape(span.text))
    return Markup("").join(parts).replace("\n", Markup("<br>"))
