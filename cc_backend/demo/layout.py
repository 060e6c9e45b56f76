"""Where a demo job runs on its nodes, and where each metric is computed there.

A :class:`Layout` lists a job's hosts, cores and GPUs and how busy each core is. The
:class:`MetricPlan` of a metric says at which *units* its values are computed: every
core of the job (for core-scope series), every socket or memory domain it uses, every GPU,
or one unit for the node; with the busy share of each unit and the unit's share of the
node's summed peak.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cc_backend.demo.metrics import unit_share
from cc_backend.domain.cluster import Aggregation, MetricConfig, MetricScope, Topology

__all__ = ["CPU_SCOPES", "GROUP_SCOPES", "Layout", "MetricPlan", "plan_metric"]

FloatArray = npt.NDArray[np.float64]

#: Native scopes below the socket, stored at core scope.
CPU_SCOPES = (MetricScope.HWTHREAD, MetricScope.CORE)
#: Native scopes that group cores.
GROUP_SCOPES = (MetricScope.SOCKET, MetricScope.MEMORY_DOMAIN)


class Layout:
    """Where a job runs on each node: the same cores (and as many GPUs) everywhere.

    ``activity`` holds, per core of the job, 1 for a working core and a small value for
    an idle one; the busy shares of the units metrics are computed at follow from it.
    """

    def __init__(
        self, hostnames: list[str], gpus: list[list[str]], topology: Topology, cores: list[int]
    ) -> None:
        self.hostnames = hostnames
        self.gpus = gpus
        self.topology = topology
        self.cores = cores
        self.node_cores = len(topology.core or topology.node)
        self.activity = np.ones(len(cores))
        self._groups: dict[MetricScope, tuple[list[str], FloatArray]] = {}

    @classmethod
    def of(cls, resources: list[dict[str, Any]], topology: Topology, active: float) -> Layout:
        """The layout of a job on ``resources`` (meta.json shape); ``active`` is the share
        of its cores that do the work."""
        threads = resources[0].get("hwthreads") or topology.node
        core_of = {t: i for i, core in enumerate(topology.core or []) for t in core}
        cores = sorted({core_of.get(t, t) for t in threads})
        gpus = [list(r.get("accelerators") or []) for r in resources]
        layout = cls([r["hostname"] for r in resources], gpus, topology, cores)
        working = max(1, round(active * len(cores)))
        layout.activity = np.where(np.arange(len(cores)) < working, 1.0, 0.02)
        return layout

    @property
    def mean_activity(self) -> float:
        return float(self.activity.mean())

    def groups(self, scope: MetricScope) -> tuple[list[str], FloatArray]:
        """Ids of the sockets (or memory domains) the job uses and the busy share of each."""
        if scope not in self._groups:
            lists = (
                self.topology.socket if scope is MetricScope.SOCKET else self.topology.memory_domain
            )
            core_of = {t: i for i, core in enumerate(self.topology.core or []) for t in core}
            position = {c: i for i, c in enumerate(self.cores)}
            ids, scales = [], []
            for index, threads in enumerate(lists):
                members = {core_of.get(t, t) for t in threads}
                mine = [position[c] for c in members if c in position]
                if mine:
                    ids.append(str(index))
                    scales.append(len(mine) / len(members) * float(self.activity[mine].mean()))
            self._groups[scope] = (ids, np.array(scales)[None, :, None])
        return self._groups[scope]


@dataclass(frozen=True, slots=True)
class MetricPlan:
    """Where a metric is computed: the units per node, their scope if stored, their
    busy share (``scale``) and their share of the node's summed peak."""

    scope: MetricScope | None
    ids: list[list[str]]
    scale: FloatArray
    share: float


def plan_metric(metric: MetricConfig, layout: Layout, fine: bool) -> MetricPlan:
    """Where ``metric`` is computed for a job on ``layout``; ``fine`` asks for finer
    series to be stored (the scope is then set)."""
    scope, nodes = metric.scope, len(layout.hostnames)
    activity = layout.activity
    if scope in CPU_SCOPES and fine:
        ids = [str(c) for c in layout.cores]
        share = unit_share(metric, layout.node_cores)
        return MetricPlan(MetricScope.CORE, [ids] * nodes, activity[None, :, None], share)
    if scope in CPU_SCOPES:  # one unit standing for all of the job's cores
        summed = metric.aggregation is Aggregation.SUM
        share = len(layout.cores) / layout.node_cores if summed else 1.0
        return MetricPlan(None, [], np.asarray(layout.mean_activity), share)
    if scope in GROUP_SCOPES:
        ids, scale = layout.groups(scope)
        total = (
            layout.topology.socket if scope is MetricScope.SOCKET else layout.topology.memory_domain
        )
        share = unit_share(metric, len(total))
        return MetricPlan(scope if fine else None, [ids] * nodes, scale, share)
    if scope is MetricScope.ACCELERATOR:
        return MetricPlan(scope, layout.gpus, np.ones(1), 1.0)
    busy = len(layout.cores) / layout.node_cores * layout.mean_activity
    return MetricPlan(None, [], np.asarray(busy), 1.0)
