"""Plots as inline SVG, drawn when the page is built (no script, no library): a line chart of series and a scatter
of points with their intervals as error bars. Series are told apart by colour, dash pattern and marker shape, so
colour is never the only cue; every plot has a title and a text description for screen readers, and its numbers
are in a table on the same page."""

from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

from .tables import fmt

# Okabe-Ito colours (distinguishable with common colour-vision deficiencies), all >= 3:1 against white
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#7A6300", "#56B4E9", "#E69F00", "#000000")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2", "10 4")
MARKERS = ("circle", "square", "triangle", "diamond")
WIDTH, HEIGHT = 640, 320
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 44


@dataclass(frozen=True)
class Series:
    label: str
    points: list[tuple[float, float]]  # (x, y)


@dataclass(frozen=True)
class Point:
    label: str
    x: float
    y: float
    x_interval: tuple[float, float] | None = None
    y_interval: tuple[float, float] | None = None


def _marker(kind: str, x: float, y: float, colour: str, size: float = 4.0) -> str:
    if kind == "square":
        return f'<rect x="{x - size:.1f}" y="{y - size:.1f}" width="{2 * size:.1f}" height="{2 * size:.1f}" ' \
               f'fill="{colour}"/>'
    if kind == "triangle":
        return f'<polygon points="{x:.1f},{y - size - 1:.1f} {x - size - 1:.1f},{y + size:.1f} ' \
               f'{x + size + 1:.1f},{y + size:.1f}" fill="{colour}"/>'
    if kind == "diamond":
        return f'<polygon points="{x:.1f},{y - size - 1:.1f} {x + size + 1:.1f},{y:.1f} {x:.1f},' \
               f'{y + size + 1:.1f} {x - size - 1:.1f},{y:.1f}" fill="{colour}"/>'
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{size:.1f}" fill="{colour}"/>'


class _Frame:
    def __init__(self, xs: list[float], ys: list[float], x_range=None, y_range=None):
        self.x0, self.x1 = x_range or _pad(min(xs), max(xs))
        self.y0, self.y1 = y_range or _pad(min(ys), max(ys))

    def px(self, x: float) -> float:
        return LEFT + (x - self.x0) / ((self.x1 - self.x0) or 1) * (WIDTH - LEFT - RIGHT)

    def py(self, y: float) -> float:
        return HEIGHT - BOTTOM - (y - self.y0) / ((self.y1 - self.y0) or 1) * (HEIGHT - TOP - BOTTOM)

    def axes(self, x_label: str, y_label: str) -> list[str]:
        parts = [f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}" '
                 f'fill="none" stroke="#595959"/>']
        for y in nice_ticks(self.y0, self.y1):
            parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{self.py(y):.1f}" y2="{self.py(y):.1f}" '
                         f'stroke="#e0e0e0"/>')
            parts.append(f'<text x="{LEFT - 6}" y="{self.py(y) + 4:.1f}" text-anchor="end">{escape(fmt(y))}</text>')
        for x in nice_ticks(self.x0, self.x1):
            parts.append(f'<text x="{self.px(x):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">'
                         f'{escape(fmt(x))}</text>')
        parts.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2:.0f}" y="{HEIGHT - 6}" text-anchor="middle">'
                     f'{escape(x_label)}</text>')
        parts.append(f'<text transform="translate(14 {(TOP + HEIGHT - BOTTOM) / 2:.0f}) rotate(-90)" '
                     f'text-anchor="middle">{escape(y_label)}</text>')
        return parts


