"""A finished job with node-scope series of every metric, of any size: the large jobs that
browser tests and benchmarks of the job view open (the demo archive's jobs are smaller)."""

from __future__ import annotations

from typing import Any

import numpy as np

from cc_backend.domain.cluster import Cluster
from cc_backend.domain.footprint import with_footprint
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData

__all__ = ["node_scope_job"]


def node_scope_job(
    cluster: Cluster,
    *,
    job_id: int,
    user: str,
    hosts: list[str],
    start: int,
    duration: int,
    timestep: int = 60,
    subcluster: str = "main",
) -> tuple[Job, JobData]:
    """A completed job of ``user`` on ``hosts`` of ``cluster``'s ``subcluster`` and its data.

    Every metric of the subcluster has one node-scope series per host, a sample every
    ``timestep`` seconds: a level per host between the metric's alert and normal threshold,
    a slow wave and some noise (seeded by ``job_id``, so the same arguments give the same
    job). The job carries its statistics, footprint and energy, ready for
    ``JobArchive.import_job``.
    """
    rng = np.random.default_rng(job_id)
    steps = duration // timestep + 1
    document: dict[str, Any] = {}
    for config in cluster.metrics_for(subcluster):
        low, high = sorted((config.alert, config.normal))
        level = rng.uniform(low, max(high, low + 1), (len(hosts), 1))
        wave = np.sin(np.linspace(0, 6 * np.pi, steps))[None, :] * 0.1 * level
        noise = rng.normal(0, 0.02, (len(hosts), steps)) * level
        rows = np.clip(level + wave + noise, 0, None)
        document[config.name] = {
            "node": {
                "unit": config.unit.model_dump(exclude_none=True),
                "timestep": timestep,
                "series": [
                    {"hostname": h, "data": row} for h, row in zip(hosts, rows, strict=True)
                ],
            }
        }
    data = JobData.model_validate(document)
    hwthreads = len(cluster.subcluster(subcluster).topology.node)
    job = Job.model_validate(
        {
            "jobId": job_id, "user": user, "project": f"project-{user}", "cluster": cluster.name,
            "subCluster": subcluster, "partition": "multinode", "numNodes": len(hosts),
            "numHwthreads": hwthreads * len(hosts), "jobState": "completed",
            "startTime": start, "duration": duration, "walltime": duration + 3600,
            "monitoringStatus": 3, "resources": [{"hostname": h} for h in hosts],
            "metaData": {"jobName": f"sim-{job_id}", "jobScript": "#!/bin/bash\nsrun ./sim",
                         "slurmInfo": f"JobId={job_id} Partition=multinode"},
            "statistics": data.meta_statistics(len(hosts)),
        }
    )  # fmt: skip
    return with_footprint(job, cluster, data=data), data
