"""The roofline heatmap of every node time step of all matching jobs, finished and running
(GraphQL's ``rooflineHeatmap``, the analysis page).

Finished jobs are counted by :class:`~cc_backend.services.job_statistics.JobStatistics`
from the per-job counts of the statistics index. Running jobs have no counts there: their
time steps are in the metric store. They are counted here, per request, without a request
per job: the running jobs among the matching ones (same filters, same visibility) are read
from the job table, and each cluster's metric data source is asked once for ``flops_any``
and ``mem_bw`` at node scope on every host those jobs use, from the earliest start among
them until now. Each job then takes its hosts' samples from its own start on, and they are
counted on the index's fine grid by the index's own function
(:func:`~cc_backend.stats.roofline_cells.job_cells`: same pairing of the two metrics per
host, same conversion to ``G`` units, same binning), so that a running job counts exactly as
it will once archived. A node shared by several running jobs counts for each of them, as
cc-backend counts per job.

The request's window starts at the full hour at or before the earliest start, and ends now.
Where a job's samples begin is found from its start time: sample ``i`` of a series belongs
to the ``i``-th time step from the window's start, so a job takes its hosts' samples from
``round((job start - window start) / timestep)`` on, the sample a request from the job's
start would begin with. Starting the window on a full hour puts it on the store's time grid
whenever the samples lie on whole multiples of their time step (as collectors send them)
and the time step divides an hour; then this is exact. Otherwise a job may gain or lose the
one time step at its start.

Samples older than ``lookback`` seconds (up to the full hour before) are not asked for: the
server passes the built-in store's ``retention-in-memory``, since a store keeps nothing
older and would only send padding for every host of the request. A job running longer is
counted over that window.

A cluster whose metric data source cannot answer (a dead store, an unsupported kind) costs
only its own running jobs: they are left out and counted as not counted, and the failure is
logged once (again only after the source has answered in between).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from cc_backend.domain.cluster import MetricScope
from cc_backend.domain.errors import BackendUnavailable, NotFound
from cc_backend.domain.filters import JobFilter
from cc_backend.domain.job import Job, JobState, MonitoringStatus
from cc_backend.domain.jobdata import JobData, JobMetric, MetricStatistics, Series
from cc_backend.domain.user import User
from cc_backend.metricdata.base import MetricDataRepository, NodeData
from cc_backend.repository.jobs import JobRepository
from cc_backend.services.job_statistics import JobStatistics
from cc_backend.stats.roofline_cells import ROOFLINE_METRICS, JobCells, job_cells, tiles_from_cells
from cc_backend.stats.statistics_results import RooflineGrid, RooflineHeatmap

__all__ = ["RooflineHeatmaps", "RunningCounts", "running_job_data"]

log = logging.getLogger(__name__)

#: Monitoring states of jobs without metric data (counted in no heatmap, as the index does).
_WITHOUT_DATA = (MonitoringStatus.DISABLED, MonitoringStatus.ARCHIVING_FAILED)
_RUNNING = JobFilter(state=[JobState.RUNNING])
#: Request windows start on a full hour (see the module docstring).
_HOUR = 3600


@dataclass(frozen=True, slots=True)
class RunningCounts:
    """The time steps of running jobs per fine roofline cell: ``cells`` (jobs' fine cells
    concatenated, a cell may repeat) and their ``counts``; ``per_job`` by database id
    holds each counted job's cells; ``uncounted`` lists the jobs left out because their
    cluster's metric data could not be read."""

    per_job: dict[int, JobCells]
    uncounted: tuple[int, ...]

    @property
    def cells(self) -> np.ndarray[tuple[int], np.dtype[np.int64]]:
        parts = [c.cells for c in self.per_job.values()]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)

    @property
    def counts(self) -> np.ndarray[tuple[int], np.dtype[np.int64]]:
        parts = [c.counts for c in self.per_job.values()]
        return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


