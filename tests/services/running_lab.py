"""A test site whose built-in metric store holds samples of running jobs' nodes, as node
agents send them, beside archived jobs in the statistics index: the setting of the services
that combine finished jobs (from the index) with running ones (from the store)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cc_backend.domain.job import Job, MonitoringStatus
from cc_backend.domain.jobdata import JobData
from cc_backend.server import Backends
from tests.metric_lines import TIMESTEP, Samples, combine, node_metric, node_samples, pick
from tests.metric_lines import to_payload as payload_of

__all__ = ["METRICS", "STEPS", "RunningJobsLab"]

#: The metrics pushed for every node (the roofline's pair).
METRICS = ["flops_any", "mem_bw"]
#: Samples pushed per host, one per minute from the start of the test's time window.
STEPS = 10


@dataclass
class RunningJobsLab:
    """The test site's backends and its metric store fed from ``start`` (``steps`` samples
    of :data:`METRICS` per host, valued by :meth:`sample`)."""

    backends: Backends
    make_job: Callable[..., Job]
    start: int
    steps: int = STEPS
    samples: dict[str, list[Samples]] = field(default_factory=dict)

    @property
    def now(self) -> int:
        """Just after the last sample."""
        return self.start + self.steps * TIMESTEP

    def sample(self, metric: str, host: str, position: int, step: int) -> float:
        """The value a node agent sends for ``metric`` of ``host`` at scope position
        ``position`` and time step ``step``."""
        raise NotImplementedError

    def push(self, cluster: str, host: str) -> None:
        """Feed ``steps`` samples of every metric at its native scope."""
        found = self.backends.clusters.get(cluster)
        samples = node_samples(found, host, METRICS, self.start, self.steps, value=self.sample)
        assert self.backends.metric_store is not None
        result = self.backends.metric_store.ingest(payload_of(samples))
        assert result.rejected == 0, result.errors[:3]
        self.samples[host] = samples

    def node_series(self, host: str, metric: str) -> list[float]:
        """``metric`` of ``host`` at node scope, as the store combines the samples pushed."""
        return combine(pick(self.samples[host], metric=metric, host=host), "sum")

    def running(self, *hosts: str, after: int = 0, cluster: str = "fritz", **fields: Any) -> int:
        """A running job on ``hosts`` started ``after`` time steps into the window."""
        for host in hosts:
            if host not in self.samples:
                self.push(cluster, host)
        if cluster == "alex":
            fields = {"subCluster": "a40", "partition": "a40", "numHwthreads": 128, **fields}
        job = self.make_job(
            cluster=cluster,
            startTime=self.start + after * TIMESTEP,
            numNodes=len(hosts),
            resources=[{"hostname": h} for h in hosts],
            **fields,
        )
        return self.backends.jobs.add(job)

    def finished(
        self,
        host: str,
        flops: list[float],
        bandwidth: list[float],
        *,
        indexed: bool = True,
        **fields: Any,
    ) -> int:
        """An archived job with these node series (and their statistics in its meta data),
        in the statistics index unless not ``indexed``."""
        job = self.make_job(
            jobState="completed",
            duration=3600,
            startTime=self.start - 7200,
            resources=[{"hostname": host}],
            monitoringStatus=int(MonitoringStatus.ARCHIVING_SUCCESSFUL),
            **fields,
        )
        meta = job.model_copy(update={"id": self.backends.jobs.add(job)})
        data = JobData.from_json(
            {
                "flops_any": node_metric(flops, "F/s", host),
                "mem_bw": node_metric(bandwidth, "B/s", host),
            }
        )
        meta = meta.model_copy(update={"statistics": data.meta_statistics(1)})
        self.backends.archive.import_job(meta, data)
        if not indexed:
            return meta.id or 0
        index = self.backends.statistics_index.index()
        assert index is not None
        index.build(self.backends.archive.iter_jobs())
        return meta.id or 0
