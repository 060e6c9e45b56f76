"""Where a job's metric data is read from: the metric store while it runs, the archive after.

:class:`JobMetricData` gives every reader (REST, GraphQL, the web app) the same shapes
whichever source answers:

* a job that runs, or whose archiving has not finished, is read from its cluster's metric
  data backend at the requested resolution;
* an archived job is read from the job archive (the decoded ``data.json`` of recently read
  jobs is kept in a bounded cache), restricted to the requested metrics and scopes, and
  resampled (LTTB) when a coarser resolution is asked for;
* a metric with many series gets its statistics series (min/median/max per time step),
  which plots show instead of a line per series.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future

from cc_backend.archive import JobArchive
from cc_backend.domain.cluster import Cluster, MetricScope
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import (
    JobData,
    JobMetric,
    JobStatistics,
    MetricStatistics,
    ScopedStatistics,
    SeriesStatistics,
    job_statistics_of,
)
from cc_backend.domain.units import Unit
from cc_backend.metricdata.base import MetricDataRepository
from cc_backend.metricdata.resample import (
    DEFAULT_MINIMUM_POINTS,
    ResamplingPolicy,
    resample_metrics,
)
from cc_backend.metricdata.statistics_series import JOB_MIN_SERIES, add_statistics_series

__all__ = ["ArchiveDataCache", "JobMetricData"]

#: A job in the archive: cluster, job id, start time.
_Key = tuple[str, int, int]


class ArchiveDataCache:
    """The decoded metric data of the most recently read archived jobs (thread-safe LRU).

    Concurrent loads of one job read its archive once: the first caller reads, the others
    wait for its data (or its error). A page asking for a job's plots and its statistics
    at the same time therefore decodes ``data.json`` once, not once per question.
    """

    def __init__(self, archive: JobArchive, max_jobs: int = 64) -> None:
        self.archive = archive
        self.max_jobs = max_jobs
        self._entries: OrderedDict[_Key, JobData] = OrderedDict()
        #: Reads in progress, by job: what the callers arriving meanwhile wait for.
        self._reading: dict[_Key, Future[JobData]] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def load(self, job: Job) -> JobData:
        """The archived data of ``job`` (NotFound / InvalidInput as the archive raises)."""
        key = (job.cluster, job.job_id, job.start_time)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return found
            reading = self._reading.get(key)
            if reading is not None:
                self.hits += 1
            else:
                self.misses += 1
                self._reading[key] = mine = Future[JobData]()
        if reading is not None:
            return reading.result()
        try:
            data = self.archive.load_data(job)
        except BaseException as exc:
            with self._lock:
                del self._reading[key]
            mine.set_exception(exc)
            raise
        with self._lock:
            del self._reading[key]
            self._entries[key] = data
            while len(self._entries) > self.max_jobs:
                self._entries.popitem(last=False)
        mine.set_result(data)
        return data

    def forget(self, job: Job) -> None:
        """Drop ``job`` from the cache (after its archived data changed)."""
        with self._lock:
            self._entries.pop((job.cluster, job.job_id, job.start_time), None)

    def clear(self) -> None:
        """Drop every cached job (the next load of each reads the archive)."""
        with self._lock:
            self._entries.clear()


#: The unit of a metric the cluster does not configure.
_NO_UNIT = Unit(base="")


def _from_store(job: Job) -> bool:
    """Whether ``job``'s data still lives in the metric store rather than in the archive."""
    return not job.is_archived


