"""Scope selection: the metric-store queries that load a job's metrics at requested scopes.

Expectations are derived by hand from the topologies of the reference clusters (emmy,
fritz, alex), the demo clusters and a small SMT node built here. Where a query's shape
departs from cc-backend's (one query for the cores of a node without SMT), a real store
shows that it reads the same series.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from cc_backend.demo.clusters import demo_clusters
from cc_backend.domain.cluster import Cluster, MetricScope
from cc_backend.domain.errors import InvalidInput, NotFound
from cc_backend.domain.job import Resource
from cc_backend.metricdata.scopes import ScopeQuery, build_queries, delivered_scope
from cc_backend.metricstore import ApiQueryRequest, MetricStore, SeriesKey
from cc_backend.metricstore.models import ApiMetricData

NODE = MetricScope.NODE
SOCKET = MetricScope.SOCKET
MEMORY_DOMAIN = MetricScope.MEMORY_DOMAIN
CORE = MetricScope.CORE
HWTHREAD = MetricScope.HWTHREAD
ACCELERATOR = MetricScope.ACCELERATOR

#: What a query asks for, without metric and host: (scope, type, type-ids, aggregate).
Shape = tuple[MetricScope, MetricScope | None, tuple[str, ...], bool]


def ids(values: Iterable[int]) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


def shapes(queries: list[ScopeQuery]) -> list[Shape]:
    return [(q.scope, q.type, q.type_ids, q.aggregate) for q in queries]


def host(
    name: str, hwthreads: Iterable[int] | None = None, accs: list[str] | None = None
) -> Resource:
    threads = list(hwthreads) if hwthreads is not None else None
    return Resource(hostname=name, hwthreads=threads, accelerators=accs)


def load(reference_dir: Path, name: str) -> Cluster:
    return Cluster.from_json((reference_dir / "job-archive" / name / "cluster.json").read_bytes())


@pytest.fixture(scope="module")
def fritz(reference_dir: Path) -> Cluster:
    return load(reference_dir, "fritz")


@pytest.fixture(scope="module")
def emmy(reference_dir: Path) -> Cluster:
    return load(reference_dir, "emmy")


@pytest.fixture(scope="module")
def alex(reference_dir: Path) -> Cluster:
    return load(reference_dir, "alex")


@pytest.fixture(scope="module")
def fritz_with_domain_metric(reference_dir: Path) -> Cluster:
    """Reference fritz plus a metric measured per memory domain (none of the files has one)."""
    document: dict[str, Any] = orjson.loads(
        (reference_dir / "job-archive" / "fritz" / "cluster.json").read_bytes()
    )
    mem_bw = next(m for m in document["metricConfig"] if m["name"] == "mem_bw")
    document["metricConfig"].append({**mem_bw, "name": "numa_bw", "scope": "memoryDomain"})
    return Cluster.from_json(document)


def smt_cluster(cores: list[list[int]] | None = None) -> Cluster:
    """One node of 2 sockets x 2 cores x 2 threads, threads numbered core by core per
    SMT level: core c holds threads c and c + 4; socket 0 holds cores 0 and 1.

    ``cores`` replaces the cores' threads (the sockets keep threads 0, 1, 4, 5 and 2, 3,
    6, 7)."""
    value = {"unit": {"base": "F/s", "prefix": "G"}, "value": 100}

    def metric(name: str, scope: str) -> dict[str, Any]:
        return {
            "name": name,
            "unit": {"base": "W"},
            "scope": scope,
            "aggregation": "sum",
            "timestep": 60,
            "peak": 100,
            "normal": 50,
            "caution": 20,
            "alert": 10,
        }

    return Cluster.from_json(
        {
            "name": "smt",
            "metricConfig": [metric("core_power", "core"), metric("ipc", "hwthread")],
            "subClusters": [
                {
                    "name": "main",
                    "nodes": "s[01-02]",
                    "processorType": "test CPU",
                    "socketsPerNode": 2,
                    "coresPerSocket": 2,
                    "threadsPerCore": 2,
                    "flopRateScalar": value,
                    "flopRateSimd": value,
                    "memoryBandwidth": {"unit": {"base": "B/s", "prefix": "G"}, "value": 50},
                    "topology": {
                        "node": list(range(8)),
                        "socket": [[0, 1, 4, 5], [2, 3, 6, 7]],
                        "memoryDomain": [[0, 1, 4, 5], [2, 3, 6, 7]],
                        "core": cores or [[0, 4], [1, 5], [2, 6], [3, 7]],
                    },
                }
            ],
        }
    )


class TestDeliveredScope:
    @pytest.mark.parametrize(
        ("native", "requested", "delivered"),
        [
            (NODE, HWTHREAD, NODE),
            (SOCKET, CORE, SOCKET),
            (HWTHREAD, NODE, NODE),
            (HWTHREAD, CORE, CORE),
            (MEMORY_DOMAIN, SOCKET, SOCKET),
            (MEMORY_DOMAIN, HWTHREAD, MEMORY_DOMAIN),
            (SOCKET, MEMORY_DOMAIN, SOCKET),
            (ACCELERATOR, NODE, NODE),
            (ACCELERATOR, CORE, CORE),  # and then nothing is queried
            (HWTHREAD, ACCELERATOR, HWTHREAD),  # a CPU metric comes at its native scope
        ],
    )
    def test_never_finer_than_native(
        self, native: MetricScope, requested: MetricScope, delivered: MetricScope
    ) -> None:
        assert delivered_scope(native, requested) is delivered


@pytest.mark.reference
class TestWholeNodeOnFritz:
    """fritz ``main``: 2 sockets of 36 cores, 4 memory domains of 18, one thread a core."""

    @pytest.mark.parametrize(
        ("metric", "scope", "expected"),
        [
            pytest.param("cpu_load", NODE, [(NODE, None, (), False)], id="node-native at node"),
            pytest.param(
                "cpu_load", HWTHREAD, [(NODE, None, (), False)], id="node-native asked finer"
            ),
            pytest.param(
                "flops_any", NODE, [(NODE, HWTHREAD, ids(range(72)), True)], id="hwthread to node"
            ),
            pytest.param(
                "flops_any",
                SOCKET,
                [
                    (SOCKET, HWTHREAD, ids(range(36)), True),
                    (SOCKET, HWTHREAD, ids(range(36, 72)), True),
                ],
                id="hwthread to socket",
            ),
            pytest.param(
                "flops_any",
                CORE,
                [(CORE, HWTHREAD, ids(range(72)), False)],
                id="hwthread to core: one thread a core, one query listing them",
            ),
            pytest.param(
                "flops_any",
                HWTHREAD,
                [(HWTHREAD, HWTHREAD, ids(range(72)), False)],
                id="hwthread at hwthread",
            ),
            pytest.param("mem_bw", NODE, [(NODE, SOCKET, ("0", "1"), True)], id="socket to node"),
            pytest.param(
                "mem_bw", SOCKET, [(SOCKET, SOCKET, ("0", "1"), False)], id="socket at socket"
            ),
            pytest.param(
                "mem_bw", CORE, [(SOCKET, SOCKET, ("0", "1"), False)], id="socket asked finer"
            ),
        ],
    )
    def test_queries(
        self, fritz: Cluster, metric: str, scope: MetricScope, expected: list[Shape]
    ) -> None:
        queries = build_queries([host("f0101")], fritz, "main", [metric], [scope])
        assert shapes(queries) == expected
        assert all(q.metric == metric and q.hostname == "f0101" for q in queries)

    def test_scopes_are_served_in_request_order(self, fritz: Cluster) -> None:
        queries = build_queries([host("f0101")], fritz, "main", ["flops_any"], [NODE, SOCKET, CORE])
        assert [q.scope for q in queries] == [NODE, SOCKET, SOCKET, CORE]

    def test_scopes_that_resolve_to_one_scope_are_served_once(self, fritz: Cluster) -> None:
        queries = build_queries(
            [host("f0101")], fritz, "main", ["cpu_load", "mem_bw"], [NODE, CORE, HWTHREAD, SOCKET]
        )
        assert [(q.metric, q.scope) for q in queries] == [
            ("cpu_load", NODE),
            ("mem_bw", NODE),
            ("mem_bw", SOCKET),
        ]

    def test_queries_go_metric_then_scope_then_host(self, fritz: Cluster) -> None:
        hosts = [host("f0101"), host("f0102")]
        queries = build_queries(hosts, fritz, "main", ["cpu_load", "mem_bw"], [NODE, SOCKET])
        assert [(q.metric, q.scope, q.hostname) for q in queries] == [
            ("cpu_load", NODE, "f0101"),
            ("cpu_load", NODE, "f0102"),
            ("mem_bw", NODE, "f0101"),
            ("mem_bw", NODE, "f0102"),
            ("mem_bw", SOCKET, "f0101"),
            ("mem_bw", SOCKET, "f0102"),
        ]

    def test_an_empty_hwthread_list_means_the_whole_node(self, fritz: Cluster) -> None:
        empty = build_queries([host("f0101", [])], fritz, "main", ["flops_any"], [NODE])
        unset = build_queries([host("f0101")], fritz, "main", ["flops_any"], [NODE])
        assert empty == unset

    def test_defaults_are_every_metric_of_the_subcluster_at_node_scope(
        self, fritz: Cluster
    ) -> None:
        queries = build_queries([host("f0101")], fritz, "main")
        assert [q.metric for q in queries] == [m.name for m in fritz.metrics_for("main")]
        assert {q.scope for q in queries} == {NODE}


@pytest.mark.reference
class TestPartialNode:
    """A job on hardware threads 30..41 of a fritz ``main`` node: the end of socket 0
    (memory domain 1) and the start of socket 1 (memory domain 2)."""

    THREADS = list(range(30, 42))

    @pytest.mark.parametrize(
        ("metric", "scope", "expected"),
        [
            pytest.param(
                "flops_any", NODE, [(NODE, HWTHREAD, ids(range(30, 42)), True)], id="to node"
            ),
            pytest.param(
                "flops_any",
                HWTHREAD,
                [(HWTHREAD, HWTHREAD, ids(range(30, 42)), False)],
                id="at hwthread",
            ),
            pytest.param(
                "flops_any",
                SOCKET,
                [
                    (SOCKET, HWTHREAD, ids(range(36)), True),
                    (SOCKET, HWTHREAD, ids(range(36, 72)), True),
                ],
                id="to socket: all threads of each socket used",
            ),
            pytest.param(
                "flops_any",
                CORE,
                [(CORE, HWTHREAD, ids(range(30, 42)), False)],
                id="to core: the job's threads in one query",
            ),
            pytest.param(
                "mem_bw", SOCKET, [(SOCKET, SOCKET, ("0", "1"), False)], id="socket at socket"
            ),
        ],
    )
    def test_queries(
        self, fritz: Cluster, metric: str, scope: MetricScope, expected: list[Shape]
    ) -> None:
        queries = build_queries([host("f0101", self.THREADS)], fritz, "main", [metric], [scope])
        assert shapes(queries) == expected

    def test_one_socket_only(self, fritz: Cluster) -> None:
        queries = build_queries(
            [host("f0101", range(36, 40))], fritz, "main", ["flops_any", "mem_bw"], [SOCKET]
        )
        assert shapes(queries) == [
            (SOCKET, HWTHREAD, ids(range(36, 72)), True),
            (SOCKET, SOCKET, ("1",), False),
        ]


@pytest.mark.reference
class TestSeriesIds:
    """Which scope id each series of a query's answer stands for."""

    def series(
        self, fritz: Cluster, metric: str, scope: MetricScope
    ) -> list[tuple[str | None, ...]]:
        queries = build_queries([host("f0101", range(36, 40))], fritz, "main", [metric], [scope])
        return [q.series_ids for q in queries]

    def test_a_node_series_has_no_id(self, fritz: Cluster) -> None:
        assert self.series(fritz, "cpu_load", NODE) == [(None,)]
        assert self.series(fritz, "flops_any", NODE) == [(None,)]

    def test_native_series_carry_their_own_ids(self, fritz: Cluster) -> None:
        assert self.series(fritz, "flops_any", HWTHREAD) == [("36", "37", "38", "39")]
        assert self.series(fritz, "mem_bw", SOCKET) == [("1",)]

    def test_an_aggregate_carries_the_id_of_what_it_adds_up_to(self, fritz: Cluster) -> None:
        assert self.series(fritz, "flops_any", SOCKET) == [("1",)]

    def test_threads_standing_for_their_cores_carry_the_core_ids(self, fritz: Cluster) -> None:
        assert self.series(fritz, "flops_any", CORE) == [("36", "37", "38", "39")]


