"""Footprint and energy of finished jobs, as cc-backend stores them in the job database."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cc_backend.domain.cluster import Cluster
from cc_backend.domain.errors import NotFound
from cc_backend.domain.footprint import (
    compute_footprint,
    energy_kwh,
    footprint_values,
    go_round,
    job_subcluster,
    with_footprint,
)
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData

MakeJob = Callable[..., Job]


def stat(avg: float, low: float = 0.0, high: float = 100.0, base: str = "") -> dict[str, Any]:
    return {"unit": {"base": base}, "avg": avg, "min": low, "max": high}


def metric(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "unit": {"base": "W"},
        "scope": "node",
        "aggregation": "sum",
        "timestep": 60,
        "peak": 500,
        "normal": 250,
        "caution": 50,
        "alert": 10,
        **extra,
    }


def small_cluster(*metrics: dict[str, Any]) -> Cluster:
    value = {"unit": {"base": "F/s", "prefix": "G"}, "value": 100}
    return Cluster.model_validate(
        {
            "name": "tiny",
            "metricConfig": list(metrics),
            "subClusters": [
                {
                    "name": "main",
                    "nodes": "t[01-10]",
                    "processorType": "test CPU",
                    "socketsPerNode": 1,
                    "coresPerSocket": 2,
                    "threadsPerCore": 1,
                    "flopRateScalar": value,
                    "flopRateSimd": value,
                    "memoryBandwidth": value,
                    "topology": {"node": [0, 1], "socket": [[0, 1]], "memoryDomain": [[0, 1]]},
                }
            ],
        }
    )


@pytest.fixture(scope="module")
def fritz(reference_dir: Path) -> Cluster:
    return Cluster.from_json(
        (reference_dir / "job-archive" / "fritz" / "cluster.json").read_bytes()
    )


@pytest.fixture(scope="module")
def alex(reference_dir: Path) -> Cluster:
    return Cluster.from_json((reference_dir / "job-archive" / "alex" / "cluster.json").read_bytes())


@pytest.fixture
def fritz_job(make_job: MakeJob) -> Callable[..., Job]:
    def build(**overrides: Any) -> Job:
        fields: dict[str, Any] = {
            "jobState": "completed",
            "duration": 7200,
            "numNodes": 2,
            "resources": [{"hostname": "f0101"}, {"hostname": "f0102"}],
            "statistics": {
                "cpu_load": stat(71.5, 0.5, 72.0),
                "mem_used": stat(120.25, 3.0, 250.5, "B"),
                "flops_any": stat(310.0, 0.0, 900.0, "F/s"),
                "mem_bw": stat(80.0, 1.0, 160.0, "B/s"),
                "cpu_power": stat(250.0, 90.0, 400.0, "W"),
                "mem_power": stat(30.0, 10.0, 45.0, "W"),
            },
        }
        return make_job(**(fields | overrides))

    return build


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.125, 0.13),  # exactly half: away from zero (Python's round() gives 0.12)
        (-0.125, -0.13),
        (2.675, 2.68),  # as in Go: 2.675 * 100 rounds to exactly 267.5 before rounding
        (105.444999, 105.44),
        (0.005, 0.01),
        (0.0, 0.0),
        (1e307, 1e307),  # too large to scale: returned unchanged
    ],
)
def test_go_round_rounds_halves_away_from_zero(value: float, expected: float) -> None:
    assert go_round(value) == expected


@pytest.mark.reference
class TestFritz:
    def test_footprint_keys_use_the_configured_statistic(
        self, fritz: Cluster, fritz_job: Callable[..., Job]
    ) -> None:
        # cc-backend's importer would write mem_used_avg = 120.25 here (see the module docs).
        assert footprint_values(fritz_job(), fritz, "main") == {
            "cpu_load_avg": 71.5,
            "mem_used_max": 250.5,
            "flops_any_avg": 310.0,
            "mem_bw_avg": 80.0,
        }

    def test_subcluster_overrides_remove_footprint_metrics(
        self, fritz: Cluster, fritz_job: Callable[..., Job]
    ) -> None:
        # spr2tb removes flops_any and mem_bw; spr1tb removes mem_bw only.
        assert set(footprint_values(fritz_job(), fritz, "spr2tb")) == {
            "cpu_load_avg",
            "mem_used_max",
        }
        assert set(footprint_values(fritz_job(), fritz, "spr1tb")) == {
            "cpu_load_avg",
            "mem_used_max",
            "flops_any_avg",
        }

    def test_power_metrics_give_kwh_per_metric_and_in_total(
        self, fritz: Cluster, fritz_job: Callable[..., Job]
    ) -> None:
        result = compute_footprint(fritz_job(), fritz)
        # 250 W x 2 nodes x 2 h = 1 kWh; 30 W x 2 nodes x 2 h = 0.12 kWh
        assert result.energy_footprint == {"cpu_power": 1.0, "mem_power": 0.12}
        assert result.energy == 1.12

    def test_total_is_the_rounded_sum_of_rounded_parts(
        self, fritz: Cluster, fritz_job: Callable[..., Job]
    ) -> None:
        stats = {
            "cpu_power": stat(3.0, base="W"),  # 3 W x 1 node x 1000 h = 3.0 kWh
            "mem_power": stat(0.0125, base="W"),  # 0.0125 kWh -> 0.01
        }
        job = fritz_job(
            numNodes=1, resources=[{"hostname": "f0101"}], duration=3_600_000, statistics=stats
        )
        result = compute_footprint(job, fritz)
        assert result.energy_footprint == {"cpu_power": 3.0, "mem_power": 0.01}
        assert result.energy == 3.01

    def test_missing_statistics_count_as_zero(
        self, fritz: Cluster, fritz_job: Callable[..., Job]
    ) -> None:
        result = compute_footprint(fritz_job(statistics={"cpu_load": stat(5.0)}), fritz)
        assert result.footprint == {
            "cpu_load_avg": 5.0,
            "mem_used_max": 0.0,
            "flops_any_avg": 0.0,
            "mem_bw_avg": 0.0,
        }
        assert result.energy_footprint == {"cpu_power": 0.0, "mem_power": 0.0}
        assert result.energy == 0.0

    def test_the_subcluster_comes_from_the_first_node(
        self, fritz: Cluster, fritz_job: Callable[..., Job]
    ) -> None:
        job = fritz_job(subCluster="")
        assert job_subcluster(job, fritz) == "main"
        filled = with_footprint(job, fritz)
        assert filled.sub_cluster == "main"
        assert filled.footprint is not None
        assert filled.energy == 1.12

    def test_an_unknown_subcluster_is_not_found(
        self, fritz: Cluster, fritz_job: Callable[..., Job]
    ) -> None:
        with pytest.raises(NotFound, match="nosuch"):
            compute_footprint(fritz_job(subCluster="nosuch"), fritz)

    def test_values_already_there_are_kept_unless_overwritten(
        self, fritz: Cluster, fritz_job: Callable[..., Job]
    ) -> None:
        job = fritz_job(footprint={"cpu_load_avg": 1.0}, energyFootprint={"x": 2.0}, energy=2.0)
        assert with_footprint(job, fritz) is job
        redone = with_footprint(job, fritz, overwrite=True)
        assert redone.footprint == footprint_values(job, fritz, "main")
        assert redone.energy == 1.12


@pytest.mark.reference
def test_reference_database_totals_follow_the_rounding_rule(reference_dir: Path) -> None:
    """Every job of cc-backend's database: energy = round2(sum of the per-metric values)."""
    with sqlite3.connect(f"file:{reference_dir / 'db' / 'job.db'}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT energy, energy_footprint FROM job").fetchall()
    assert len(rows) == 544
    for energy, parts in rows:
        values = json.loads(parts).values()
        assert all(go_round(v) == v for v in values)
        assert go_round(sum(values)) == energy


