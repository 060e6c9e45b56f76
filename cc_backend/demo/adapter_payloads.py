"""Request bodies as a scheduler adapter sends them, for examples, tests and benchmarks."""

from __future__ import annotations

from typing import Any

__all__ = ["start_job_payload"]


def start_job_payload(job_id: int = 1000, **overrides: Any) -> dict[str, Any]:
    """A ``start_job`` body for a running one-node job of ``alice`` on the demo cluster
    ``fritz`` (node ``f0101``, started at 1,700,000,000), with ``overrides`` applied (keys
    as in the body)."""
    payload: dict[str, Any] = {
        "jobId": job_id,
        "user": "alice",
        "project": "project-a",
        "cluster": "fritz",
        "subCluster": "main",
        "partition": "work",
        "arrayJobId": 0,
        "numNodes": 1,
        "numHwthreads": 72,
        "numAcc": 0,
        "shared": "none",
        "monitoringStatus": 1,
        "smt": 1,
        "jobState": "running",
        "startTime": 1_700_000_000,
        "submitTime": 1_699_999_000,
        "walltime": 3600,
        "resources": [{"hostname": "f0101"}],
        "metaData": {"jobName": "test", "jobScript": "#!/bin/sh"},
    }
    payload.update(overrides)
    return payload
