"""Cluster descriptions: reading cluster.json, per-subcluster metric resolution, lookups."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from cc_backend.domain.cluster import Cluster, MetricScope, Topology
from cc_backend.domain.errors import InvalidInput, NotFound

#: The `schema_validator` fixture: a validator for a reference schema by file name.
SchemaValidator = Callable[[str], Draft202012Validator]

CLUSTERS = ["emmy", "fritz", "alex"]


def violations(validator: Draft202012Validator, document: Any) -> set[tuple[str, str]]:
    return {
        ("/".join(str(p) for p in e.absolute_path), e.message)
        for e in validator.iter_errors(document)
    }


def raw_cluster(reference_dir: Path, name: str) -> bytes:
    return (reference_dir / "job-archive" / name / "cluster.json").read_bytes()


@pytest.fixture(scope="module")
def fritz(reference_dir: Path) -> Cluster:
    return Cluster.from_json(raw_cluster(reference_dir, "fritz"))


@pytest.fixture(scope="module")
def emmy(reference_dir: Path) -> Cluster:
    return Cluster.from_json(raw_cluster(reference_dir, "emmy"))


@pytest.fixture(scope="module")
def alex(reference_dir: Path) -> Cluster:
    return Cluster.from_json(raw_cluster(reference_dir, "alex"))


def metric(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "unit": {"base": "B", "prefix": "G"},
        "scope": "node",
        "aggregation": "sum",
        "timestep": 60,
        "peak": 100,
        "normal": 50,
        "caution": 20,
        "alert": 10,
        **extra,
    }


def subcluster(name: str, nodes: str, **extra: Any) -> dict[str, Any]:
    value = {"unit": {"base": "F/s", "prefix": "G"}, "value": 100}
    return {
        "name": name,
        "nodes": nodes,
        "processorType": "test CPU",
        "socketsPerNode": 1,
        "coresPerSocket": 2,
        "threadsPerCore": 1,
        "flopRateScalar": value,
        "flopRateSimd": value,
        "memoryBandwidth": {"unit": {"base": "B/s", "prefix": "G"}, "value": 50},
        "topology": {"node": [0, 1], "socket": [[0, 1]], "memoryDomain": [[0, 1]]},
        **extra,
    }


def cluster(metrics: list[dict[str, Any]], subclusters: list[dict[str, Any]]) -> Cluster:
    return Cluster.from_json({"name": "test", "metricConfig": metrics, "subClusters": subclusters})


@pytest.mark.reference
class TestReferenceFiles:
    @pytest.mark.parametrize("name", CLUSTERS)
    def test_round_trip_gives_back_equal_json(self, reference_dir: Path, name: str) -> None:
        raw = raw_cluster(reference_dir, name)
        assert orjson.loads(Cluster.from_json(raw).to_json()) == orjson.loads(raw)
        assert Cluster.from_json(raw).model_dump(by_alias=True, exclude_none=True) == (
            Cluster.from_json(raw).to_dict()
        )

    def test_emmy_and_its_round_trip_validate_against_the_schema(
        self, reference_dir: Path, schema_validator: SchemaValidator
    ) -> None:
        validator = schema_validator("cluster.schema.json")
        raw = raw_cluster(reference_dir, "emmy")
        assert violations(validator, orjson.loads(raw)) == set()
        assert violations(validator, Cluster.from_json(raw).to_dict()) == set()

    @pytest.mark.parametrize("name", CLUSTERS)
    def test_round_trip_adds_no_schema_violation(
        self, reference_dir: Path, name: str, schema_validator: SchemaValidator
    ) -> None:
        # fritz and alex use the unit bases "Flops/s" and "packets/s", which the schema's
        # enum does not list; cc-backend reads them anyway, and so does this model.
        validator = schema_validator("cluster.schema.json")
        raw = raw_cluster(reference_dir, name)
        found = violations(validator, orjson.loads(raw))
        assert violations(validator, Cluster.from_json(raw).to_dict()) == found
        assert all(
            path.endswith("unit/base") and message.split()[0] in ("'Flops/s'", "'packets/s'")
            for path, message in found
        )

    def test_node_counts(self, fritz: Cluster, emmy: Cluster) -> None:
        assert fritz.subcluster("main").number_of_nodes == 992
        assert emmy.subcluster("haswell").number_of_nodes == 38


@pytest.mark.reference
class TestOverrides:
    def test_fritz_cpu_load_on_spr1tb_takes_the_subcluster_thresholds(self, fritz: Cluster) -> None:
        cpu_load = fritz.metric_config("spr1tb", "cpu_load")
        assert (cpu_load.peak, cpu_load.normal, cpu_load.caution, cpu_load.alert) == (
            104,
            104,
            52,
            20,
        )
        assert cpu_load.footprint == "avg"
        assert cpu_load.sub_clusters is None
        assert cpu_load.scope is MetricScope.NODE

    def test_subclusters_without_override_use_the_cluster_values(self, fritz: Cluster) -> None:
        assert fritz.metric_config("main", "cpu_load").peak == 72
        assert fritz.metric_config("main", "mem_used").lower_is_better is True

    def test_fritz_mem_used_on_spr2tb(self, fritz: Cluster) -> None:
        mem_used = fritz.metric_config("spr2tb", "mem_used")
        assert (mem_used.peak, mem_used.alert, mem_used.footprint) == (2048, 2000, "max")
        assert mem_used.lower_is_better is True

    def test_removed_metrics_are_absent_for_that_subcluster_only(self, fritz: Cluster) -> None:
        def names(sc: str) -> list[str]:
            return [m.name for m in fritz.metrics_for(sc)]

        assert "flops_any" not in names("spr2tb")
        assert "flops_any" in names("spr1tb")
        assert {"flops_sp", "flops_dp", "mem_bw", "clock"}.isdisjoint(names("spr1tb"))
        assert names("main") == [m.name for m in fritz.metrics]
        with pytest.raises(NotFound, match="removed"):
            fritz.metric_config("spr2tb", "flops_any")

    def test_emmy_removals(self, emmy: Cluster) -> None:
        assert "cpu_user" not in [m.name for m in emmy.metrics_for("haswell")]
        assert "nfs4_read" not in [m.name for m in emmy.metrics_for("haswell")]
        assert "nfs4_read" in [m.name for m in emmy.metrics_for("skylake")]
        assert emmy.metric_config("kabylake", "clock").peak == 3700

    def test_unknown_names_are_not_found(self, fritz: Cluster) -> None:
        with pytest.raises(NotFound, match="subcluster"):
            fritz.metrics_for("nosuch")
        with pytest.raises(NotFound, match="not configured"):
            fritz.metric_config("main", "nosuch")
        with pytest.raises(NotFound):
            fritz.metric("nosuch")


class TestResolutionRules:
    def test_an_override_replaces_all_its_fields_as_a_whole(self) -> None:
        test = cluster(
            [
                metric(
                    "m",
                    footprint="max",
                    energy="power",
                    lowerIsBetter=True,
                    subClusters=[{"name": "b", "normal": 70}],
                )
            ],
            [subcluster("a", "a[01-02]"), subcluster("b", "b[01-02]")],
        )
        unchanged = test.metric_config("a", "m")
        assert (unchanged.peak, unchanged.footprint, unchanged.energy) == (100, "max", "power")
        overridden = test.metric_config("b", "m")
        assert (overridden.peak, overridden.normal, overridden.alert) == (0, 70, 0)
        assert overridden.footprint is None
        assert overridden.energy is None
        assert not overridden.lower_is_better
        assert test.footprint_metrics("b") == []
        assert test.energy_metrics("b") == []

    def test_a_metric_removed_from_a_subcluster_built_in_place(self) -> None:
        test = cluster(
            [metric("keep"), metric("drop", subClusters=[{"name": "b", "remove": True}])],
            [subcluster("a", "a01"), subcluster("b", "b01")],
        )
        assert [m.name for m in test.metrics_for("a")] == ["keep", "drop"]
        assert [m.name for m in test.metrics_for("b")] == ["keep"]

    def test_a_subclusters_own_metric_config_comes_first_and_wins(self) -> None:
        own = metric("m", peak=999)
        test = cluster([metric("m"), metric("other")], [subcluster("a", "a01", metricConfig=[own])])
        assert [m.name for m in test.metrics_for("a")] == ["m", "other"]
        assert test.metric_config("a", "m").peak == 999

    def test_unset_strings_written_by_cc_backend_read_as_absent(self) -> None:
        test = cluster([metric("m", energy="", footprint="", scope="")], [subcluster("a", "a1")])
        mc = test.metric("m")
        assert (mc.energy, mc.footprint, mc.scope) == (None, None, MetricScope.NODE)


@pytest.mark.reference
class TestFootprintAndEnergy:
    def test_fritz_footprint_keys(self, fritz: Cluster) -> None:
        assert fritz.footprint_metrics("main") == [
            "cpu_load_avg",
            "mem_used_max",
            "flops_any_avg",
            "mem_bw_avg",
        ]
        assert fritz.footprint_metrics("spr1tb") == [
            "cpu_load_avg",
            "mem_used_max",
            "flops_any_avg",
        ]
        assert fritz.footprint_metrics("spr2tb") == ["cpu_load_avg", "mem_used_max"]

    def test_fritz_energy_metrics(self, fritz: Cluster) -> None:
        for name in ("main", "spr1tb", "spr2tb"):
            assert fritz.energy_metrics(name) == ["cpu_power", "mem_power"]

    def test_alex_energy_metrics(self, alex: Cluster) -> None:
        assert alex.energy_metrics("a40") == ["core_power", "acc_power", "cpu_power"]

    def test_resolved_subcluster_carries_the_lists(self, fritz: Cluster) -> None:
        resolved = fritz.resolved_subcluster("spr2tb")
        assert resolved.footprint == ["cpu_load", "mem_used"]
        assert resolved.energy_footprint == ["cpu_power", "mem_power"]
        assert fritz.subcluster("spr2tb").footprint is None  # the file's shape is untouched

    def test_emmy_has_no_footprint_metrics(self, emmy: Cluster) -> None:
        assert emmy.footprint_metrics("icelake") == []


@pytest.mark.reference
class TestSubclusterOfHost:
    @pytest.mark.parametrize(
        ("host", "expected"),
        [("f0101", "main"), ("f1256", "main"), ("f2157", "spr1tb"), ("f2288", "spr2tb")],
    )
    def test_fritz(self, fritz: Cluster, host: str, expected: str) -> None:
        assert fritz.subcluster_of(host).name == expected

    def test_overlapping_lists_pick_the_smallest(self, fritz: Cluster) -> None:
        # spr1tb's list f[2157-2188,2257-2288] contains all of spr2tb's f[2181-2188,...]
        assert "f2181" in fritz.subcluster("spr1tb").hosts
        assert fritz.subcluster_of("f2181").name == "spr2tb"

    @pytest.mark.parametrize(
        ("host", "expected"), [("a0121", "a40"), ("a0601", "a100"), ("a0831", "a100m80")]
    )
    def test_alex(self, alex: Cluster, host: str, expected: str) -> None:
        assert alex.subcluster_of(host).name == expected

    @pytest.mark.parametrize(
        ("host", "expected"),
        [("w1127", "haswell"), ("w1301", "skylake"), ("w1401", "kabylake"), ("w2335", "icelake")],
    )
    def test_emmy(self, emmy: Cluster, host: str, expected: str) -> None:
        assert emmy.subcluster_of(host).name == expected

    @pytest.mark.parametrize("host", ["w1506", "w1146", "x0101", ""])
    def test_unknown_hosts(self, emmy: Cluster, host: str) -> None:
        with pytest.raises(NotFound):
            emmy.subcluster_of(host)


def test_wildcard_and_empty_node_lists_catch_the_rest() -> None:
    wildcard = cluster([metric("m")], [subcluster("a", "a[01-02]"), subcluster("rest", "*")])
    assert wildcard.subcluster_of("a01").name == "a"
    assert wildcard.subcluster_of("zzz").name == "rest"
    empty = cluster([metric("m")], [subcluster("all", ""), subcluster("b", "b1")])
    assert empty.subcluster_of("b1").name == "b"
    assert empty.subcluster_of("zzz").name == "all"


class TestInvalidInput:
    @pytest.mark.parametrize(
        ("document", "reason"),
        [
            (b"{not json", "not valid JSON"),
            ({"name": "x", "metricConfig": [metric("m")]}, "subClusters"),
            ({"name": "x", "metricConfig": [], "subClusters": [subcluster("a", "a1")]}, "metric"),
            (
                {
                    "name": "x",
                    "metricConfig": [metric("m", scope="rack")],
                    "subClusters": [subcluster("a", "a1")],
                },
                "scope",
            ),
            (
                {
                    "name": "x",
                    "metricConfig": [metric("m", timestep=0)],
                    "subClusters": [subcluster("a", "a1")],
                },
                "timestep",
            ),
            (
                {
                    "name": "x",
                    "metricConfig": [metric("m"), metric("m")],
                    "subClusters": [subcluster("a", "a1")],
                },
                "duplicate metric",
            ),
            (
                {
                    "name": "x",
                    "metricConfig": [metric("m")],
                    "subClusters": [subcluster("a", "a[1")],
                },
                "subcluster 'a'.*unclosed",
            ),
        ],
    )
    def test_bad_documents(self, document: Any, reason: str) -> None:
        with pytest.raises(InvalidInput, match=reason):
            Cluster.from_json(document)


class TestMetricScope:
    def test_granularity_order_follows_cc_backend(self) -> None:
        order = [
            MetricScope.ACCELERATOR,
            MetricScope.HWTHREAD,
            MetricScope.CORE,
            MetricScope.MEMORY_DOMAIN,
            MetricScope.SOCKET,
            MetricScope.NODE,
        ]
        for finer, coarser in itertools.pairwise(order):
            assert finer.is_finer_than(coarser)
            assert coarser.is_coarser_than(finer)
            assert not finer.is_finer_than(finer)

    def test_coarsest(self) -> None:
        assert MetricScope.coarsest([MetricScope.CORE, MetricScope.SOCKET]) is MetricScope.SOCKET
        with pytest.raises(InvalidInput):
            MetricScope.coarsest([])

    def test_values_are_the_json_names(self) -> None:
        assert MetricScope("memoryDomain") is MetricScope.MEMORY_DOMAIN


@pytest.mark.reference
class TestTopology:
    @pytest.fixture
    def main(self, fritz: Cluster) -> Topology:
        return fritz.subcluster("main").topology

    def test_sockets_of_hwthreads(self, main: Topology) -> None:
        assert main.sockets_of([0, 1]) == ([0], False)
        assert main.sockets_of(range(36)) == ([0], True)
        assert main.sockets_of([35, 36]) == ([0, 1], False)

    def test_memory_domains_and_cores(self, main: Topology) -> None:
        assert main.memory_domains_of(range(18, 36)) == ([1], True)
        assert main.cores_of([5, 6]) == ([5, 6], True)

    def test_sockets_of_cores(self, main: Topology) -> None:
        assert main.sockets_of_cores(range(36, 72)) == ([1], True)
        assert main.sockets_of_cores([0]) == ([0], False)

    def test_hwthreads_of_a_scope(self, main: Topology) -> None:
        assert main.hwthreads_of(MetricScope.SOCKET, [1]) == list(range(36, 72))
        assert main.hwthreads_of(MetricScope.NODE, [0]) == list(range(72))
        assert main.hwthreads_of(MetricScope.CORE, [3, 1]) == [1, 3]
        assert main.hwthreads_of(MetricScope.HWTHREAD, [7]) == [7]
        with pytest.raises(NotFound):
            main.hwthreads_of(MetricScope.HWTHREAD, [72])
        with pytest.raises(NotFound):
            main.hwthreads_of(MetricScope.SOCKET, [2])
        with pytest.raises(InvalidInput):
            main.hwthreads_of(MetricScope.ACCELERATOR, [0])

    def test_accelerators(self, alex: Cluster, main: Topology) -> None:
        topology = alex.subcluster("a40").topology
        assert len(topology.accelerator_ids()) == 8
        assert topology.accelerator_id(0) == "00000000:01:00.0"
        with pytest.raises(NotFound):
            topology.accelerator_id(8)
        assert main.accelerator_ids() == []
