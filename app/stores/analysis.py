"""The analysis page's data: statistics over every job of one cluster that matches the
job-list filters, as support staff look at a whole machine.

Everything is asked of the site's job statistics (the archive's statistics index and the
job table, through the client), over all matching jobs, never a sample:

- the summary: jobs, short jobs, walltime, node, core and accelerator hours;
- the top users and projects by a chosen category (:data:`CATEGORIES`);
- jobs by duration and by number of nodes;
- per-job averages of the chosen metrics with their node hours (GraphQL's
  ``jobsFootprints``), from which the store derives the metric histograms weighted by node
  hours and the scatter plots of metric pairs (binned into a grid when there are more jobs
  than a browser draws as points);
- the roofline heatmap on cc-backend's 50 x 50 grid (GraphQL's ``rooflineHeatmap``): every
  node time step of every matching job, at its values of ``flops_any`` and ``mem_bw``:
  finished jobs from the per-job counts the statistics index keeps, running jobs from the
  metric store (:class:`~cc_backend.services.roofline_heatmap.RooflineHeatmaps`).

The chosen metrics are cc-backend's settings ``analysis_view_histogramMetrics`` and
``analysis_view_scatterPlotMetrics`` (defaults as cc-backend's). :meth:`AnalysisStore.load`
fetches the parts at the same time; :meth:`AnalysisStore.update` changes filters,
category or metrics and loads again. A domain error becomes ``error``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import param
from numpy.typing import NDArray

from app.filters import JobQuery
from app.stores.base import Store
from app.stores.jobs import FootprintField, footprint_fields
from cc_backend.client.base import JobsHistograms
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.errors import CCError, NotFound
from cc_backend.domain.filters import JobFilter, PageRequest
from cc_backend.domain.tag import Tag
from cc_backend.domain.units import prefix_factor
from cc_backend.stats.statistics_results import Footprints, JobsStatistics, RooflineGrid
from cc_backend.stats.stats_results import GroupBy, SortBy

__all__ = [
    "CATEGORIES",
    "HISTOGRAM_METRICS_KEY",
    "SCATTER_METRICS_KEY",
    "AnalysisStore",
    "Category",
    "RooflineHeatmap",
    "Scatter",
    "WeightedHistogram",
    "roofline_grid",
    "scatter_of",
    "weighted_histogram",
]

#: cc-backend's settings of the analysis view's histogram and scatter plot metrics.
HISTOGRAM_METRICS_KEY = "analysis_view_histogramMetrics"
SCATTER_METRICS_KEY = "analysis_view_scatterPlotMetrics"
DEFAULT_HISTOGRAM_METRICS = ("flops_any", "mem_bw", "mem_used")
DEFAULT_SCATTER_METRICS = (
    ("flops_any", "mem_bw"),
    ("flops_any", "cpu_load"),
    ("cpu_load", "mem_bw"),
)
#: Entries in each top list.
TOP_COUNT = 10
#: Bins of a metric histogram (cc-backend's analysis view draws 50).
METRIC_BINS = 50
#: Bins per axis of a scatter plot drawn as a grid.
SCATTER_BINS = 80
#: More jobs than this and a scatter plot is drawn as a binned grid instead of points.
SCATTER_POINTS = 5_000
#: The width of the duration histogram's bins.
DURATION_BINS = "1h"

_Floats = NDArray[np.float64]


@dataclass(frozen=True)
class Category:
    """What the top lists rank by: a sort key of the statistics and how to read it."""

    key: str
    label: str
    sort_by: SortBy
    attribute: str

    def value(self, row: JobsStatistics) -> int:
        """The row's value of this category (hours as whole hours)."""
        return int(getattr(row, self.attribute))


#: The top lists' categories by URL key.
CATEGORIES: dict[str, Category] = {
    c.key: c
    for c in (
        Category("jobs", "Jobs", SortBy.TOTALJOBS, "total_jobs"),
        Category("walltime", "Walltime [h]", SortBy.TOTALWALLTIME, "total_walltime"),
        Category("nodeHours", "Node hours", SortBy.TOTALNODEHOURS, "total_node_hours"),
        Category("coreHours", "Core hours", SortBy.TOTALCOREHOURS, "total_core_hours"),
        Category("accHours", "Accelerator hours", SortBy.TOTALACCHOURS, "total_acc_hours"),
    )
}
DEFAULT_CATEGORY = "nodeHours"


