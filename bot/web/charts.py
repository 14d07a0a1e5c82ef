"""Charts drawn on the server as SVG: readable without JavaScript, styled by the dashboard's own style
sheet (classes only, no inline style, which the Content-Security-Policy forbids). Each chart has a
title for screen readers and the page puts its table beside it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640
ROW = 24
LABEL = 190
# Room right of the longest bar for its figure ("12,122 of 15,000 — 81%").
VALUE = 150
# Labels longer than this are cut (with "…") in the chart: the table beside it has them whole.
LABEL_CHARS = 26
HEIGHT = 180


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int
    # The value as the organiser's language writes it ("12 122"), or "<5" for a suppressed one.
    shown: str
    goal: int | None = None
    # Too small to show exactly: drawn pale, to the smallest value that is shown.
    suppressed: bool = False


def short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1].rstrip() + "…"


def _svg(title: str, height: int, body: list[str]) -> Markup:
    return Markup(
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img"><title>{escape(title)}</title>{"".join(body)}</svg>'
    )


def bars(title: str, rows: Sequence[Bar]) -> Markup:
    """Horizontal bars, one per row; a row with a goal shows it as a mark, and its bar against it."""
    peak = max([row.value for row in rows] + [row.goal or 0 for row in rows] + [1])
    span = WIDTH - LABEL - VALUE
    body: list[str] = []
    for n, row in enumerate(rows):
        y = n * ROW + 4
        length = round(span * row.value / peak)
        css = "bar suppressed" if row.suppressed else "bar"
        body.append(
            f'<text class="label" x="{LABEL - 6}" y="{y + 14}" text-anchor="end">{escape(short(row.label))}</text>'
        )
        body.append(f'<rect class="{css}" x="{LABEL}" y="{y}" width="{max(length, 1)}" height="{ROW - 8}"/>')
        if row.goal:
            mark = LABEL + round(span * row.goal / peak)
            body.append(f'<line class="goal" x1="{mark}" x2="{mark}" y1="{y - 2}" y2="{y + ROW - 6}"/>')
        figure = row.shown
        end = LABEL + max(length, round(span * (row.goal or 0) / peak))
        body.append(f'<text class="value" x="{end + 6}" y="{y + 14}">{escape(figure)}</text>')
    return _svg(title, max(len(rows), 1) * ROW + 8, body)


def columns(title: str, values: Sequence[tuple[str, int]], peak_label: str, *, line: bool = False) -> Markup:
    """Values over time, left to right: columns, or a line (for a running total). The first and last
    labels and the highest value (``peak_label``, as the organiser's language writes it) are written on
    the axes."""
    peak = max([value for _, value in values] + [1])
    left, bottom, top = 56, HEIGHT - 22, 10
    step = (WIDTH - left - 8) / max(len(values), 1)
    body = [
        f'<line class="axis" x1="{left}" x2="{WIDTH - 4}" y1="{bottom}" y2="{bottom}"/>',
        f'<text class="tick" x="{left - 6}" y="{top + 8}" text-anchor="end">{escape(peak_label)}</text>',
        f'<text class="tick" x="{left - 6}" y="{bottom}" text-anchor="end">0</text>',
    ]

    def height(value: int) -> float:
        return (bottom - top) * value / peak

    if line:
        points = " ".join(
            f"{left + step * (n + 0.5):.1f},{bottom - height(value):.1f}" for n, (_, value) in enumerate(values)
        )
        body.append(f'<polyline class="line" points="{points}"/>')
    else:
        for n, (_, value) in enumerate(values):
            if value:
                h = max(height(value), 1.0)
                body.append(
                    f'<rect class="bar" x="{left + step * n + 1:.1f}" y="{bottom - h:.1f}"'
                    f' width="{max(step - 2, 1):.1f}" height="{h:.1f}"/>'
                )
    if values:
        body.append(f'<text class="tick" x="{left}" y="{HEIGHT - 4}">{escape(values[0][0])}</text>')
        body.append(
            f'<text class="tick" x="{WIDTH - 4}" y="{HEIGHT - 4}" text-anchor="end">{escape(values[-1][0])}</text>'
        )
    return _svg(title, HEIGHT, body)
