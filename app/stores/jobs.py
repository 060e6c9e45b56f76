"""The job list's data: one page of jobs for a :class:`~app.filters.JobQuery`, the site
facts the list draws with (clusters, tags, the user's settings) and small per-job series
of the plotted metrics.

The store asks the client as the page's user, so a user gets their own jobs only, a
manager also those of their projects, support and admins every job: the services decide,
the store never widens a filter.

- :meth:`JobListStore.load` fetches the site facts once, then the page of jobs;
  :meth:`JobListStore.update` changes filters or list options and loads the page again.
  :meth:`JobListStore.load_sparklines` then fetches the sparklines of that page (the
  visible jobs only, a few at a time, each at a coarse resolution): a step of its own, so
  that a page shows its jobs before their plots.
- The plotted metrics are chosen per cluster and saved in the user's settings under
  cc-backend's key ``metricConfig_jobListMetrics:<cluster>`` (``metricConfig_jobListMetrics``
  without a cluster filter).
- Jobs that started less than the site's ``short-running-jobs-duration`` ago are
  left out unless the URL asks for them (``hideShort=0``), as cc-backend's lists leave
  them out; a user's own ``plot_list_hideShortRunningJobs`` (seconds; cc-backend's key)
  takes the site's place, 0 showing every job.
- :meth:`JobListStore.export_pages` walks every page of the filtered list for the CSV
  export, up to :data:`EXPORT_LIMIT` jobs.
- Jobs ticked in the list are :attr:`JobListStore.selected` (over all pages);
  :meth:`JobListStore.compare_jobs` turns them into the ``dbId`` filter and switches to
  the comparison (:attr:`JobListStore.compare`, see :mod:`app.stores.job_compare`), as
  cc-backend's compare button does.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import param
from numpy.typing import NDArray

from app.filters import JobQuery, ListOptions
from app.stores.base import Store
from app.stores.job_compare import COMPARE_LIMIT
from cc_backend.client.base import DisplayConfig
from cc_backend.domain.cluster import Cluster, MetricScope
from cc_backend.domain.errors import CCError
from cc_backend.domain.filters import JobFilter, PageRequest
from cc_backend.domain.job import Job, JobState
from cc_backend.domain.jobdata import JobData, JobMetric
from cc_backend.domain.tag import Tag

__all__ = [
    "EXPORT_LIMIT",
    "HIDE_SHORT_KEY",
    "METRICS_KEY",
    "SHORT_JOB_SECONDS",
    "SPARKLINE_POINTS",
    "FootprintField",
    "JobListStore",
    "Sparkline",
    "coarse_resolution",
    "footprint_fields",
    "sparkline_of",
]

#: cc-backend's setting of the metrics plotted in job lists (``:<cluster>`` per cluster).
METRICS_KEY = "metricConfig_jobListMetrics"
#: cc-backend's setting: hide jobs that started less than this many seconds ago.
HIDE_SHORT_KEY = "plot_list_hideShortRunningJobs"
#: The short-job limit when neither the user nor the site sets one (cc-backend's default:
#: 5 minutes), for lists that ask to hide them.
SHORT_JOB_SECONDS = 300
#: Points per sparkline, at most.
SPARKLINE_POINTS = 90
#: Jobs whose sparklines are loaded at the same time.
SPARKLINE_CONCURRENCY = 4
#: Metrics plotted when the user has chosen none: the cluster's first footprint metrics.
DEFAULT_METRIC_COUNT = 3
#: Jobs exported at most, and per request.
EXPORT_LIMIT = 20_000
EXPORT_PAGE = 500


@dataclass(frozen=True)
class Sparkline:
    """A job's metric over time, reduced for a small plot: the mean over its nodes and,
    for several nodes, the lowest and highest node per point (``None`` for one node)."""

    mean: tuple[float, ...]
    low: tuple[float, ...] | None
    high: tuple[float, ...] | None
    seconds_per_point: int
    unit: str


@dataclass(frozen=True)
class FootprintField:
    """A footprint value jobs can be sorted and filtered by, e.g. ``flops_any_avg``."""

    key: str
    metric: str
    stat: str
    peak: float
    unit: str

    @property
    def label(self) -> str:
        return f"{self.metric} ({self.stat})"


def coarse_resolution(job: Job, now: float | None = None, points: int = SPARKLINE_POINTS) -> int:
    """Seconds per point for a sparkline of ``job``: about ``points`` points over its run
    time (a running job: until ``now``), in whole minutes."""
    seconds = job.duration
    if job.job_state is JobState.RUNNING:
        seconds = max(seconds, int((now if now is not None else time.time()) - job.start_time))
    return max(60, math.ceil(seconds / points / 60) * 60)


def _reduce(values: NDArray[np.float64], points: int) -> tuple[float, ...]:
    """``values`` averaged over equal buckets to at most ``points`` (gaps stay gaps)."""
    if values.size <= points:
        return tuple(float(v) for v in values)
    edges = np.linspace(0, values.size, points + 1).astype(int)
    reduced = []
    for start, stop in itertools.pairwise(edges):
        chunk = values[start:stop]
        present = chunk[~np.isnan(chunk)]
        reduced.append(float(present.mean()) if present.size else math.nan)
    return tuple(reduced)


def _across(stack: NDArray[np.float64]) -> tuple[NDArray[np.float64], ...]:
    """Mean, minimum and maximum per point over the rows of ``stack``, ignoring gaps (NaN
    where every row has a gap), without numpy's warnings about empty slices."""
    present = ~np.isnan(stack)
    counts = present.sum(axis=0)
    empty = counts == 0
    sums = np.where(present, stack, 0.0).sum(axis=0)
    mean = np.divide(sums, counts, out=np.full(sums.shape, math.nan), where=~empty)
    low = np.where(present, stack, np.inf).min(axis=0)
    high = np.where(present, stack, -np.inf).max(axis=0)
    low[empty] = math.nan
    high[empty] = math.nan
    return mean, low, high