class TestMemoryDomains:
    """A memory-domain metric on fritz ``main`` (domains 0..3, two per socket)."""

    @pytest.mark.parametrize(
        ("threads", "scope", "expected"),
        [
            pytest.param(
                None,
                MEMORY_DOMAIN,
                [(MEMORY_DOMAIN, MEMORY_DOMAIN, ids(range(4)), False)],
                id="whole node at memoryDomain",
            ),
            pytest.param(
                None,
                CORE,
                [(MEMORY_DOMAIN, MEMORY_DOMAIN, ids(range(4)), False)],
                id="asked finer",
            ),
            pytest.param(
                None,
                SOCKET,
                [
                    (SOCKET, MEMORY_DOMAIN, ("0", "1"), True),
                    (SOCKET, MEMORY_DOMAIN, ("2", "3"), True),
                ],
                id="whole node to socket",
            ),
            pytest.param(
                None, NODE, [(NODE, MEMORY_DOMAIN, ids(range(4)), True)], id="whole node to node"
            ),
            pytest.param(
                range(30, 42),
                MEMORY_DOMAIN,
                [(MEMORY_DOMAIN, MEMORY_DOMAIN, ("1", "2"), False)],
                id="partial at memoryDomain",
            ),
            pytest.param(
                range(30, 42),
                SOCKET,
                [
                    (SOCKET, MEMORY_DOMAIN, ("1",), True),
                    (SOCKET, MEMORY_DOMAIN, ("2",), True),
                ],
                id="partial to socket",
            ),
            pytest.param(
                range(20, 30),
                NODE,
                [(NODE, MEMORY_DOMAIN, ("1",), True)],
                id="partial within one domain to node",
            ),
        ],
    )
    def test_queries(
        self,
        fritz_with_domain_metric: Cluster,
        threads: Iterable[int] | None,
        scope: MetricScope,
        expected: list[Shape],
    ) -> None:
        queries = build_queries(
            [host("f0101", threads)], fritz_with_domain_metric, "main", ["numa_bw"], [scope]
        )
        assert shapes(queries) == expected

    @pytest.mark.parametrize("metric", ["flops_any", "cpu_user"])
    def test_hwthread_metrics_cannot_be_delivered_per_memory_domain(
        self, fritz: Cluster, metric: str
    ) -> None:
        with pytest.raises(
            InvalidInput, match="per hwthread and cannot be delivered per memoryDomain"
        ):
            build_queries([host("f0101")], fritz, "main", [metric], [NODE, MEMORY_DOMAIN])

    def test_a_socket_metric_asked_per_memory_domain_comes_per_socket(self, fritz: Cluster) -> None:
        queries = build_queries([host("f0101")], fritz, "main", ["mem_bw"], [MEMORY_DOMAIN])
        assert shapes(queries) == [(SOCKET, SOCKET, ("0", "1"), False)]


