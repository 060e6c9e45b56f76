"""Line-protocol payloads with known values for the nodes of the demo clusters.

Tests that need metric data in a metric store (the built-in one over HTTP, or an archiver
that reads it back) build it here, so that every expected value can be computed from the
samples themselves, independently of the code under test::

    start = recent_start(steps=10)                      # aligned, inside the store's window
    samples = node_samples(fritz, "f0101", ["mem_used", "cpu_user"], start, steps=10)
    payload = to_payload(samples)                       # bytes for POST .../write
    threads = pick(samples, metric="cpu_user")          # 72 series, one per hwthread
    expected = combine(threads, "avg")                  # the node series a store returns
    avg, low, high = statistics(expected)

Every series holds ``steps`` samples at the metric's time step from ``start``; the value
of sample ``step`` of the series with id position ``position`` (the index of its id among
the node's ids at the metric's native scope: hwthread 5 -> 5, socket 1 -> 1, the GPU at
``00000000:48:00.0`` -> 2, a node-scope series -> 0) is ``value(metric, host, position,
step)``. The default :func:`ramp` is ``100 * position + step``: whole numbers, so sums are
exact and averages easy to write down (a node's 72 hwthreads average ``3550 + step``).

Lines name their series as metric collectors do: ``type=node`` for the node itself,
``type=<scope>,type-id=<id>`` below it (``type=hwthread,type-id=5``, ``type=accelerator,
type-id=00000000:07:00.0``), with ``cluster`` and ``hostname`` tags and timestamps in
seconds. The store's time window (retention, at most an hour ahead) is the caller's
business: :func:`recent_start` gives a start that fits.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cc_backend.domain.cluster import Cluster, MetricScope, Topology

__all__ = [
    "TIMESTEP",
    "Samples",
    "ValueFunction",
    "combine",
    "job_samples",
    "native_ids",
    "node_metric",
    "node_samples",
    "pick",
    "ramp",
    "recent_start",
    "statistics",
    "to_payload",
]

#: The time step of every demo metric (seconds).
TIMESTEP = 60

#: ``value(metric, host, position, step) -> float``: the sample of a series at a step.
ValueFunction = Callable[[str, str, int, int], float]


def ramp(metric: str, host: str, position: int, step: int) -> float:
    """The default values: ``100 * position + step`` (the same for every metric and host)."""
    del metric, host
    return float(100 * position + step)


def recent_start(steps: int, *, now: float | None = None, timestep: int = TIMESTEP) -> int:
    """A start time, a multiple of ``timestep``, such that ``steps`` samples from it end
    before ``now`` (default: the current time); well inside a store's retention window."""
    current = int(time.time() if now is None else now)
    return (current // timestep - steps) * timestep


@dataclass(frozen=True)
class Samples:
    """The samples of one series: a metric of a host at its native scope and one id."""

    cluster: str
    host: str
    metric: str
    #: The metric's native scope (the ``type`` tag of the lines).
    scope: MetricScope
    #: The id at ``scope`` (the ``type-id`` tag); None at node scope.
    id: str | None
    start: int
    timestep: int
    values: tuple[float, ...]

    @property
    def timestamps(self) -> list[int]:
        """The time of each value."""
        return [self.start + i * self.timestep for i in range(len(self.values))]

    @property
    def array(self) -> npt.NDArray[np.float64]:
        """The values as a float array."""
        return np.array(self.values, dtype=np.float64)

    def lines(self) -> list[str]:
        """One line of line protocol per value (seconds, no trailing newline)."""
        tags = f"{self.metric},cluster={self.cluster},hostname={self.host}"
        if self.id is None:
            tags += ",type=node"
        else:
            tags += f",type={self.scope},type-id={self.id}"
        return [
            f"{tags} value={value!r} {stamp}"
            for value, stamp in zip(self.values, self.timestamps, strict=True)
        ]


def native_ids(scope: MetricScope, topology: Topology) -> list[str | None]:
    """The ids of a whole node at ``scope``, in topology order (``[None]`` for node)."""
    if scope is MetricScope.NODE:
        return [None]
    if scope is MetricScope.HWTHREAD:
        return [str(t) for t in topology.node]
    if scope is MetricScope.CORE:
        return [str(c) for c in range(len(topology.core or []))]
    if scope is MetricScope.SOCKET:
        return [str(s) for s in range(len(topology.socket))]
    if scope is MetricScope.MEMORY_DOMAIN:
        return [str(d) for d in range(len(topology.memory_domain or []))]
    return list(topology.accelerator_ids())


def node_samples(
    cluster: Cluster,
    host: str,
    metrics: Iterable[str] | None,
    start: int,
    steps: int,
    *,
    value: ValueFunction = ramp,
) -> list[Samples]:
    """Every series a metric collector sends for ``host``: each of ``metrics`` (None: all
    metrics of the host's subcluster) at its native scope, for every id of the node."""
    subcluster = cluster.subcluster_of(host)
    names = (
        list(metrics)
        if metrics is not None
        else [m.name for m in cluster.metrics_for(subcluster.name)]
    )
    out: list[Samples] = []
    for name in names:
        config = cluster.metric_config(subcluster.name, name)
        for position, ident in enumerate(native_ids(config.scope, subcluster.topology)):
            values = tuple(float(value(name, host, position, step)) for step in range(steps))
            out.append(
                Samples(
                    cluster.name, host, name, config.scope, ident, start, config.timestep, values
                )
            )
    return out


def job_samples(
    cluster: Cluster,
    hosts: Iterable[str],
    metrics: Iterable[str] | None,
    start: int,
    steps: int,
    *,
    value: ValueFunction = ramp,
) -> list[Samples]:
    """:func:`node_samples` of each of ``hosts`` (the hosts of a job), host by host."""
    chosen = None if metrics is None else list(metrics)
    return [
        series
        for host in hosts
        for series in node_samples(cluster, host, chosen, start, steps, value=value)
    ]


def to_payload(samples: Iterable[Samples]) -> bytes:
    """A line-protocol payload of ``samples``, time step by time step (as collectors send)."""
    rows = [
        (stamp, line) for s in samples for stamp, line in zip(s.timestamps, s.lines(), strict=True)
    ]
    rows.sort(key=lambda row: row[0])
    return "".join(line + "\n" for _, line in rows).encode()


def pick(
    samples: Iterable[Samples],
    *,
    metric: str | None = None,
    host: str | None = None,
    ids: Iterable[str] | None = None,
) -> list[Samples]:
    """The series of ``samples`` matching every criterion given, in their order."""
    wanted = None if ids is None else set(ids)
    return [
        s
        for s in samples
        if (metric is None or s.metric == metric)
        and (host is None or s.host == host)
        and (wanted is None or s.id in wanted)
    ]


def combine(samples: Sequence[Samples], aggregation: str) -> list[float]:
    """The series a store derives from several: step by step the ``"sum"`` or ``"avg"``."""
    if not samples:
        raise ValueError("nothing to combine")
    table = np.array([s.values for s in samples], dtype=np.float64)
    combined = table.sum(axis=0) if aggregation == "sum" else table.mean(axis=0)
    return [float(x) for x in combined]


def statistics(values: Sequence[float]) -> tuple[float, float, float]:
    """Average, minimum and maximum of ``values`` (NaN left out)."""
    present = [v for v in values if not math.isnan(v)]
    return sum(present) / len(present), min(present), max(present)


def node_metric(values: Sequence[float], base: str, host: str) -> dict[str, object]:
    """A node-scope metric of one host as ``data.json`` holds it: ``values`` at 60 s in
    unit ``G<base>``."""
    series = [{"hostname": host, "data": list(values)}]
    return {"node": {"unit": {"base": base, "prefix": "G"}, "timestep": 60, "series": series}}
