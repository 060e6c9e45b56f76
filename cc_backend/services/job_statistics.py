"""Job statistics at scale: what GraphQL's ``jobsStatistics``, ``jobsFootprints``,
``rooflineHeatmap`` and ``jobsMetricStats`` answer.

Every question is asked of two sources and the answers are added up exactly
(:mod:`cc_backend.stats.statistics_parts`):

* the archive index (DuckDB over Parquet, :mod:`cc_backend.stats.index_source`) for every
  job of its current state, with footprint values as real columns;
* the job table (SQL, :mod:`cc_backend.stats.job_table_source`) for the database's jobs
  that this state does not hold: running jobs, jobs waiting for archiving, jobs never
  archived, and archived jobs whose index row is not written yet. Which jobs these are is
  kept by :class:`~cc_backend.stats.index_coverage.CoverageTracker`, so that a job
  archived after the index was built counts once, from whichever source holds it.

A site without an index (none configured, or not built yet) gets every answer from the job
table alone, with the same results. Visibility is the database's rule, applied to both
sources; the filters are GraphQL's ``JobFilter``. Jobs the archive holds but the database no
longer does (retention deleted them from the database only) are counted from the index.

Where cc-backend limits work to 500 jobs (``jobsFootprints``, ``rooflineHeatmap``, metric
histograms of running jobs), every matching job is used. Differences from cc-backend, on
purpose: metric histograms of running jobs use their stored footprint (kept current by the
footprint task) instead of asking the metric store; the roofline heatmap counts every node
time step of every matching finished job from the counts the index keeps per job
(:mod:`cc_backend.stats.roofline_cells`, no time series is loaded per request), binned by
fine cell, and leaves out the jobs the index has no counts of (running jobs, jobs not yet
indexed), where cc-backend loads the time series of at most 500 jobs, running ones from the
metric store; running jobs are added by
:class:`~cc_backend.services.roofline_heatmap.RooflineHeatmaps`. ``jobsMetricStats`` gives
statistics only for jobs the index holds.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

import numpy as np

from cc_backend.domain.errors import BackendUnavailable, InvalidInput, NotFound
from cc_backend.domain.filters import JobFilter, PageRequest, check_metric_name
from cc_backend.domain.user import User
from cc_backend.repository.database import Database
from cc_backend.stats.archive_index import ArchiveIndex
from cc_backend.stats.archive_stats import (
    DEFAULT_DURATION_BINS,
    DURATION_BINS,
    SHORT_JOB_SECONDS,
    ArchiveStats,
)
from cc_backend.stats.binning import (
    ClusterSource,
    MetricBinning,
    check_grid,
    metric_binning,
)
from cc_backend.stats.index_coverage import CoverageTracker, IndexCoverage
from cc_backend.stats.index_manifest import IndexSnapshot
from cc_backend.stats.index_source import IndexSource, holds_running_jobs, statistics_of
from cc_backend.stats.job_table_source import JobTableSource, user_display_names
from cc_backend.stats.roofline_cells import tiles_from_cells
from cc_backend.stats.statistics_parts import (
    HIST_COLUMNS,
    HistColumn,
    JobColumns,
    RooflineCounts,
    StatisticsSource,
    add_counts,
    add_group_parts,
)
from cc_backend.stats.statistics_results import (
    Footprints,
    JobsStatistics,
    JobStats,
    MetricFootprints,
    MetricHistoPoint,
    MetricHistoPoints,
    MetricStatistics,
    NamedStats,
    RooflineGrid,
    RooflineHeatmap,
    TimeWeights,
)
from cc_backend.stats.stats_results import GroupBy, HistoPoint, SortBy

__all__ = ["ClusterSource", "JobStatistics", "MetricBinning"]

log = logging.getLogger(__name__)

#: Attempts of a question when the index state read is replaced meanwhile.
_ATTEMPTS = 3

_T = TypeVar("_T")
_E = TypeVar("_E", bound=enum.StrEnum)

#: Sort keys of grouped totals, largest first (cc-backend's ``SortByAggregate``).
_SORT_KEYS: dict[SortBy, Callable[[JobsStatistics], int]] = {
    SortBy.TOTALJOBS: lambda s: s.total_jobs,
    SortBy.TOTALUSERS: lambda s: s.total_users,
    SortBy.TOTALWALLTIME: lambda s: s.walltime_seconds,
    SortBy.TOTALNODES: lambda s: s.total_nodes,
    SortBy.TOTALNODEHOURS: lambda s: s.node_seconds,
    SortBy.TOTALCORES: lambda s: s.total_cores,
    SortBy.TOTALCOREHOURS: lambda s: s.core_seconds,
    SortBy.TOTALACCS: lambda s: s.total_accs,
    SortBy.TOTALACCHOURS: lambda s: s.acc_seconds,
}


@dataclass
class _IndexReader:
    """The index opened for statistics, and what is known about its states."""

    stats: ArchiveStats
    tracker: CoverageTracker
    #: Whether an index state (generation, delta files) holds running jobs; states never
    #: change, so this is asked once per state (the two newest are kept).
    running: dict[tuple[int, tuple[str, ...]], bool] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def holds_running_jobs(self, snapshot: IndexSnapshot) -> bool:
        key = (snapshot.generation, snapshot.deltas)
        with self.lock:
            known = self.running.get(key)
        if known is None:
            known = holds_running_jobs(self.stats, snapshot)
            with self.lock:
                self.running[key] = known
                while len(self.running) > 2:
                    del self.running[next(iter(self.running))]
        return known


class JobStatistics:
    """Job statistics over the database ``db`` and, when given and built, the archive
    index ``index``; ``clusters`` gives metric peaks and units.

    ``short_seconds`` is ``main.short-running-jobs-duration``; ``clock`` gives "now" (named
    time ranges, durations of running jobs); ``threads`` limits DuckDB's threads. Safe to
    share between threads; blocking (SQL and DuckDB), so call it off the event loop.
    Every method takes the acting user (``None``: internal callers that see every job)
    and raises PermissionDenied for a user without a role that sees jobs, InvalidInput
    for a malformed filter or argument.
    """

    def __init__(
        self,
        db: Database,
        clusters: ClusterSource,
        index: ArchiveIndex | None = None,
        *,
        short_seconds: int = SHORT_JOB_SECONDS,
        clock: Callable[[], float] = time.time,
        threads: int | None = None,
    ) -> None:
        self.db = db
        self.clusters = clusters
        self.index = index
        self.short_seconds = short_seconds
        self._clock = clock
        self._threads = threads
        self._lock = threading.Lock()
        self._reader: _IndexReader | None = None

    def close(self) -> None:
        """Close the DuckDB database (if one was opened)."""
        with self._lock:
            if self._reader is not None:
                self._reader.stats.close()
                self._reader = None

    def index_coverage(self) -> IndexCoverage | None:
        """Which database jobs the current index state does not hold (brought up to date
        now); None while the answers come from the database alone."""
        reader = self._index_reader()
        if reader is None:
            return None
        try:
            return reader.tracker.current()[1]
        except NotFound:
            return None

    # -- sources ------------------------------------------------------------------------

    def _index_reader(self) -> _IndexReader | None:
        """The index opened for reading, or None while there is no index to read."""
        if self.index is None:
            return None
        with self._lock:
            if self._reader is None:
                if not self.index.exists():
                    return None
                stats = ArchiveStats(self.index, threads=self._threads, clock=self._clock)
                self._reader = _IndexReader(stats, CoverageTracker(self.db, stats))
            return self._reader

    def _sources(
        self, filters: Sequence[JobFilter], actor: User | None, now: int
    ) -> list[StatisticsSource]:
        reader = self._index_reader()
        if reader is not None:
            try:
                snapshot, coverage = reader.tracker.current()
            except NotFound:  # the index was removed: the database has every job
                log.warning("the archive index at %s has gone", reader.stats.index.location)
            else:
                running = reader.holds_running_jobs(snapshot)
                return [
                    IndexSource(reader.stats, snapshot, filters, actor, now, running_jobs=running),
                    JobTableSource(self.db, filters, actor, now, only_ids=coverage.pending),
                ]
        return [JobTableSource(self.db, filters, actor, now)]

    def _ask(
        self,
        filters: Sequence[JobFilter],
        actor: User | None,
        question: Callable[[StatisticsSource], _T],
    ) -> list[_T]:
        """The answers of every source to ``question`` over the same jobs; starts over
        when the index state read was replaced while being read."""
        now = int(self._clock())
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return [question(source) for source in self._sources(filters, actor, now)]
            except BackendUnavailable:
                if attempt == _ATTEMPTS:
                    raise
                log.info("archive index state replaced during a statistics query; again")
        raise AssertionError("unreachable")

    # -- totals -------------------------------------------------------------------------

    def totals(self, filters: Sequence[JobFilter] = (), *, actor: User | None) -> JobsStatistics:
        """Totals over all matching jobs (``id`` and ``name`` empty)."""
        parts = self._ask(filters, actor, lambda s: s.group_parts(None, self.short_seconds))
        groups = add_group_parts(p for part in parts for p in part)
        if not groups:
            return JobsStatistics.empty()
        return JobsStatistics.of(groups[0])

    def grouped(
        self,
        group_by: GroupBy | str,
        filters: Sequence[JobFilter] = (),
        *,
        actor: User | None,
        sort_by: SortBy | str | None = None,
        page: PageRequest | None = None,
    ) -> list[JobsStatistics]:
        """Totals per user, project, cluster or subcluster of the matching jobs.

        Sorted by ``sort_by`` largest first (hours by their exact seconds), ties and the
        unsorted case by group name; then paged. A user group's ``name`` is the user's
        display name.
        """
        group = _enum(GroupBy, group_by)
        order = None if sort_by is None else _SORT_KEYS[_enum(SortBy, sort_by)]
        parts = self._ask(filters, actor, lambda s: s.group_parts(group, self.short_seconds))
        rows = [JobsStatistics.of(g) for g in add_group_parts(p for part in parts for p in part)]
        rows.sort(key=lambda r: r.id)
        if order is not None:
            rows.sort(key=order, reverse=True)  # stable: ties stay sorted by name
        if page is not None and page.limit is not None:
            rows = rows[page.offset : page.offset + page.limit]
        if group is GroupBy.USER:
            names = user_display_names(self.db, [r.id for r in rows])
            rows = [replace(r, name=names.get(r.id, "")) for r in rows]
        return rows

    # -- histograms ---------------------------------------------------------------------

    def duration_histogram(
        self,
        filters: Sequence[JobFilter] = (),
        *,
        actor: User | None,
        num_duration_bins: str | None = None,
    ) -> list[HistoPoint]:
        """Jobs per duration bin (``numDurationBins``: ``1m``, ``10m``, ``1h``, ``6h``,
        ``12h`` or ``24h``, the default; see
        :data:`~cc_backend.stats.archive_stats.DURATION_BINS`). A job of ``d`` seconds
        (running: since its start) is in bin ``d // width + 1``; point ``i`` has the value
        ``i * width``; every bin is returned, longer jobs are not counted."""
        key = num_duration_bins or DEFAULT_DURATION_BINS
        if key not in DURATION_BINS:
            known = ", ".join(DURATION_BINS)
            raise InvalidInput(f"numDurationBins: unknown value {key!r} ({known})")
        width, count = DURATION_BINS[key]
        counts = add_counts(self._ask(filters, actor, lambda s: s.duration_counts(width)))
        return [HistoPoint(i * width, counts.get(i, 0)) for i in range(1, count + 1)]

    def value_histogram(
        self, column: HistColumn, filters: Sequence[JobFilter] = (), *, actor: User | None
    ) -> list[HistoPoint]:
        """Jobs per number of nodes (``num_nodes``), hardware threads (``num_hwthreads``)
        or accelerators (``num_acc``), by value (values without jobs left out)."""
        if column not in HIST_COLUMNS:
            raise InvalidInput(f"no histogram of {column!r} ({', '.join(HIST_COLUMNS)})")
        counts = add_counts(self._ask(filters, actor, lambda s: s.value_counts(column)))
        return [HistoPoint(v, n) for v, n in sorted(counts.items())]

    def metric_histograms(
        self,
        metrics: Sequence[str],
        filters: Sequence[JobFilter] = (),
        *,
        actor: User | None,
        num_metric_bins: int | None = None,
    ) -> list[MetricHistoPoints]:
        """Histograms of the footprint values of ``metrics`` over all matching jobs
        (``numMetricBins`` bins, 10 by default; see :class:`MetricBinning`)."""
        binnings = [metric_binning(self.clusters, m, filters, num_metric_bins) for m in metrics]
        result = []
        for b in binnings:
            counts = add_counts(self._ask(filters, actor, _metric_bins(b)))
            points = tuple(
                MetricHistoPoint(i, counts.get(i, 0), b.step * (i - 1), b.step * i)
                for i in range(1, b.bins + 1)
            )
            result.append(MetricHistoPoints(b.metric, b.unit, b.stat, points))
        return result

    # -- per-job values -----------------------------------------------------------------

    def _job_columns(
        self, filters: Sequence[JobFilter], actor: User | None, metrics: Sequence[str]
    ) -> JobColumns:
        names = [check_metric_name(m) for m in metrics]
        parts = self._ask(filters, actor, lambda s: s.job_columns(names))
        return JobColumns.concat(parts, names)

    def footprints(
        self, metrics: Sequence[str], filters: Sequence[JobFilter] = (), *, actor: User | None
    ) -> Footprints:
        """Each matching job's average of ``metrics`` with cc-backend's time weights, over
        every matching job with metric data (monitoring neither disabled nor failed):
        archived jobs first, then the database's other jobs. A job's average is its
        statistics average from the archive, else its footprint value ``<metric>_avg``."""
        columns = self._job_columns(filters, actor, metrics)
        minutes = columns.duration.astype(np.float64) / 60.0

        def weights(counts: np.ndarray[tuple[int], np.dtype[np.int64]]) -> np.ndarray:
            return np.where(counts > 0, minutes * counts, 1.0)

        return Footprints(
            TimeWeights(
                node_hours=minutes * columns.num_nodes,
                acc_hours=weights(columns.num_acc),
                core_hours=weights(columns.num_hwthreads),
            ),
            tuple(MetricFootprints(m, columns.averages[m]) for m in metrics),
        )

    def roofline_heatmap(
        self, grid: RooflineGrid, filters: Sequence[JobFilter] = (), *, actor: User | None
    ) -> list[list[float]]:
        """The tiles of :meth:`roofline_time_steps` (GraphQL's ``rooflineHeatmap``)."""
        return self.roofline_time_steps(grid, filters, actor=actor).tiles

    def roofline_time_steps(
        self, grid: RooflineGrid, filters: Sequence[JobFilter] = (), *, actor: User | None
    ) -> RooflineHeatmap:
        """Every node time step of the matching jobs with metric data on ``grid``:
        arithmetic intensity (``flops_any / mem_bw``, x) against flop rate (``flops_any``
        in GFlop/s, y), both on log scales; row 0 holds the smallest flop rates.

        Answered from the per-job counts in the statistics index with one grouped query,
        each fine cell put into the tile holding its centre (exact for grids aligned with
        the fine grid, cc-backend's x axis among them; see
        :mod:`cc_backend.stats.roofline_cells`). Jobs without counts (running jobs, jobs
        not yet in the index, and every job while a site has no index) are left out and
        counted in ``uncounted``: their time series are not loaded per request.
        """
        check_grid(grid)
        parts = self._ask(filters, actor, lambda s: s.roofline_counts())
        total = RooflineCounts()
        for part in parts:
            total = total.plus(part)
        tiles = tiles_from_cells(total.cells, total.counts, grid)
        return RooflineHeatmap(grid, tiles, total.jobs, total.uncounted)

    def job_metric_stats(
        self,
        filters: Sequence[JobFilter] = (),
        *,
        actor: User | None,
        metrics: Sequence[str] | None = None,
    ) -> list[JobStats]:
        """Every matching job of the database by start time, with its statistics of
        ``metrics`` (None: every metric the index has statistics of) from the archive
        index; a job the index does not hold (running) has no statistics here."""
        names = None if metrics is None else [check_metric_name(m) for m in metrics]
        now = int(self._clock())
        rows = JobTableSource(self.db, filters, actor, now).job_list()
        found: dict[int, dict[str, tuple[float, float, float]]] = {}
        reader = self._index_reader()
        if reader is not None and rows:
            try:
                snapshot = reader.stats.snapshot()
            except NotFound:
                snapshot = None
            if snapshot is not None:
                keys = [(str(r[4]), int(r[1]), int(r[2])) for r in rows]
                wanted = list(snapshot.metrics) if names is None else names
                found = statistics_of(reader.stats, snapshot, keys, wanted)
        return [
            JobStats(
                id=int(r[0]),
                job_id=str(r[1]),
                start_time=int(r[2]),
                duration=int(r[3]),
                cluster=str(r[4]),
                sub_cluster=str(r[5]),
                num_nodes=int(r[6]),
                num_hwthreads=int(r[7]),
                num_accelerators=int(r[8]),
                stats=tuple(
                    NamedStats(m, MetricStatistics(*v)) for m, v in found.get(i, {}).items()
                ),
            )
            for i, r in enumerate(rows)
        ]


def _metric_bins(binning: MetricBinning) -> Callable[[StatisticsSource], dict[int, int]]:
    def question(source: StatisticsSource) -> dict[int, int]:
        return source.metric_bin_counts(binning.key, binning.peak, binning.bins)

    return question


def _enum(kind: type[_E], value: _E | str) -> _E:
    try:
        return kind(value.upper() if isinstance(value, str) else value)
    except ValueError:
        raise InvalidInput(f"unknown {kind.__name__} {value!r} ({', '.join(kind)})") from None
