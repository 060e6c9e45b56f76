"""From a job's activity to metric values: one formula per metric name.

A formula gives the value of a metric at one *unit* (a core, a socket, a GPU or the node)
from what the job does there. The inputs are fractions: ``busy``, ``flops`` and
``bandwidth`` already scaled by how much of the unit the job keeps busy, ``memory``,
``net``, ``read``, ``write`` as shares of the node's capacity, ``gpu``/``gpu_mem`` per GPU.
Values scale with the metric's ``peak`` from the cluster configuration: for summed
metrics of cores and sockets the peak is the node's, so the caller passes the unit's
share of the node; for GPUs and averaged metrics the peak is the unit's own.

The formulas are plain numpy expressions, so they work on whole time series
(``(nodes, units, T)``) and on one number per job alike; the meta-only mode uses the
latter to get statistics without series.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cc_backend.domain.cluster import Aggregation, MetricConfig, MetricScope

__all__ = ["PERCENT_METRICS", "Inputs", "metric_value", "unit_share"]

FloatArray = npt.NDArray[np.float64]
Number = FloatArray | float


@dataclass(frozen=True, slots=True)
class Inputs:
    """What a job does at one unit; any shapes that broadcast together."""

    busy: Number
    flops: Number
    bandwidth: Number
    memory: Number
    net: Number
    read: Number
    write: Number
    gpu: Number
    gpu_mem: Number
    ipc: Number
    vector: Number
    double: Number


_Formula = Callable[[Inputs, float], Number]

_FORMULAS: dict[str, _Formula] = {
    "cpu_load": lambda x, peak: peak * x.busy,
    "cpu_user": lambda x, peak: 100.0 * x.busy,
    "flops_any": lambda x, peak: peak * x.flops,
    "flops_dp": lambda x, peak: peak * x.flops * x.double,
    "flops_sp": lambda x, peak: peak * x.flops * (1.0 - x.double),
    "mem_bw": lambda x, peak: peak * x.bandwidth,
    "clock": lambda x, peak: peak * (0.28 + 0.5 * x.busy),
    "ipc": lambda x, peak: 0.35 + (x.ipc - 0.35) * x.busy,
    "vectorization_ratio": lambda x, peak: 2.0 + (x.vector - 2.0) * x.busy,
    "cpu_power": lambda x, peak: peak * (0.3 + 0.6 * x.busy),
    "mem_power": lambda x, peak: peak * (0.2 + 0.7 * x.bandwidth),
    "mem_used": lambda x, peak: peak * x.memory,
    "net_bw": lambda x, peak: peak * x.net,
    "nfs4_read": lambda x, peak: peak * x.read,
    "nfs4_write": lambda x, peak: peak * x.write,
    "acc_utilization": lambda x, peak: 100.0 * x.gpu,
    "acc_mem_used": lambda x, peak: peak * x.gpu_mem,
    "acc_power": lambda x, peak: peak * (0.1 + 0.8 * x.gpu),
    "nv_mem_util": lambda x, peak: 55.0 * x.gpu,
    "nv_temp": lambda x, peak: 30.0 + 50.0 * x.gpu,
    "nv_sm_clock": lambda x, peak: peak * (0.12 + 0.8 * np.minimum(1.0, 5.0 * x.gpu)),
}

#: Metrics measured in percent (their samples never exceed 100).
PERCENT_METRICS = frozenset({"cpu_user", "acc_utilization", "nv_mem_util", "vectorization_ratio"})


def metric_value(metric: MetricConfig, inputs: Inputs, share: float = 1.0) -> FloatArray:
    """The value of ``metric`` at a unit holding ``share`` of the node's summed peak.

    Metrics without a formula of their own follow the cores' activity.
    """
    formula = _FORMULAS.get(metric.name)
    value = formula(inputs, metric.peak) if formula else metric.peak * 0.5 * inputs.busy
    return np.asarray(value, dtype=np.float64) * share


def unit_share(metric: MetricConfig, units_per_node: int) -> float:
    """The share of the node's peak one unit of the metric's native scope holds.

    Summed core and socket metrics state the node's peak; GPU metrics and averaged
    metrics state the unit's own.
    """
    if metric.aggregation is Aggregation.AVG or metric.scope in (
        MetricScope.NODE,
        MetricScope.ACCELERATOR,
    ):
        return 1.0
    return 1.0 / units_per_node