class RooflineHeatmaps:
    """Roofline heatmaps over finished jobs (``statistics``) and running jobs (``jobs``,
    their time steps from ``metric_data(cluster)``).

    ``clock`` gives "now"; ``lookback`` (seconds, None: no limit) bounds how far back the
    metric stores are asked. Blocking (SQL, DuckDB, metric store requests): call it off the
    event loop. Safe to share between threads.
    """

    def __init__(
        self,
        statistics: JobStatistics,
        jobs: JobRepository,
        metric_data: Callable[[str], MetricDataRepository],
        *,
        lookback: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.statistics = statistics
        self.jobs = jobs
        self.metric_data = metric_data
        self.lookback = lookback
        self._clock = clock
        self._failing: set[str] = set()
        self._lock = threading.Lock()

    def roofline_heatmap(
        self, grid: RooflineGrid, filters: Sequence[JobFilter] = (), *, actor: User | None
    ) -> list[list[float]]:
        """The tiles of :meth:`roofline_time_steps` (GraphQL's ``rooflineHeatmap``)."""
        return self.roofline_time_steps(grid, filters, actor=actor).tiles

    def roofline_time_steps(
        self, grid: RooflineGrid, filters: Sequence[JobFilter] = (), *, actor: User | None
    ) -> RooflineHeatmap:
        """Every node time step of the matching jobs with metric data on ``grid`` (see
        :meth:`JobStatistics.roofline_time_steps`), running jobs included.

        ``jobs`` counts the jobs whose time steps are in the tiles; ``uncounted`` the
        matching jobs with metric data whose time steps are not: jobs not yet in the
        statistics index, and running jobs of a cluster whose metric data could not be
        read. Raises what :class:`JobStatistics` raises (InvalidInput for a bad grid or
        filter, PermissionDenied), before any metric store is asked.
        """
        finished = self.statistics.roofline_time_steps(grid, filters, actor=actor)
        now = int(self._clock())
        running = self.running_jobs(filters, actor=actor, now=now)
        counted = self.count_running(running, now=now)
        extra = np.asarray(tiles_from_cells(counted.cells, counted.counts, grid))
        tiles = np.asarray(finished.tiles, dtype=np.float64) + extra
        done = len(counted.per_job)
        # The job table's part of ``finished`` counted these jobs as uncounted; a job that
        # started between the two queries was not, hence the floor.
        return RooflineHeatmap(
            grid,
            [[float(v) for v in row] for row in tiles],
            finished.jobs + done,
            max(finished.uncounted - done, 0),
        )

    def running_jobs(
        self, filters: Sequence[JobFilter] = (), *, actor: User | None, now: int
    ) -> list[Job]:
        """The running jobs with metric data among those matching ``filters`` that
        ``actor`` may see (``now`` resolves named time ranges and running durations)."""
        found = self.jobs.query([*filters, _RUNNING], actor=actor, now=now).items
        return [j for j in found if j.monitoring_status not in _WITHOUT_DATA]

    def count_running(self, jobs: Iterable[Job], *, now: int) -> RunningCounts:
        """The time steps of ``jobs`` (running) from their start until ``now`` per fine
        cell: one metric data request per cluster."""
        by_cluster: dict[str, list[Job]] = {}
        for job in jobs:
            by_cluster.setdefault(job.cluster, []).append(job)
        per_job: dict[int, JobCells] = {}
        uncounted: list[int] = []
        for cluster, members in sorted(by_cluster.items()):
            start = min(j.start_time for j in members)
            if self.lookback is not None:
                start = max(start, now - int(self.lookback))
            start -= start % _HOUR
            data = self._node_data(cluster, members, start, max(now, start))
            for job in members:
                if data is None:
                    uncounted.append(job.id or 0)
                else:
                    per_job[job.id or 0] = job_cells(running_job_data(job, data, start))
        return RunningCounts(per_job, tuple(uncounted))

    def _node_data(self, cluster: str, jobs: list[Job], start: int, stop: int) -> NodeData | None:
        """``flops_any`` and ``mem_bw`` of every host of ``jobs`` at node scope, or None
        (logged once) when the cluster's metric data source cannot answer."""
        hosts = sorted({r.hostname for j in jobs for r in j.resources})
        try:
            source = self.metric_data(cluster)
            data = source.load_node_data(
                cluster, ROOFLINE_METRICS, hosts, [MetricScope.NODE], start=start, stop=stop
            )
        except (BackendUnavailable, NotFound) as exc:
            with self._lock:
                first = cluster not in self._failing
                self._failing.add(cluster)
            if first:
                log.warning(
                    "roofline heatmap: %d running job(s) of cluster %s not counted: %s",
                    len(jobs),
                    cluster,
                    exc,
                )
            return None
        with self._lock:
            recovered = cluster in self._failing
            self._failing.discard(cluster)
        if recovered:
            log.info("roofline heatmap: metric data of cluster %s readable again", cluster)
        return data


def running_job_data(job: Job, data: NodeData, start: int) -> JobData:
    """The roofline metrics of ``job`` out of node data asked from ``start`` (Unix
    seconds): the node-scope series of its hosts, each from the job's start on (see the
    module docstring for how that sample is found)."""
    hosts = [r.hostname for r in job.resources]
    result: dict[str, dict[MetricScope, JobMetric]] = {}
    for metric in ROOFLINE_METRICS:
        parts: list[Series] = []
        template: JobMetric | None = None
        for host in hosts:
            found = data.get(host)
            node = None if found is None else found.root.get(metric, {}).get(MetricScope.NODE)
            if node is None:
                continue
            template = template or node
            step = max(node.timestep, 1)
            skip = max((job.start_time - start + step // 2) // step, 0)
            for series in node.series:
                samples = series.data[skip:]
                parts.append(Series.trusted(host, series.id, MetricStatistics.of(samples), samples))
        if template is not None:
            result[metric] = {MetricScope.NODE: template.model_copy(update={"series": parts})}
    return JobData(result)
