"""The built-in metric store's HTTP API (cc-metric-store's routes) on a real server.

Every expected value is computed from the samples sent (:mod:`tests.metric_lines`), never
read back from the store itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from cc_backend.demo import demo_clusters
from cc_backend.domain.cluster import Cluster
from tests.conftest import Api
from tests.metric_lines import (
    TIMESTEP,
    Samples,
    combine,
    node_samples,
    pick,
    recent_start,
    statistics,
    to_payload,
)

STEPS = 10
WRITE = "/metricstore/api/write"
QUERY = "/metricstore/api/query/"


@pytest.fixture(scope="module")
def fritz() -> Cluster:
    return demo_clusters()[0]


@pytest.fixture
def start() -> int:
    """The time of the first sample of every series of a test."""
    return recent_start(STEPS)


async def write(api: Api, payload: bytes, params: str = "", **options: Any) -> Any:
    """POST ``payload`` to the write route; the response."""
    return await api.call("POST", WRITE + params, raw=payload, **options)


async def stored(api: Api, payload: bytes, params: str = "") -> dict[str, Any]:
    """Write ``payload``, which must be accepted whole; the answer."""
    response = await write(api, payload, params)
    assert response.code == 200, response.body
    answer = api.body(response)
    assert answer["rejected"] == 0, answer
    return answer


async def query(api: Api, start: int, *queries: dict[str, Any], **options: Any) -> Any:
    """The ``results`` of a query over the STEPS time steps from ``start`` on fritz."""
    body = {"cluster": "fritz", "from": start, "to": start + STEPS * TIMESTEP}
    body.update(options)
    body["queries"] = list(queries)
    response = await api.call("GET", QUERY, body)
    assert response.code == 200, response.body
    return api.body(response)["results"]


def expect(values: list[float], start: int, resolution: int = TIMESTEP) -> dict[str, Any]:
    """The result cc-metric-store answers for ``values`` from ``start``."""
    avg, low, high = statistics(values)
    return {
        "data": values,
        "from": start,
        "to": start + len(values) * resolution,
        "resolution": resolution,
        "avg": pytest.approx(avg),
        "min": low,
        "max": high,
    }


def line(metric: str, tags: str, value: str, stamp: int | str) -> bytes:
    """One line of line protocol (``tags`` without the leading comma)."""
    return f"{metric},{tags} value={value} {stamp}\n".encode()


# -- writing -----------------------------------------------------------------------------


async def test_written_lines_are_queried_back_with_their_statistics(
    api: Api, fritz: Cluster, start: int
) -> None:
    samples = node_samples(fritz, "f0101", ["mem_used", "cpu_user", "mem_bw"], start, STEPS)
    answer = await stored(api, to_payload(samples))
    assert answer == {"written": len(samples) * STEPS, "rejected": 0}

    (mem_used,) = pick(samples, metric="mem_used")
    [[node]] = await query(api, start, {"metric": "mem_used", "host": "f0101"})
    assert node == expect(list(mem_used.values), start)
    assert node["data"] == [float(i) for i in range(STEPS)]

    threads = pick(samples, metric="cpu_user")
    [[combined]] = await query(api, start, {"metric": "cpu_user", "host": "f0101"})
    assert len(threads) == 72
    assert combined == expect(combine(threads, "avg"), start)
    assert combined["data"][0] == pytest.approx(3550.0)  # the mean of 100 * t over 72 threads


async def test_a_partial_payload_keeps_the_good_lines_and_lists_the_bad_ones(
    api: Api, fritz: Cluster, start: int
) -> None:
    good = node_samples(fritz, "f0101", ["mem_used"], start, 3)
    tags = "cluster=fritz,hostname=f0101"
    payload = (
        to_payload(good)
        + b"this is not line protocol\n"
        + line("mem_used", tags, "many", start)
        + line("nope", tags, "1", start)
        + line("mem_used", "cluster=nowhere,hostname=f0101", "1", start)
        + line("mem_used", tags, "1", "yesterday")
    )
    response = await write(api, payload)
    assert response.code == 200, response.body
    assert api.body(response) == {
        "written": 3,
        "rejected": 5,
        "errors": [
            "line 4: expected '<metric>,<tags> value=<number> [<timestamp>]'",
            "line 5: value 'many' is not a number",
            "line 6: unknown metric 'nope' for cluster 'fritz'",
            "line 7: unknown cluster 'nowhere'",
            "line 8: timestamp 'yesterday' is not an integer",
        ],
    }
    [[node]] = await query(api, start, {"metric": "mem_used", "host": "f0101"})
    assert node["data"] == [0.0, 1.0, 2.0]


async def test_a_payload_without_a_good_line_is_refused_with_the_error_body(
    api: Api, start: int
) -> None:
    payload = line("nope", "cluster=fritz,hostname=f0101", "1", start) + line(
        "mem_used", "cluster=nowhere,hostname=f0101", "1", start
    )
    response = await write(api, payload)
    assert response.code == 400
    assert api.body(response) == {
        "status": "Bad Request",
        "error": "no line was stored (2 refused; first: line 1: unknown metric 'nope' for "
        "cluster 'fritz')",
    }
    nothing = await api.call("GET", "/metricstore/api/debug")
    assert api.body(nothing) == {}


async def test_every_refused_line_is_counted_but_only_the_first_are_listed(
    api: Api, start: int
) -> None:
    bad = b"".join(line(f"nope{i}", "cluster=fritz,hostname=f0101", "1", start) for i in range(30))
    response = await write(api, line("mem_used", "cluster=fritz,hostname=f0101", "1", start) + bad)
    assert response.code == 200
    answer = api.body(response)
    assert (answer["written"], answer["rejected"], len(answer["errors"])) == (1, 30, 20)
    assert answer["errors"][0] == "line 2: unknown metric 'nope0' for cluster 'fritz'"
    assert answer["errors"][-1] == "line 21: unknown metric 'nope19' for cluster 'fritz'"


async def test_a_line_without_a_timestamp_is_stored_at_its_arrival(api: Api) -> None:
    before = int(time.time())
    await stored(api, b"mem_used,cluster=fritz,hostname=f0101,type=node value=3i\n")
    after = int(time.time())
    [[node]] = await query(
        api,
        before - TIMESTEP,
        {"metric": "mem_used", "host": "f0101"},
        to=after + TIMESTEP,
        **{"with-padding": False},
    )
    assert node["data"] == [3.0]
    assert before <= node["from"] <= after


async def test_an_empty_payload_stores_nothing_and_is_no_error(api: Api) -> None:
    response = await write(api, b"\n# just a comment\n")
    assert response.code == 200
    assert api.body(response) == {"written": 0, "rejected": 0}


async def test_the_cluster_parameter_is_the_default_for_lines_without_a_cluster_tag(
    api: Api, start: int
) -> None:
    untagged = line("mem_used", "hostname=f0101,type=node", "7", start)
    refused = await write(api, untagged)
    assert refused.code == 400
    assert "no cluster tag and no default cluster" in api.body(refused)["error"]

    tagged_elsewhere = line(
        "acc_utilization",
        "cluster=alex,hostname=a0101,type=accelerator,type-id=00000000:07:00.0",
        "42",
        start,
    )
    answer = await stored(api, untagged + tagged_elsewhere, "?cluster=fritz")
    assert answer["written"] == 2
    [[node]] = await query(api, start, {"metric": "mem_used", "host": "f0101"})
    assert node["data"] == [7.0]
    [[gpu]] = await query(
        api,
        start,
        {
            "metric": "acc_utilization",
            "host": "a0101",
            "type": "accelerator",
            "type-ids": ["00000000:07:00.0"],
        },
        cluster="alex",
    )
    assert gpu["data"] == [42.0]


@pytest.mark.parametrize(
    ("params", "factor"),
    [("?precision=s", 1), ("?precision=ms", 10**3), ("?precision=ns", 10**9), ("", 10**3)],
    ids=["s", "ms", "ns", "ms-by-size"],
)
async def test_timestamps_are_read_in_the_given_precision(
    api: Api, fritz: Cluster, start: int, params: str, factor: int
) -> None:
    samples = node_samples(fritz, "f0101", ["mem_used"], start, 4)
    payload = b"".join(
        line("mem_used", "cluster=fritz,hostname=f0101", repr(value), stamp * factor)
        for value, stamp in zip(samples[0].values, samples[0].timestamps, strict=True)
    )
    assert (await stored(api, payload, params))["written"] == 4
    [[node]] = await query(api, start, {"metric": "mem_used", "host": "f0101"})
    assert node == expect([0.0, 1.0, 2.0, 3.0], start)


async def test_an_unknown_precision_is_a_400(api: Api, start: int) -> None:
    response = await write(
        api, line("mem_used", "cluster=fritz,hostname=f0101", "1", start), "?precision=h"
    )
    assert response.code == 400
    assert api.body(response)["error"] == "precision must be one of s, ms, us, ns"


@pytest.mark.parametrize(
    ("tags", "reason"),
    [
        ("cluster=fritz,hostname=..", "tag hostname '..' would escape a path"),
        ("cluster=fritz,hostname=f01/../x", "tag hostname 'f01/../x' would escape a path"),
        ("cluster=../fritz,hostname=f0101", "tag cluster '../fritz' would escape a path"),
        (
            "cluster=fritz,hostname=f0101,type=hwthread,type-id=../1",
            "tag type-id '../1' would escape a path",
        ),
        (
            "cluster=fritz,hostname=f0101,type=socket,type-id=0,stype=core,stype-id=a/b",
            "tag stype-id 'a/b' would escape a path",
        ),
    ],
)
async def test_tag_values_that_would_escape_a_path_are_refused(
    api: Api, start: int, tags: str, reason: str
) -> None:
    good = line("mem_used", "cluster=fritz,hostname=f0101", "1", start)
    response = await write(api, good + line("mem_used", tags, "1", start))
    assert response.code == 200
    assert api.body(response) == {"written": 1, "rejected": 1, "errors": [f"line 2: {reason}"]}
    debug = api.body(await api.call("GET", "/metricstore/api/debug"))
    assert list(debug) == ["fritz"]
    assert list(debug["fritz"]) == ["f0101"]
    assert debug["fritz"]["f0101"]["children"] == {}


# -- authentication ----------------------------------------------------------------------

ROUTES = [
    ("POST", WRITE),
    ("POST", "/api/write"),
    ("GET", "/metricstore/api/query"),
    ("POST", "/metricstore/api/free?to=1"),
    ("GET", "/metricstore/api/debug/"),
    ("GET", "/metricstore/api/healthcheck?cluster=fritz&node=f0101"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("who", ["nobody", "alice", "bob"])
async def test_every_route_needs_a_token_with_the_api_role(
    api: Api, token_for: Callable[..., str], method: str, path: str, who: str
) -> None:
    token = "" if who == "nobody" else token_for(who)  # alice: user+api, bob: user
    response = await api.call(method, path, raw=b"", token=token)
    assert response.code == 401, response.body
    assert api.body(response)["status"] == "Unauthorized"


@pytest.mark.parametrize("slash", ["", "/"])
async def test_every_route_answers_with_and_without_a_trailing_slash(
    api: Api, start: int, slash: str
) -> None:
    payload = line("mem_used", "cluster=fritz,hostname=f0101", "1", start)
    window = {"cluster": "fritz", "from": start, "to": start + TIMESTEP, "queries": []}
    calls = [
        ("POST", "write", payload),
        ("GET", "query", json.dumps(window).encode()),
        ("POST", "query", json.dumps(window).encode()),
        ("GET", "debug?selector=fritz", b""),
        ("GET", "healthcheck?cluster=fritz&node=f0101", b""),
        ("POST", f"free?to={start}", b"[]"),
    ]
    for method, route, body in calls:
        name, _, params = route.partition("?")
        path = f"/metricstore/api/{name}{slash}" + (f"?{params}" if params else "")
        response = await api.call(method, path, raw=body)
        assert response.code == 200, (path, response.body)


async def test_the_write_alias_and_an_admin_token_work(
    api: Api, token_for: Callable[..., str], start: int
) -> None:
    payload = line("mem_used", "cluster=fritz,hostname=f0101", "5", start)
    via_alias = await api.call("POST", "/api/write/", raw=payload)
    assert via_alias.code == 200, via_alias.body
    later = line("mem_used", "cluster=fritz,hostname=f0101", "6", start + TIMESTEP)
    as_admin = await api.call("POST", "/api/write", raw=later, token=token_for("root"))
    assert as_admin.code == 200, as_admin.body
    [[node]] = await query(api, start, {"metric": "mem_used", "host": "f0101"})
    assert node["data"] == [5.0, 6.0]


# -- queries -----------------------------------------------------------------------------


async def test_ids_are_answered_one_by_one_or_combined_by_the_metrics_aggregation(
    api: Api, fritz: Cluster, start: int
) -> None:
    samples = node_samples(fritz, "f0101", ["cpu_user", "flops_any"], start, STEPS)
    await stored(api, to_payload(samples))
    ids = ["0", "1", "2", "37"]
    base = {"host": "f0101", "type": "hwthread", "type-ids": ids}
    single, averaged, summed = await query(
        api,
        start,
        {"metric": "cpu_user", **base},
        {"metric": "cpu_user", **base, "aggreg": True},
        {"metric": "flops_any", **base, "aggreg": True},
    )
    cpu_user = pick(samples, metric="cpu_user", ids=ids)
    assert single == [expect(list(s.values), start) for s in cpu_user]
    assert averaged == [expect(combine(cpu_user, "avg"), start)]
    assert summed == [expect(combine(pick(samples, metric="flops_any", ids=ids), "sum"), start)]
    assert summed[0]["data"][0] == 100 * (0 + 1 + 2 + 37)


async def test_a_missing_series_or_unknown_metric_is_the_error_of_its_result(
    api: Api, start: int
) -> None:
    await stored(api, line("mem_used", "cluster=fritz,hostname=f0101", "1", start))
    results = await query(
        api,
        start,
        {"metric": "mem_used", "host": "f0102"},
        {"metric": "cpu_user", "host": "f0101", "type": "hwthread", "type-ids": ["0"]},
        {"metric": "nope", "host": "f0101"},
    )
    errors = [[item.get("error") for item in row] for row in results]
    assert errors == [
        ["metric or host not found"],
        ["metric or host not found"],
        ["unknown metric: nope"],
    ]
    unknown_cluster = await api.call("GET", QUERY, {"cluster": "nowhere", "from": 0, "to": 1})
    assert unknown_cluster.code == 404
    backwards = await api.call("GET", QUERY, {"cluster": "fritz", "from": 2, "to": 1})
    assert backwards.code == 400
    assert "'from' must not be after 'to'" in api.body(backwards)["error"]


async def test_a_coarser_resolution_averages_groups_of_time_steps(
    api: Api, fritz: Cluster, start: int
) -> None:
    samples = node_samples(fritz, "f0101", ["mem_used"], start, STEPS)
    await stored(api, to_payload(samples))
    [[coarse]] = await query(
        api, start, {"metric": "mem_used", "host": "f0101", "resolution": 3 * TIMESTEP}
    )
    values = list(samples[0].values)  # 0 .. 9
    groups = [values[i : i + 3] for i in range(0, STEPS, 3)]
    assert coarse["data"] == [sum(g) / len(g) for g in groups] == [1.0, 4.0, 7.0, 9.0]
    assert coarse["resolution"] == 3 * TIMESTEP
    assert coarse["to"] == start + 4 * 3 * TIMESTEP
    avg, low, high = statistics(values)  # statistics of the stored values, not the groups
    assert (coarse["avg"], coarse["min"], coarse["max"]) == (pytest.approx(avg), low, high)


async def test_statistics_and_data_can_be_left_out(api: Api, fritz: Cluster, start: int) -> None:
    await stored(api, to_payload(node_samples(fritz, "f0101", ["mem_used"], start, STEPS)))
    mem_used = {"metric": "mem_used", "host": "f0101"}
    [[no_stats]] = await query(api, start, mem_used, **{"with-stats": False})
    assert no_stats["data"] == [float(i) for i in range(STEPS)]
    assert (no_stats["avg"], no_stats["min"], no_stats["max"]) == (None, None, None)
    [[no_data]] = await query(api, start, mem_used, **{"with-data": False})
    assert "data" not in no_data
    assert (no_data["avg"], no_data["min"], no_data["max"]) == (4.5, 0.0, 9.0)


async def test_a_combined_step_is_null_unless_every_series_has_a_value_there(
    api: Api, fritz: Cluster, start: int
) -> None:
    samples = node_samples(fritz, "f0101", ["flops_any"], start, 4)
    [thread_1] = pick(samples, ids=["1"])
    missing = thread_1.lines()[2]  # hwthread 1 sends nothing at the third step
    payload = b"".join(
        text.encode() + b"\n" for s in samples for text in s.lines() if text != missing
    )
    answer = await stored(api, payload)
    assert answer["written"] == 72 * 4 - 1
    ids = ["0", "1"]
    [[summed]] = await query(
        api,
        start,
        {
            "metric": "flops_any",
            "host": "f0101",
            "type": "hwthread",
            "type-ids": ids,
            "aggreg": True,
        },
    )
    full = combine(pick(samples, metric="flops_any", ids=ids), "sum")
    assert summed["data"] == [full[0], full[1], None, full[3]]
    present = [full[0], full[1], full[3]]
    assert (summed["avg"], summed["min"], summed["max"]) == (
        pytest.approx(sum(present) / 3),
        min(present),
        max(present),
    )


async def test_scale_by_multiplies_data_and_statistics(
    api: Api, fritz: Cluster, start: int
) -> None:
    await stored(api, to_payload(node_samples(fritz, "f0101", ["mem_used"], start, STEPS)))
    [[scaled]] = await query(api, start, {"metric": "mem_used", "host": "f0101", "scale-by": 1e3})
    assert scaled == expect([1e3 * i for i in range(STEPS)], start)


async def test_padding_fills_the_time_before_the_first_value_with_nulls(
    api: Api, fritz: Cluster, start: int
) -> None:
    later = start + 2 * TIMESTEP
    await stored(api, to_payload(node_samples(fritz, "f0101", ["mem_used"], later, 3)))
    [[padded]] = await query(api, start, {"metric": "mem_used", "host": "f0101"})
    assert padded["data"] == [None, None, 0.0, 1.0, 2.0]
    assert padded["from"] == start
    [[bare]] = await query(
        api, start, {"metric": "mem_used", "host": "f0101"}, **{"with-padding": False}
    )
    assert bare["data"] == [0.0, 1.0, 2.0]
    assert bare["from"] == later


async def test_for_all_nodes_adds_a_query_per_host_with_data(
    api: Api, fritz: Cluster, start: int
) -> None:
    samples = [
        *node_samples(fritz, "f0102", ["mem_used", "cpu_load"], start, 3, value=lambda *_: 2.0),
        *node_samples(fritz, "f0101", ["mem_used"], start, 3, value=lambda *_: 1.0),
    ]
    await stored(api, to_payload(samples))
    response = await api.call(
        "GET",
        QUERY,
        {
            "cluster": "fritz",
            "from": start,
            "to": start + 3 * TIMESTEP,
            "for-all-nodes": ["mem_used"],
        },
    )
    assert response.code == 200, response.body
    answer = api.body(response)
    assert [(q["metric"], q["host"]) for q in answer["queries"]] == [
        ("mem_used", "f0101"),
        ("mem_used", "f0102"),
    ]
    assert [[item["data"] for item in row] for row in answer["results"]] == [
        [[1.0, 1.0, 1.0]],
        [[2.0, 2.0, 2.0]],
    ]
    without_cluster = await api.call(
        "GET", QUERY, {"from": start, "to": start + 60, "for-all-nodes": ["mem_used"]}
    )
    assert without_cluster.code == 400


async def test_a_query_body_that_is_not_a_request_is_a_400(api: Api) -> None:
    for body in (b"", b"not json", b'{"from": "yesterday", "to": 1}', b'{"to": 1}'):
        response = await api.call("GET", QUERY, raw=body)
        assert response.code == 400, body
        assert api.body(response)["status"] == "Bad Request"


# -- free, debug, healthcheck -------------------------------------------------------------


def _two_hosts(fritz: Cluster, start: int) -> list[Samples]:
    return [
        *node_samples(fritz, "f0101", ["mem_used", "mem_bw"], start, STEPS),
        *node_samples(fritz, "f0102", ["mem_used"], start, STEPS),
    ]


async def test_free_needs_a_time_and_drops_older_values_of_the_selected_hosts(
    api: Api, fritz: Cluster, start: int
) -> None:
    await stored(api, to_payload(_two_hosts(fritz, start)))
    missing = await api.call("POST", "/metricstore/api/free", [["fritz"]])
    assert missing.code == 400
    assert api.body(missing)["error"] == "'to' is a required query parameter"
    assert (await api.call("POST", "/metricstore/api/free?to=soon", [["fritz"]])).code == 400
    bad_selector = await api.call("POST", "/metricstore/api/free?to=1", [["fritz", "f0101", "x"]])
    assert bad_selector.code == 400

    end = start + STEPS * TIMESTEP
    freed = await api.call("POST", f"/metricstore/api/free?to={end}", [["fritz", "f0102"]])
    assert freed.code == 200
    assert freed.body == b"buffers freed: 1\n"  # f0102's one series, emptied and removed
    debug = api.body(await api.call("GET", "/metricstore/api/debug?selector=fritz"))
    assert list(debug["fritz"]) == ["f0101"]

    cut = start + 4 * TIMESTEP
    partly = await api.call("POST", f"/metricstore/api/free/?to={cut}", [["fritz", "f0101"]])
    assert partly.body == b"buffers freed: 0\n"  # values dropped, every series still has some
    [[node]] = await query(api, start, {"metric": "mem_used", "host": "f0101"})
    assert node["data"] == [None] * 4 + [float(i) for i in range(4, STEPS)]
    assert (node["avg"], node["min"], node["max"]) == (6.5, 4.0, 9.0)

    everything = await api.call("POST", f"/metricstore/api/free?to={end}", [["fritz"]])
    assert everything.body == b"buffers freed: 3\n"  # mem_used and both sockets of mem_bw
    assert api.body(await api.call("GET", "/metricstore/api/debug")) == {}


async def test_debug_shows_what_is_stored_per_level(api: Api, fritz: Cluster, start: int) -> None:
    await stored(api, to_payload(_two_hosts(fritz, start)))
    summary = {"frequency": TIMESTEP, "from": start, "to": start + (STEPS - 1) * TIMESTEP}
    everything = api.body(await api.call("GET", "/metricstore/api/debug"))
    assert sorted(everything["fritz"]) == ["f0101", "f0102"]
    host = api.body(await api.call("POST", "/metricstore/api/debug/?selector=fritz:f0101"))
    assert host == {
        "fritz": {
            "f0101": {
                "metrics": {"mem_used": {**summary, "values": STEPS}},
                "children": {
                    f"socket{s}": {
                        "metrics": {"mem_bw": {**summary, "values": STEPS}},
                        "children": {},
                    }
                    for s in (0, 1)
                },
            }
        }
    }
    unknown = await api.call("GET", "/metricstore/api/debug?selector=fritz:f0999")
    assert unknown.code == 404
    assert (await api.call("GET", "/metricstore/api/debug?selector=a:b:c")).code == 400


async def test_healthcheck_tells_fresh_stale_and_missing_metrics(api: Api, fritz: Cluster) -> None:
    start = recent_start(20)
    fresh = node_samples(fritz, "f0101", ["mem_used", "cpu_user"], start, 20)
    old = node_samples(fritz, "f0101", ["cpu_load"], start, 5)  # ends 15 steps ago
    await stored(api, to_payload([*fresh, *old]))
    response = await api.call("GET", "/metricstore/api/healthcheck?cluster=fritz&node=f0101")
    assert response.code == 200, response.body
    report = api.body(response)
    expected = [m.name for m in fritz.metrics_for("main")]
    assert report["status"] == "partial"
    assert report["healthy"] == ["cpu_user", "mem_used"]
    assert report["stale"] == ["cpu_load"]
    assert report["missing"] == [
        m for m in expected if m not in ("cpu_load", "cpu_user", "mem_used")
    ]
    assert report["last_seen"] == {
        "mem_used": start + 19 * TIMESTEP,
        "cpu_user": start + 19 * TIMESTEP,
        "cpu_load": start + 4 * TIMESTEP,
    }

    everything = node_samples(fritz, "f0102", None, start, 20)
    await stored(api, to_payload(everything))
    full = api.body(await api.call("GET", "/metricstore/api/healthcheck/?cluster=fritz&node=f0102"))
    assert (full["status"], full["stale"], full["missing"]) == ("full", [], [])
    assert full["healthy"] == expected

    silent = api.body(
        await api.call("GET", "/metricstore/api/healthcheck?cluster=fritz&node=f0103")
    )
    assert (silent["status"], silent["healthy"], silent["missing"]) == ("failed", [], expected)


@pytest.mark.parametrize(
    ("params", "status"),
    [("?cluster=fritz", 400), ("?node=f0101", 400), ("", 400), ("?cluster=nowhere&node=x", 404)],
)
async def test_healthcheck_needs_a_known_cluster_and_a_node(
    api: Api, params: str, status: int
) -> None:
    response = await api.call("GET", "/metricstore/api/healthcheck" + params)
    assert response.code == status
    assert set(api.body(response)) == {"status", "error"}
