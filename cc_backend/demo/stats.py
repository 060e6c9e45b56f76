"""Job-wide statistics, footprint and energy of demo jobs.

With metric data, the meta.json ``statistics`` come from the data exactly as cc-backend
derives them when it archives a job (:meth:`JobData.job_statistics`). Without data (the
meta-only mode for large benchmarks), :func:`drawn_statistics` computes them for all jobs
at once from the jobs' levels with the same formulas the time series use, so both modes
give statistics of the same size. Footprint and energy follow from the statistics either
way, as cc-backend computes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from cc_backend.demo.metrics import PERCENT_METRICS, Inputs, metric_value
from cc_backend.demo.profiles import Levels
from cc_backend.domain.cluster import Aggregation, MetricConfig, MetricScope
from cc_backend.domain.jobdata import JobData

__all__ = ["Hardware", "drawn_statistics", "meta_statistics"]

FloatArray = npt.NDArray[np.float64]
#: Statistics of one metric for many jobs: average, minimum and maximum arrays.
StatArrays = tuple[FloatArray, FloatArray, FloatArray]


def meta_statistics(data: JobData, num_nodes: int) -> dict[str, dict[str, Any]]:
    """meta.json ``statistics`` of a job from its metric data, as plain JSON data."""
    return {name: stats.model_dump() for name, stats in data.meta_statistics(num_nodes).items()}


@dataclass(frozen=True, slots=True)
class Hardware:
    """What jobs of one subcluster hold per node, one array entry per job."""

    cores: FloatArray  # cores per node
    node_cores: int
    sockets: int
    gpus: FloatArray  # GPUs per node


#: Averages over a job's course, as shares of its levels: busy cores stay busy through its
#: phases, the rest follows them.
_BUSY_AVERAGE, _AVERAGE = 0.97, 0.9


def _inputs(
    levels: Levels, factors: tuple[FloatArray | float, FloatArray | float], memory: FloatArray
) -> Inputs:
    """Inputs at ``factors`` (for the cores' activity and for the rest) times the job's
    levels, with memory share ``memory``."""
    busy_factor, factor = factors
    return Inputs(
        busy=np.minimum(levels.busy * busy_factor, 1.0),
        flops=levels.flops * factor,
        bandwidth=np.minimum(levels.bandwidth * factor, 1.0),
        memory=memory,
        net=levels.net * factor,
        read=levels.read * factor,
        write=levels.write * factor,
        gpu=np.minimum(levels.gpu * factor, 1.0),
        gpu_mem=np.minimum(levels.gpu_mem * np.minimum(factor, 1.0), 1.0),
        ipc=levels.ipc,
        vector=levels.vector,
        double=levels.double,
    )


def _node_value(
    metric: MetricConfig, hw: Hardware, inputs: Inputs, active: FloatArray
) -> FloatArray:
    """The node-scope value of ``metric`` for jobs doing ``inputs`` on cores ``active``."""
    scope, summed = metric.scope, metric.aggregation is Aggregation.SUM
    if scope in (MetricScope.HWTHREAD, MetricScope.CORE):
        share = hw.cores / hw.node_cores if summed else 1.0
        return metric_value(metric, _scaled(inputs, active), 1.0) * share
    if scope in (MetricScope.SOCKET, MetricScope.MEMORY_DOMAIN):
        per_socket = hw.node_cores / hw.sockets
        touched = np.ceil(hw.cores / per_socket)
        scaled = _scaled(inputs, active * hw.cores / (touched * per_socket))
        value = metric_value(metric, scaled, 1.0 / hw.sockets if summed else 1.0)
        return value * touched if summed else value
    if scope is MetricScope.ACCELERATOR:
        return metric_value(metric, inputs, 1.0) * (hw.gpus if summed else 1.0)
    return metric_value(metric, _scaled(inputs, active * hw.cores / hw.node_cores), 1.0)


def _scaled(inputs: Inputs, scale: FloatArray) -> Inputs:
    return Inputs(
        busy=inputs.busy * scale,
        flops=inputs.flops * scale,
        bandwidth=inputs.bandwidth * scale,
        memory=inputs.memory,
        net=inputs.net,
        read=inputs.read,
        write=inputs.write,
        gpu=inputs.gpu,
        gpu_mem=inputs.gpu_mem,
        ipc=inputs.ipc,
        vector=inputs.vector,
        double=inputs.double,
    )


def drawn_statistics(
    rng: np.random.Generator, metrics: list[MetricConfig], hw: Hardware, levels: Levels
) -> dict[str, StatArrays]:
    """Node-scope statistics of ``metrics`` for jobs with ``levels`` on hardware ``hw``.

    The average is the value at the levels' average over a job's course, the minimum and
    maximum at randomly lower and higher levels; memory goes from its start to its end
    level.
    """
    n = len(hw.cores)
    working = np.maximum(1.0, np.round(levels.active * hw.cores))
    active = (working + (hw.cores - working) * 0.02) / hw.cores
    low, high = rng.uniform(0.0, 0.5, n), rng.uniform(1.05, 1.3, n)
    factors: list[tuple[FloatArray | float, FloatArray | float]] = [
        (_BUSY_AVERAGE, _AVERAGE),
        (low, low),
        (high, high),
    ]
    mem_start, mem_end = levels.mem_start, levels.mem_end
    memory = (0.95 * (mem_start + mem_end) / 2, 0.1 * mem_start, mem_end)
    result: dict[str, StatArrays] = {}
    for metric in metrics:
        if metric.scope is MetricScope.ACCELERATOR and not hw.gpus.any():
            continue
        top = 100.0 if metric.name in PERCENT_METRICS else np.inf
        avg, smallest, largest = (
            np.broadcast_to(_node_value(metric, hw, _inputs(levels, f, m), active), (n,))
            .clip(0.0, top)
            .round(2)
            for f, m in zip(factors, memory, strict=True)
        )
        result[metric.name] = (avg, np.minimum(smallest, avg), np.maximum(largest, avg))
    return result
