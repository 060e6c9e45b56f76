"""Footprint and energy of a finished job, from its statistics and its cluster's config.

What the job database stores for a finished job, computed the way cc-backend computes it
when it archives a job or imports one from the archive:

``footprint``
    One entry per footprint metric of the job's subcluster (its resolved ``footprint``
    list, see :meth:`Cluster.resolved_subcluster`), keyed ``<metric>_<stat>`` and holding
    that statistic of the metric from the job's ``statistics`` (0.0 when the job has no
    statistics for it). ``<stat>`` is the metric's configured ``footprint`` statistic as it
    applies to the subcluster (``avg`` when none is configured), e.g. ``mem_used_max``.

    cc-backend is not consistent here: its archiver looks the statistic up in the global
    metric list (``mem_used_max``), while its importer (``internal/importer``) checks the
    metric lookup the wrong way round and so always writes ``<metric>_avg`` with the average
    (``mem_used_avg``; the fritz jobs of the reference database show this). We write the
    configured statistic, as the archiver does: footprint filters and sorting ask for the key
    of the configured statistic, so an ``_avg`` key for a ``max`` metric would never match.
    Values are stored unrounded; non-finite ones (a NaN statistic) are left out.

``energy_footprint`` and ``energy``
    One entry per energy metric of the subcluster, in kWh rounded to two decimals, and their
    sum rounded to two decimals again (the sum of the rounded entries):

    * ``energy: "power"`` (a power in W): job-average power per node x number of nodes x
      duration in hours / 1000. A shared job has one node, whose average covers its part.
      A unit prefix (``kW``) is applied; cc-backend assumes plain watts, which is the same
      for every reference cluster.
    * ``energy: "energy"`` (energy per sample, in J or Wh): cc-backend writes 0.0 ("not
      implemented"). We sum the samples instead: exactly from the node-scope series when
      the metric data is given, otherwise estimated from the statistics as average per
      node x number of nodes x duration / time step.
    * A listed metric that the subcluster does not have contributes 0.0.

    Rounding is half away from zero, like Go's ``math.Round``. The job-meta schema calls
    ``energy`` joules; cc-backend stores kWh, and so does this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from cc_backend.domain.cluster import Cluster, MetricConfig, MetricScope
from cc_backend.domain.job import Job, MetricStatistics
from cc_backend.domain.jobdata import JobData
from cc_backend.domain.units import PREFIXES

__all__ = [
    "JOULES_PER_KWH",
    "FootprintPlan",
    "JobFootprint",
    "compute_footprint",
    "energy_kwh",
    "footprint_values",
    "go_round",
    "job_subcluster",
    "with_footprint",
]

JOULES_PER_KWH = 3_600_000.0
_WH_PER_KWH = 1000.0
_SECONDS_PER_HOUR = 3600.0


def go_round(value: float, digits: int = 2) -> float:
    """Round ``value`` to ``digits`` decimals, halves away from zero (Go's ``math.Round``).

    Computed as cc-backend does: ``Round(value * 10**digits) / 10**digits``.
    """
    scale = 10.0**digits
    scaled = value * scale
    if not math.isfinite(scaled):
        return value
    whole = math.trunc(scaled)
    if abs(scaled - whole) >= 0.5:
        whole += int(math.copysign(1, scaled))
    return whole / scale


@dataclass(frozen=True, slots=True)
class JobFootprint:
    """The database's footprint columns of one job."""

    footprint: dict[str, float]
    energy_footprint: dict[str, float]
    #: Total energy in kWh.
    energy: float


def job_subcluster(job: Job, cluster: Cluster) -> str:
    """The job's subcluster name: as given, else the one holding its first node.

    Raises :class:`NotFound` if the given name is unknown or no subcluster holds the node.
    """
    if job.sub_cluster:
        return cluster.subcluster(job.sub_cluster).name
    return cluster.subcluster_of(job.resources[0].hostname).name


def _statistic(stats: MetricStatistics | None, which: str) -> float:
    if stats is None:
        return 0.0
    value: float = getattr(stats, which)
    return value


def footprint_values(job: Job, cluster: Cluster, subcluster: str) -> dict[str, float]:
    """The ``footprint`` of ``job`` on ``subcluster``: ``{"<metric>_<stat>": value}``."""
    return FootprintPlan.of(cluster, subcluster).footprint_of(job)


def _to_kwh(total: float, metric: MetricConfig) -> float:
    """An energy summed in the metric's unit (J or Wh, with prefix) in kWh."""
    factor = float(PREFIXES[metric.unit.prefix]) if metric.unit.prefix else 1.0
    if metric.unit.base == "Wh":
        return total * factor / _WH_PER_KWH
    return total * factor / JOULES_PER_KWH


def _summed_samples(job: Job, metric: MetricConfig, data: JobData | None) -> float:
    """The sum of all samples of an energy metric over the job's nodes, in its own unit."""
    if data is not None and metric.name in data:
        node = data[metric.name].get(MetricScope.NODE)
        if node is not None and node.series:
            return float(sum(np.nansum(s.data) for s in node.series))
    avg = _statistic((job.statistics or {}).get(metric.name), "avg")
    return avg * job.num_nodes * job.duration / metric.timestep


def energy_kwh(job: Job, metric: MetricConfig, data: JobData | None = None) -> float:
    """The energy (kWh, unrounded) that energy metric ``metric`` accounts for in ``job``.

    0.0 for a metric that is not an energy metric or has no usable statistics.
    """
    if metric.energy == "power":
        factor = float(PREFIXES[metric.unit.prefix]) if metric.unit.prefix else 1.0
        watts = _statistic((job.statistics or {}).get(metric.name), "avg") * factor
        hours = job.duration / _SECONDS_PER_HOUR
        value = watts * job.num_nodes * hours / _WH_PER_KWH
    elif metric.energy == "energy":
        value = _to_kwh(_summed_samples(job, metric, data), metric)
    else:
        return 0.0
    return value if math.isfinite(value) else 0.0


@dataclass(frozen=True, slots=True)
class FootprintPlan:
    """What to compute for the jobs of one subcluster, derived once from its config."""

    subcluster: str
    #: (metric, statistic) of each footprint metric, in footprint order.
    footprint: tuple[tuple[str, str], ...]
    #: (metric, its config) of each energy metric; None for a metric the subcluster lacks.
    energy: tuple[tuple[str, MetricConfig | None], ...]

    @classmethod
    def of(cls, cluster: Cluster, subcluster: str) -> FootprintPlan:
        """The plan for ``subcluster`` of ``cluster`` (NotFound if it is unknown)."""
        resolved = cluster.resolved_subcluster(subcluster)
        configs = {m.name: m for m in resolved.metrics or []}
        stats = tuple(
            (name, (configs[name].footprint if name in configs else None) or "avg")
            for name in resolved.footprint or []
        )
        energy = tuple((name, configs.get(name)) for name in resolved.energy_footprint or [])
        return cls(resolved.name, stats, energy)

    def footprint_of(self, job: Job) -> dict[str, float]:
        """The job's ``footprint``: ``{"<metric>_<stat>": value}``, finite values only."""
        statistics = job.statistics or {}
        result: dict[str, float] = {}
        for name, which in self.footprint:
            value = _statistic(statistics.get(name), which)
            if math.isfinite(value):
                result[f"{name}_{which}"] = value
        return result

    def compute(self, job: Job, data: JobData | None = None) -> JobFootprint:
        """Footprint, energy footprint and energy of ``job``."""
        energy_footprint = {
            name: go_round(energy_kwh(job, metric, data)) if metric is not None else 0.0
            for name, metric in self.energy
        }
        total = go_round(sum(energy_footprint.values()))
        return JobFootprint(self.footprint_of(job), energy_footprint, total)

    def updates(
        self, job: Job, *, data: JobData | None = None, overwrite: bool = False
    ) -> dict[str, Any]:
        """Job fields to set (for ``model_copy``): the subcluster, and the footprint and
        energy fields that are missing (all of them with ``overwrite``)."""
        update: dict[str, Any] = {}
        if job.sub_cluster != self.subcluster:
            update["sub_cluster"] = self.subcluster
        need_footprint = overwrite or job.footprint is None
        need_energy = overwrite or job.energy_footprint is None
        if need_energy:
            computed = self.compute(job, data)
            update["energy_footprint"] = computed.energy_footprint
            update["energy"] = computed.energy
            if need_footprint:
                update["footprint"] = computed.footprint
        elif need_footprint:
            update["footprint"] = self.footprint_of(job)
        return update


def compute_footprint(
    job: Job, cluster: Cluster, *, subcluster: str | None = None, data: JobData | None = None
) -> JobFootprint:
    """Footprint, energy footprint and energy of the finished ``job`` on ``cluster``.

    ``subcluster`` defaults to :func:`job_subcluster`; ``data`` (the job's metric data) is
    only needed for exact sums of ``energy: "energy"`` metrics. Raises :class:`NotFound`
    for an unknown subcluster.
    """
    name = subcluster or job_subcluster(job, cluster)
    return FootprintPlan.of(cluster, name).compute(job, data)


def with_footprint(
    job: Job, cluster: Cluster, *, data: JobData | None = None, overwrite: bool = False
) -> Job:
    """``job`` with its subcluster, footprint, energy footprint and energy filled in.

    Only what is missing is computed (a missing ``footprint``, or a missing
    ``energyFootprint`` together with ``energy``), unless ``overwrite`` is set. Returns
    ``job`` itself when nothing changes. Raises :class:`NotFound` for an unknown subcluster.
    """
    plan = FootprintPlan.of(cluster, job_subcluster(job, cluster))
    update = plan.updates(job, data=data, overwrite=overwrite)
    return job.model_copy(update=update) if update else job
