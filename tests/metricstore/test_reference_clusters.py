"""The store over cc-backend's own cluster.json files (topologies, accelerators)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cc_backend.domain.cluster import Cluster
from cc_backend.metricstore import ApiQueryRequest, MetricStore
from tests.metricstore.conftest import T0, Clock, below, lines

pytestmark = pytest.mark.reference


@pytest.fixture
def reference_store(reference_dir: Path, clock: Clock) -> MetricStore:
    folder = reference_dir / "job-archive"
    clusters = [
        Cluster.from_json((folder / name / "cluster.json").read_bytes())
        for name in ("alex", "emmy", "fritz")
    ]
    return MetricStore(clusters, clock=clock)


def ask(store: MetricStore, cluster: str, *queries: dict[str, Any]) -> list[list[dict]]:
    request = {"cluster": cluster, "from": T0, "to": T0 + 120, "queries": list(queries)}
    response = store.query(ApiQueryRequest.model_validate(request))
    return json.loads(response.to_json())["results"]


def test_accelerator_metrics_by_device_and_per_node(reference_store: MetricStore) -> None:
    alex = reference_store.catalog.cluster("alex")
    assert alex is not None
    gpus = alex.subcluster("a40").topology.accelerator_ids()
    samples = [
        (below("a0121", metric, f"accelerator{gpu}", cluster="alex"), float(i + 1), T0 + 60 * m)
        for i, gpu in enumerate(gpus)
        for metric in ("acc_power", "acc_utilization")
        for m in range(2)
    ]
    assert reference_store.ingest(lines(*samples)).rejected == 0
    per_device = {"host": "a0121", "type": "accelerator", "type-ids": gpus[:2]}
    power, utilization, whole_power = ask(
        reference_store,
        "alex",
        {"metric": "acc_power", **per_device},
        {"metric": "acc_utilization", "host": "a0121"},
        {"metric": "acc_power", "host": "a0121"},
    )
    assert [r["data"] for r in power] == [[1.0, 1.0], [2.0, 2.0]]
    n = len(gpus)
    assert utilization[0]["data"] == [(n + 1) / 2] * 2  # avg over the node's GPUs
    assert whole_power[0]["data"] == [n * (n + 1) / 2] * 2  # sum


def test_socket_scope_from_hwthreads_of_the_topology(reference_store: MetricStore) -> None:
    fritz = reference_store.catalog.cluster("fritz")
    assert fritz is not None
    topology = fritz.subcluster_of("f0101").topology
    samples = [(below("f0101", "flops_any", f"hwthread{t}"), 1.0, T0) for t in topology.node]
    assert reference_store.ingest(lines(*samples)).written == len(topology.node)
    sockets = ask(
        reference_store,
        "fritz",
        *[
            {
                "metric": "flops_any",
                "host": "f0101",
                "type": "hwthread",
                "type-ids": [str(t) for t in socket],
                "aggreg": True,
            }
            for socket in topology.socket
        ],
    )
    assert [row[0]["data"] for row in sockets] == [[float(len(s))] for s in topology.socket]


def test_every_reference_metric_is_accepted_at_its_timestep(reference_store: MetricStore) -> None:
    for cluster in ("alex", "emmy", "fritz"):
        description = reference_store.catalog.cluster(cluster)
        assert description is not None
        for metric in description.metrics:
            info = reference_store.catalog.metric(cluster, metric.name)
            assert info is not None
            assert (info.frequency, info.aggregation) == (metric.timestep, metric.aggregation)