@pytest.mark.reference
def test_reference_database_footprints_use_our_metric_lists(
    reference_dir: Path, fritz: Cluster, alex: Cluster
) -> None:
    """The footprint and energy metrics of the reference jobs are those we derive from the
    cluster configs (fritz; alex's database was written with another footprint list)."""
    with sqlite3.connect(f"file:{reference_dir / 'db' / 'job.db'}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT cluster, subcluster, footprint, energy_footprint FROM job"
        ).fetchall()
    clusters = {"fritz": fritz, "alex": alex}
    for cluster, subcluster, footprint, energy in rows:
        config = clusters[cluster]
        assert list(json.loads(energy)) == sorted(config.energy_metrics(subcluster))
        if cluster == "fritz":
            names = {key.rsplit("_", 1)[0] for key in json.loads(footprint)}
            assert names == {key.rsplit("_", 1)[0] for key in config.footprint_metrics(subcluster)}


@pytest.mark.reference
def test_emmy_reference_jobs_have_empty_footprints(reference_dir: Path) -> None:
    emmy = Cluster.from_json((reference_dir / "job-archive" / "emmy" / "cluster.json").read_bytes())
    for path in sorted((reference_dir / "job-archive" / "emmy").glob("*/*/*/meta.json")):
        job = Job.model_validate_json(path.read_bytes())
        result = compute_footprint(job, emmy)
        assert (result.footprint, result.energy_footprint, result.energy) == ({}, {}, 0.0)


