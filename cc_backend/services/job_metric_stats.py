"""Per-metric statistics of the matching jobs, finished and running (GraphQL's
``jobsMetricStats``, the job comparison).

Finished jobs take their statistics from the statistics index
(:meth:`~cc_backend.services.job_statistics.JobStatistics.job_metric_stats`). Running jobs
have none there: their samples are in the metric store. They get theirs here, per request,
without a request per job: the running jobs without statistics among the matching ones
(same filters, same visibility) are read from the job table, and each cluster's metric data
source is asked once at node scope for the wanted metrics on every host those jobs use
(see :mod:`cc_backend.services.running_metrics` for the window and how a job's samples are
found). Each job's statistics are then derived from its own hosts' samples since its start
as the archiver derives them (:meth:`~cc_backend.domain.jobdata.JobData.meta_statistics`:
``avg`` the sum of the node averages over the number of nodes, ``min``/``max`` the extremes
of the nodes; metrics without finite statistics left out), so that a running job compares
as it will once archived.

A cluster whose metric data source cannot answer costs only its own running jobs: they keep
no statistics, and the failure is logged once (again only after the source has answered in
between).

An archived job the index does not hold yet (the index is being built, as on a site just
pointed at an existing archive, or its update failed) gets the statistics of its
``meta.json``, as cc-backend answers every job: at most :data:`MAX_META_READS` of them per
request, the rest keep none until the index has them.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence

from cc_backend.archive import JobArchive
from cc_backend.domain.errors import InvalidInput, NotFound
from cc_backend.domain.filters import JobFilter
from cc_backend.domain.job import Job
from cc_backend.domain.job import MetricStatistics as MetaStatistics
from cc_backend.domain.user import User
from cc_backend.metricdata.base import MetricDataRepository
from cc_backend.repository.jobs import JobRepository
from cc_backend.services.job_statistics import JobStatistics
from cc_backend.services.running_metrics import (
    RunningNodeData,
    running_jobs,
)
from cc_backend.stats.statistics_results import JobStats, MetricStatistics, NamedStats

__all__ = ["MAX_META_READS", "JobMetricStats"]

log = logging.getLogger(__name__)

#: Archived jobs missing from the index whose ``meta.json`` one request reads at most.
MAX_META_READS = 500


def _named(
    stats: Mapping[str, MetaStatistics], metrics: Sequence[str] | None
) -> tuple[NamedStats, ...]:
    """A job's statistics as in meta.json, of ``metrics`` in their order (None: all, by
    name); metrics without statistics are left out."""
    names = sorted(stats) if metrics is None else [m for m in metrics if m in stats]
    return tuple(
        NamedStats(m, MetricStatistics(avg=s.avg, min=s.min, max=s.max))
        for m in names
        for s in (stats[m],)
    )


class JobMetricStats:
    """Job statistics of finished jobs (``statistics``, and ``archive`` for archived jobs
    the index lacks) and running jobs (``jobs``, their samples from ``metric_data(cluster)``).

    ``clock`` gives "now"; ``lookback`` (seconds, None: no limit) bounds how far back the
    metric stores are asked. Blocking (SQL, DuckDB, metric store requests, archive reads):
    call it off the event loop. Safe to share between threads.
    """

    def __init__(
        self,
        statistics: JobStatistics,
        jobs: JobRepository,
        metric_data: Callable[[str], MetricDataRepository],
        *,
        archive: JobArchive | None = None,
        lookback: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.statistics = statistics
        self.jobs = jobs
        self.archive = archive
        self.lookback = lookback
        self._clock = clock
        self._node_data = RunningNodeData(
            metric_data, log=log, what="job statistics", consequence="without statistics"
        )

    def job_metric_stats(
        self,
        filters: Sequence[JobFilter] = (),
        *,
        actor: User | None,
        metrics: Sequence[str] | None = None,
    ) -> list[JobStats]:
        """Every matching job by start time with its statistics of ``metrics`` (None:
        every metric there is): from the statistics index, for running jobs the index does
        not hold from the metric store, for archived jobs it does not hold yet from their
        ``meta.json``. A job none of them has (not archived, its store down, no samples)
        has empty ``stats``. Raises what :class:`JobStatistics` raises (InvalidInput for a
        bad metric name or filter), before any metric store is asked.
        """
        found = self.statistics.job_metric_stats(filters, actor=actor, metrics=metrics)
        missing = {j.id for j in found if not j.stats}
        if not missing:
            return found
        now = int(self._clock())
        running = [
            j for j in running_jobs(self.jobs, filters, actor=actor, now=now) if j.id in missing
        ]
        computed = self.running_statistics(running, metrics, now=now)
        computed.update(self.archived_statistics(missing - {j.id for j in running}, metrics))
        return [
            dataclasses.replace(j, stats=computed[j.id]) if j.id in computed else j for j in found
        ]

    def running_statistics(
        self, jobs: Sequence[Job], metrics: Sequence[str] | None, *, now: int
    ) -> dict[int, tuple[NamedStats, ...]]:
        """The statistics of ``metrics`` (None: all) of ``jobs`` (running) from their
        start until ``now`` by database id: one metric data request per cluster. Jobs of
        a cluster whose source cannot answer are left out."""
        with_nodes = [j for j in jobs if j.num_nodes >= 1]
        result: dict[int, tuple[NamedStats, ...]] = {}
        per_job = self._node_data.per_job(with_nodes, metrics, now=now, lookback=self.lookback)
        for job, data in per_job:
            if data is None:
                continue
            result[job.id or 0] = _named(data.meta_statistics(job.num_nodes), metrics)
        return result

    def archived_statistics(
        self, db_ids: Collection[int | None], metrics: Sequence[str] | None
    ) -> dict[int, tuple[NamedStats, ...]]:
        """The ``meta.json`` statistics of ``metrics`` (None: all) of those of the jobs
        ``db_ids`` that are archived, by database id; only the :data:`MAX_META_READS`
        newest of ``db_ids`` are looked at. A job whose meta data is missing or broken is
        left out."""
        candidates = sorted((i for i in db_ids if i is not None), reverse=True)
        if self.archive is None or not candidates:
            return {}
        if len(candidates) > MAX_META_READS:
            log.info(
                "%d finished job(s) without statistics in the index; reading the meta data "
                "of the newest %d",
                len(candidates),
                MAX_META_READS,
            )
        wanted = JobFilter.model_validate({"dbId": candidates[:MAX_META_READS]})
        archived = [job for job in self.jobs.query([wanted], actor=None).items if job.is_archived]
        result: dict[int, tuple[NamedStats, ...]] = {}
        for job in archived:
            try:
                stored = self.archive.load_meta(job).statistics or {}
            except (NotFound, InvalidInput):
                continue
            result[job.id or 0] = _named(stored, metrics)
        return result