class TestCoresWithSmt:
    """Core and hwthread metrics on a node whose cores have two threads each."""

    @pytest.mark.parametrize(
        ("metric", "threads", "scope", "expected"),
        [
            pytest.param(
                "core_power", [0, 1, 4], CORE, [(CORE, CORE, ("0", "1"), False)],
                id="core at core: cores of the job's threads",
            ),
            pytest.param(
                "core_power", [0, 1, 4], NODE, [(NODE, CORE, ("0", "1"), True)], id="core to node"
            ),
            pytest.param(
                "core_power", [0, 1, 4], SOCKET, [(SOCKET, CORE, ("0", "1"), True)],
                id="core to socket: the cores of that socket",
            ),
            pytest.param(
                "core_power",
                None,
                SOCKET,
                [(SOCKET, CORE, ("0", "1"), True), (SOCKET, CORE, ("2", "3"), True)],
                id="whole node, core to socket",
            ),
            pytest.param(
                "core_power", [5], HWTHREAD, [(CORE, CORE, ("1",), False)], id="core asked finer"
            ),
            pytest.param(
                "ipc",
                [0, 1, 4],
                CORE,
                [(CORE, HWTHREAD, ("0", "4"), True), (CORE, HWTHREAD, ("1", "5"), True)],
                id="hwthread to core: all threads of each core",
            ),
            pytest.param(
                "ipc", [0, 1, 4], SOCKET, [(SOCKET, HWTHREAD, ("0", "1", "4", "5"), True)],
                id="hwthread to socket",
            ),
            pytest.param(
                "ipc", [0, 1, 4], NODE, [(NODE, HWTHREAD, ("0", "1", "4"), True)],
                id="hwthread to node: the job's threads only",
            ),
        ],
    )  # fmt: skip
    def test_queries(
        self,
        metric: str,
        threads: list[int] | None,
        scope: MetricScope,
        expected: list[Shape],
    ) -> None:
        queries = build_queries([host("s01", threads)], smt_cluster(), "main", [metric], [scope])
        assert shapes(queries) == expected

    def test_core_metrics_cannot_be_delivered_per_memory_domain(self) -> None:
        with pytest.raises(InvalidInput, match="per core and cannot be delivered per memoryDomain"):
            build_queries([host("s01")], smt_cluster(), "main", ["core_power"], [MEMORY_DOMAIN])


