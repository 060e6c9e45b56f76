"""Footprint bars: a job's footprint values against its subcluster's metric thresholds.

Used by the job list (one small block per row) and the job view (a card). The rules, as
cc-backend's web interface applies them:

- each footprint value ``<metric>_<stat>`` is compared with the thresholds (``peak``,
  ``normal``, ``caution``, ``alert``) of its metric on the job's subcluster;
- a job that shares its nodes (``shared`` other than ``none``) is compared with
  thresholds scaled by its share of the node's hardware threads;
- ``flops_any`` counts as at peak at 85 % of the configured peak;
- the level: for a higher-is-better metric ``alert`` up to the alert threshold, then
  ``caution`` up to caution, ``normal`` up to normal, ``high`` up to peak and
  ``above_peak`` beyond; for a lower-is-better metric (``lowerIsBetter``) ``normal`` below
  caution, ``caution`` below alert, ``alert`` up to peak and ``above_peak`` beyond;
- the bars are ordered as cc-backend orders them: by level from ``above_peak`` through
  ``normal`` to ``alert`` (values without thresholds last), then by name.

:func:`footprint_bars` computes the bars, :func:`footprint_html` draws them (plain HTML,
colours that read in both themes), :class:`FootprintView` is a pane for a page.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

import panel as pn

from cc_backend.domain.cluster import Cluster, MetricConfig
from cc_backend.domain.errors import NotFound
from cc_backend.domain.job import Job, SharedMode

__all__ = [
    "FOOTPRINT_STYLE",
    "FootprintBar",
    "FootprintView",
    "Level",
    "Thresholds",
    "classify",
    "footprint_bars",
    "footprint_html",
    "job_thresholds",
]

#: cc-backend shows ``flops_any`` as reaching its peak at this fraction of the configured one.
FLOPS_ANY_PEAK_FACTOR = 0.85


class Level(Enum):
    """How a footprint value compares with its thresholds; ``order`` sorts the bars
    (cc-backend's "impact"), ``colour`` fills the bar."""

    ABOVE_PEAK = ("above_peak", -1, "#6c757d", "above the peak threshold: check for artifacts")
    HIGH = ("high", 0, "#0dcaf0", "above the normal threshold: check for artifacts")
    NORMAL = ("normal", 1, "#20c997", "within the expected thresholds")
    CAUTION = ("caution", 2, "#ffc107", "beyond the normal threshold")
    ALERT = ("alert", 3, "#dc3545", "far beyond the normal threshold")
    UNKNOWN = ("unknown", 4, "#adb5bd", "no thresholds configured for this metric")

    def __init__(self, key: str, order: int, colour: str, meaning: str) -> None:
        self.key = key
        self.order = order
        self.colour = colour
        self.meaning = meaning


@dataclass(frozen=True)
class Thresholds:
    """A metric's thresholds as they apply to one job."""

    peak: float
    normal: float
    caution: float
    alert: float


@dataclass(frozen=True)
class FootprintBar:
    """One footprint value of a job with its thresholds and level."""

    metric: str
    stat: str
    value: float
    unit: str
    level: Level
    thresholds: Thresholds | None = None
    lower_is_better: bool = False

    @property
    def key(self) -> str:
        """The footprint key, e.g. ``flops_any_avg``."""
        return f"{self.metric}_{self.stat}"

    @property
    def fraction(self) -> float:
        """How much of the bar is filled (value over peak, 0 to 1)."""
        if self.thresholds is None or self.thresholds.peak <= 0 or math.isnan(self.value):
            return 0.0
        return min(max(self.value / self.thresholds.peak, 0.0), 1.0)


def job_thresholds(job: Job, cluster: Cluster, metric: MetricConfig) -> Thresholds:
    """``metric``'s thresholds for ``job``: as configured for an exclusive job, scaled by
    the job's share of a node's hardware threads for a shared one."""
    factor = 1.0
    if job.shared is not SharedMode.NONE and job.num_hwthreads > 0:
        try:
            node_threads = len(cluster.subcluster(_subcluster(job, cluster)).topology.node)
        except NotFound:
            node_threads = 0
        if node_threads:
            factor = job.num_hwthreads / node_threads
    scaled = Thresholds(metric.peak, metric.normal, metric.caution, metric.alert)
    if factor != 1.0:
        scaled = Thresholds(
            peak=round(metric.peak * factor),
            normal=round(metric.normal * factor),
            caution=round(metric.caution * factor),
            alert=round(metric.alert * factor),
        )
    if metric.name == "flops_any":
        scaled = Thresholds(
            round(scaled.peak * FLOPS_ANY_PEAK_FACTOR), scaled.normal, scaled.caution, scaled.alert
        )
    return scaled


def classify(value: float, thresholds: Thresholds, lower_is_better: bool = False) -> Level:
    """The level of ``value`` (see the module docstring)."""
    t = thresholds
    if math.isnan(value):
        return Level.UNKNOWN
    if lower_is_better:
        if 0 <= value < t.caution:
            return Level.NORMAL
        if t.caution <= value < t.alert:
            return Level.CAUTION
        if t.alert <= value <= t.peak:
            return Level.ALERT
        return Level.ABOVE_PEAK
    if 0 <= value <= t.alert:
        return Level.ALERT
    if t.alert < value <= t.caution:
        return Level.CAUTION
    if t.caution < value <= t.normal:
        return Level.NORMAL
    if t.normal < value <= t.peak:
        return Level.HIGH
    return Level.ABOVE_PEAK


def _subcluster(job: Job, cluster: Cluster) -> str:
    if job.sub_cluster:
        return job.sub_cluster
    return cluster.subcluster_of(job.resources[0].hostname).name


def _split_key(key: str) -> tuple[str, str]:
    metric, _, stat = key.rpartition("_")
    if stat in ("avg", "min", "max") and metric:
        return metric, stat
    return key, ""


def footprint_bars(job: Job, cluster: Cluster | None) -> list[FootprintBar]:
    """The bars of ``job``'s footprint in display order (empty without footprint).
    ``cluster`` is the job's cluster (``None``: unknown, every bar without thresholds)."""
    configs: dict[str, MetricConfig] = {}
    if cluster is not None:
        try:
            configs = {m.name: m for m in cluster.metrics_for(_subcluster(job, cluster))}
        except NotFound:
            configs = {}
    bars = []
    for key, value in (job.footprint or {}).items():
        metric, stat = _split_key(key)
        config = configs.get(metric)
        if config is None:
            bars.append(FootprintBar(metric, stat, value, "", Level.UNKNOWN))
            continue
        assert cluster is not None
        limits = job_thresholds(job, cluster, config)
        lower = bool(config.lower_is_better)
        bars.append(
            FootprintBar(
                metric,
                stat,
                value,
                _unit(config),
                classify(value, limits, lower),
                limits,
                lower,
            )
        )
    return sorted(bars, key=lambda b: (b.level.order, b.metric, b.stat))


def _unit(config: MetricConfig) -> str:
    return str(config.unit)


def format_value(value: float) -> str:
    """A footprint value with at most two decimals (``-`` if missing)."""
    if math.isnan(value):
        return "-"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if abs(value) < 1e6 else f"{value:.3g}"


#: Styles of :func:`footprint_html` (inside the shadow DOM of the pane or table cell).
FOOTPRINT_STYLE = """
.cc-footprint { display: flex; flex-direction: column; gap: .2rem; min-width: 12rem;
  font-size: .8rem; line-height: 1.1; }
.cc-footprint .fp-head { display: flex; justify-content: space-between; gap: .5rem; }
.cc-footprint .fp-name { font-weight: 600; }
.cc-footprint .fp-value { font-variant-numeric: tabular-nums; white-space: nowrap; }
.cc-footprint .fp-track { height: .45rem; border-radius: .2rem;
  background: rgba(128, 128, 128, .25); overflow: hidden; }
.cc-footprint .fp-fill { height: 100%; border-radius: .2rem; }
.cc-footprint .fp-lower { font-weight: 400; opacity: .8; }
.cc-footprint .empty { opacity: .7; }
"""


def _bar_html(bar: FootprintBar) -> str:
    name = html.escape(f"{bar.metric} ({bar.stat})" if bar.stat else bar.metric)
    value = format_value(bar.value)
    if bar.thresholds is not None:
        value += f" / {format_value(bar.thresholds.peak)}"
    if bar.unit:
        value += f" {html.escape(bar.unit)}"
    direction = " (lower is better)" if bar.lower_is_better else ""
    title = html.escape(f"{bar.metric}: {bar.level.meaning}{direction}")
    lower = '<span class="fp-lower">&nbsp;&#8595;</span>' if bar.lower_is_better else ""
    track = ""
    if bar.thresholds is not None:
        track = (
            '<div class="fp-track">'
            f'<div class="fp-fill" style="width:{bar.fraction * 100:.1f}%;'
            f'background:{bar.level.colour}"></div></div>'
        )
    return (
        f'<div class="fp-bar fp-{bar.level.key}" title="{title}" '
        f'data-metric="{html.escape(bar.key)}" data-level="{bar.level.key}">'
        f'<div class="fp-head"><span class="fp-name">{name}{lower}</span>'
        f'<span class="fp-value">{value}</span></div>{track}</div>'
    )


def footprint_html(bars: list[FootprintBar], empty: str = "No footprint") -> str:
    """The bars as HTML (a ``div.cc-footprint``; style: :data:`FOOTPRINT_STYLE`)."""
    if not bars:
        return f'<div class="cc-footprint"><span class="empty">{html.escape(empty)}</span></div>'
    return '<div class="cc-footprint">' + "".join(_bar_html(b) for b in bars) + "</div>"


class FootprintView(pn.viewable.Viewer):
    """A job's footprint bars as a pane; :meth:`draw` draws another job."""

    def __init__(
        self, job: Job | None = None, cluster: Cluster | None = None, **params: Any
    ) -> None:
        super().__init__(**params)
        self._pane = pn.pane.HTML(
            "", stylesheets=[FOOTPRINT_STYLE], sizing_mode="stretch_width", name="footprint"
        )
        self.draw(job, cluster)

    def draw(self, job: Job | None, cluster: Cluster | None) -> None:
        """Draw ``job``'s footprint against ``cluster``'s thresholds (nothing: no job)."""
        self._pane.object = "" if job is None else footprint_html(footprint_bars(job, cluster))

    def show(self, job: Job | None, cluster: Cluster | None) -> None:  # type: ignore[override]
        """The same as :meth:`draw` (kept for callers written against the first version;
        it hides Panel's ``Viewer.show``, which serves a view on its own)."""
        self.draw(job, cluster)

    def __panel__(self) -> pn.pane.HTML:
        return self._pane
