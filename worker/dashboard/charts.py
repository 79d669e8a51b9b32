"""The dashboard's three kinds of chart, as server-rendered SVG without any library or
network: stacked bars over time, quantile lines over time, and horizontal bars.

Every plotted element carries its value (``data-value``, with ``data-series`` and, over
time, ``data-start``) and a ``<title>`` shown on hover; every chart is followed by a
table of the same numbers. Text is escaped wherever it comes from.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from worker.dashboard.svg import (
    LEFT,
    PLOT_HEIGHT,
    PLOT_WIDTH,
    RIGHT,
    TOP,
    WIDTH,
    Look,
    element,
    empty_note,
    fill_of,
    frame,
    legend,
    marker,
    nice_step,
    title,
    x_ticks,
    y_grid,
)


@dataclass(frozen=True)
class Series:
    key: str
    name: str
    look: Look


@dataclass(frozen=True)
class Axis:
    """The points over time: their starts (epoch seconds), their names in full (hover,
    tables) and the few names shown under the plot, by point index."""

    starts: list[int]
    labels: list[str]
    ticks: list[tuple[int, str]]

    @property
    def slot(self) -> float:
        return PLOT_WIDTH / max(len(self.starts), 1)

    def x(self, index: int) -> float:
        """The middle of a point's slot."""
        return LEFT + (index + 0.5) * self.slot


def figure(chart_id: str, caption: str, svg: str, table: str, *, open_table: bool) -> str:
    """A chart and its table of numbers (folded away when it may be long)."""
    shown = " open" if open_table else ""
    return (
        f'<figure class=chart id="chart-{escape(chart_id)}" data-chart="{escape(chart_id)}">'
        f"<figcaption>{escape(caption)}</figcaption>{svg}"
        f'<details class=numbers data-table="{escape(chart_id)}"{shown}>'
        f"<summary>Numbers</summary>{table}</details></figure>"
    )


def table(chart_id: str, head: Sequence[str], rows: Sequence[str], foot: str = "") -> str:
    """Rows are markup already (``<tr>…</tr>``); the head's names are escaped here."""
    names = "".join(f"<th>{escape(name)}</th>" for name in head)
    body = "".join(rows) or f'<tr><td colspan="{len(head)}">none</td></tr>'
    return (
        f'<table class=numbers id="{escape(chart_id)}-table"><thead><tr>{names}</tr></thead>'
        f"<tbody>{body}</tbody>{foot}</table>"
    )


def stacked_bars(
    chart_id: str,
    caption: str,
    axis: Axis,
    series: Sequence[Series],
    values: Sequence[dict[str, int]],
) -> str:
    """Counts per point, the series stacked bottom up in the order given."""
    totals = [sum(point.get(s.key, 0) for s in series) for point in values]
    step = nice_step(max(totals, default=0))
    top = step * max(math.ceil(max(totals, default=0) / step), 1)
    scale = PLOT_HEIGHT / top
    grid = y_grid([(TOP + PLOT_HEIGHT - n * scale, f"{n:,}") for n in range(0, top + 1, step)])
    width = max(axis.slot * 0.8, 1.0)
    bars = []
    for index, point in enumerate(values):
        base = float(TOP + PLOT_HEIGHT)
        for s in series:
            value = point.get(s.key, 0)
            if value <= 0:
                continue
            height = value * scale
            base -= height
            hover = title(f"{axis.labels[index]}: {value:,} {s.name}")
            bars.append(
                element(
                    "rect",
                    hover,
                    class_="bar",
                    data_series=s.key,
                    data_start=axis.starts[index],
                    data_value=value,
                    x=f"{axis.x(index) - width / 2:.2f}",
                    y=f"{base:.2f}",
                    width=f"{width:.2f}",
                    height=f"{height:.2f}",
                    fill=fill_of(chart_id, s.look),
                    stroke=s.look.stroke,
                    stroke_width=0.6,
                )
            )
    note = "" if any(totals) else empty_note("nothing in this span")
    body = (
        legend(chart_id, [(s.name, s.look) for s in series])
        + grid
        + ticks(axis)
        + "".join(bars)
        + note
    )
    rows = [
        f'<tr data-start="{axis.starts[i]}"><td>{escape(axis.labels[i])}</td>'
        + "".join(f'<td data-series="{escape(s.key)}">{point.get(s.key, 0)}</td>' for s in series)
        + f"<td>{totals[i]}</td></tr>"
        for i, point in enumerate(values)
        if totals[i]
    ]
    sums = "".join(
        f'<td data-series="{escape(s.key)}">{sum(p.get(s.key, 0) for p in values)}</td>'
        for s in series
    )
    foot = f"<tfoot><tr><th>total</th>{sums}<td>{sum(totals)}</td></tr></tfoot>"
    head = ["time (UTC)", *(s.name for s in series), "total"]
    numbers = table(chart_id, head, rows, foot)
    return figure(chart_id, caption, frame(chart_id, caption, body), numbers, open_table=False)


def ticks(axis: Axis) -> str:
    return x_ticks([(axis.x(index), text) for index, text in axis.ticks])


def duration_text(seconds: float) -> str:
    """``5 ms``, ``2.5 s``."""
    return f"{seconds * 1000:g} ms" if seconds < 1 else f"{seconds:g} s"


def quantile_text(bound: float, bounds: Sequence[float]) -> str:
    """A quantile read off a histogram: ``≤ 250 ms``, or beyond the last finite bound,
    ``> 300 s``."""
    if math.isinf(bound):
        return f"> {duration_text(bounds[-2])}"
    return f"≤ {duration_text(bound)}"


