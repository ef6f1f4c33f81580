"""Inline SVG charts for the report: no JavaScript, no fonts or images from elsewhere.

Each function takes plain numbers and labels and returns escaped SVG markup, so the report is
one self-contained HTML file that renders the same offline, in a browser or printed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

BAND_COLOURS = {
    "tot": "#2e7d32",
    "kha": "#1565c0",
    "trung-binh": "#ef6c00",
    "yeu": "#c62828",
    "none": "#757575",
}


def _f(x: float) -> str:
    """Fixed, short number text so the same chart always gives the same bytes."""
    return f"{x:.1f}".rstrip("0").rstrip(".") if math.isfinite(x) else "0"


def _svg(width: int, height: int, body: list[str], label: str) -> Markup:
    return Markup(
        f'<svg class="chart" role="img" aria-label="{escape(label)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" font-family="sans-serif" font-size="12">'
        + "".join(body)
        + "</svg>"
    )


@dataclass(frozen=True)
class Bar:
    """One bar of a bar chart: points against the points available, coloured by band."""

    label: str
    value: float
    max_value: float
    band: str  # CSS-safe band key, see BAND_COLOURS
    note: str = ""


def bar_chart(bars: list[Bar], *, label: str, width: int = 900) -> Markup:
    """Horizontal bars of points against the points available, coloured by band."""
    left, right, row = 290, 80, 22
    height = row * len(bars) + 30
    scale_max = max([b.max_value for b in bars if b.max_value > 0] or [1.0])
    plot = width - left - right
    body = []
    for i, b in enumerate(bars):
        y = 10 + i * row
        w = plot * max(0.0, b.value) / scale_max
        colour = BAND_COLOURS.get(b.band, BAND_COLOURS["none"])
        body.append(
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(b.label)}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{_f(plot)}" height="{row - 6}" fill="#eeeeee"/>'
            f'<rect x="{left}" y="{y + 3}" width="{_f(w)}" height="{row - 6}" fill="{colour}">'
            f"<title>{escape(b.label)}: {escape(b.note)}</title></rect>"
            f'<text x="{_f(left + w + 4)}" y="{y + 14}">{escape(b.note)}</text>'
        )
    axis_y = 10 + len(bars) * row + 4
    for k in range(0, 5):
        x = left + plot * k / 4
        body.append(
            f'<line x1="{_f(x)}" y1="8" x2="{_f(x)}" y2="{axis_y}" stroke="#bbbbbb" stroke-dasharray="2,3"/>'
            f'<text x="{_f(x)}" y="{axis_y + 12}" text-anchor="middle" fill="#555555">'
            f"{_f(scale_max * k / 4)}</text>"
        )
    return _svg(width, height + 6, body, label)


def _quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    pos = (len(sorted_values) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


@dataclass(frozen=True)
class Distribution:
    """One row of a distribution plot: every agency's points in one pillar."""

    label: str
    values: tuple[float, ...]  # points of each agency
    max_value: float


def distribution_plot(groups: list[Distribution], *, label: str, width: int = 900) -> Markup:
    """A box plot with every agency as a dot, one row per pillar, as % of the pillar's points."""
    left, right, row = 290, 30, 44
    plot = width - left - right
    height = row * len(groups) + 34
    body = []
    for k in range(0, 5):
        x = left + plot * k / 4
        body.append(
            f'<line x1="{_f(x)}" y1="6" x2="{_f(x)}" y2="{height - 24}" stroke="#dddddd"/>'
            f'<text x="{_f(x)}" y="{height - 10}" text-anchor="middle" fill="#555555">{25 * k} %</text>'
        )
    for i, g in enumerate(groups):
        y = 8 + i * row
        mid = y + row / 2
        denom = g.max_value if g.max_value > 0 else 1.0
        vals = sorted(min(1.0, max(0.0, v / denom)) for v in g.values)
        body.append(
            f'<text x="{left - 6}" y="{_f(mid + 4)}" text-anchor="end">{escape(g.label)}</text>'
        )
        if not vals:
            continue
        q1, med, q3 = (_quantile(vals, q) for q in (0.25, 0.5, 0.75))
        lo, hi = vals[0], vals[-1]

        def X(v: float) -> str:
            return _f(left + plot * v)

        body.append(
            f'<line x1="{X(lo)}" y1="{_f(mid)}" x2="{X(hi)}" y2="{_f(mid)}" stroke="#455a64"/>'
            f'<rect x="{X(q1)}" y="{_f(mid - 11)}" width="{_f(plot * (q3 - q1))}" height="22" '
            f'fill="#cfd8dc" stroke="#455a64"/>'
            f'<line x1="{X(med)}" y1="{_f(mid - 11)}" x2="{X(med)}" y2="{_f(mid + 11)}" '
            f'stroke="#263238" stroke-width="2"/>'
        )
        for j, v in enumerate(vals):
            jitter = ((j * 7) % 5 - 2) * 2.5
            body.append(
                f'<circle cx="{X(v)}" cy="{_f(mid + jitter)}" r="3" fill="#1565c0" fill-opacity="0.7"/>'
            )
    return _svg(width, height, body, label)


@dataclass(frozen=True)
class Interval:
    """One agency's rank interval (low, median, high) for the uncertainty chart."""

    label: str
    low: float
    median: float
    high: float
    rank: float | None


def interval_plot(rows: list[Interval], *, label: str, width: int = 900) -> Markup:
    """Rank intervals (5th to 95th percentile) with the median and the published rank."""
    left, right, row = 290, 30, 20
    plot = width - left - right
    n = max([int(math.ceil(r.high)) for r in rows] + [int(r.rank or 1) for r in rows] + [2])
    height = row * len(rows) + 34

    def X(rank: float) -> str:
        return _f(left + plot * (rank - 1) / (n - 1))

    body = []
    for k in range(1, n + 1):
        if n > 20 and k % 5 and k != 1:
            continue
        body.append(
            f'<line x1="{X(k)}" y1="4" x2="{X(k)}" y2="{height - 24}" stroke="#eeeeee"/>'
            f'<text x="{X(k)}" y="{height - 10}" text-anchor="middle" fill="#555555">{k}</text>'
        )
    for i, r in enumerate(rows):
        y = 8 + i * row + row / 2
        body.append(
            f'<text x="{left - 6}" y="{_f(y + 4)}" text-anchor="end">{escape(r.label)}</text>'
            f'<line x1="{X(r.low)}" y1="{_f(y)}" x2="{X(r.high)}" y2="{_f(y)}" '
            'stroke="#6a1b9a" stroke-width="3"/>'
            f'<circle cx="{X(r.median)}" cy="{_f(y)}" r="4" fill="#6a1b9a"/>'
        )
        if r.rank is not None:
            body.append(
                f'<rect x="{_f(float(X(r.rank)) - 4)}" y="{_f(y - 4)}" width="8" height="8" '
                f'fill="none" stroke="#000000"/>'
            )
    return _svg(width, height, body, label)