class TestHwthreadMetricsPerCoreWithoutSmt:
    """Where each core of the job holds one hardware thread, a core's series is that
    thread's: one query per host lists the threads, its series labelled by core."""

    #: Eight cores of one thread each, thread ids not matching the core ids.
    NO_SMT = [[1], [0], [3], [2], [5], [4], [7], [6]]
    #: A hybrid node: cores 0 and 3 with two threads, cores 1 and 2 with one.
    HYBRID = [[0, 4], [1], [2], [3, 5]]

    def test_the_threads_are_asked_for_in_core_order_and_labelled_by_core(self) -> None:
        queries = build_queries(
            [host("s01", [0, 3])], smt_cluster(self.NO_SMT), "main", ["ipc"], [CORE]
        )
        assert shapes(queries) == [(CORE, HWTHREAD, ("0", "3"), False)]
        assert queries[0].series_ids == ("1", "2")

    def test_cores_of_one_thread_on_a_hybrid_node(self) -> None:
        queries = build_queries(
            [host("s01", [1, 2])], smt_cluster(self.HYBRID), "main", ["ipc"], [CORE]
        )
        assert shapes(queries) == [(CORE, HWTHREAD, ("1", "2"), False)]
        assert queries[0].series_ids == ("1", "2")

    def test_one_core_with_two_threads_keeps_a_query_per_core(self) -> None:
        queries = build_queries(
            [host("s01", [1, 4])], smt_cluster(self.HYBRID), "main", ["ipc"], [CORE]
        )
        assert shapes(queries) == [
            (CORE, HWTHREAD, ("0", "4"), True),
            (CORE, HWTHREAD, ("1",), True),
        ]
        assert [q.series_ids for q in queries] == [("0",), ("1",)]