def quantile_lines(
    chart_id: str,
    caption: str,
    axis: Axis,
    bounds: Sequence[float],
    series: Sequence[Series],
    values: Sequence[dict[str, float | None]],
    counts: Sequence[int],
) -> str:
    """Quantiles per point, each the upper bound of a histogram bin: the y axis has one
    row per bin (so roughly logarithmic); a point without observations breaks the line."""
    row = PLOT_HEIGHT / len(bounds)

    def y(bound: float) -> float:
        return TOP + PLOT_HEIGHT - (list(bounds).index(bound) + 0.5) * row

    shown = [*range(0, len(bounds) - 1, 2), len(bounds) - 1]
    grid = y_grid([(y(bounds[i]), quantile_text(bounds[i], bounds).lstrip("≤ ")) for i in shown])
    drawn = []
    for s in series:
        path, markers, pen = [], [], "M"
        for index, point in enumerate(values):
            value = point.get(s.key)
            if value is None:
                pen = "M"
                continue
            x, height = axis.x(index), y(value)
            path.append(f"{pen}{x:.1f} {height:.1f}")
            pen = "L"
            hover = title(f"{axis.labels[index]}: {s.name} {quantile_text(value, bounds)}")
            attributes = {"data_series": s.key, "data_start": axis.starts[index]}
            markers.append(
                marker(x, height, s.look, hover, class_="point", data_value=value, **attributes)
            )
        dash = {"stroke_dasharray": s.look.dash} if s.look.dash else {}
        line = element(
            "path", d=" ".join(path), fill="none", stroke=s.look.stroke, stroke_width=2, **dash
        )
        drawn.append(
            f'<g class="series" data-series="{escape(s.key)}">{line}{"".join(markers)}</g>'
        )
    note = "" if any(counts) else empty_note("no jobs in this span")
    body = (
        legend(chart_id, [(s.name, s.look) for s in series], lines=True)
        + grid
        + ticks(axis)
        + "".join(drawn)
        + note
    )
    rows = [
        f'<tr data-start="{axis.starts[i]}"><td>{escape(axis.labels[i])}</td><td>{counts[i]}</td>'
        + "".join(
            f'<td data-series="{escape(s.key)}">{escape(quantile_text(value, bounds))}</td>'
            for s in series
            if (value := point[s.key]) is not None
        )
        + "</tr>"
        for i, point in enumerate(values)
        if counts[i]
    ]
    foot = f"<tfoot><tr><th>jobs</th><td>{sum(counts)}</td></tr></tfoot>"
    head = ["time (UTC)", "jobs", *(s.name for s in series)]
    numbers = table(chart_id, head, rows, foot)
    return figure(chart_id, caption, frame(chart_id, caption, body), numbers, open_table=False)


#: Room on the left of horizontal bars for their names, and a bar's height.
NAME_WIDTH, BAR_ROW = 170, 24
SHOWN_NAME_CHARS = 26


def bars(
    chart_id: str,
    caption: str,
    items: Sequence[tuple[str, int]],
    look: Look,
    unit: str,
    *,
    links: dict[str, str] | None = None,
    details: dict[str, str] | None = None,
) -> str:
    """One horizontal bar per named value, largest first; ``links`` make names links in
    the table, ``details`` add a column of text to it."""
    ordered = sorted(items, key=lambda item: (-item[1], item[0]))
    largest = max((value for _, value in ordered), default=0)
    span = WIDTH - RIGHT - NAME_WIDTH - 70
    drawn = []
    for index, (name, value) in enumerate(ordered):
        top = TOP + index * BAR_ROW
        shown = name if len(name) <= SHOWN_NAME_CHARS else name[: SHOWN_NAME_CHARS - 1] + "…"
        length = max(span * value / largest, 1.0) if largest else 1.0
        drawn.append(
            f'<text x="{NAME_WIDTH - 8}" y="{top + 15}" text-anchor="end">{escape(shown)}'
            f"{title(name)}</text>"
            + element(
                "rect",
                title(f"{name}: {value:,} {unit}"),
                class_="bar",
                data_series=name,
                data_value=value,
                x=NAME_WIDTH,
                y=top + 3,
                width=f"{length:.2f}",
                height=BAR_ROW - 6,
                fill=fill_of(chart_id, look),
                stroke=look.stroke,
                stroke_width=0.6,
            )
            + f'<text x="{NAME_WIDTH + length + 6:.2f}" y="{top + 15}">{value:,}</text>'
        )
    height = TOP + max(len(ordered), 1) * BAR_ROW + 8
    note = "" if ordered else empty_note_at(f"no {unit} in this span", TOP + 14)
    body = legend(chart_id, [(unit, look)]) + "".join(drawn) + note
    svg = frame(chart_id, caption, body, height)
    rows = [
        f'<tr data-series="{escape(name)}"><td>{name_cell(name, links)}</td><td>{value}</td>'
        + (f"<td>{escape(details.get(name, ''))}</td>" if details is not None else "")
        + "</tr>"
        for name, value in ordered
    ]
    head = ["name", unit, *(["by kind"] if details is not None else [])]
    numbers = table(chart_id, head, rows)
    return figure(chart_id, caption, svg, numbers, open_table=len(rows) <= 12)


def name_cell(name: str, links: dict[str, str] | None) -> str:
    href = (links or {}).get(name)
    return f'<a href="{escape(href)}">{escape(name)}</a>' if href else escape(name)


def empty_note_at(text: str, y: float) -> str:
    return f'<text class="empty" x="{NAME_WIDTH}" y="{y}" fill="#6b7280">{escape(text)}</text>'