def sparkline_of(metric: JobMetric, points: int = SPARKLINE_POINTS) -> Sparkline | None:
    """The sparkline of one metric's node-scope series (``None`` without samples)."""
    series = [s.data for s in metric.series if s.data.size]
    if not series:
        return None
    stats = metric.statistics_series
    if (
        stats is not None
        and stats.mean is not None
        and stats.min is not None
        and stats.max is not None
    ):
        mean, low, high = stats.mean, stats.min, stats.max
    elif len(series) == 1:
        mean, low, high = series[0], None, None
    else:
        length = min(s.size for s in series)
        mean, low, high = _across(np.vstack([s[:length] for s in series]))
    step = metric.timestep * max(1, math.ceil(mean.size / points))
    return Sparkline(
        _reduce(mean, points),
        None if low is None else _reduce(low, points),
        None if high is None else _reduce(high, points),
        step,
        str(metric.unit),
    )


def _node_metric(data: JobData, name: str) -> JobMetric | None:
    if name not in data:
        return None
    by_scope = data[name]
    if MetricScope.NODE in by_scope:
        return by_scope[MetricScope.NODE]
    return next(iter(by_scope.values()), None)


def footprint_fields(clusters: Iterable[Cluster]) -> list[FootprintField]:
    """The footprint values of ``clusters``' subclusters, each once, with the highest peak
    among the subclusters that have it."""
    found: dict[str, FootprintField] = {}
    for cluster in clusters:
        for sub in cluster.sub_clusters:
            configs = {m.name: m for m in cluster.metrics_for(sub.name)}
            for key in cluster.footprint_metrics(sub.name):
                metric, _, stat = key.rpartition("_")
                config = configs.get(metric)
                if config is None:
                    continue
                peak = max(config.peak, found[key].peak if key in found else 0.0)
                found[key] = FootprintField(key, metric, stat, peak, str(config.unit))
    return list(found.values())


