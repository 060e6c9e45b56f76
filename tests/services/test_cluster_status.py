"""Cluster-wide node data: combining node series per metric (sum or average by the
metric's aggregation), node averages, and who may read them. Node data comes from the
site's built-in metric store, filled with line protocol whose values are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cc_backend.domain.errors import InvalidInput, NotFound, PermissionDenied
from cc_backend.domain.jobdata import JobData
from cc_backend.domain.user import User
from cc_backend.server import Backends
from cc_backend.services.cluster_status import (
    ClusterStatusReader,
    as_json,
    combine_node_data,
    node_averages,
    state_column,
)
from tests.metric_lines import TIMESTEP, combine, node_samples, pick, recent_start, to_payload

STEPS = 6
HOSTS = ("f0101", "f0102", "f2101")
METRICS = ["flops_any", "cpu_load", "cpu_power"]
SUPPORT = User.build("sue", ["support"])
USER = User.build("bob", ["user"])


def _value(metric: str, host: str, position: int, step: int) -> float:
    """Distinct per host, so that sums and averages differ."""
    return float(int(host[1:]) % 1000 + position + step)


@pytest.fixture
def start(backends: Backends) -> int:
    first = recent_start(STEPS)
    fritz = backends.clusters.get("fritz")
    samples = [
        s for h in HOSTS for s in node_samples(fritz, h, METRICS, first, STEPS, value=_value)
    ]
    assert backends.metric_store is not None
    assert backends.metric_store.ingest(to_payload(samples)).rejected == 0
    return first


def _reader(backends: Backends) -> ClusterStatusReader:
    return ClusterStatusReader(backends.clusters.get, backends.metric_data)


def _expected_node(backends: Backends, host: str, metric: str, start: int) -> np.ndarray:
    fritz = backends.clusters.get("fritz")
    samples = node_samples(fritz, host, [metric], start, STEPS, value=_value)
    aggregation = fritz.metric(metric).aggregation.value
    return np.array(combine(pick(samples, metric=metric), aggregation))


def test_sum_metrics_are_summed_and_avg_metrics_averaged(backends: Backends, start: int) -> None:
    found = _reader(backends).cluster_metrics(
        "fritz", METRICS, start=start, stop=start + STEPS * TIMESTEP, actor=SUPPORT
    )

    assert found.node_count == len(HOSTS)
    assert [m.name for m in found.metrics] == METRICS
    per_host = {m: [_expected_node(backends, h, m, start) for h in HOSTS] for m in METRICS}
    flops, load, power = (found.get(m) for m in METRICS)
    assert flops is not None
    assert load is not None
    assert power is not None
    np.testing.assert_allclose(flops.data[:STEPS], np.sum(per_host["flops_any"], axis=0))
    np.testing.assert_allclose(power.data[:STEPS], np.sum(per_host["cpu_power"], axis=0))
    np.testing.assert_allclose(load.data[:STEPS], np.mean(per_host["cpu_load"], axis=0))
    assert (flops.unit.prefix, flops.unit.base, flops.timestep) == ("G", "F/s", TIMESTEP)


def test_a_step_without_any_value_stays_nan(backends: Backends) -> None:
    fritz = backends.clusters.get("fritz")
    data = _reader(backends).node_data("fritz", ["flops_any"], start=0, stop=1, actor=SUPPORT)
    assert combine_node_data(fritz, data, ["flops_any"]).metrics == []

    gap = JobData.from_json(
        {
            "flops_any": {
                "node": {
                    "unit": {"base": "F/s", "prefix": "G"},
                    "timestep": 60,
                    "series": [{"hostname": "f0101", "data": [1.0, None, 3.0]}],
                }
            }
        }
    )
    other = JobData.from_json(
        {
            "flops_any": {
                "node": {
                    "unit": {"base": "F/s", "prefix": "G"},
                    "timestep": 60,
                    "series": [{"hostname": "f0102", "data": [2.0]}],
                }
            }
        }
    )
    [metric] = combine_node_data(fritz, {"f0101": gap, "f0102": other}).metrics
    assert metric.data[0] == 3.0
    assert math.isnan(metric.data[1])
    assert metric.data[2] == 3.0
    assert as_json(combine_node_data(fritz, {"f0101": gap}))["metrics"][0]["data"][0] == 1.0


def test_node_averages_are_per_host(backends: Backends, start: int) -> None:
    data = _reader(backends).node_data(
        "fritz", ["flops_any"], start=start, stop=start + STEPS * TIMESTEP, actor=SUPPORT
    )

    averages = node_averages(data, "flops_any")

    assert sorted(averages) == sorted(HOSTS)
    for host in HOSTS:
        expected = _expected_node(backends, host, "flops_any", start).mean()
        assert averages[host] == pytest.approx(expected)
    assert node_averages(data, "mem_bw") == {}


def test_node_and_cluster_data_are_for_support_and_admins(backends: Backends) -> None:
    reader = _reader(backends)
    with pytest.raises(PermissionDenied):
        reader.cluster_metrics("fritz", None, start=0, stop=60, actor=USER)
    with pytest.raises(PermissionDenied):
        reader.node_data("fritz", None, start=0, stop=60, actor=USER)


def test_bad_questions_are_refused_clearly(backends: Backends) -> None:
    reader = _reader(backends)
    with pytest.raises(InvalidInput, match="before its start"):
        reader.cluster_metrics("fritz", None, start=60, stop=0, actor=SUPPORT)
    with pytest.raises(NotFound):
        reader.cluster_metrics("nosuch", None, start=0, stop=60, actor=SUPPORT)
    with pytest.raises(InvalidInput, match="node, health"):
        state_column("power")
    assert state_column("health") == "health_state"
