"""The job's energy: per energy metric, in total, and as CO2 when the site names the
emissions of its energy mix (``main.emission-constant``, g CO2 per kWh).

A finished job has its energy in the database (computed when it was archived). A running
job has none yet: its energy so far is estimated the same way from its statistics so far
(:func:`cc_backend.domain.footprint.energy_kwh`) and marked as an estimate.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any

import panel as pn

from app.stores.job import JobStore
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.footprint import energy_kwh, go_round
from cc_backend.domain.job import Job, JobState
from cc_backend.domain.job import MetricStatistics as MetaStatistics
from cc_backend.domain.jobdata import MetricStatistics

__all__ = ["ENERGY_STYLE", "EnergySummary", "JobEnergy", "energy_html", "job_energy"]

ENERGY_STYLE = """
.cc-energy { display: flex; flex-wrap: wrap; gap: .5rem 2rem; justify-content: space-around;
  font-size: .95rem; }
.cc-energy div { text-align: center; }
.cc-energy .value { font-size: 1.15rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.cc-energy .label { opacity: .75; font-size: .8rem; }
"""


@dataclass(frozen=True)
class JobEnergy:
    """Energy per metric and in total (kWh), the CO2 it stands for (kg; None without an
    emission constant) and whether the numbers are an estimate of a running job."""

    per_metric: dict[str, float]
    total: float
    co2_kg: float | None
    estimate: bool


def job_energy(
    job: Job,
    cluster: Cluster,
    statistics: dict[str, MetricStatistics],
    emission_constant: float | None,
    duration: int,
) -> JobEnergy | None:
    """The energy of ``job`` (``duration``: its run time so far); None if its subcluster
    has no energy metrics."""
    sub = job.sub_cluster or cluster.subcluster_of(job.resources[0].hostname).name
    names = cluster.energy_metrics(sub)
    if not names:
        return None
    estimate = job.job_state is JobState.RUNNING or job.energy_footprint is None
    if estimate:
        configs = {m.name: m for m in cluster.metrics_for(sub)}
        so_far = job.model_copy(
            update={
                "duration": duration,
                "statistics": {
                    name: MetaStatistics(avg=s.avg, min=s.min, max=s.max)
                    for name, s in statistics.items()
                },
            }
        )
        per_metric = {
            name: go_round(energy_kwh(so_far, configs[name])) if name in configs else 0.0
            for name in names
        }
        total = go_round(sum(per_metric.values()))
    else:
        per_metric = {name: (job.energy_footprint or {}).get(name, 0.0) for name in names}
        total = job.energy
    co2 = None if emission_constant is None else total * emission_constant / 1000.0
    return JobEnergy(per_metric, total, co2, estimate)


def _number(value: float, unit: str) -> str:
    return f"{value:,.2f} {unit}" if math.isfinite(value) else "-"


def energy_html(energy: JobEnergy | None, emission_constant: float | None = None) -> str:
    """The energy numbers side by side."""
    if energy is None:
        return '<div class="cc-energy"><span>No energy metrics on this subcluster.</span></div>'
    cells = [
        (f"{html.escape(name)}", _number(value, "kWh")) for name, value in energy.per_metric.items()
    ]
    cells.append(("Total energy" + (" so far (estimate)" if energy.estimate else ""),
                  _number(energy.total, "kWh")))  # fmt: skip
    if energy.co2_kg is not None:
        cells.append((f"CO2 at {emission_constant:g} g/kWh", _number(energy.co2_kg, "kg")))
    body = "".join(
        f'<div><div class="value">{value}</div><div class="label">{label}</div></div>'
        for label, value in cells
    )
    return f'<div class="cc-energy">{body}</div>'


class EnergySummary(pn.viewable.Viewer):
    """The store's job's energy, updated with its statistics."""

    def __init__(self, store: JobStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.pane = pn.pane.HTML("", stylesheets=[ENERGY_STYLE], sizing_mode="stretch_width",
                                 name="energy")  # fmt: skip
        store.param.watch(self._update, ["job", "cluster", "statistics", "display"])
        self._update()

    def _update(self, *_events: Any) -> None:
        job, cluster = self.store.job, self.store.cluster
        if job is None or cluster is None:
            return
        emission = self.store.display.emission_constant
        energy = job_energy(job, cluster, self.store.statistics, emission,
                            self.store.running_duration())  # fmt: skip
        self.pane.object = energy_html(energy, emission)

    def __panel__(self) -> pn.pane.HTML:
        return self.pane
