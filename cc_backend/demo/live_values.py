"""Metric values of the live demo: every metric of every node at its native scope, one
time step at a time, and the line protocol that carries them.

A :class:`PoolFrame` describes one subcluster: per metric, the units a node reports it
for (the node itself, or each hardware thread, core, socket, memory domain or GPU, as
the metric's native scope says), the head of each line and the values of an idle unit.
:func:`job_values` computes what a job reports at those units over its whole run, once,
when it starts: the course of its levels comes from the demo profiles
(:func:`~cc_backend.demo.profiles.job_signals`), each unit's busy share from its
:class:`~cc_backend.demo.layout.Layout` and the values from the demo formulas
(:mod:`cc_backend.demo.metrics`), as for the archive's series. :meth:`PoolFrame.step`
lays the running jobs' values of one time step over noisy idle values and
:meth:`PoolFrame.render` writes them as lines.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cc_backend.demo.layout import Layout, plan_metric
from cc_backend.demo.meta import Pool
from cc_backend.demo.metrics import PERCENT_METRICS, Inputs, metric_value, unit_share
from cc_backend.demo.profiles import Behaviour, Levels, Signals, job_signals
from cc_backend.demo.series import inputs
from cc_backend.domain.cluster import Aggregation, MetricConfig, MetricScope, Topology

__all__ = ["IDLE", "JobValues", "MetricUnits", "PoolFrame", "job_values"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Spread of the multiplicative noise on every value (as in the archive's series).
NOISE = 0.04

#: What a unit without a job does: the OS ticks over, a little memory is in use.
IDLE = Inputs(
    busy=0.01,
    flops=0.0002,
    bandwidth=0.003,
    memory=0.03,
    net=0.0005,
    read=0.0002,
    write=0.0003,
    gpu=0.0,
    gpu_mem=0.002,
    ipc=0.5,
    vector=2.0,
    double=0.5,
)


def native_ids(topology: Topology, scope: MetricScope) -> list[str]:
    """The ids of a node's units at ``scope`` (``["0"]`` for the node itself)."""
    if scope is MetricScope.HWTHREAD:
        return [str(t) for t in topology.node]
    if scope is MetricScope.ACCELERATOR:
        return topology.accelerator_ids()
    groups = {
        MetricScope.NODE: [topology.node],
        MetricScope.SOCKET: topology.socket,
        MetricScope.MEMORY_DOMAIN: topology.memory_domain,
        MetricScope.CORE: topology.core or [[t] for t in topology.node],
    }[scope]
    return [str(i) for i in range(len(groups))]


@dataclass(frozen=True, slots=True)
class MetricUnits:
    """One metric of a subcluster: its units per node, their idle values and line heads."""

    metric: MetricConfig
    #: Unit ids of a node; the node scope has the single id ``"0"``.
    ids: list[str]
    #: Column of each unit id.
    column: dict[str, int]
    #: The value of an idle unit, before noise.
    idle: float
    #: The largest value allowed (100 for percentages, the peak for node values).
    top: float
    #: ``<metric>,<tags> value=`` for every host and unit, host by host.
    heads: list[str]

    @property
    def scope(self) -> MetricScope:
        return self.metric.scope


class PoolFrame:
    """The line-protocol view of a subcluster's nodes (``pool``)."""

    def __init__(self, pool: Pool) -> None:
        self.cluster = pool.cluster.name
        self.hosts = pool.hosts
        self.topology = pool.subcluster.topology
        self.metrics = [self._units(m) for m in pool.cluster.metrics_for(pool.subcluster.name)]

    def _units(self, metric: MetricConfig) -> MetricUnits:
        ids = native_ids(self.topology, metric.scope)
        node = metric.scope is MetricScope.NODE
        tags = "type=node" if node else f"type={metric.scope.value},type-id={{}}"
        prefix = f"{metric.name},cluster={self.cluster},hostname="
        heads = [f"{prefix}{host},{tags.format(i)} value=" for host in self.hosts for i in ids]
        idle = float(metric_value(metric, IDLE, unit_share(metric, len(ids))))
        ceiling = metric.peak if node else np.inf  # finer units hold shares of the peak
        top = 100.0 if metric.name in PERCENT_METRICS else ceiling
        return MetricUnits(
            metric=metric,
            ids=ids,
            column={i: c for c, i in enumerate(ids)},
            idle=idle,
            top=top,
            heads=heads,
        )

    def step(
        self,
        timestamp: int,
        jobs: Iterable[JobValues],
        free_share: FloatArray,
        rng: np.random.Generator,
    ) -> list[FloatArray]:
        """The values of every metric at ``timestamp``: ``(hosts, units)`` per metric.

        Units without a job show noisy idle values; node values of a node that is partly
        used are the jobs' values plus the idle value of its free share of slots
        (``free_share``, per host).
        """
        busy = free_share < 1.0
        values = []
        for units in self.metrics:
            shape = (len(self.hosts), len(units.ids))
            current = units.idle * rng.lognormal(0.0, NOISE, shape)
            if units.scope is MetricScope.NODE:
                current[busy] *= free_share[busy, None]
            values.append(current)
        for job in jobs:
            job.write(timestamp, values)
        for units, current in zip(self.metrics, values, strict=True):
            np.clip(current, 0.0, units.top, out=current)
            current.round(2, out=current)
        return values

    def render(self, timestamp: int, values: Sequence[FloatArray], hosts: BoolArray) -> str:
        """The lines of ``values`` (from :meth:`step`) for the ``hosts`` selected."""
        suffix = f" {timestamp}\n"
        everyone = bool(hosts.all())
        parts = []
        for units, current in zip(self.metrics, values, strict=True):
            heads: Iterable[str] = units.heads
            numbers = current.ravel()
            if not everyone:
                mask = np.repeat(hosts, len(units.ids))
                heads = itertools.compress(heads, mask.tolist())
                numbers = numbers[mask]
            parts.append(
                "".join(
                    [h + repr(v) + suffix for h, v in zip(heads, numbers.tolist(), strict=True)]
                )
            )
        return "".join(parts)


