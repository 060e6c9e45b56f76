"""The metric store: ingestion, queries in cc-metric-store's format, retention, health."""

from __future__ import annotations

import json
import threading
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cc_backend.domain.errors import InvalidInput, NotFound
from cc_backend.metricstore import ApiQueryRequest, MetricStore
from tests.metricstore.conftest import T0, Clock, MakeStore, below, lines, node

HOUR = 3600


def query(store: MetricStore, *queries: dict[str, Any], **options: Any) -> list[list[dict]]:
    """The JSON results of a request over the first hour after T0."""
    body = {"cluster": "fritz", "from": T0, "to": T0 + HOUR, "queries": list(queries)}
    body.update(options)
    response = store.query(ApiQueryRequest.model_validate(body))
    return json.loads(response.to_json())["results"]


def fill_node(store: MetricStore, host: str = "f0101", minutes: int = 60) -> None:
    """mem_used = minute index; cpu_user of hwthread t = 10 t + minute % 5 on 4 hwthreads."""
    samples = []
    for i in range(minutes):
        samples.append((node(host, "mem_used"), float(i), T0 + 60 * i))
        samples += [
            (below(host, "cpu_user", f"hwthread{t}"), 10.0 * t + i % 5, T0 + 60 * i)
            for t in range(4)
        ]
    result = store.ingest(lines(*samples))
    assert (result.written, result.rejected) == (len(samples), 0)


# -- ingestion ---------------------------------------------------------------------------


def test_ingest_reports_bad_lines_and_keeps_the_good_ones(store: MetricStore) -> None:
    payload = (
        lines((node("f0101", "mem_used"), 1.0, T0))
        + b"mem_used,cluster=fritz,hostname=../x value=1 1700000000\n"
        + b"nope,cluster=fritz,hostname=f0101 value=1 1700000000\n"
        + lines((node("f0101", "mem_used"), 2.0, T0 + 60))
    )
    result = store.ingest(payload)
    assert result.written == 2
    assert result.rejected == 2
    assert [(e.line, e.reason) for e in result.errors] == [
        (2, "tag hostname '../x' would escape a path"),
        (3, "unknown metric 'nope' for cluster 'fritz'"),
    ]
    [[data]] = query(store, {"metric": "mem_used", "host": "f0101"})
    assert data["data"] == [1.0, 2.0]
    assert store.hosts("fritz") == ["f0101"]


def test_samples_outside_the_retention_window_are_refused(
    make_store: MakeStore, clock: Clock
) -> None:
    store = make_store(retention_in_memory="2h")
    clock.now = T0 + HOUR
    result = store.ingest(
        lines(
            (node("f0101", "mem_used"), 1.0, T0 - 2 * HOUR),
            (node("f0101", "mem_used"), 2.0, T0),
            (node("f0101", "mem_used"), 3.0, T0 + 3 * HOUR),
        )
    )
    assert result.written == 1
    assert [(e.line, e.reason) for e in result.errors] == [
        (1, f"timestamp {T0 - 2 * HOUR} is older than the retention"),
        (3, f"timestamp {T0 + 3 * HOUR} is too far in the future"),
    ]


def test_cluster_of_the_request_applies_to_untagged_lines(store: MetricStore) -> None:
    result = store.ingest(b"mem_used,hostname=f0101 value=4 1700000000\n", cluster="fritz")
    assert result.written == 1
    assert store.ingest(b"mem_used,hostname=f0101 value=4 1700000000\n").rejected == 1


def test_millisecond_precision_parameter(store: MetricStore) -> None:
    payload = b"mem_used,cluster=fritz,hostname=f0101 value=4 1700000000500\n"
    assert store.ingest(payload, precision="ms").written == 1
    [[data]] = query(store, {"metric": "mem_used", "host": "f0101"})
    assert (data["from"], data["data"]) == (T0, [4.0])


# -- queries -----------------------------------------------------------------------------


