"""Sparklines: the small plot of one metric per job in the job list.

A job list shows up to a hundred jobs with a few metrics each; a Bokeh figure per cell
would cost the browser and the server a model each, so a sparkline is a small inline SVG:
the mean over the job's nodes as a line, the range between its lowest and highest node
as a band, the line coloured by the level of the job's average (the thresholds of the
metric on the job's subcluster, as the footprint bars use them). Gaps in the data stay
gaps. :func:`sparkline_svg` draws one; nothing here fetches.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

from app.stores.jobs import Sparkline
from app.views.footprint import Level, Thresholds, classify, format_value

__all__ = ["SPARKLINE_STYLE", "sparkline_svg"]

WIDTH = 160
HEIGHT = 52
PAD = 2

#: Styles of the sparkline cells.
SPARKLINE_STYLE = """
.cc-spark { display: flex; flex-direction: column; font-size: .72rem; line-height: 1.1; }
.cc-spark svg { display: block; }
.cc-spark .sp-label { display: flex; justify-content: space-between; gap: .4rem;
  font-variant-numeric: tabular-nums; opacity: .85; }
.cc-spark .sp-none { opacity: .6; font-style: italic; }
"""


def _finite(values: Sequence[float]) -> list[float]:
    return [v for v in values if not math.isnan(v)]


def _xy(index: int, value: float, total: int, top: float) -> str:
    """The point of sample ``index`` of ``total`` scaled into the box (0 at the bottom,
    ``top`` at the top)."""
    x = PAD + index * (WIDTH - 2 * PAD) / max(total - 1, 1)
    y = HEIGHT - PAD - (HEIGHT - 2 * PAD) * min(max(value / top, 0.0), 1.0)
    return f"{x:.1f} {y:.1f}"


def _path(values: Sequence[float], top: float) -> str:
    """An SVG path through ``values``; a gap starts a new segment."""
    parts: list[str] = []
    pen_down = False
    for i, value in enumerate(values):
        if math.isnan(value):
            pen_down = False
            continue
        parts.append(("L" if pen_down else "M") + _xy(i, value, len(values), top))
        pen_down = True
    return " ".join(parts)


def _band(low: Sequence[float], high: Sequence[float], top: float) -> str:
    """Closed shapes between ``low`` and ``high``, one per stretch without gaps."""
    total = min(len(low), len(high))
    shapes: list[str] = []
    stretch: list[int] = []
    for i in [*range(total), -1]:
        if i >= 0 and not (math.isnan(low[i]) or math.isnan(high[i])):
            stretch.append(i)
            continue
        if len(stretch) > 1:
            upper = [_xy(j, high[j], total, top) for j in stretch]
            lower = [_xy(j, low[j], total, top) for j in reversed(stretch)]
            shapes.append("M" + " L".join(upper + lower) + " Z")
        stretch = []
    return " ".join(shapes)


def sparkline_svg(
    line: Sparkline | str | None,
    metric: str,
    thresholds: Thresholds | None = None,
    lower_is_better: bool = False,
) -> str:
    """A sparkline cell: the plot with the average and peak as text, or the reason there
    is none (``line`` as text; ``None``: still loading)."""
    if line is None:
        return '<div class="cc-spark"><span class="sp-none">loading…</span></div>'
    if isinstance(line, str):
        return f'<div class="cc-spark"><span class="sp-none">{html.escape(line)}</span></div>'
    values = _finite(line.mean)
    if not values:
        return '<div class="cc-spark"><span class="sp-none">no samples</span></div>'
    average = sum(values) / len(values)
    highest = max(_finite(line.high or ()) or values)
    top = max(highest, thresholds.peak if thresholds is not None else 0.0, 1e-9)
    level = (
        classify(average, thresholds, lower_is_better) if thresholds is not None else Level.UNKNOWN
    )
    colour = level.colour if level is not Level.UNKNOWN else "#0d6efd"
    band = ""
    if line.low is not None and line.high is not None:
        shape = _band(line.low, line.high, top)
        if shape:
            band = f'<path d="{shape}" fill="{colour}" fill-opacity=".22" stroke="none"/>'
    unit = html.escape(line.unit)
    title = html.escape(
        f"{metric}: average {format_value(average)} {line.unit}, "
        f"highest {format_value(highest)} {line.unit}; {level.meaning}"
    )
    return (
        f'<div class="cc-spark" data-metric="{html.escape(metric)}" data-level="{level.key}">'
        f'<svg width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{title}"><title>{title}</title>'
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" rx="3" fill="{colour}" '
        f'fill-opacity=".07"/>{band}'
        f'<path d="{_path(line.mean, top)}" fill="none" stroke="{colour}" stroke-width="1.5"/>'
        "</svg>"
        f'<span class="sp-label"><span>avg {format_value(average)} {unit}</span>'
        f"<span>max {format_value(highest)}</span></span></div>"
    )
