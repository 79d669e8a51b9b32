"""Small pieces of server-rendered SVG: elements with escaped attributes, a chart's frame,
its legend, and round axis steps.

Colours are chosen to read in grey too: a dark solid fill against a light hatched one,
a solid line with round markers against a dashed one with square markers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 640, 230
#: Room for the y-axis labels, the legend above the plot, the x-axis labels below it.
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 30, 26
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
INK, GRID = "#1d2330", "#d9dde4"


@dataclass(frozen=True)
class Look:
    """How one series is drawn: a fill (a colour, or ``hatch`` for the light hatched
    pattern), a stroke and, for lines, a dash and a marker shape."""

    fill: str
    stroke: str
    dash: str = ""
    marker: str = "circle"


DARK = Look("#1f6b4a", "#0f3d29")
HATCHED = Look("hatch", "#a3221a")
BLUE = Look("#2456a6", "#15336a")
SOLID_LINE = Look("#1d3f8a", "#1d3f8a")
DASHED_LINE = Look("#ffffff", "#b85300", dash="6 3", marker="square")


def element(name: str, text: str = "", /, **attributes: object) -> str:
    """``<name a="…">text</name>``; attribute names with ``_`` become ``-``, values are
    escaped, ``text`` is markup already."""
    attrs = "".join(
        f' {key.rstrip("_").replace("_", "-")}="{escape(str(value))}"'
        for key, value in attributes.items()
        if value is not None
    )
    return f"<{name}{attrs}>{text}</{name}>"


def title(text: str) -> str:
    """What a browser shows on hover (and a screen reader reads)."""
    return f"<title>{escape(text)}</title>"


def fill_of(chart_id: str, look: Look) -> str:
    return f"url(#{chart_id}-hatch)" if look.fill == "hatch" else look.fill


def hatch(chart_id: str) -> str:
    """The light hatched pattern, its id unique to the chart."""
    return (
        f'<defs><pattern id="{escape(chart_id)}-hatch" width="6" height="6" '
        'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        '<rect width="6" height="6" fill="#f7cdc7"/>'
        f'<line x1="1" y1="0" x2="1" y2="6" stroke="{HATCHED.stroke}" stroke-width="2.5"/>'
        "</pattern></defs>"
    )


def frame(chart_id: str, label: str, body: str, height: int = HEIGHT) -> str:
    """The ``<svg>`` of one chart, named for assistive technology."""
    return (
        f'<svg class=chart-svg id="{escape(chart_id)}-svg" viewBox="0 0 {WIDTH} {height}" '
        f'role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="system-ui, sans-serif" font-size="11" fill="{INK}">'
        f"{hatch(chart_id)}{body}</svg>"
    )


def legend(chart_id: str, entries: list[tuple[str, Look]], *, lines: bool = False) -> str:
    """Swatches and names above the plot, left to right."""
    parts, x = [], LEFT
    for name, look in entries:
        if lines:
            parts.append(line_swatch(x, 12, look))
        else:
            fill = fill_of(chart_id, look)
            parts.append(
                f'<rect x="{x}" y="6" width="12" height="12" fill="{fill}" stroke="{look.stroke}"/>'
            )
        parts.append(f'<text x="{x + 18}" y="16">{escape(name)}</text>')
        x += 30 + 7 * len(name)
    return f'<g class="legend">{"".join(parts)}</g>'


def line_swatch(x: float, y: float, look: Look) -> str:
    dash = f' stroke-dasharray="{look.dash}"' if look.dash else ""
    return (
        f'<line x1="{x}" y1="{y}" x2="{x + 14}" y2="{y}" stroke="{look.stroke}" '
        f'stroke-width="2"{dash}/>{marker(x + 7, y, look)}'
    )


def marker(x: float, y: float, look: Look, inner: str = "", **attributes: object) -> str:
    """A round or square point marker, with a hover title and data attributes inside."""
    if look.marker == "square":
        return element(
            "rect",
            inner,
            x=f"{x - 3.5:.1f}",
            y=f"{y - 3.5:.1f}",
            width=7,
            height=7,
            fill=look.fill,
            stroke=look.stroke,
            stroke_width=1.5,
            **attributes,
        )
    return element(
        "circle", inner, cx=f"{x:.1f}", cy=f"{y:.1f}", r=3.5, fill=look.fill, **attributes
    )


def nice_step(largest: float, ticks: int = 4) -> int:
    """A round step (1, 2, 5 × 10ⁿ, at least 1) so about ``ticks`` steps reach ``largest``."""
    rough = max(largest / ticks, 1)
    power = 10 ** math.floor(math.log10(rough))
    return int(next(m * power for m in (1, 2, 5, 10) if m * power >= rough))


def y_grid(values: list[tuple[float, str]]) -> str:
    """Horizontal grid lines at the given heights, labelled on the left."""
    parts = []
    for y, text in values:
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(text)}</text>'
        )
    return f'<g class="grid">{"".join(parts)}</g>'


def x_ticks(ticks: list[tuple[float, str]]) -> str:
    """Time labels under the plot."""
    base = HEIGHT - BOTTOM
    parts = [
        f'<line x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 4}" stroke="{INK}"/>'
        f'<text x="{x:.1f}" y="{base + 16}" text-anchor="middle">{escape(text)}</text>'
        for x, text in ticks
    ]
    axis = f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="{INK}"/>'
    return f'<g class="x-axis">{axis}{"".join(parts)}</g>'


def empty_note(text: str) -> str:
    """A line in the middle of a chart that has nothing to plot."""
    return (
        f'<text class="empty" x="{LEFT + PLOT_WIDTH / 2}" y="{TOP + PLOT_HEIGHT / 2}" '
        f'text-anchor="middle" fill="#6b7280">{escape(text)}</text>'
    )