class JobMetricData:
    """Loads job metric data from the right source (see the module docstring)."""

    def __init__(
        self,
        metric_data: Callable[[str], MetricDataRepository],
        archive_cache: ArchiveDataCache,
        *,
        cluster_of: Callable[[str], Cluster] | None = None,
        resampling: ResamplingPolicy | None = None,
        statistics_series_from: int = JOB_MIN_SERIES,
    ) -> None:
        """``resampling`` is the site's ``main.resampling`` policy (None: data is served at
        the resolution asked for, native by default); ``cluster_of`` gives a cluster's
        metric time steps for it."""
        self.metric_data = metric_data
        self.archive_cache = archive_cache
        self.cluster_of = cluster_of
        self.resampling = resampling
        self.statistics_series_from = statistics_series_from

    def initial_resolution(self, job: Job) -> int:
        """The resolution ``job``'s plots are first loaded at (0: native): the coarsest
        configured one, or one from the job's duration (see :class:`ResamplingPolicy`)."""
        if self.resampling is None or self.cluster_of is None:
            return 0
        metrics = self.cluster_of(job.cluster).metrics
        timestep = min((m.timestep for m in metrics), default=60)
        return self.resampling.initial_resolution(job.duration, timestep)

    def load(
        self,
        job: Job,
        metrics: Sequence[str] | None = None,
        scopes: Sequence[MetricScope] = (MetricScope.NODE,),
        resolution: int | None = 0,
    ) -> JobData:
        """``job``'s series of ``metrics`` (None: all) at ``scopes`` and ``resolution``
        seconds (0: native; None: :meth:`initial_resolution`), with statistics series where
        a metric has many series."""
        if resolution is None:
            resolution = self.initial_resolution(job)
        if _from_store(job):
            data = self.metric_data(job.cluster).load_data(job, metrics, scopes, resolution)
        else:
            data = self._from_archive(job, metrics, scopes, resolution)
        return JobData(
            {
                name: {
                    scope: add_statistics_series(metric, min_series=self.statistics_series_from)
                    for scope, metric in by_scope.items()
                }
                for name, by_scope in data.items()
            }
        )

    def prefetch(self, job: Job) -> None:
        """Read an archived ``job``'s data into the cache now (for the loads that follow;
        they wait for this read rather than repeat it). Nothing for a job whose data comes
        from its metric data backend. Errors are the archive's, as :meth:`load` raises them."""
        if not _from_store(job):
            self.archive_cache.load(job)

    def load_stats(
        self, job: Job, metrics: Sequence[str]
    ) -> dict[str, dict[str, MetricStatistics]]:
        """Node-scope statistics per metric and host, from the store or the archive."""
        if _from_store(job):
            return self.metric_data(job.cluster).load_stats(job, metrics)
        data = self.archive_cache.load(job)
        stats: dict[str, dict[str, MetricStatistics]] = {}
        for name in metrics:
            node = data.root.get(name, {}).get(MetricScope.NODE)
            if node is not None:
                stats[name] = {s.hostname: s.statistics for s in node.series}
        return stats

    def job_stats(
        self, job: Job, metrics: Sequence[str] | None, units: Mapping[str, Unit]
    ) -> dict[str, JobStatistics]:
        """Job-wide avg/min/max per metric (``metrics`` None: those of ``units``); ``units``
        gives each metric's unit.

        An archived job answers with the statistics its ``meta.json`` stores, as cc-backend
        does: a metric asked for by name that has none there gets zeros (with ``metrics``
        None it is left out). A job whose data is still in its metric data backend answers
        with statistics derived from its node series, as the archiver will store them.
        """
        if not _from_store(job):
            return self._archived_stats(job, metrics, units)
        names = list(metrics) if metrics is not None else list(units)
        per_host = self.load_stats(job, [n for n in names if n in units])
        return {
            name: job_statistics_of(list(hosts.values()), units[name], max(job.num_nodes, 1))
            for name, hosts in per_host.items()
            if hosts
        }

    def _archived_stats(
        self, job: Job, metrics: Sequence[str] | None, units: Mapping[str, Unit]
    ) -> dict[str, JobStatistics]:
        stored = self.archive_cache.archive.load_meta(job).statistics or {}
        names = list(metrics) if metrics is not None else [n for n in units if n in stored]
        found: dict[str, JobStatistics] = {}
        for name in names:
            unit = units.get(name, _NO_UNIT)
            kept = stored.get(name)
            if kept is None:
                found[name] = JobStatistics(unit=unit, avg=0.0, min=0.0, max=0.0)
            else:
                found[name] = JobStatistics(unit=unit, avg=kept.avg, min=kept.min, max=kept.max)
        return found

    def load_scoped_stats(
        self, job: Job, metrics: Sequence[str] | None, scopes: Sequence[MetricScope]
    ) -> ScopedStatistics:
        """Statistics per metric, scope and series, from the store or the archive."""
        if _from_store(job):
            return self.metric_data(job.cluster).load_scoped_stats(job, metrics, scopes)
        data = self._from_archive(job, metrics, scopes, 0)
        return {
            name: {
                scope: [
                    SeriesStatistics(
                        s.hostname, s.id, s.statistics.avg, s.statistics.min, s.statistics.max
                    )
                    for s in metric.series
                ]
                for scope, metric in by_scope.items()
            }
            for name, by_scope in data.items()
        }

    def _from_archive(
        self,
        job: Job,
        metrics: Sequence[str] | None,
        scopes: Sequence[MetricScope],
        resolution: int,
    ) -> JobData:
        archived = self.archive_cache.load(job)
        names = (
            list(archived.metrics()) if metrics is None else [m for m in metrics if m in archived]
        )
        selected: dict[str, dict[MetricScope, JobMetric]] = {}
        for name in names:
            available = archived[name]
            chosen = {scope: available[scope] for scope in scopes if scope in available}
            if not chosen:
                # The archive keeps fewer scopes than can be asked for: serve the finest
                # scope it has that is still coarser than every requested one, or node.
                fallback = _closest_scope(list(available), scopes)
                if fallback is not None:
                    chosen = {fallback: available[fallback]}
            if chosen:
                selected[name] = chosen
        if resolution > 0:
            flat = [(name, scope) for name, by_scope in selected.items() for scope in by_scope]
            minimum = (
                DEFAULT_MINIMUM_POINTS
                if self.resampling is None
                else self.resampling.minimum_points
            )
            resampled = resample_metrics(
                [selected[n][s] for n, s in flat], resolution, minimum_points=minimum
            )
            for (name, scope), metric in zip(flat, resampled, strict=True):
                selected[name][scope] = metric
        return JobData(selected)


def _closest_scope(
    available: Sequence[MetricScope], requested: Sequence[MetricScope]
) -> MetricScope | None:
    """Of the archived scopes, the finest one not finer than any requested scope."""
    if not requested:
        return None
    coarsest_request = MetricScope.coarsest(requested)
    usable = [s for s in available if not s.is_finer_than(coarsest_request)]
    if not usable:
        return None
    return min(usable, key=lambda s: s.granularity)
