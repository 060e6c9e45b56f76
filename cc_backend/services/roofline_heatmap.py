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

How the request's window is chosen (a full hour, bounded by ``lookback``: the server passes
the built-in store's ``retention-in-memory``) and where each job's samples begin is
described in :mod:`cc_backend.services.running_metrics`, which this module shares with the
job comparison's statistics.

A cluster whose metric data source cannot answer (a dead store, an unsupported kind) costs
only its own running jobs: they are left out and counted as not counted, and the failure is
logged once (again only after the source has answered in between).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from cc_backend.domain.filters import JobFilter
from cc_backend.domain.job import Job
from cc_backend.domain.user import User
from cc_backend.metricdata.base import MetricDataRepository
from cc_backend.repository.jobs import JobRepository
from cc_backend.services.job_statistics import JobStatistics
from cc_backend.services.running_metrics import (
    RunningNodeData,
    running_job_data,
    running_jobs,
)
from cc_backend.stats.roofline_cells import ROOFLINE_METRICS, JobCells, job_cells, tiles_from_cells
from cc_backend.stats.statistics_results import RooflineGrid, RooflineHeatmap

__all__ = ["RooflineHeatmaps", "RunningCounts", "running_job_data"]

log = logging.getLogger(__name__)


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
        self.lookback = lookback
        self._clock = clock
        self._node_data = RunningNodeData(
            metric_data, log=log, what="roofline heatmap", consequence="not counted"
        )

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
        return running_jobs(self.jobs, filters, actor=actor, now=now)

    def count_running(self, jobs: Iterable[Job], *, now: int) -> RunningCounts:
        """The time steps of ``jobs`` (running) from their start until ``now`` per fine
        cell: one metric data request per cluster."""
        per_job: dict[int, JobCells] = {}
        uncounted: list[int] = []
        read = self._node_data.per_job(jobs, ROOFLINE_METRICS, now=now, lookback=self.lookback)
        for job, data in read:
            if data is None:
                uncounted.append(job.id or 0)
            else:
                per_job[job.id or 0] = job_cells(data)
        return RunningCounts(per_job, tuple(uncounted))