class TestCoreQueriesReadTheSameData:
    """The one query listing the threads returns what one aggregated query per core does,
    series by series, from a real store (gaps and series of different lengths included)."""

    THREADS = list(range(30, 42))
    STEPS = 40
    START = 1_700_000_000

    def store(self, fritz: Cluster) -> MetricStore:
        store = MetricStore([fritz], clock=lambda: float(self.START + 3600))
        rng = np.random.default_rng(3)
        stamps = self.START + 60 * np.arange(self.STEPS, dtype=np.int64)
        for metric in ("flops_any", "cpu_user"):
            for thread in self.THREADS:
                values = np.round(rng.uniform(0, 50, self.STEPS), 2)
                values[rng.random(self.STEPS) < 0.1] = np.nan
                if thread == 33:
                    values[:7] = np.nan  # starts late
                if thread == 40:
                    values[-5:] = np.nan  # ends early
                store.load(
                    SeriesKey("fritz", "f0101", (f"hwthread{thread}",), metric), stamps, values
                )
        return store

    def answers(
        self, store: MetricStore, queries: list[ScopeQuery]
    ) -> list[tuple[str, str | None, ApiMetricData]]:
        request = ApiQueryRequest.model_validate(
            {
                "cluster": "fritz",
                "from": self.START,
                "to": self.START + 60 * self.STEPS,
                "queries": [q.to_json() for q in queries],
            }
        )
        results = store.query(request).results
        return [
            (query.metric, series_id, result)
            for query, row in zip(queries, results, strict=True)
            for series_id, result in zip(query.series_ids, row, strict=True)
        ]

    def test_series_by_series(self) -> None:
        fritz = demo_clusters()[0]
        store = self.store(fritz)
        metrics = ["flops_any", "cpu_user"]
        collapsed = build_queries([host("f0101", self.THREADS)], fritz, "main", metrics, [CORE])
        assert len(collapsed) == 2
        cores = fritz.subcluster("main").topology.core or []
        per_core = [
            ScopeQuery(m, "f0101", CORE, HWTHREAD, ids(cores[c]), True, (str(c),))
            for m in metrics
            for c in fritz.subcluster("main").topology.cores_of(self.THREADS)[0]
        ]
        got, want = self.answers(store, collapsed), self.answers(store, per_core)
        assert [(m, i) for m, i, _ in got] == [(m, i) for m, i, _ in want]
        assert len(got) == 2 * len(self.THREADS)
        for (_, _, a), (_, _, b) in zip(got, want, strict=True):
            assert a.error is None
            assert (a.from_, a.to, a.resolution) == (b.from_, b.to, b.resolution)
            assert a.data is not None
            assert b.data is not None
            assert np.array_equal(a.data, b.data, equal_nan=True)
            # Statistics of a query's series are computed together: equal up to rounding.
            assert (a.min, a.max) == (b.min, b.max)
            assert a.avg == pytest.approx(b.avg, rel=1e-14)