def test_node_query_returns_values_and_statistics(store: MetricStore) -> None:
    fill_node(store)
    [[data]] = query(store, {"metric": "mem_used", "host": "f0101"})
    assert data["data"] == [float(i) for i in range(60)]
    assert (data["from"], data["to"], data["resolution"]) == (T0, T0 + HOUR, 60)
    assert (data["avg"], data["min"], data["max"]) == (29.5, 0.0, 59.0)
    assert "error" not in data


def test_finer_series_are_combined_by_the_metric_aggregation(store: MetricStore) -> None:
    fill_node(store)
    store.ingest(
        lines(*[(below("f0101", "flops_any", f"hwthread{t}"), float(t + 1), T0) for t in range(4)])
    )
    [[cpu_user]] = query(store, {"metric": "cpu_user", "host": "f0101"})  # aggregation avg
    assert cpu_user["data"][:5] == [15.0, 16.0, 17.0, 18.0, 19.0]
    [[flops]] = query(store, {"metric": "flops_any", "host": "f0101"})  # aggregation sum
    assert flops["data"] == [10.0]


def test_type_ids_give_one_result_each_or_one_combined(store: MetricStore) -> None:
    fill_node(store)
    base = {"metric": "cpu_user", "host": "f0101", "type": "hwthread", "type-ids": ["1", "3"]}
    [separate] = query(store, base)
    assert [r["data"][0] for r in separate] == [10.0, 30.0]
    [combined] = query(store, {**base, "aggreg": True})
    assert [r["data"][0] for r in combined] == [20.0]


def test_subtype_levels_are_selected_below_the_type(store: MetricStore) -> None:
    store.ingest(
        lines(
            *[
                (below("f0101", "mem_bw", f"socket{s}", f"memoryDomain{d}"), 10.0 * s + d, T0)
                for s in range(2)
                for d in range(2)
            ]
        )
    )
    socket = {"metric": "mem_bw", "host": "f0101", "type": "socket", "type-ids": ["0", "1"]}
    [per_socket] = query(store, socket)
    assert [r["data"] for r in per_socket] == [[1.0], [21.0]]
    [per_domain] = query(store, {**socket, "subtype": "memoryDomain", "subtype-ids": ["1"]})
    assert [r["data"] for r in per_domain] == [[1.0], [11.0]]
    [[whole_node]] = query(store, {"metric": "mem_bw", "host": "f0101"})
    assert whole_node["data"] == [22.0]


def test_a_combined_step_is_missing_unless_every_series_has_it(store: MetricStore) -> None:
    store.ingest(
        lines(
            (below("f0101", "flops_any", "hwthread0"), 1.0, T0),
            (below("f0101", "flops_any", "hwthread1"), 2.0, T0),
            (below("f0101", "flops_any", "hwthread0"), 3.0, T0 + 60),
        )
    )
    [[data]] = query(store, {"metric": "flops_any", "host": "f0101"})
    assert data["data"] == [3.0, None]
    assert (data["avg"], data["min"], data["max"]) == (3.0, 3.0, 3.0)


def test_problems_of_single_queries_are_errors_of_their_results(store: MetricStore) -> None:
    fill_node(store)
    results = query(
        store,
        {"metric": "no_such_metric", "host": "f0101"},
        {"metric": "mem_used", "host": "f9999"},
        {"metric": "cpu_load", "host": "f0101"},
        {"metric": "cpu_user", "host": "f9999", "type": "hwthread", "type-ids": ["0", "1"]},
    )
    assert [[r.get("error") for r in row] for row in results] == [
        ["unknown metric: no_such_metric"],
        ["metric or host not found"],
        ["metric or host not found"],
        ["metric or host not found", "metric or host not found"],
    ]


