"""The demo clusters: shaped like real cluster.json files and valid against the schema."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from jsonschema import Draft202012Validator

from cc_backend.demo import demo_clusters
from cc_backend.domain.cluster import Cluster, MetricScope

SchemaValidator = Callable[[str], Draft202012Validator]


def test_a_cpu_and_a_gpu_cluster_with_two_subclusters_each(clusters: dict[str, Cluster]) -> None:
    assert list(clusters) == ["fritz", "alex"]
    assert [sc.name for sc in clusters["fritz"].sub_clusters] == ["main", "spr"]
    assert [sc.name for sc in clusters["alex"].sub_clusters] == ["a40", "a100"]
    assert not any(sc.topology.accelerators for sc in clusters["fritz"].sub_clusters)
    assert all(len(sc.topology.accelerators or []) == 8 for sc in clusters["alex"].sub_clusters)


def test_each_call_builds_equal_fresh_objects() -> None:
    first, second = demo_clusters(), demo_clusters()
    assert first == second
    assert first[0] is not second[0]


@pytest.mark.parametrize("name", ["fritz", "alex"])
def test_cluster_json_round_trips(clusters: dict[str, Cluster], name: str) -> None:
    cluster = clusters[name]
    assert Cluster.from_json(cluster.to_json()) == cluster
    assert Cluster.from_json(cluster.to_json()).to_dict() == cluster.to_dict()


@pytest.mark.reference
@pytest.mark.parametrize("name", ["fritz", "alex"])
def test_cluster_json_is_valid_against_the_reference_schema(
    clusters: dict[str, Cluster], name: str, schema_validator: SchemaValidator
) -> None:
    errors = list(schema_validator("cluster.schema.json").iter_errors(clusters[name].to_dict()))
    assert [e.message for e in errors] == []


def test_every_metric_samples_once_a_minute(clusters: dict[str, Cluster]) -> None:
    assert {m.timestep for c in clusters.values() for m in c.metrics} == {60}


def test_the_metrics_the_job_schema_requires_exist_everywhere(
    clusters: dict[str, Cluster],
) -> None:
    required = {"cpu_user", "cpu_load", "mem_used", "flops_any", "mem_bw"}
    for cluster in clusters.values():
        for sc in cluster.sub_clusters:
            assert required <= {m.name for m in cluster.metrics_for(sc.name)}


def test_footprint_and_energy_metrics(clusters: dict[str, Cluster]) -> None:
    fritz, alex = clusters["fritz"], clusters["alex"]
    cpu = ["cpu_load_avg", "mem_used_max", "flops_any_avg", "mem_bw_avg"]
    assert fritz.footprint_metrics("main") == cpu
    assert fritz.footprint_metrics("spr") == cpu
    assert alex.footprint_metrics("a100") == [*cpu, "acc_utilization_avg", "acc_mem_used_max"]
    assert fritz.energy_metrics("spr") == ["cpu_power", "mem_power"]
    assert alex.energy_metrics("a40") == ["cpu_power", "acc_power"]


def test_subcluster_overrides_apply(clusters: dict[str, Cluster]) -> None:
    fritz, alex = clusters["fritz"], clusters["alex"]
    assert fritz.metric_config("main", "cpu_load").peak == 72
    spr_load = fritz.metric_config("spr", "cpu_load")
    assert (spr_load.peak, spr_load.footprint) == (104, "avg")
    assert fritz.metric_config("spr", "mem_used").lower_is_better is True
    assert "vectorization_ratio" in [m.name for m in fritz.metrics_for("main")]
    assert "vectorization_ratio" not in [m.name for m in fritz.metrics_for("spr")]
    assert alex.metric_config("a100", "acc_mem_used").peak == 80
    assert alex.metric_config("a40", "acc_mem_used").peak == 48
    assert alex.metric_config("a100", "acc_power").energy == "power"


def test_topologies(clusters: dict[str, Cluster]) -> None:
    main = clusters["fritz"].subcluster("main").topology
    assert len(main.node) == 72
    assert [len(s) for s in main.socket] == [36, 36]
    assert [len(d) for d in main.memory_domain] == [18] * 4
    assert main.core == [[t] for t in range(72)]
    a40 = clusters["alex"].subcluster("a40").topology
    assert [len(s) for s in a40.socket] == [64, 64]
    assert [len(d) for d in a40.memory_domain] == [16] * 8
    ids = a40.accelerator_ids()
    assert len(set(ids)) == 8
    assert {a.type for a in a40.accelerators or []} == {"Nvidia GPU"}


def test_cores_per_socket_match_the_topology(clusters: dict[str, Cluster]) -> None:
    for cluster in clusters.values():
        for sc in cluster.sub_clusters:
            topology = sc.topology
            assert sc.sockets_per_node == len(topology.socket)
            assert sc.cores_per_socket * sc.sockets_per_node == len(topology.node)
            assert sorted(t for s in topology.socket for t in s) == topology.node
            assert sorted(t for d in topology.memory_domain for t in d) == topology.node


def test_every_host_belongs_to_exactly_its_subcluster(clusters: dict[str, Cluster]) -> None:
    for cluster in clusters.values():
        seen: set[str] = set()
        for sc in cluster.sub_clusters:
            hosts = set(sc.hosts)
            assert not hosts & seen
            seen |= hosts
            assert all(cluster.subcluster_of(h).name == sc.name for h in hosts)
    assert len(clusters["fritz"].subcluster("main").hosts) >= 128  # room for 64+ node jobs


def test_gpu_metrics_are_measured_per_accelerator(clusters: dict[str, Cluster]) -> None:
    alex = clusters["alex"]
    gpu = [m.name for m in alex.metrics if m.scope is MetricScope.ACCELERATOR]
    assert {"acc_utilization", "acc_mem_used", "acc_power", "nv_temp"} <= set(gpu)