@pytest.mark.reference
class TestAccelerators:
    """alex ``a100``: 8 GPUs a node; a job with two of them on one node."""

    GPUS = ["00000000:0E:00.0", "00000000:13:00.0"]

    def job(self) -> list[Resource]:
        return [host("a0601", range(16), self.GPUS)]

    @pytest.mark.parametrize(
        ("scopes", "expected"),
        [
            pytest.param([ACCELERATOR], [(ACCELERATOR, ACCELERATOR, tuple(GPUS), False)], id="acc"),
            pytest.param([NODE], [(NODE, ACCELERATOR, tuple(GPUS), True)], id="to node"),
            pytest.param([CORE], [], id="never at a CPU scope"),
            pytest.param([SOCKET, HWTHREAD], [], id="never at any CPU scope"),
            pytest.param(
                [NODE, ACCELERATOR],
                [
                    (NODE, ACCELERATOR, tuple(GPUS), True),
                    (ACCELERATOR, ACCELERATOR, tuple(GPUS), False),
                ],
                id="node and accelerator",
            ),
        ],
    )  # fmt: skip
    def test_accelerator_metric(
        self, alex: Cluster, scopes: list[MetricScope], expected: list[Shape]
    ) -> None:
        queries = build_queries(self.job(), alex, "a100", ["acc_utilization"], scopes)
        assert shapes(queries) == expected

    def test_a_cpu_metric_asked_per_accelerator_comes_at_its_native_scope(
        self, alex: Cluster
    ) -> None:
        """What cc-backend's archiver gets for a GPU job: node, core and accelerator."""
        queries = build_queries(self.job(), alex, "a100", ["flops_any"], [ACCELERATOR])
        assert shapes(queries) == [(HWTHREAD, HWTHREAD, ids(range(16)), False)]

    def test_a_job_without_accelerators_gets_no_accelerator_metric(self, alex: Cluster) -> None:
        queries = build_queries(
            [host("a0601", range(16))], alex, "a100", ["acc_utilization", "cpu_load"], [NODE]
        )
        assert [q.metric for q in queries] == ["cpu_load"]

    def test_hosts_without_accelerators_get_no_accelerator_query(self, alex: Cluster) -> None:
        hosts = [*self.job(), host("a0602", range(16))]
        queries = build_queries(hosts, alex, "a100", ["acc_power"], [NODE, ACCELERATOR])
        assert {q.hostname for q in queries} == {"a0601"}

    def test_the_node_topology_default_reaches_every_thread(self, alex: Cluster) -> None:
        queries = build_queries(
            [host("a0601", None, self.GPUS)], alex, "a100", ["cpu_user"], [NODE]
        )
        assert shapes(queries) == [(NODE, HWTHREAD, ids(range(128)), True)]


