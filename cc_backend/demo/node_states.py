"""What the live demo's scheduler says about its nodes: a ``/api/nodestate/`` report per
cluster, from the slots the simulator's jobs hold."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from cc_backend.demo.allocation import Placement
from cc_backend.demo.meta import Pool
from cc_backend.demo.occupancy import Occupancy

__all__ = ["node_reports"]


def node_reports(
    pool: Pool, occupancy: Occupancy, placements: Iterable[Placement]
) -> list[dict[str, Any]]:
    """One node entry of a ``/api/nodestate/`` body per host of ``pool``, as a Slurm
    adapter reports it: ``IDLE`` with no job, ``ALLOCATED`` when jobs hold every slot,
    ``MIXED`` in between; allocated CPUs (hardware threads) and GPUs in proportion to the
    slots held, and the jobs running there (``placements``: those of the pool's jobs)."""
    topology = pool.subcluster.topology
    threads, gpus = len(topology.node), len(topology.accelerators or [])
    held = np.rint((1.0 - occupancy.free_share()) * occupancy.slots).astype(int)
    jobs = np.zeros(len(pool.hosts), dtype=int)
    for placement in placements:
        jobs[placement.nodes] += 1
    reports = []
    for host, slots, running in zip(pool.hosts, held.tolist(), jobs.tolist(), strict=True):
        if slots == 0:
            state = "IDLE"
        elif slots >= occupancy.slots:
            state = "ALLOCATED"
        else:
            state = "MIXED"
        share = slots / occupancy.slots
        reports.append(
            {
                "hostname": host,
                "states": [state],
                "cpusAllocated": round(threads * share),
                "cpusTotal": threads,
                "gpusAllocated": round(gpus * share),
                "gpusTotal": gpus,
                "jobsRunning": running,
            }
        )
    return reports