def test_request_level_problems_raise(store: MetricStore) -> None:
    with pytest.raises(InvalidInput, match="time range"):
        store.query(ApiQueryRequest.model_validate({"cluster": "fritz", "from": 2, "to": 1}))
    with pytest.raises(InvalidInput, match="for-all-nodes"):
        store.query(ApiQueryRequest.model_validate({"from": 1, "to": 2, "for-all-nodes": ["x"]}))
    with pytest.raises(NotFound, match="nope"):
        store.query(ApiQueryRequest.model_validate({"cluster": "nope", "from": 1, "to": 2}))


def test_for_all_nodes_queries_every_host(store: MetricStore) -> None:
    fill_node(store, "f0102", minutes=2)
    fill_node(store, "f0101", minutes=2)
    body = {"cluster": "fritz", "from": T0, "to": T0 + 120, "for-all-nodes": ["mem_used"]}
    answer = json.loads(store.query(ApiQueryRequest.model_validate(body)).to_json())
    assert answer["queries"] == [
        {"metric": "mem_used", "host": "f0101", "resolution": 0, "aggreg": False},
        {"metric": "mem_used", "host": "f0102", "resolution": 0, "aggreg": False},
    ]
    assert [row[0]["data"] for row in answer["results"]] == [[0.0, 1.0], [0.0, 1.0]]


def test_time_range_is_clipped_to_the_data_and_padded_with_null(store: MetricStore) -> None:
    fill_node(store, minutes=10)
    window = {"from": T0 + 120, "to": T0 + 300}
    [[inside]] = query(store, {"metric": "mem_used", "host": "f0101"}, **window)
    assert (inside["from"], inside["to"], inside["data"]) == (T0 + 120, T0 + 300, [2.0, 3.0, 4.0])
    early = {"from": T0 - 180, "to": T0 + 120}
    [[padded]] = query(store, {"metric": "mem_used", "host": "f0101"}, **early)
    assert (padded["from"], padded["data"]) == (T0 - 180, [None, None, None, 0.0, 1.0])
    [[plain]] = query(
        store, {"metric": "mem_used", "host": "f0101"}, **early, **{"with-padding": False}
    )
    assert (plain["from"], plain["data"]) == (T0, [0.0, 1.0])
    [[none]] = query(
        store, {"metric": "mem_used", "host": "f0101"}, **{"from": T0 + HOUR, "to": T0 + 2 * HOUR}
    )
    assert "data" not in none
    assert none["avg"] is None


def test_coarser_resolution_averages_buckets(store: MetricStore) -> None:
    fill_node(store)
    [[data]] = query(store, {"metric": "mem_used", "host": "f0101", "resolution": 600})
    assert data["resolution"] == 600
    assert data["data"] == [4.5 + 10 * i for i in range(6)]
    assert (data["avg"], data["min"], data["max"]) == (29.5, 0.0, 59.0)
    [[odd]] = query(store, {"metric": "mem_used", "host": "f0101", "resolution": 90})
    assert odd["resolution"] == 120
    assert odd["data"][:2] == [0.5, 2.5]
    [[fine]] = query(store, {"metric": "mem_used", "host": "f0101", "resolution": 30})
    assert fine["resolution"] == 60


def test_flags_and_scaling(store: MetricStore) -> None:
    fill_node(store, minutes=3)
    mem = {"metric": "mem_used", "host": "f0101"}
    [[scaled]] = query(store, {**mem, "scale-by": 2})
    assert (scaled["data"], scaled["max"]) == ([0.0, 2.0, 4.0], 4.0)
    [[no_stats]] = query(store, mem, **{"with-stats": False})
    assert no_stats["avg"] is None
    assert no_stats["data"] == [0.0, 1.0, 2.0]
    [[no_data]] = query(store, mem, **{"with-data": False})
    assert "data" not in no_data
    assert no_data["max"] == 2.0