@pytest.mark.reference
class TestRemovedMetrics:
    @pytest.mark.parametrize(
        ("cluster", "subcluster", "removed", "kept"),
        [
            ("fritz", "spr2tb", ["flops_any", "mem_bw", "clock"], ["cpu_load", "cpu_power"]),
            ("fritz", "spr1tb", ["mem_bw", "flops_sp"], ["flops_any"]),
            ("fritz", "main", [], ["flops_any", "mem_bw", "clock"]),
            ("emmy", "haswell", ["cpu_user", "nfs4_read"], ["cpu_load", "mem_bw"]),
            ("emmy", "icelake", [], ["cpu_user", "nfs4_read"]),
        ],
    )
    def test_metrics_removed_for_a_subcluster_are_skipped(
        self,
        request: pytest.FixtureRequest,
        cluster: str,
        subcluster: str,
        removed: list[str],
        kept: list[str],
    ) -> None:
        model: Cluster = request.getfixturevalue(cluster)
        queries = build_queries([host("x")], model, subcluster, [*removed, *kept], [NODE])
        assert [q.metric for q in queries] == kept

    def test_a_small_single_socket_node(self, emmy: Cluster) -> None:
        """emmy ``haswell``: one socket, one memory domain, four cores."""
        queries = build_queries(
            [host("w1127")], emmy, "haswell", ["flops_any", "mem_bw"], [SOCKET, NODE]
        )
        assert shapes(queries) == [
            (SOCKET, HWTHREAD, ids(range(4)), True),
            (NODE, HWTHREAD, ids(range(4)), True),
            (SOCKET, SOCKET, ("0",), False),
            (NODE, SOCKET, ("0",), True),
        ]