class JobListStore(Store):
    """A page of a job list and what it is drawn with (see the module docstring)."""

    query = param.ClassSelector(class_=JobQuery, default=JobQuery(), doc="The filters.")
    options = param.ClassSelector(
        class_=ListOptions, default=ListOptions(), doc="Sorting, paging, short-job switch."
    )
    fixed = param.List(
        default=[], item_type=JobFilter, doc="Filters every list of this store adds (a page's)."
    )

    jobs = param.List(default=[], item_type=Job, doc="The jobs of the current page.")
    count = param.Integer(default=None, allow_None=True, doc="Jobs matching, over all pages.")
    has_next_page = param.Boolean(default=False, doc="Another page follows.")
    loaded = param.Boolean(default=False, doc="The first page has been loaded.")
    clusters = param.Dict(default={}, doc="The site's clusters by name.")
    tags = param.List(default=[], item_type=Tag, doc="The tags the user may read.")
    settings = param.Dict(default={}, doc="The user's interface settings.")
    site_short_seconds = param.Integer(
        default=0, doc="The site's short-running-jobs duration (0: none; see the module doc)."
    )
    metrics = param.List(default=[], item_type=str, doc="The metrics plotted per job.")
    sparklines = param.Dict(
        default={}, doc="Per job id: metric -> Sparkline, or why there is none (text)."
    )
    selected = param.List(
        default=[], item_type=int, doc="Database ids of the jobs ticked for a comparison."
    )
    compare = param.Boolean(default=False, doc="The comparison is shown instead of the list.")

    def __init__(self, client: Any, **params: Any) -> None:
        super().__init__(client, **params)
        self._generation = 0
        self._sparkline_round = 0
        self._site_loaded = False

    # -- what is asked ---------------------------------------------------------------------

    def _chosen_limit(self) -> int:
        """The short-job limit in force: the user's setting (seconds) where they stored a
        number, else the site's; 0 or less for none."""
        value = self.settings.get(HIDE_SHORT_KEY)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return int(value)
        return self.site_short_seconds

    @property
    def short_seconds(self) -> int:
        """How long ago a job must have started to be listed when short jobs are hidden:
        the limit in force, else :data:`SHORT_JOB_SECONDS`."""
        limit = self._chosen_limit()
        return limit if limit > 0 else SHORT_JOB_SECONDS

    @property
    def hiding_short(self) -> bool:
        """Whether jobs that started within :attr:`short_seconds` are left out: the
        URL's choice, else whether a limit is in force."""
        if self.options.hide_short is not None:
            return self.options.hide_short
        return self._chosen_limit() > 0

    def filters(self) -> list[JobFilter]:
        """Everything the list asks for: the page's fixed filters, the query's and the
        short-job limit."""
        filters = [*self.fixed, *self.query.to_filters()]
        if self.hiding_short:
            filters.append(JobFilter(min_running_for=self.short_seconds))
        return filters

    def _key(self) -> tuple[Any, ...]:
        return (
            tuple(f.model_dump_json() for f in self.fixed),
            tuple(self.query.to_pairs()),
            self.options,
            self.hiding_short,
            self.short_seconds,
        )

    # -- loading ----------------------------------------------------------------------------

    async def load(self) -> None:
        """Fetch the site facts (once) and the page of jobs. The sparklines are a second
        step (:meth:`load_sparklines`), so that the list shows before them."""
        try:
            await self._load_site()
            await self.load_jobs()
        finally:
            self.loaded = True

    async def _load_site(self) -> None:
        if self._site_loaded:
            return
        clusters, tags, settings, display = await asyncio.gather(
            self.fetch("clusters", self.client.clusters),
            self.fetch("tags", self.client.tags),
            self._settings(),
            self.optional(self.client.display_config, DisplayConfig()),
        )
        self.clusters = {c.name: c for c in clusters or []}
        self.tags = list(tags or [])
        self.settings = settings
        self.site_short_seconds = max(display.short_running_seconds, 0)
        if not self.metrics:
            self.metrics = self.saved_metrics()
        self._site_loaded = clusters is not None

    async def _settings(self) -> dict[str, Any]:
        """The user's settings; none if the site cannot tell (that is no error here)."""
        try:
            return dict(await self.client.user_config())
        except CCError:
            return {}

    async def load_jobs(self) -> None:
        """Fetch the current page (and the count of all matching jobs)."""
        self._generation += 1
        generation = self._generation
        options = self.options
        page = PageRequest.model_validate(
            {"itemsPerPage": options.items_per_page, "page": options.page}
        )
        filters, order = self.filters(), options.sort.order_by()

        async def ask() -> Any:
            return await self.client.jobs(filters, order=order, page=page, with_count=True)

        self.error = ""
        found = await self.fetch(("jobs", self._key()), ask)
        if generation != self._generation:
            return
        if found is None:
            self.param.update(jobs=[], count=None, has_next_page=False)
            return
        self.param.update(
            jobs=list(found.items), count=found.count, has_next_page=found.has_next_page
        )

    async def update(
        self, query: JobQuery | None = None, options: ListOptions | None = None
    ) -> None:
        """Change the filters and/or list options and load the page again (nothing if
        nothing changes). A change of anything but the page number starts again at page
        one; another cluster brings the metrics the user chose for it. The sparklines are
        left to :meth:`load_sparklines`."""
        new_query = self.query if query is None else query
        other_cluster = new_query.cluster != self.query.cluster
        new_options = self.options if options is None else options
        if new_query != self.query or _without_page(new_options) != _without_page(self.options):
            new_options = ListOptions(
                new_options.sort, 1, new_options.items_per_page, new_options.hide_short
            )
        if new_query == self.query and new_options == self.options:
            return
        self.param.update(query=new_query, options=new_options)
        if other_cluster and self._site_loaded:
            self.metrics = self.saved_metrics()
        await self.load_jobs()

    async def go_to_page(self, page: int) -> None:
        """Show page ``page`` (1-based) of the same list."""
        o = self.options
        await self.update(options=ListOptions(o.sort, max(1, page), o.items_per_page, o.hide_short))

    # -- metrics and their sparklines ---------------------------------------------------

    @property
    def metrics_key(self) -> str:
        """The setting that holds the plotted metrics for the list's cluster."""
        return f"{METRICS_KEY}:{self.query.cluster}" if self.query.cluster else METRICS_KEY

    def available_metrics(self) -> list[str]:
        """Metrics that can be plotted: those of the filtered cluster, else of every
        cluster (in configuration order, each once)."""
        clusters = self._relevant_clusters()
        names: dict[str, None] = {}
        for cluster in clusters:
            for metric in cluster.metrics:
                names.setdefault(metric.name, None)
        return list(names)

    def saved_metrics(self) -> list[str]:
        """The plotted metrics as the user saved them for this cluster (else for all
        clusters), else the first footprint metrics; only metrics that exist."""
        available = self.available_metrics()
        for key in (self.metrics_key, METRICS_KEY):
            saved = self.settings.get(key)
            if isinstance(saved, list) and saved:
                chosen = [m for m in saved if isinstance(m, str) and m in available]
                if chosen:
                    return chosen
        defaults = [f.metric for f in self.footprint_fields()]
        chosen = list(dict.fromkeys(m for m in defaults if m in available))
        return chosen[:DEFAULT_METRIC_COUNT] or available[:DEFAULT_METRIC_COUNT]

    async def set_metrics(self, metrics: Sequence[str], save: bool = True) -> None:
        """Plot ``metrics`` (unknown names are dropped); with ``save`` remember them in
        the user's settings for the list's cluster. A refused save becomes ``error``. The
        sparklines are left to :meth:`load_sparklines`."""
        available = self.available_metrics()
        chosen = [m for m in metrics if m in available]
        self.metrics = chosen
        if save:
            try:
                await self.client.set_user_config(self.metrics_key, chosen)
            except CCError as exc:
                self.error = f"Your metric selection was not saved: {exc.message}"
            else:
                self.settings = {**self.settings, self.metrics_key: chosen}

    async def load_sparklines(self) -> None:
        """The sparklines of the plotted metrics for the jobs on the page (a few jobs at
        a time); a job whose data cannot be read gets the reason instead. A newer call
        (another page, other metrics) supersedes a running one."""
        self._sparkline_round += 1
        generation = self._sparkline_round
        metrics = list(self.metrics)
        jobs = [j for j in self.jobs if j.id is not None]
        self.sparklines = {}
        if not metrics or not jobs:
            return
        limit = asyncio.Semaphore(SPARKLINE_CONCURRENCY)
        now = time.time()

        async def one(job: Job) -> None:
            async with limit:
                if generation != self._sparkline_round:
                    return
                lines = await self._sparklines(job, metrics, now)
            if generation == self._sparkline_round:
                self.sparklines = {**self.sparklines, job.id: lines}

        await asyncio.gather(*(one(j) for j in jobs))

    async def _sparklines(
        self, job: Job, metrics: list[str], now: float
    ) -> dict[str, Sparkline | str]:
        assert job.id is not None
        resolution = coarse_resolution(job, now)
        key = ("sparklines", job.id, tuple(metrics), resolution, job.job_state)
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < self.cache_seconds:
            result: dict[str, Sparkline | str] = cached[1]
            return result
        try:
            data = await self.client.job_metrics(job.id, metrics, [MetricScope.NODE], resolution)
        except CCError as exc:
            return dict.fromkeys(metrics, f"no data: {exc.message}")
        lines: dict[str, Sparkline | str] = {}
        for name in metrics:
            metric = _node_metric(data, name)
            line = sparkline_of(metric) if metric is not None else None
            lines[name] = line if line is not None else "no data"
        self._cache[key] = (now, lines)
        return lines

    # -- footprints -----------------------------------------------------------------------

    def _relevant_clusters(self) -> list[Cluster]:
        chosen = self.clusters.get(self.query.cluster)
        return [chosen] if chosen is not None else list(self.clusters.values())

    def footprint_fields(self) -> list[FootprintField]:
        """The footprint values of the filtered cluster (else of every cluster), each once,
        with the highest peak among its subclusters."""
        return footprint_fields(self._relevant_clusters())

    # -- selection and comparison ---------------------------------------------------------

    def select(self, shown: Sequence[int], ticked: Sequence[int]) -> None:
        """Of the jobs ``shown`` (a page), exactly ``ticked`` are selected now; the
        selection on other pages stays."""
        on_page, wanted = set(shown), set(ticked)
        others = [i for i in self.selected if i not in on_page]
        chosen = [i for i in shown if i in wanted]
        if others + chosen != self.selected:
            self.selected = others + chosen

    @property
    def may_compare(self) -> bool:
        """Whether a comparison can be asked for: jobs are ticked, or fewer than
        :data:`~app.stores.job_compare.COMPARE_LIMIT` jobs match (cc-backend's rule)."""
        return bool(self.selected) or (self.count is not None and self.count < COMPARE_LIMIT)

    async def compare_jobs(self) -> None:
        """Show the comparison: of the ticked jobs (they become the ``dbId`` filter), or
        of all jobs matching the filters when none are ticked."""
        if self.selected and tuple(self.selected) != self.query.db_ids:
            await self.update(query=self.query.replace(db_ids=tuple(self.selected)))
        self.compare = True

    async def clear_selection(self) -> None:
        """Untick every job and drop the ``dbId`` filter a comparison of them made."""
        self.selected = []
        if self.query.db_ids:
            await self.update(query=self.query.replace(db_ids=()))

    # -- export --------------------------------------------------------------------------

    async def export_pages(self, limit: int = EXPORT_LIMIT) -> AsyncIterator[list[Job]]:
        """Every job of the filtered list in the list's order, a page at a time, at most
        ``limit`` jobs. Domain errors are raised (the caller reports them)."""
        filters, order = self.filters(), self.options.sort.order_by()
        sent = 0
        page = 1
        while sent < limit:
            size = min(EXPORT_PAGE, limit - sent)
            request = PageRequest.model_validate({"itemsPerPage": EXPORT_PAGE, "page": page})
            found = await self.client.jobs(filters, order=order, page=request)
            items = list(found.items)[:size]
            if items:
                yield items
            sent += len(items)
            if not found.has_next_page or len(items) < EXPORT_PAGE:
                return
            page += 1


def _without_page(options: ListOptions) -> tuple[Any, ...]:
    return (options.sort, options.items_per_page, options.hide_short)