def test_models_read_cc_metric_store_json_names() -> None:
    request = ApiQueryRequest.model_validate(
        {
            "cluster": "fritz",
            "from": 1,
            "to": 2,
            "with-stats": False,
            "queries": [
                {
                    "metric": "cpu_user",
                    "host": "f0101",
                    "type": "hwthread",
                    "type-ids": [0, "1"],
                    "subtype": "x",
                    "subtype-ids": ["2"],
                    "aggreg": True,
                    "resolution": 600,
                    "scale-by": 1.5,
                }
            ],
        }
    )
    q = request.queries[0]
    assert (request.from_, request.with_stats, request.with_data) == (1, False, True)
    assert (q.type_ids, q.subtype_ids, q.aggregate, q.scale_by) == (["0", "1"], ["2"], True, 1.5)


# -- retention, health, debug --------------------------------------------------------------


def test_free_drops_old_values_and_empty_hosts(store: MetricStore) -> None:
    fill_node(store, "f0101", minutes=60)
    fill_node(store, "f0102", minutes=5)
    removed = store.free(T0 + 30 * 60)
    assert removed == 5  # every series of f0102
    assert store.hosts("fritz") == ["f0101"]
    [[data]] = query(store, {"metric": "mem_used", "host": "f0101"}, **{"with-padding": False})
    assert data["data"][0] == 30.0
    assert store.ingest(lines((node("f0102", "mem_used"), 1.0, T0 + HOUR))).written == 1


def test_apply_retention_frees_what_is_older_than_the_retention(
    make_store: MakeStore, clock: Clock
) -> None:
    store = make_store(retention_in_memory="1h")
    clock.now = T0 + 10 * 60
    fill_node(store, minutes=10)
    clock.now = T0 + HOUR + 5 * 60
    assert store.apply_retention() == 0
    [[data]] = query(store, {"metric": "mem_used", "host": "f0101"}, **{"with-padding": False})
    assert data["data"] == [5.0, 6.0, 7.0, 8.0, 9.0]


def test_healthcheck_names_stale_and_missing_metrics(store: MetricStore, clock: Clock) -> None:
    fill_node(store, minutes=60)
    store.ingest(lines((node("f0101", "cpu_load"), 1.0, T0 + 10 * 60)))
    clock.now = T0 + HOUR
    report = store.healthcheck("fritz", "f0101", ["mem_used", "cpu_user", "cpu_load", "ipc"])
    assert report.status == "partial"
    assert (report.healthy, report.stale, report.missing) == (
        ["mem_used", "cpu_user"],
        ["cpu_load"],
        ["ipc"],
    )
    assert report.last_seen["cpu_load"] == T0 + 600
    assert store.healthcheck("fritz", "f0101", ["mem_used"]).status == "full"
    assert store.healthcheck("fritz", "f0999", ["mem_used"]).status == "failed"
    everything = store.healthcheck("fritz", "f0101")
    assert "flops_any" in everything.missing
    with pytest.raises(NotFound):
        store.healthcheck("nope", "f0101")


def test_debug_dump_shows_levels_and_counts(store: MetricStore) -> None:
    fill_node(store, minutes=3)
    dump = store.debug("fritz", "f0101")
    host = dump["fritz"]["f0101"]
    assert host["metrics"]["mem_used"] == {
        "frequency": 60,
        "from": T0,
        "to": T0 + 120,
        "values": 3,
    }
    assert sorted(host["children"]) == ["hwthread0", "hwthread1", "hwthread2", "hwthread3"]
    assert json.dumps(store.debug())  # plain JSON data
    with pytest.raises(NotFound):
        store.debug("alex")


# -- concurrency and robustness ------------------------------------------------------------


def test_concurrent_ingestion_and_queries(store: MetricStore) -> None:
    hosts = [f"f{101 + i:04d}" for i in range(4)]
    failures: list[BaseException] = []

    def ingest(host: str) -> None:
        try:
            for minute in range(60):
                payload = lines(
                    (node(host, "mem_used"), float(minute), T0 + 60 * minute),
                    *[
                        (below(host, "cpu_user", f"hwthread{t}"), 1.0, T0 + 60 * minute)
                        for t in range(8)
                    ],
                )
                assert store.ingest(payload).rejected == 0
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    def read() -> None:
        try:
            for _ in range(100):
                for row in query(store, *[{"metric": "cpu_user", "host": h} for h in hosts]):
                    assert all(v in (None, 1.0) for v in row[0].get("data", []))
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=ingest, args=(h,)) for h in hosts]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    for host in hosts:
        [[data]] = query(store, {"metric": "mem_used", "host": host})
        assert data["data"] == [float(i) for i in range(60)]