@dataclass(frozen=True, slots=True)
class _Block:
    """A job's values of one metric: its units' columns and ``(nodes, units, steps)``;
    ``adds`` for node values, which add up with those of other jobs on the node."""

    columns: IntArray
    values: FloatArray
    adds: bool


@dataclass(frozen=True, slots=True)
class JobValues:
    """A running job's values at its units, from ``first`` on every ``step`` seconds."""

    #: The job's nodes (host rows of its pool).
    rows: IntArray
    first: int
    step: int
    steps: int
    #: Per metric of the pool's frame; ``None`` for metrics the job does not touch.
    blocks: list[_Block | None]

    def write(self, timestamp: int, values: list[FloatArray]) -> None:
        """Put the job's values at ``timestamp`` into ``values`` (from
        :meth:`PoolFrame.step`): node values add up, unit values replace."""
        index = min(max((timestamp - self.first) // self.step, 0), self.steps - 1)
        for block, current in zip(self.blocks, values, strict=True):
            if block is None:
                continue
            sample = block.values[:, :, index]
            if block.adds:
                current[self.rows, 0] += sample[:, 0]
            else:
                current[np.ix_(self.rows, block.columns)] = sample


def job_values(
    frame: PoolFrame,
    rows: Sequence[int],
    resources: list[dict[str, Any]],
    *,
    profile: tuple[Levels, Behaviour],
    timing: tuple[int, int, int],
    rng: np.random.Generator,
) -> JobValues:
    """What a job on ``resources`` (meta.json shape; hosts at ``rows`` of the frame)
    reports at every unit it holds, for ``timing = (first, step, steps)``: ``steps``
    values ``step`` seconds apart from ``first``. ``profile`` is the job's levels (one
    row) and behaviour."""
    levels, behaviour = profile
    first, step, steps = timing
    layout = Layout.of(resources, frame.topology, float(levels.active))
    gpus = len(layout.gpus[0])
    signals = job_signals(rng, levels, behaviour, steps, (len(rows), max(gpus, 1)))
    blocks = [_block(units, layout, signals, levels, rng) for units in frame.metrics]
    return JobValues(np.asarray(rows, dtype=np.int64), first, step, steps, blocks)


def _block(
    units: MetricUnits,
    layout: Layout,
    signals: Signals,
    levels: Levels,
    rng: np.random.Generator,
) -> _Block | None:
    metric = units.metric
    gpus = len(layout.gpus[0])
    if metric.scope is MetricScope.ACCELERATOR and gpus == 0:
        return None  # the node's GPUs (if any) stay idle
    plan = plan_metric(metric, layout, fine=True)
    nodes, steps = signals.busy.shape[0], signals.busy.shape[2]
    ids = plan.ids[0] if plan.ids and plan.scope is not None else ["0"]
    raw = metric_value(metric, inputs(signals, levels, plan.scale, gpus), plan.share)
    values = np.broadcast_to(raw, (nodes, len(ids), steps)) * rng.lognormal(
        0.0, NOISE, (nodes, len(ids), steps)
    )
    if plan.scope is MetricScope.CORE and metric.scope is MetricScope.HWTHREAD:
        return _on_threads(units, layout.topology, ids, values)
    columns = np.array([units.column[i] for i in ids], dtype=np.int64)
    adds = metric.scope is MetricScope.NODE
    return _Block(columns, np.clip(values, 0.0, units.top).round(2), adds)


def _on_threads(
    units: MetricUnits, topology: Topology, cores: list[str], values: FloatArray
) -> _Block:
    """Core values of a metric measured per hardware thread, spread over each core's
    threads (a summed metric is split among them)."""
    threads = [topology.core[int(c)] if topology.core else [int(c)] for c in cores]
    counts = np.array([len(t) for t in threads])
    spread = np.repeat(values, counts, axis=1)
    if units.metric.aggregation is Aggregation.SUM:
        spread /= np.repeat(counts, counts)[None, :, None]
    columns = np.array([units.column[str(t)] for group in threads for t in group], dtype=np.int64)
    return _Block(columns, np.clip(spread, 0.0, units.top).round(2), False)