def nice_ticks(lo: float, hi: float, most: int = 6) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) inside [lo, hi], at most `most` of them."""
    span = hi - lo
    if span <= 0:
        return [lo]
    magnitude = 10 ** math.floor(math.log10(span / most))
    step = next(m * magnitude for m in (1, 2, 5, 10, 20) if span / (m * magnitude) <= most)
    first = math.ceil(lo / step - 1e-9) * step
    count = int(math.floor((hi - first) / step + 1e-9)) + 1
    return [round(first + i * step, 12) for i in range(count)]


def _pad(lo: float, hi: float) -> tuple[float, float]:
    if hi - lo < 1e-12:
        return lo - 0.5, hi + 0.5
    pad = (hi - lo) * 0.05
    return lo - pad, hi + pad


def _figure(plot_id: str, title: str, description: str, body: list[str], legend: list[tuple[str, int]]) -> Markup:
    items = "".join(
        f'<li><svg width="34" height="12" aria-hidden="true"><line x1="1" x2="33" y1="6" y2="6" '
        f'stroke="{COLOURS[i % len(COLOURS)]}" stroke-width="2" stroke-dasharray="{DASHES[i % len(DASHES)]}"/>'
        f'{_marker(MARKERS[i % len(MARKERS)], 17, 6, COLOURS[i % len(COLOURS)], 3)}</svg>{escape(label)}</li>'
        for label, i in legend)
    pid = escape(plot_id)
    svg = (f'<svg class="plot" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{pid}-t {pid}-d">'
           f'<title id="{pid}-t">{escape(title)}</title><desc id="{pid}-d">{escape(description)}</desc>'
           + "".join(body) + "</svg>")
    return Markup(f'<figure class="figure"><div class="plot-box">{svg}</div><figcaption>{escape(title)}'
                  f'<ul class="legend">{items}</ul></figcaption></figure>')


def line_chart(plot_id: str, title: str, series: list[Series], x_label: str, y_label: str,
               y_range: tuple[float, float] | None = None, markers: list[tuple[float, str]] = ()) -> Markup:
    """Lines through each series' points; `markers` are vertical lines at x with a label (a training cutoff)."""
    xs = [x for s in series for x, _ in s.points] + [x for x, _ in markers]
    ys = [y for s in series for _, y in s.points]
    if not ys:
        return Markup("")
    frame = _Frame(xs, ys, y_range=y_range)
    body = frame.axes(x_label, y_label)
    for x, label in markers:
        body.append(f'<line x1="{frame.px(x):.1f}" x2="{frame.px(x):.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" '
                    f'stroke="#595959" stroke-dasharray="4 3"/><text x="{frame.px(x) + 4:.1f}" y="{TOP + 12}">'
                    f'{escape(label)}</text>')
    for i, s in enumerate(series):
        colour, dash = COLOURS[i % len(COLOURS)], DASHES[i % len(DASHES)]
        pts = " ".join(f"{frame.px(x):.1f},{frame.py(y):.1f}" for x, y in s.points)
        body.append(f'<polyline points="{pts}" fill="none" stroke="{colour}" stroke-width="2" '
                    f'stroke-dasharray="{dash}"/>')
        if len(s.points) <= 40:
            body += [_marker(MARKERS[i % len(MARKERS)], frame.px(x), frame.py(y), colour, 3) for x, y in s.points]
    description = f"{y_label} against {x_label} for " + ", ".join(s.label for s in series)
    return _figure(plot_id, title, description, body, [(s.label, i) for i, s in enumerate(series)])


def scatter(plot_id: str, title: str, points: list[Point], x_label: str, y_label: str) -> Markup:
    """Each point with its label, and its intervals as error bars."""
    if not points:
        return Markup("")
    xs = [v for p in points for v in (p.x, *(p.x_interval or ()))]
    ys = [v for p in points for v in (p.y, *(p.y_interval or ()))]
    frame = _Frame(xs, ys)
    body = frame.axes(x_label, y_label)
    for i, p in enumerate(points):
        colour = COLOURS[i % len(COLOURS)]
        x, y = frame.px(p.x), frame.py(p.y)
        if p.x_interval:
            body.append(f'<line class="bar" x1="{frame.px(p.x_interval[0]):.1f}" '
                        f'x2="{frame.px(p.x_interval[1]):.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{colour}"/>')
        if p.y_interval:
            body.append(f'<line class="bar" x1="{x:.1f}" x2="{x:.1f}" y1="{frame.py(p.y_interval[0]):.1f}" '
                        f'y2="{frame.py(p.y_interval[1]):.1f}" stroke="{colour}"/>')
        body.append(_marker(MARKERS[i % len(MARKERS)], x, y, colour, 5))
    description = f"{y_label} against {x_label}: " + "; ".join(
        f"{p.label} at ({fmt(p.x)}, {fmt(p.y)})" for p in points)
    return _figure(plot_id, title, description, body, [(p.label, i) for i, p in enumerate(points)])