_noise = st.one_of(
    st.binary(max_size=300),
    st.lists(
        st.sampled_from(
            [
                b"mem_used,cluster=fritz,hostname=f0102",
                b"mem_used,cluster=fritz,hostname=f0101,type=hwthread,type-id=1",
                b",hostname=../f0101",
                b" value=",
                b"5",
                b"nan",
                b" ",
                b"1700000060",
                b"1700000000000",
                b"\n",
                b",",
                b"=",
            ]
        ),
        max_size=40,
    ).map(b"".join),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(noise=_noise)
def test_arbitrary_payloads_never_raise_nor_touch_other_series(
    store: MetricStore, noise: bytes
) -> None:
    if not store.hosts("fritz"):
        fill_node(store, minutes=5)
    before = query(store, {"metric": "mem_used", "host": "f0101"})
    result = store.ingest(noise)
    assert result.written + result.rejected <= noise.count(b"\n") + 1
    assert query(store, {"metric": "mem_used", "host": "f0101"}) == before
    assert not any(".." in host for host in store.hosts("fritz"))


def test_stored_values_are_numpy_arrays_not_python_objects(store: MetricStore) -> None:
    fill_node(store, minutes=2)
    response = store.query(
        ApiQueryRequest.model_validate(
            {
                "cluster": "fritz",
                "from": T0,
                "to": T0 + 120,
                "queries": [{"metric": "mem_used", "host": "f0101"}],
            }
        )
    )
    data = response.results[0][0].data
    assert isinstance(data, np.ndarray)
    assert data.dtype == np.float64


def test_load_stores_a_series_directly(store: MetricStore) -> None:
    stamps = np.array([T0, T0 + 60, T0 + 120, T0 - 3 * 86_400], np.int64)
    values = np.array([1.0, np.nan, 3.0, 4.0])
    assert store.load(node("f0101", "mem_used"), stamps, values) == 2  # NaN and too old left out
    assert store.load(node("f0101", "no_such_metric"), stamps, values) == 0
    [[data]] = query(store, {"metric": "mem_used", "host": "f0101"})
    assert data["data"] == [1.0, None, 3.0]


def test_free_can_be_limited_to_a_host(store: MetricStore) -> None:
    fill_node(store, "f0101", minutes=5)
    fill_node(store, "f0102", minutes=5)
    assert store.free(T0 + HOUR, cluster="fritz", host="f0102") == 5
    assert store.hosts("fritz") == ["f0101"]
    with pytest.raises(InvalidInput):
        store.debug(host="f0101")


def test_load_refuses_names_that_would_escape_a_path(store: MetricStore) -> None:
    stamps, values = np.array([T0], np.int64), np.array([1.0])
    with pytest.raises(InvalidInput, match="escape"):
        store.load(node("../f0101", "mem_used"), stamps, values)
    with pytest.raises(InvalidInput, match="escape"):
        store.load(below("f0101", "cpu_user", "hwthread/1"), stamps, values)
    assert store.hosts("fritz") == []


def test_a_malformed_request_body_is_invalid_input() -> None:
    request = ApiQueryRequest.from_json(b'{"cluster": "fritz", "from": 1, "to": 2}')
    assert (request.cluster, request.from_, request.queries) == ("fritz", 1, [])
    with pytest.raises(InvalidInput, match="to: Field required"):
        ApiQueryRequest.from_json(b'{"cluster": "fritz", "from": 1}')
    with pytest.raises(InvalidInput, match="invalid query request"):
        ApiQueryRequest.from_json(b"not json")