@dataclass(frozen=True)
class WeightedHistogram:
    """Node hours (and jobs) per bin of the jobs' averages of ``metric``: ``edges`` has
    one more entry than ``node_hours``; bins span the smallest to the largest average."""

    metric: str
    unit: str
    edges: _Floats
    node_hours: _Floats
    jobs: NDArray[np.int64]

    @property
    def total_jobs(self) -> int:
        return int(self.jobs.sum())


def weighted_histogram(
    metric: str, unit: str, values: _Floats, node_hours: _Floats, bins: int = METRIC_BINS
) -> WeightedHistogram:
    """The histogram of ``values`` (NaN left out) weighted by ``node_hours``, in ``bins``
    equal bins from the smallest to the largest value (one bin when all are equal, none
    without values)."""
    present = np.isfinite(values)
    x, w = values[present], node_hours[present]
    if x.size == 0:
        none = np.zeros(0)
        return WeightedHistogram(metric, unit, none, none, np.zeros(0, dtype=np.int64))
    low, high = float(x.min()), float(x.max())
    count = bins if high > low else 1
    edges = np.linspace(low, high if high > low else low + 1.0, count + 1)
    index = _bin_index(x, low, high, count)
    weights = np.bincount(index, weights=w, minlength=count)
    jobs = np.bincount(index, minlength=count)
    return WeightedHistogram(metric, unit, edges, weights.astype(np.float64), jobs.astype(np.int64))


def _bin_index(values: _Floats, low: float, high: float, bins: int) -> NDArray[np.int64]:
    """The bin of each value among ``bins`` equal bins from ``low`` to ``high`` (the top
    value in the last bin): ``floor((v - low) / (high - low) * bins)``, computed without
    searching the edges."""
    if high <= low:
        return np.zeros(values.size, dtype=np.int64)
    index = ((values - low) / (high - low) * bins).astype(np.int64)
    return np.minimum(index, bins - 1, out=index)


@dataclass(frozen=True)
class Scatter:
    """Two metrics' per-job averages: as points (``x``, ``y``, ``node_hours``) when there
    are few enough jobs, else binned: ``counts[i, j]`` jobs with ``x`` in bin ``i`` and
    ``y`` in bin ``j`` of ``x_edges`` and ``y_edges`` (then the point arrays are empty)."""

    x_metric: str
    y_metric: str
    x_unit: str
    y_unit: str
    jobs: int
    x: _Floats
    y: _Floats
    node_hours: _Floats
    counts: NDArray[np.int64] | None = None
    x_edges: _Floats | None = None
    y_edges: _Floats | None = None

    @property
    def binned(self) -> bool:
        return self.counts is not None


def _edges(values: _Floats, bins: int) -> _Floats:
    low, high = float(values.min()), float(values.max())
    return np.linspace(low, high if high > low else low + 1.0, bins + 1)


def scatter_of(
    x_metric: tuple[str, str],
    y_metric: tuple[str, str],
    x: _Floats,
    y: _Floats,
    node_hours: _Floats,
    *,
    max_points: int = SCATTER_POINTS,
    bins: int = SCATTER_BINS,
) -> Scatter:
    """The scatter plot of the jobs with both averages (``x_metric`` and ``y_metric`` are
    ``(name, unit)``): points up to ``max_points`` jobs, a ``bins`` x ``bins`` grid of
    counts beyond."""
    both = np.isfinite(x) & np.isfinite(y)
    xs, ys, ws = x[both], y[both], node_hours[both]
    names = (x_metric[0], y_metric[0], x_metric[1], y_metric[1])
    if xs.size <= max_points:
        return Scatter(*names, int(xs.size), xs, ys, ws)
    x_edges, y_edges = _edges(xs, bins), _edges(ys, bins)
    ix = _bin_index(xs, float(x_edges[0]), float(xs.max()), bins)
    iy = _bin_index(ys, float(y_edges[0]), float(ys.max()), bins)
    counts = np.bincount(ix * bins + iy, minlength=bins * bins).reshape(bins, bins)
    none = np.zeros(0)
    return Scatter(
        *names, int(xs.size), none, none, none, counts.astype(np.int64), x_edges, y_edges
    )