class TestDemoClusters:
    def test_a_metric_removed_on_spr_is_skipped_there_only(self) -> None:
        fritz = demo_clusters()[0]
        for subcluster, expected in (("main", ["vectorization_ratio"]), ("spr", [])):
            queries = build_queries([host("f2101")], fritz, subcluster, ["vectorization_ratio"])
            assert [q.metric for q in queries] == expected

    def test_gpu_job_on_alex(self) -> None:
        alex = demo_clusters()[1]
        gpus = alex.subcluster("a40").topology.accelerator_ids()[:4]
        job = [host("a0101", range(32), gpus)]
        queries = build_queries(job, alex, "a40", ["acc_power", "mem_bw"], [NODE, ACCELERATOR])
        assert shapes(queries) == [
            (NODE, ACCELERATOR, tuple(gpus), True),
            (ACCELERATOR, ACCELERATOR, tuple(gpus), False),
            (NODE, SOCKET, ("0",), True),
            (SOCKET, SOCKET, ("0",), False),  # accelerator scope asked: the native scope
        ]

    def test_spr_sockets_hold_52_threads(self) -> None:
        fritz = demo_clusters()[0]
        queries = build_queries([host("f2101")], fritz, "spr", ["flops_any"], [SOCKET])
        assert shapes(queries) == [
            (SOCKET, HWTHREAD, ids(range(52)), True),
            (SOCKET, HWTHREAD, ids(range(52, 104)), True),
        ]


class TestBadInput:
    def test_a_job_without_resources(self) -> None:
        with pytest.raises(InvalidInput, match="no resources"):
            build_queries([], smt_cluster(), "main", ["ipc"])

    def test_an_unknown_subcluster(self) -> None:
        with pytest.raises(NotFound, match="subcluster 'gpu'"):
            build_queries([host("s01")], smt_cluster(), "gpu", ["ipc"])

    def test_an_unknown_scope(self) -> None:
        with pytest.raises(InvalidInput, match="unknown metric scope 'rack'"):
            build_queries([host("s01")], smt_cluster(), "main", ["ipc"], ["rack"])

    def test_scope_names_are_accepted(self) -> None:
        queries = build_queries([host("s01")], smt_cluster(), "main", ["ipc"], ["node"])
        assert shapes(queries) == [(NODE, HWTHREAD, ids(range(8)), True)]

    def test_an_unknown_metric_is_skipped_with_a_warning(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.WARNING, logger="cc_backend.metricdata.scopes"):
            queries = build_queries([host("s01")], smt_cluster(), "main", ["nope", "ipc"])
        assert [q.metric for q in queries] == ["ipc"]
        assert "'nope' is not configured for cluster 'smt'" in caplog.text


class TestResultIds:
    def test_derived_from_the_query_when_not_given(self) -> None:
        assert ScopeQuery("cpu_load", "f0101", NODE).series_ids == (None,)
        per_socket = ScopeQuery("mem_bw", "f0101", SOCKET, SOCKET, ("0", "1"))
        assert per_socket.series_ids == ("0", "1")
        summed = ScopeQuery("mem_bw", "f0101", NODE, SOCKET, ("0", "1"), aggregate=True)
        assert summed.series_ids == (None,)

    def test_given_ids_label_the_series(self) -> None:
        query = ScopeQuery("ipc", "s01", CORE, HWTHREAD, ("0", "3"), result_ids=("1", "2"))
        assert query.series_ids == ("1", "2")

    @pytest.mark.parametrize(
        ("type_ids", "aggregate", "result_ids"),
        [(("0", "3"), False, ("1",)), (("0", "3"), True, ("1", "2")), ((), False, ("1", "2"))],
    )
    def test_one_id_per_returned_series(
        self, type_ids: tuple[str, ...], aggregate: bool, result_ids: tuple[str, ...]
    ) -> None:
        with pytest.raises(ValueError, match="result ids for a query that returns"):
            ScopeQuery("ipc", "s01", CORE, HWTHREAD, type_ids, aggregate, result_ids)


class TestQueryJson:
    def test_a_node_query_names_no_type(self) -> None:
        query = ScopeQuery("cpu_load", "f0101", NODE)
        assert query.to_json() == {
            "metric": "cpu_load",
            "host": "f0101",
            "aggreg": False,
            "resolution": 0,
        }

    def test_an_aggregated_query(self) -> None:
        query = ScopeQuery("flops_any", "f0101", SOCKET, HWTHREAD, ("0", "1"), aggregate=True)
        assert query.to_json(resolution=600) == {
            "metric": "flops_any",
            "host": "f0101",
            "aggreg": True,
            "type": "hwthread",
            "type-ids": ["0", "1"],
            "resolution": 600,
        }
