"""What the status dashboards ask of a site, answered alike in process and over the served
API: nodes occupied by running jobs, node states over time, node metric data and the
cluster-wide sums, and who may ask."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from cc_backend.domain.errors import InvalidInput, PermissionDenied
from cc_backend.domain.job import Job
from cc_backend.domain.user import User
from cc_backend.repository.nodes import HealthState, NodeStateRow, SchedulerState
from cc_backend.server import Backends
from tests.client.conftest import ClientFor
from tests.metric_lines import TIMESTEP, combine, node_samples, pick, recent_start, to_payload

STEPS = 5
HOSTS = ("f0101", "f0102")


@pytest.fixture
def states(backends: Backends) -> int:
    """Two reports of three fritz nodes: at T two allocated and one idle, at T+300 one
    allocated, one idle and one down (its health failed). Returns T."""
    first = 1_700_000_000
    reports = [
        (first, ("allocated", "allocated", "idle"), ("full", "full", "full")),
        (first + 300, ("allocated", "idle", "down"), ("full", "full", "failed")),
    ]
    for stamp, scheduler, health in reports:
        rows = [
            NodeStateRow(host, "main", stamp, SchedulerState(s), HealthState(h))
            for host, s, h in zip(("f0101", "f0102", "f0103"), scheduler, health, strict=True)
        ]
        backends.nodes.add_states("fritz", rows)
    return first


async def test_node_states_over_time_count_nodes_per_state(
    client_for: ClientFor, states: int
) -> None:
    found = await client_for("root").node_states_timed("fritz", "node")

    series = {s.state: dict(zip(s.times, s.counts, strict=True)) for s in found}
    assert series == {
        "allocated": {states: 2, states + 300: 1},
        "idle": {states: 1, states + 300: 1},
        "down": {states + 300: 1},
    }
    health = await client_for("root").node_states_timed("fritz", "health", since=states)
    assert {s.state: s.counts for s in health} == {"full": [2], "failed": [1]}


async def test_node_states_need_support_or_admin_and_a_known_kind(
    client_for: ClientFor, states: int
) -> None:
    with pytest.raises(PermissionDenied):
        await client_for("bob").node_states_timed("fritz")
    with pytest.raises(InvalidInput, match="node, health"):
        await client_for("root").node_states_timed("fritz", "power")


async def test_allocated_nodes_count_each_node_of_running_jobs_once(
    client_for: ClientFor, backends: Backends, make_job: Callable[..., Job]
) -> None:
    adapter = User.build("adapter", ["api"])
    for job_id, hosts in ((1, ["f0101", "f0102"]), (2, ["f0102"]), (3, ["f2101"])):
        job = make_job(
            jobId=job_id,
            subCluster="spr" if hosts == ["f2101"] else "main",
            resources=[{"hostname": h} for h in hosts],
            numNodes=len(hosts),
        )
        backends.lifecycle.start_job(job, adapter)

    assert await client_for("root").allocated_nodes("fritz") == {"main": 2, "spr": 1}
    assert await client_for("root").allocated_nodes("alex") == {}


@pytest.fixture
def pushed(backends: Backends) -> int:
    """``flops_any`` and ``cpu_power`` of two fritz nodes for STEPS steps; returns the start."""
    start = recent_start(STEPS)
    fritz = backends.clusters.get("fritz")
    samples = [
        s for h in HOSTS for s in node_samples(fritz, h, ["flops_any", "cpu_power"], start, STEPS)
    ]
    assert backends.metric_store is not None
    assert backends.metric_store.ingest(to_payload(samples)).rejected == 0
    return start


async def test_node_metric_data_has_each_nodes_series(
    client_for: ClientFor, backends: Backends, pushed: int
) -> None:
    stop = pushed + STEPS * TIMESTEP
    found = await client_for("root").node_metric_data("fritz", ["flops_any"], pushed, stop)

    assert sorted(host for host, data in found.items() if len(data)) == list(HOSTS)
    fritz = backends.clusters.get("fritz")
    for host in HOSTS:
        [series] = found[host]["flops_any"]["node"].series
        samples = pick(node_samples(fritz, host, ["flops_any"], pushed, STEPS), metric="flops_any")
        assert list(series.data[:STEPS]) == combine(samples, "sum")
    only = await client_for("root").node_metric_data("fritz", None, pushed, stop, hosts=["f0102"])
    assert list(only) == ["f0102"]


async def test_cluster_metrics_sum_the_nodes(client_for: ClientFor, pushed: int) -> None:
    stop = pushed + STEPS * TIMESTEP
    client = client_for("root")
    nodes = await client.node_metric_data("fritz", ["cpu_power"], pushed, stop)

    found = await client.cluster_metrics("fritz", ["cpu_power"], pushed, stop)

    assert found.node_count == len(HOSTS)
    [power] = found.metrics
    assert (power.name, power.unit.base, power.timestep) == ("cpu_power", "W", TIMESTEP)
    expected = sum(nodes[h]["cpu_power"]["node"].series[0].data[:STEPS] for h in HOSTS)
    np.testing.assert_allclose(power.data[:STEPS], expected)


async def test_node_and_cluster_data_are_refused_to_plain_users(
    client_for: ClientFor, pushed: int
) -> None:
    with pytest.raises(PermissionDenied):
        await client_for("bob").node_metric_data("fritz", None, pushed, pushed + 60)
    with pytest.raises(PermissionDenied):
        await client_for("bob").cluster_metrics("fritz", None, pushed, pushed + 60)
    with pytest.raises(InvalidInput):
        await client_for("root").cluster_metrics("fritz", None, pushed + 60, pushed)