def test_power_with_a_prefix_is_converted(make_job: MakeJob) -> None:
    cluster = small_cluster(metric("node_power", unit={"base": "W", "prefix": "K"}, energy="power"))
    job = make_job(
        cluster="tiny",
        subCluster="main",
        resources=[{"hostname": "t01"}],
        jobState="completed",
        duration=1800,
        statistics={"node_power": stat(1.5, base="W")},
    )
    # 1.5 kW x 1 node x 0.5 h
    assert compute_footprint(job, cluster).energy == 0.75


class TestEnergyMetrics:
    """``energy: "energy"`` metrics: samples are energies (J) per time step, summed."""

    @pytest.fixture
    def cluster(self) -> Cluster:
        return small_cluster(metric("node_energy", unit={"base": "J"}, energy="energy"))

    @pytest.fixture
    def job(self, make_job: MakeJob) -> Job:
        return make_job(
            cluster="tiny",
            subCluster="main",
            numNodes=2,
            resources=[{"hostname": "t01"}, {"hostname": "t02"}],
            jobState="completed",
            duration=600,
            statistics={"node_energy": stat(180_000.0, base="J")},
        )

    def test_estimated_from_the_statistics(self, cluster: Cluster, job: Job) -> None:
        # 180 kJ per 60 s sample (3 kW) x 10 samples x 2 nodes = 3.6 MJ = 1 kWh
        assert energy_kwh(job, cluster.metric("node_energy")) == pytest.approx(1.0)
        assert compute_footprint(job, cluster).energy_footprint == {"node_energy": 1.0}

    def test_summed_exactly_from_the_metric_data(self, cluster: Cluster, job: Job) -> None:
        samples = [360_000.0] * 10
        samples[3] = float("nan")  # a gap adds nothing
        series = [
            {"hostname": host, "data": [None if np.isnan(v) else v for v in samples]}
            for host in ("t01", "t02")
        ]
        data = JobData.from_json(
            {"node_energy": {"node": {"unit": {"base": "J"}, "timestep": 60, "series": series}}}
        )
        # 2 nodes x 9 samples x 360 kJ = 6.48 MJ = 1.8 kWh
        assert compute_footprint(job, cluster, data=data).energy_footprint == {"node_energy": 1.8}

    def test_energy_in_watt_hours(self, make_job: MakeJob) -> None:
        cluster = small_cluster(metric("e", unit={"base": "Wh"}, energy="energy", timestep=30))
        job = make_job(
            cluster="tiny",
            subCluster="main",
            resources=[{"hostname": "t01"}],
            jobState="completed",
            duration=3600,
            statistics={"e": stat(5.0)},
        )
        # 5 Wh per 30 s sample x 120 samples = 600 Wh
        assert compute_footprint(job, cluster).energy == 0.6


def test_non_energy_metrics_add_nothing(make_job: MakeJob) -> None:
    cluster = small_cluster(metric("plain"))
    job = make_job(cluster="tiny", resources=[{"hostname": "t01"}], statistics={"plain": stat(1)})
    assert energy_kwh(job, cluster.metric("plain")) == 0.0
    assert compute_footprint(job, cluster).energy_footprint == {}


def test_a_nan_statistic_is_left_out_of_the_footprint(make_job: MakeJob) -> None:
    cluster = small_cluster(metric("load", footprint="max"), metric("other", footprint="avg"))
    job = make_job(
        cluster="tiny",
        resources=[{"hostname": "t01"}],
        statistics={"load": stat(1.0, high=float("nan")), "other": stat(2.0)},
    )
    assert footprint_values(job, cluster, "main") == {"other_avg": 2.0}