def roofline_grid(cluster: Cluster) -> RooflineGrid:
    """cc-backend's heatmap grid for ``cluster``: 50 x 50 tiles over 0.01 to 1000 Flop/B
    and 1 GFlop/s to the highest SIMD peak of its subclusters."""
    peaks = [
        s.flop_rate_simd.value * prefix_factor(s.flop_rate_simd.unit.prefix, "G")
        for s in cluster.sub_clusters
    ]
    top = max((p for p in peaks if math.isfinite(p)), default=0.0)
    return RooflineGrid(50, 50, 0.01, 1.0, 1000.0, max(top, 10.0))


@dataclass(frozen=True)
class RooflineHeatmap:
    """Node time steps per roofline tile: ``tiles[row][col]`` over ``grid``, row 0 the
    lowest flop rates."""

    grid: RooflineGrid
    tiles: _Floats

    @property
    def time_steps(self) -> int:
        """The node time steps inside the grid."""
        return int(self.tiles.sum())


class AnalysisStore(Store):
    """The analysis of one cluster's jobs (see the module docstring). The filter params
    (``query``, ``clusters``, ``tags``, :meth:`footprint_fields`, :meth:`update`) are those
    the job list's filter form works with."""

    cluster = param.String(default="", doc="The analysed cluster (the page's path).")
    query = param.ClassSelector(class_=JobQuery, default=JobQuery(), doc="The filters.")
    category: str = param.Selector(  # type: ignore[assignment]
        objects=list(CATEGORIES), default=DEFAULT_CATEGORY, doc="What the top lists rank by."
    )
    histogram_metrics = param.List(default=[], item_type=str, doc="Metric histograms drawn.")
    scatter_pairs = param.List(default=[], item_type=tuple, doc="(x, y) metric pairs drawn.")

    clusters = param.Dict(default={}, doc="The analysed cluster by name (for the form).")
    tags = param.List(default=[], item_type=Tag, doc="The tags the user may read.")
    settings = param.Dict(default={}, doc="The user's interface settings.")
    summary = param.ClassSelector(class_=JobsStatistics, default=None, allow_None=True)
    top_users = param.List(default=[], item_type=JobsStatistics, doc="Top users, ranked.")
    top_projects = param.List(default=[], item_type=JobsStatistics, doc="Top projects.")
    histograms = param.ClassSelector(class_=JobsHistograms, default=None, allow_None=True)
    heatmap = param.ClassSelector(class_=RooflineHeatmap, default=None, allow_None=True)
    metric_histograms = param.List(default=[], item_type=WeightedHistogram)
    scatters = param.List(default=[], item_type=Scatter)
    loaded = param.Boolean(default=False, doc="The first load has finished.")

    def __init__(self, client: Any, **params: Any) -> None:
        super().__init__(client, **params)
        if self.query.cluster != self.cluster:
            self.query = self.query.replace(cluster=self.cluster)
        self._generation = 0
        self._site_loaded = False
        self._chosen = bool(self.histogram_metrics or self.scatter_pairs)

    # -- what is asked ---------------------------------------------------------------------

    @property
    def site_cluster(self) -> Cluster | None:
        """The analysed cluster's configuration (None before the site is loaded)."""
        found: Cluster | None = self.clusters.get(self.cluster)
        return found

    def filters(self) -> list[JobFilter]:
        """The cluster and the query's filters."""
        return self.query.replace(cluster=self.cluster).to_filters()

    def available_metrics(self) -> list[str]:
        """The metrics of the cluster, in configuration order."""
        found = self.site_cluster
        return [m.name for m in found.metrics] if found is not None else []

    def footprint_fields(self) -> list[FootprintField]:
        """The footprint values the filter form offers for the cluster (the job list's
        rule)."""
        found = self.site_cluster
        return footprint_fields([found] if found is not None else [])

    def unit(self, metric: str) -> str:
        """The unit of ``metric`` on the cluster (empty when unknown)."""
        found = self.site_cluster
        if found is None:
            return ""
        try:
            return str(found.metric(metric).unit).strip()
        except NotFound:
            return ""

    def _metrics(self) -> list[str]:
        wanted = [*self.histogram_metrics, *(m for pair in self.scatter_pairs for m in pair)]
        return list(dict.fromkeys(wanted))

    def _key(self) -> tuple[Any, ...]:
        return (self.cluster, tuple(self.query.replace(cluster=self.cluster).to_pairs()))

    # -- loading ----------------------------------------------------------------------------

    async def load(self) -> None:
        """Fetch the site facts (once) and every part of the analysis, at the same time."""
        try:
            await self._load_site()
            await self.load_analysis()
        finally:
            self.loaded = True

    async def _load_site(self) -> None:
        if self._site_loaded:
            return
        clusters, tags = await asyncio.gather(
            self.fetch("clusters", self.client.clusters), self.fetch("tags", self.client.tags)
        )
        try:
            settings = dict(await self.client.user_config())
        except CCError:
            settings = {}
        named = {c.name: c for c in clusters or [] if c.name == self.cluster}
        if clusters is not None and not named:
            self.error = f"There is no cluster {self.cluster!r}."
        self.param.update(clusters=named, tags=list(tags or []), settings=settings)
        available = set(self.available_metrics())
        if not self._chosen:
            self.param.update(
                histogram_metrics=self._saved_histogram_metrics(),
                scatter_pairs=self._saved_scatter_pairs(),
            )
        else:  # chosen in the URL: only the cluster's metrics
            self.param.update(
                histogram_metrics=[m for m in self.histogram_metrics if m in available],
                scatter_pairs=[p for p in self.scatter_pairs if set(p) <= available],
            )
        self._site_loaded = clusters is not None

    def _saved_histogram_metrics(self) -> list[str]:
        available = set(self.available_metrics())
        saved = self.settings.get(HISTOGRAM_METRICS_KEY)
        chosen = saved if isinstance(saved, list) else list(DEFAULT_HISTOGRAM_METRICS)
        return [m for m in chosen if isinstance(m, str) and m in available]

    def _saved_scatter_pairs(self) -> list[tuple[str, str]]:
        available = set(self.available_metrics())
        saved = self.settings.get(SCATTER_METRICS_KEY)
        chosen = saved if isinstance(saved, list) else [list(p) for p in DEFAULT_SCATTER_METRICS]
        return [
            (str(p[0]), str(p[1]))
            for p in chosen
            if isinstance(p, list | tuple) and len(p) == 2 and set(p) <= available
        ]

    async def load_analysis(self) -> None:
        """Fetch summary, top lists, histograms and footprints for the current filters
        (a newer call supersedes a running one)."""
        if self.site_cluster is None:
            return
        self._generation += 1
        generation = self._generation
        self.error = ""
        await asyncio.gather(
            self.load_summary(generation),
            self.load_top(generation),
            self.load_histograms(generation),
            self.load_footprints(generation),
            self.load_heatmap(generation),
        )

    def _current(self, generation: int | None) -> bool:
        return generation is None or generation == self._generation

    async def load_summary(self, generation: int | None = None) -> None:
        """The totals over the matching jobs."""
        filters = self.filters()

        async def ask() -> list[JobsStatistics]:
            return await self.client.jobs_statistics(filters)

        found = await self.fetch(("summary", self._key()), ask)
        if self._current(generation):
            self.summary = found[0] if found else None

    async def load_top(self, generation: int | None = None) -> None:
        """The top users and projects by the chosen category."""
        filters, category = self.filters(), CATEGORIES[self.category]
        page = PageRequest.model_validate({"itemsPerPage": TOP_COUNT, "page": 1})

        def ask(group: GroupBy) -> Any:
            async def top() -> list[JobsStatistics]:
                return await self.client.jobs_statistics(
                    filters, group_by=group, sort_by=category.sort_by, page=page
                )

            return top

        users, projects = await asyncio.gather(
            self.fetch(("top", GroupBy.USER, category.key, self._key()), ask(GroupBy.USER)),
            self.fetch(("top", GroupBy.PROJECT, category.key, self._key()), ask(GroupBy.PROJECT)),
        )
        if self._current(generation):
            self.param.update(top_users=list(users or []), top_projects=list(projects or []))

    async def load_histograms(self, generation: int | None = None) -> None:
        """Jobs by duration and by number of nodes (and threads, accelerators)."""
        filters = self.filters()

        async def ask() -> JobsHistograms:
            return await self.client.jobs_histograms(filters, duration_bins=DURATION_BINS)

        found = await self.fetch(("histograms", self._key()), ask)
        if self._current(generation):
            self.histograms = found

    async def load_heatmap(self, generation: int | None = None) -> None:
        """The roofline heatmap of every time step of the matching jobs (see the module
        docstring)."""
        cluster = self.site_cluster
        if cluster is None:
            return
        filters, grid = self.filters(), roofline_grid(cluster)

        async def ask() -> list[list[float]]:
            return await self.client.roofline_heatmap(grid, filters)

        found = await self.fetch(("heatmap", self._key()), ask)
        if self._current(generation):
            self.heatmap = (
                None
                if found is None
                else RooflineHeatmap(grid, np.asarray(found, dtype=np.float64))
            )

    async def load_footprints(self, generation: int | None = None) -> None:
        """Per-job averages of the chosen metrics, and what is drawn of them: weighted
        histograms and scatter plots."""
        filters, metrics = self.filters(), self._metrics()
        if not metrics:  # nothing chosen: nothing to ask
            if self._current(generation):
                self.param.update(metric_histograms=[], scatters=[])
            return

        async def ask() -> Footprints:
            return await self.client.jobs_footprints(metrics, filters)

        found = await self.fetch(("footprints", tuple(metrics), self._key()), ask)
        if not self._current(generation):
            return
        if found is None:
            self.param.update(metric_histograms=[], scatters=[])
            return
        self.param.update(**self._derived(found))

    def _derived(self, found: Footprints) -> dict[str, Any]:
        values = {m.metric: np.asarray(m.data, dtype=np.float64) for m in found.metrics}
        node_hours = np.asarray(found.time_weights.node_hours, dtype=np.float64) / 60.0
        histograms = [
            weighted_histogram(m, self.unit(m), values[m], node_hours)
            for m in self.histogram_metrics
            if m in values
        ]
        scatters = [
            scatter_of((x, self.unit(x)), (y, self.unit(y)), values[x], values[y], node_hours)
            for x, y in self.scatter_pairs
            if x in values and y in values
        ]
        return {
            "metric_histograms": histograms,
            "scatters": scatters,
        }

    # -- changes ------------------------------------------------------------------------

    async def update(
        self,
        query: JobQuery | None = None,
        category: str | None = None,
        histogram_metrics: Sequence[str] | None = None,
        scatter_pairs: Sequence[tuple[str, str]] | None = None,
    ) -> None:
        """Change filters (the cluster stays the page's), category or metrics and load
        what they change. Unknown metrics are dropped; an unknown category is an error
        message."""
        if category is not None and category not in CATEGORIES:
            self.error = f"Unknown category {category!r} ({', '.join(CATEGORIES)})"
            return
        changes: dict[str, Any] = {}
        if query is not None and query.replace(cluster=self.cluster) != self.query:
            changes["query"] = query.replace(cluster=self.cluster)
        if category is not None and category != self.category:
            changes["category"] = category
        available = set(self.available_metrics())
        if histogram_metrics is not None:
            chosen = [m for m in histogram_metrics if m in available]
            if chosen != self.histogram_metrics:
                changes["histogram_metrics"] = chosen
        if scatter_pairs is not None:
            pairs = [(x, y) for x, y in scatter_pairs if x in available and y in available]
            if pairs != self.scatter_pairs:
                changes["scatter_pairs"] = pairs
        if not changes:
            return
        self._chosen = self._chosen or "histogram_metrics" in changes or "scatter_pairs" in changes
        self.param.update(**changes)
        if "query" in changes:
            await self.load_analysis()
        elif "category" in changes:
            await self.load_top()
        else:
            await self.load_footprints()
