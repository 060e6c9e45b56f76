"""Keeping running jobs current in the database: durations and live footprints.

cc-backend refreshes both periodically (``cron.duration-worker``,
``cron.footprint-worker``) so that job lists can sort and filter running jobs by duration
and footprint like finished ones.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from cc_backend.domain.errors import CCError
from cc_backend.domain.filters import JobFilter, PageRequest
from cc_backend.domain.footprint import FootprintPlan, job_subcluster
from cc_backend.domain.job import Job, JobState
from cc_backend.domain.jobdata import job_statistics_of
from cc_backend.metricdata.base import MetricDataRepository
from cc_backend.repository.jobs import JobRepository
from cc_backend.services.clusters import ClusterCatalog

__all__ = ["refresh_durations", "refresh_footprints"]

log = logging.getLogger(__name__)

_RUNNING = JobFilter.model_validate({"state": [JobState.RUNNING.value]})
_PAGE = 500


def refresh_durations(jobs: JobRepository, clock: Callable[[], float] = time.time) -> int:
    """Set every running job's duration to the time since its start; return how many."""
    return jobs.refresh_running_durations(int(clock()))


def refresh_footprints(
    jobs: JobRepository,
    clusters: ClusterCatalog,
    metric_data: Callable[[str], MetricDataRepository],
) -> int:
    """Compute the footprint and energy of every running job from its live statistics;
    return how many jobs were updated. A job whose data cannot be loaded, or that has no
    data yet, is skipped."""
    updated, page = 0, 1
    while True:
        batch = jobs.query(
            [_RUNNING], actor=None, page=PageRequest(items_per_page=_PAGE, page=page)
        )
        for job in batch.items:
            try:
                updated += _refresh_one(job, jobs, clusters, metric_data)
            except CCError as exc:
                log.info("footprint of running job %s not refreshed: %s", job.id, exc.message)
        if not batch.has_next_page:
            return updated
        page += 1


def _refresh_one(
    job: Job,
    jobs: JobRepository,
    clusters: ClusterCatalog,
    metric_data: Callable[[str], MetricDataRepository],
) -> int:
    assert job.id is not None
    cluster = clusters.get(job.cluster)
    plan = FootprintPlan.of(cluster, job_subcluster(job, cluster))
    metrics = sorted({name for name, _ in plan.footprint} | {name for name, _ in plan.energy})
    if not metrics:
        return 0
    stats = metric_data(job.cluster).load_stats(job, metrics)
    statistics = {
        name: job_statistics_of(
            list(per_host.values()),
            cluster.metric_config(plan.subcluster, name).unit,
            job.num_nodes,
        )
        for name, per_host in stats.items()
        if any(math.isfinite(v.avg) for v in per_host.values())
    }
    if not statistics:  # no data yet: leave the job as it is rather than write zeros
        return 0
    computed = plan.compute(job.model_copy(update={"statistics": statistics}))
    jobs.set_footprint(job.id, computed.footprint, computed.energy_footprint, computed.energy)
    return 1
