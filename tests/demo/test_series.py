"""Generated metric data: shapes, scopes, statistics and behaviours."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from jsonschema import Draft202012Validator

from cc_backend.demo.apps import APPS
from cc_backend.demo.layout import Layout
from cc_backend.demo.profiles import AppTraits, Behaviour, Levels, draw_levels
from cc_backend.demo.series import FINE_METRICS, PERCENTILES, job_data, statistics_series
from cc_backend.domain.cluster import Aggregation, Cluster, MetricScope
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData, MetricStatistics

SchemaValidator = Callable[[str], Draft202012Validator]
JobsWithData = list[tuple[Job, JobData]]


def test_data_validates_and_round_trips(jobs_with_data: JobsWithData) -> None:
    for _, data in jobs_with_data[::3]:
        assert JobData.model_validate(data.to_dict()) == data
        assert JobData.from_json(data.to_json()) == data


def test_every_metric_has_node_series_of_the_right_length(
    jobs_with_data: JobsWithData, clusters: dict[str, Cluster]
) -> None:
    for job, data in jobs_with_data:
        metrics = clusters[job.cluster].metrics_for(job.sub_cluster)
        assert list(data.metrics()) == [m.name for m in metrics]
        for metric in metrics:
            node = data.get(metric.name, MetricScope.NODE)
            assert node.unit == metric.unit
            assert node.timestep == metric.timestep == 60
            assert [s.hostname for s in node.series] == job.hostnames
            assert all(s.id is None for s in node.series)
            points = max(1, job.duration // 60)
            assert {len(s.data) for s in node.series} == {points}


def test_finer_scopes_of_small_cpu_jobs_and_gpu_jobs(
    jobs_with_data: JobsWithData, clusters: dict[str, Cluster]
) -> None:
    seen = set()
    for job, data in jobs_with_data:
        topology = clusters[job.cluster].subcluster(job.sub_cluster).topology
        threads = job.resources[0].hwthreads or topology.node
        for name, scopes in data.items():
            extra = set(scopes) - {MetricScope.NODE}
            seen |= extra
            if MetricScope.ACCELERATOR in extra:
                ids = [(s.hostname, s.id) for s in scopes[MetricScope.ACCELERATOR].series]
                expected = [(r.hostname, a) for r in job.resources for a in r.accelerators or []]
                assert ids == expected
            elif extra:
                assert job.num_acc == 0
                assert job.num_nodes <= 2
                assert name in FINE_METRICS
            if MetricScope.CORE in extra:
                series = scopes[MetricScope.CORE].series
                assert [s.id for s in series] == [str(t) for t in threads] * job.num_nodes
            if MetricScope.SOCKET in extra:
                used = {s.id for s in scopes[MetricScope.SOCKET].series}
                sockets = {str(i) for i, s in enumerate(topology.socket) if set(s) & set(threads)}
                assert used == sockets
        if job.num_acc == 0 and job.num_nodes <= 2:
            assert MetricScope.CORE in data["flops_any"]
            assert MetricScope.SOCKET in data["mem_bw"]
    assert seen == {MetricScope.CORE, MetricScope.SOCKET, MetricScope.ACCELERATOR}


def test_node_values_aggregate_the_finer_ones(
    jobs_with_data: JobsWithData, clusters: dict[str, Cluster]
) -> None:
    checked = 0
    for job, data in jobs_with_data:
        for name, scopes in data.items():
            metric = clusters[job.cluster].metric(name)
            for scope, finer in scopes.items():
                if scope is MetricScope.NODE:
                    continue
                for node in scopes[MetricScope.NODE].series:
                    rows = np.array([s.data for s in finer.series if s.hostname == node.hostname])
                    if np.isnan(rows).any() or np.isnan(node.data).any():
                        continue
                    total = (
                        rows.mean(axis=0) if metric.aggregation is Aggregation.AVG else rows.sum(0)
                    )
                    assert np.allclose(node.data, total, atol=0.006 * (len(rows) + 1))
                    checked += 1
    assert checked > 20


def test_series_statistics_are_those_of_the_samples(jobs_with_data: JobsWithData) -> None:
    gaps = 0
    for _, data in jobs_with_data[::4]:
        for scopes in data.root.values():
            for job_metric in scopes.values():
                for series in job_metric.series:
                    expected = MetricStatistics.of(series.data)
                    got = series.statistics
                    assert (got.min, got.max) == (expected.min, expected.max)
                    assert math.isclose(got.avg, expected.avg, rel_tol=1e-12, abs_tol=1e-12)
                    assert not np.isnan(series.data).all()
                    assert np.nanmin(series.data) >= 0
                    gaps += int(np.isnan(series.data).any())
    assert gaps > 0  # some jobs have gaps


def test_meta_statistics_are_derived_from_the_data(jobs_with_data: JobsWithData) -> None:
    for job, data in jobs_with_data:
        expected = data.job_statistics(job.num_nodes)
        stats = job.statistics or {}
        assert set(stats) == set(expected)
        for name, stat in stats.items():
            assert (stat.avg, stat.min, stat.max) == (
                expected[name].avg,
                expected[name].min,
                expected[name].max,
            )
            assert stat.unit == expected[name].unit.model_dump(exclude_none=True)


def test_statistics_series_for_metrics_with_many_series(jobs_with_data: JobsWithData) -> None:
    found = 0
    for _, data in jobs_with_data:
        for scopes in data.root.values():
            for job_metric in scopes.values():
                many = len(job_metric.series) > 15 and len(job_metric.series[0].data) >= 3
                assert (job_metric.statistics_series is not None) == many
                if job_metric.statistics_series is not None:
                    found += 1
                    if found % 10 == 1:  # numpy's NaN-aware percentiles are slow
                        _check_statistics_series(job_metric.statistics_series, job_metric.series)
    assert found > 0


def _check_statistics_series(stats: Any, series: list[Any]) -> None:
    matrix = np.array([s.data for s in series])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected: dict[str | int, np.ndarray] = {
            "min": np.nanmin(matrix, 0),
            "max": np.nanmax(matrix, 0),
            "mean": np.nanmean(matrix, 0),
            "median": np.nanmedian(matrix, 0),
            **{p: np.nanpercentile(matrix, p, axis=0) for p in PERCENTILES},
        }
    for key, values in expected.items():
        got = stats.percentiles[key] if isinstance(key, int) else getattr(stats, key)
        assert np.allclose(got, np.round(values, 2), atol=0.0101, equal_nan=True), key


def test_statistics_series_leave_out_time_steps_with_fewer_than_three_samples() -> None:
    matrix = np.arange(20.0 * 4).reshape(20, 4)
    matrix[:18, 1] = np.nan
    stats = statistics_series(matrix)
    assert stats.min is not None
    assert stats.percentiles is not None
    assert np.isnan(stats.min[1])
    assert np.isnan(stats.percentiles[90][1])
    assert stats.min[0] == 0
    assert stats.max is not None
    assert stats.max[0] == 76
    assert stats.median is not None
    assert stats.median[2] == np.median(matrix[:, 2])


@pytest.mark.reference
def test_job_metrics_are_valid_against_the_reference_schema(
    jobs_with_data: JobsWithData, schema_validator: SchemaValidator
) -> None:
    validator = schema_validator("job-metric-data.schema.json")
    for _, data in jobs_with_data[::5]:
        for name, scopes in data.to_dict().items():
            for scope, document in scopes.items():
                errors = [e.message for e in validator.iter_errors(document)]
                assert errors == [], (name, scope)


# -- behaviours ---------------------------------------------------------------------------


def one_job_levels(behaviour: Behaviour, *, gpu: bool = False, oom: bool = False) -> Levels:
    app = next(a for a in APPS if a.tag == "gromacs")
    one = np.ones(1)
    traits = AppTraits(
        flops=one * app.flops,
        bandwidth=one * app.bandwidth,
        memory=one * app.memory,
        double=one * app.double,
        vector=one * app.vector,
        cores_low=one,
        cores_high=one,
        gpu_load=one * app.gpu_load,
        gpu_memory=one * app.gpu_memory,
    )
    return draw_levels(
        np.random.default_rng(1),
        np.array([int(behaviour)]),
        traits,
        multinode=np.array([False]),
        gpu_job=np.array([gpu]),
        oom=np.array([oom]),
    ).take(0)


def run(
    clusters: dict[str, Cluster], behaviour: Behaviour, *, gpu: bool = False, oom: bool = False
) -> JobData:
    cluster = clusters["alex" if gpu else "fritz"]
    sc = cluster.sub_clusters[0]
    resources: list[dict[str, Any]] = [{"hostname": next(iter(sc.hosts))}]
    if gpu:
        resources[0]["accelerators"] = sc.topology.accelerator_ids()
    levels = one_job_levels(behaviour, gpu=gpu, oom=oom)
    layout = Layout.of(resources, sc.topology, float(levels.active))
    metrics = cluster.metrics_for(sc.name)
    return job_data(6 * 3600, metrics, layout, (levels, behaviour), np.random.default_rng(2))


def node(data: JobData, metric: str) -> np.ndarray:
    return data.get(metric, MetricScope.NODE).series[0].data


def test_compute_bound_jobs_keep_their_cores_busy_and_compute(
    clusters: dict[str, Cluster],
) -> None:
    compute = run(clusters, Behaviour.COMPUTE)
    memory = run(clusters, Behaviour.MEMORY)
    idle = run(clusters, Behaviour.IDLE)
    assert np.nanmean(node(compute, "cpu_load")) > 60
    assert np.nanmean(node(idle, "cpu_load")) < 2
    assert np.nanmean(node(compute, "flops_any")) > 2 * np.nanmean(node(memory, "flops_any"))
    assert np.nanmean(node(memory, "mem_bw")) > np.nanmean(node(compute, "mem_bw"))
    assert np.nanmean(node(memory, "ipc")) < np.nanmean(node(compute, "ipc"))
    assert np.nanmean(node(idle, "cpu_power")) < np.nanmean(node(compute, "cpu_power"))


def test_leaking_jobs_grow_their_memory_until_the_node_is_full(
    clusters: dict[str, Cluster],
) -> None:
    leak = node(run(clusters, Behaviour.LEAK, oom=True), "mem_used")
    steady = node(run(clusters, Behaviour.COMPUTE), "mem_used")
    third = len(leak) // 3
    assert np.nanmean(leak[-third:]) > 1.5 * np.nanmean(leak[third : 2 * third])
    assert np.nanmax(leak) > 0.9 * 256
    assert np.nanmean(steady[-third:]) < 1.2 * np.nanmean(steady[third : 2 * third])


def test_io_heavy_jobs_read_and_write(clusters: dict[str, Cluster]) -> None:
    io = run(clusters, Behaviour.IO)
    compute = run(clusters, Behaviour.COMPUTE)
    for metric in ("nfs4_read", "nfs4_write"):
        assert np.nanmean(node(io, metric)) > 10 * np.nanmean(node(compute, metric))


def test_gpu_idle_jobs_leave_their_gpus_idle(clusters: dict[str, Cluster]) -> None:
    busy = run(clusters, Behaviour.COMPUTE, gpu=True)
    idle = run(clusters, Behaviour.GPU_IDLE, gpu=True)
    assert np.nanmean(node(busy, "acc_utilization")) > 50
    assert np.nanmean(node(idle, "acc_utilization")) < 5
    assert len(busy.get("acc_utilization", MetricScope.ACCELERATOR).series) == 8
    assert np.nanmax(node(busy, "acc_utilization")) <= 100
    assert np.nanmean(node(idle, "acc_power")) < np.nanmean(node(busy, "acc_power"))
