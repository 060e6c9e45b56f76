"""The metric data queries against a site whose built-in metric store holds live data.

Values are pushed as line protocol (:mod:`tests.metric_lines`), so every expected number
is computed from the samples themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from cc_backend.domain.job import Job
from cc_backend.domain.user import User
from cc_backend.server import Backends
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
from tests.web.graphql.conftest import GraphQL

STEPS = 8
HOSTS = ("f0101", "f0102")
METRICS = ["cpu_user", "mem_used", "mem_bw"]
#: The job's hardware threads on f0101: two on each socket.
THREADS = [0, 1, 36, 37]


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def start() -> int:
    return recent_start(STEPS)


@pytest.fixture
def samples(backends: Backends, start: int) -> list[Samples]:
    fritz = backends.clusters.get("fritz")
    pushed = [s for host in HOSTS for s in node_samples(fritz, host, METRICS, start, STEPS)]
    assert backends.metric_store is not None
    assert backends.metric_store.ingest(to_payload(pushed)).rejected == 0
    return pushed


@pytest.fixture
def running(
    backends: Backends, make_job: Callable[..., Job], samples: list[Samples], start: int
) -> int:
    job = make_job(
        jobId=777,
        user="alice",
        startTime=start,
        resources=[{"hostname": "f0101", "hwthreads": THREADS}],
        numHwthreads=len(THREADS),
    )
    stored = backends.lifecycle.start_job(job, User.build("adapter", ["api"]))
    assert stored.id is not None
    return stored.id


def _metric(found: list[dict[str, Any]], name: str, scope: str) -> dict[str, Any]:
    return next(m["metric"] for m in found if m["name"] == name and m["scope"] == scope)


def _nan_as_none(values: list[float]) -> list[float | None]:
    return [None if math.isnan(v) else v for v in values]


JOB_METRICS = """
query ($id: ID!, $metrics: [String!], $scopes: [MetricScope!], $resolution: Int) {
  jobMetrics(id: $id, metrics: $metrics, scopes: $scopes, resolution: $resolution) {
    name scope
    metric { unit { base prefix } timestep
             series { hostname id statistics { avg min max } data } }
  }
}
"""


async def test_job_metrics_of_a_running_job_come_from_the_store(
    gql: GraphQL, running: int, samples: list[Samples]
) -> None:
    variables = {"id": str(running), "metrics": METRICS, "scopes": ["node", "socket"]}
    found = (await gql(JOB_METRICS, variables, role="user")).ok()["jobMetrics"]

    threads = pick(samples, metric="cpu_user", host="f0101", ids=[str(t) for t in THREADS])
    node = _metric(found, "cpu_user", "node")
    assert node["timestep"] == TIMESTEP
    [series] = node["series"]
    assert series["hostname"] == "f0101"
    assert series["data"][:STEPS] == combine(threads, "avg")
    avg, low, high = statistics(combine(threads, "avg"))
    assert series["statistics"] == pytest.approx({"avg": avg, "min": low, "max": high})
    sockets = _metric(found, "cpu_user", "socket")["series"]
    assert [s["id"] for s in sockets] == ["0", "1"]
    # A socket's series covers all of its hardware threads, not only the job's.
    socket_1 = pick(samples, metric="cpu_user", host="f0101", ids=[str(t) for t in range(36, 72)])
    assert sockets[1]["data"][:STEPS] == combine(socket_1, "avg")
    # mem_bw is measured per socket: asked for per node, its sockets are summed.
    bw = pick(samples, metric="mem_bw", host="f0101")
    assert _metric(found, "mem_bw", "node")["series"][0]["data"][:STEPS] == combine(bw, "sum")


async def test_a_coarser_resolution_has_fewer_points(gql: GraphQL, running: int) -> None:
    variables = {"id": str(running), "metrics": ["mem_used"], "resolution": 2 * TIMESTEP}
    found = (await gql(JOB_METRICS, variables)).ok()["jobMetrics"]

    metric = _metric(found, "mem_used", "node")
    assert metric["timestep"] == 2 * TIMESTEP
    assert len(metric["series"][0]["data"]) == math.ceil(STEPS / 2)


async def test_other_users_do_not_see_the_jobs_metrics(gql: GraphQL, running: int) -> None:
    reply = await gql(JOB_METRICS, {"id": str(running)}, role="manager")
    assert reply.codes == ["NOT_FOUND"]


async def test_job_stats_and_scoped_stats(
    gql: GraphQL, running: int, samples: list[Samples]
) -> None:
    query = """
    query ($id: ID!) {
      jobStats(id: $id, metrics: ["mem_used"]) { name data { avg min max } }
      scopedJobStats(id: $id, metrics: ["cpu_user"], scopes: ["hwthread"]) {
        name scope stats { hostname id data { avg min max } }
      }
    }
    """
    data = (await gql(query, {"id": str(running)})).ok()

    used = pick(samples, metric="mem_used", host="f0101")[0].values
    avg, low, high = statistics(list(used))
    assert data["jobStats"] == [
        {"name": "mem_used", "data": pytest.approx({"avg": round(avg, 2), "min": low, "max": high})}
    ]
    [scoped] = data["scopedJobStats"]
    assert scoped["scope"] == "hwthread"
    assert [s["id"] for s in scoped["stats"]] == [str(t) for t in THREADS]
    thread_36 = pick(samples, metric="cpu_user", host="f0101", ids=["36"])[0].values
    assert scoped["stats"][2]["data"]["avg"] == pytest.approx(statistics(list(thread_36))[0])


async def test_node_metrics_per_host(
    gql: GraphQL, seeded: Any, samples: list[Samples], start: int
) -> None:
    query = f"""
    {{ nodeMetrics(cluster: "fritz", nodes: ["f0101", "f0102"], metrics: ["mem_used"],
                   from: "{_iso(start)}", to: "{_iso(start + STEPS * TIMESTEP)}") {{
        host subCluster state metrics {{ name scope metric {{ series {{ data }} }} }}
    }} }}
    """
    found = (await gql(query, role="support")).ok()["nodeMetrics"]

    assert [n["host"] for n in found] == list(HOSTS)
    for node in found:
        assert node["subCluster"] == "main"
        [entry] = node["metrics"]
        expected = pick(samples, metric="mem_used", host=node["host"])[0].values
        assert entry["metric"]["series"][0]["data"][:STEPS] == list(expected)


async def test_the_node_list_pages_and_filters(
    gql: GraphQL, samples: list[Samples], start: int
) -> None:
    query = f"""
    {{ nodeMetricsList(cluster: "fritz", subCluster: "main", stateFilter: "all",
                       nodeFilter: "f01", metrics: ["mem_used"], page: {{itemsPerPage: 2, page: 1}},
                       from: "{_iso(start)}", to: "{_iso(start + STEPS * TIMESTEP)}") {{
        items {{ host }} totalNodes hasNextPage count
    }} }}
    """
    found = (await gql(query, role="admin")).ok()["nodeMetricsList"]

    assert [i["host"] for i in found["items"]] == list(HOSTS)
    assert found["totalNodes"] == 64  # f0101-f0164 of subcluster main
    assert found["hasNextPage"] is True
    assert found["count"] == 2


async def test_cluster_metrics_combine_the_nodes(
    gql: GraphQL, samples: list[Samples], start: int
) -> None:
    query = f"""
    {{ clusterMetrics(cluster: "fritz", metrics: ["mem_used"],
                      from: "{_iso(start)}", to: "{_iso(start + STEPS * TIMESTEP)}") {{
        nodeCount metrics {{ name timestep data }}
    }} }}
    """
    found = (await gql(query, role="support")).ok()["clusterMetrics"]

    assert found["nodeCount"] == len(HOSTS)
    [metric] = found["metrics"]
    per_host = pick(samples, metric="mem_used")
    assert metric["data"][:STEPS] == _nan_as_none(combine(per_host, "sum"))
