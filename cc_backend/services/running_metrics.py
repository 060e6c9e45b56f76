"""Metric data of running jobs, read for many jobs at once (the roofline heatmap,
the job comparison's statistics).

Running jobs have nothing in the statistics index: their samples are in the metric store.
They are read without a request per job: the running jobs among the matching ones (same
filters, same visibility) come from the job table (:func:`running_jobs`), and each
cluster's metric data source is asked once (:class:`RunningNodeData`) at node scope on
every host those jobs use, from :func:`window_start` until now. Each job then takes its
hosts' samples from its own start on (:func:`running_job_data`).

The window starts at the full hour at or before the earliest start. Sample ``i`` of a
series belongs to the ``i``-th time step from the window's start, so a job takes its hosts'
samples from ``round((job start - window start) / timestep)`` on, the sample a request from
the job's start would begin with. Starting the window on a full hour puts it on the store's
time grid whenever the samples lie on whole multiples of their time step (as collectors
send them) and the time step divides an hour; then this is exact. Otherwise a job may gain
or lose the one time step at its start.

Samples older than ``lookback`` seconds (up to the full hour before) are not asked for: a
store keeps nothing older and would only send padding for every host of the request. A job
running longer is read over that window.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence

from cc_backend.domain.cluster import MetricScope
from cc_backend.domain.errors import BackendUnavailable, NotFound
from cc_backend.domain.filters import JobFilter
from cc_backend.domain.job import Job, JobState, MonitoringStatus
from cc_backend.domain.jobdata import JobData, JobMetric, MetricStatistics, Series
from cc_backend.domain.user import User
from cc_backend.metricdata.base import MetricDataRepository, NodeData
from cc_backend.repository.jobs import JobRepository

__all__ = ["RunningNodeData", "running_job_data", "running_jobs", "window_start"]

#: Monitoring states of jobs without metric data.
_WITHOUT_DATA = (MonitoringStatus.DISABLED, MonitoringStatus.ARCHIVING_FAILED)
_RUNNING = JobFilter(state=[JobState.RUNNING])
#: Request windows start on a full hour (see the module docstring).
_HOUR = 3600


def running_jobs(
    jobs: JobRepository, filters: Sequence[JobFilter], *, actor: User | None, now: int
) -> list[Job]:
    """The running jobs with metric data among those matching ``filters`` that ``actor``
    may see (``now`` resolves named time ranges and running durations)."""
    found = jobs.query([*filters, _RUNNING], actor=actor, now=now).items
    return [j for j in found if j.monitoring_status not in _WITHOUT_DATA]


def window_start(jobs: Sequence[Job], *, now: int, lookback: float | None) -> int:
    """Where a request for the samples of ``jobs`` (not empty) begins: the earliest start,
    at most ``lookback`` seconds (None: no limit) before ``now``, down to the full hour."""
    start = min(j.start_time for j in jobs)
    if lookback is not None:
        start = max(start, now - int(lookback))
    return start - start % _HOUR


class RunningNodeData:
    """One node-scope request per cluster for the hosts of its running jobs.

    A cluster whose source cannot answer (a dead store, an unsupported kind) yields None;
    the failure is logged once on ``log`` as ``"<what>: N running job(s) of cluster C
    <consequence>"`` (again only after the source has answered in between). Safe to share
    between threads.
    """

    def __init__(
        self,
        metric_data: Callable[[str], MetricDataRepository],
        *,
        log: logging.Logger,
        what: str,
        consequence: str,
    ) -> None:
        self.metric_data = metric_data
        self._log = log
        self._what = what
        self._consequence = consequence
        self._failing: set[str] = set()
        self._lock = threading.Lock()

    def read(
        self,
        cluster: str,
        jobs: Sequence[Job],
        metrics: Sequence[str] | None,
        *,
        start: int,
        stop: int,
    ) -> NodeData | None:
        """``metrics`` (None: all) of every host of ``jobs`` at node scope from ``start``
        to ``stop``, or None when the cluster's metric data source cannot answer."""
        hosts = sorted({r.hostname for j in jobs for r in j.resources})
        try:
            source = self.metric_data(cluster)
            data = source.load_node_data(
                cluster, metrics, hosts, [MetricScope.NODE], start=start, stop=stop
            )
        except (BackendUnavailable, NotFound) as exc:
            with self._lock:
                first = cluster not in self._failing
                self._failing.add(cluster)
            if first:
                self._log.warning(
                    "%s: %d running job(s) of cluster %s %s: %s",
                    self._what,
                    len(jobs),
                    cluster,
                    self._consequence,
                    exc,
                )
            return None
        with self._lock:
            recovered = cluster in self._failing
            self._failing.discard(cluster)
        if recovered:
            self._log.info("%s: metric data of cluster %s readable again", self._what, cluster)
        return data

    def per_job(
        self,
        jobs: Iterable[Job],
        metrics: Sequence[str] | None,
        *,
        now: int,
        lookback: float | None,
    ) -> Iterator[tuple[Job, JobData | None]]:
        """Each of ``jobs`` (running) with ``metrics`` (None: all) of its hosts from its
        start until ``now`` (:func:`running_job_data`), or None when its cluster's source
        cannot answer: one :meth:`read` per cluster, from :func:`window_start`."""
        by_cluster: dict[str, list[Job]] = {}
        for job in jobs:
            by_cluster.setdefault(job.cluster, []).append(job)
        for cluster, members in sorted(by_cluster.items()):
            start = window_start(members, now=now, lookback=lookback)
            data = self.read(cluster, members, metrics, start=start, stop=max(now, start))
            for job in members:
                yield job, None if data is None else running_job_data(job, data, start, metrics)


def running_job_data(
    job: Job, data: NodeData, start: int, metrics: Sequence[str] | None = None
) -> JobData:
    """``metrics`` (None: every metric ``data`` holds) of ``job`` out of node data asked
    from ``start`` (Unix seconds): the node-scope series of its hosts, each from the job's
    start on (see the module docstring for how that sample is found)."""
    hosts = [r.hostname for r in job.resources]
    if metrics is None:
        names: list[str] = []
        for host in hosts:
            found = data.get(host)
            names += [] if found is None else [m for m in found.root if m not in names]
        metrics = names
    result: dict[str, dict[MetricScope, JobMetric]] = {}
    for metric in metrics:
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
