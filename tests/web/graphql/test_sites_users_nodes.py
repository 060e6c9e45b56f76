"""``clusters``, ``globalMetrics``, ``allocatedNodes``, ``user``, ``updateConfiguration``
and the node queries, checked against the stored cluster files and state reports."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from cc_backend.domain.cluster import Cluster
from cc_backend.domain.hostlist import HostList
from cc_backend.domain.user import User
from cc_backend.repository.schema import node
from tests.web.graphql.conftest import JOBS, GraphQL, Seeded

CLUSTERS = """{ clusters { name partitions subClusters {
  name nodes numberOfNodes processorType socketsPerNode coresPerSocket threadsPerCore
  flopRateScalar { name unit { base prefix } value } memoryBandwidth { value }
  topology { node socket memoryDomain core accelerators { id type model } }
  metricConfig { name unit { base prefix } scope aggregation timestep peak normal caution
                 alert lowerIsBetter subClusters { name } }
  footprint } } }"""


def _raw_clusters(gql: GraphQL) -> dict[str, dict[str, Any]]:
    """The cluster.json documents as stored, as plain JSON."""
    archive = gql.backends.archive
    return {name: archive.load_cluster(name).to_dict() for name in archive.clusters()}


async def test_clusters_describe_every_subcluster_of_the_archive(
    gql: GraphQL, seeded: Seeded
) -> None:
    raw = _raw_clusters(gql)
    clusters = (await gql(CLUSTERS, role="user")).ok()["clusters"]
    assert [c["name"] for c in clusters] == sorted(raw)
    for cluster in clusters:
        document = raw[cluster["name"]]
        subs = {s["name"]: s for s in document["subClusters"]}
        assert [s["name"] for s in cluster["subClusters"]] == list(subs)
        for sub in cluster["subClusters"]:
            stored = subs[sub["name"]]
            assert sub["nodes"] == stored["nodes"]
            assert sub["numberOfNodes"] == len(list(HostList(stored["nodes"])))
            assert sub["processorType"] == stored["processorType"]
            assert sub["socketsPerNode"] == stored["socketsPerNode"]
            assert sub["flopRateScalar"]["value"] == stored["flopRateScalar"]["value"]
            assert sub["flopRateScalar"]["name"] is None
            assert sub["topology"]["node"] == stored["topology"]["node"]
            assert sub["topology"]["memoryDomain"] == stored["topology"]["memoryDomain"]
            removed = {
                m["name"]
                for m in document["metricConfig"]
                for o in m.get("subClusters", [])
                if o["name"] == sub["name"] and o.get("remove")
            }
            expected = [m["name"] for m in document["metricConfig"] if m["name"] not in removed]
            assert [m["name"] for m in sub["metricConfig"]] == expected
            assert all(m["subClusters"] == [] for m in sub["metricConfig"])


async def test_a_subclusters_metric_thresholds_are_its_own(gql: GraphQL, seeded: Seeded) -> None:
    document = _raw_clusters(gql)["fritz"]
    metric = next(m for m in document["metricConfig"] if m["name"] == "cpu_load")
    override = next(o for o in metric["subClusters"] if o["name"] == "spr")
    clusters = (await gql(CLUSTERS)).ok()["clusters"]
    fritz = next(c for c in clusters if c["name"] == "fritz")
    by_sub = {
        s["name"]: next(m for m in s["metricConfig"] if m["name"] == "cpu_load")
        for s in fritz["subClusters"]
    }
    assert by_sub["main"]["peak"] == metric["peak"]
    assert by_sub["spr"]["peak"] == override["peak"]


async def test_partitions_are_those_of_the_clusters_jobs(gql: GraphQL, seeded: Seeded) -> None:
    clusters = (await gql("{ clusters { name partitions } }")).ok()["clusters"]
    expected: dict[str, set[str]] = {}
    for job in JOBS.values():
        expected.setdefault(job.cluster, set()).add(job.partition)
    assert {c["name"]: c["partitions"] for c in clusters} == {
        name: sorted(parts) for name, parts in expected.items()
    }


async def test_global_metrics_list_each_metric_once_with_its_availability(
    gql: GraphQL, seeded: Seeded
) -> None:
    raw = _raw_clusters(gql)
    metrics = (
        await gql(
            "{ globalMetrics { name scope unit { base } footprint "
            "availability { cluster subClusters } } }"
        )
    ).ok()["globalMetrics"]
    names = sorted({m["name"] for doc in raw.values() for m in doc["metricConfig"]})
    assert [m["name"] for m in metrics] == names
    mem_used = next(m for m in metrics if m["name"] == "mem_used")
    expected = []
    for name, doc in sorted(raw.items()):
        config = next((m for m in doc["metricConfig"] if m["name"] == "mem_used"), None)
        if config is None:
            continue
        removed = {o["name"] for o in config.get("subClusters", []) if o.get("remove")}
        subs = [s["name"] for s in doc["subClusters"] if s["name"] not in removed]
        expected.append({"cluster": name, "subClusters": subs})
    assert mem_used["availability"] == expected
    assert mem_used["footprint"] == "max"


async def test_restricted_metrics_are_hidden_from_users_and_managers(
    gql: GraphQL, seeded: Seeded
) -> None:
    fritz = gql.backends.archive.load_cluster("fritz").to_dict()
    for metric in fritz["metricConfig"]:
        if metric["name"] == "flops_dp":  # a metric only fritz has
            metric["restrict"] = True
    gql.backends.archive.store_cluster(Cluster.from_json(fritz))
    gql.backends.clusters.refresh()
    query = "{ globalMetrics { name } }"
    for role, sees in (("user", False), ("manager", False), ("support", True), ("admin", True)):
        names = {m["name"] for m in (await gql(query, role=role)).ok()["globalMetrics"]}
        assert ("flops_dp" in names) is sees, role


async def test_allocated_nodes_count_hosts_of_running_jobs_per_subcluster(
    gql: GraphQL, seeded: Seeded
) -> None:
    more = JOBS["alice_running"].model_copy(
        update={"job_id": 9001, "resources": JOBS["alice_done"].resources, "num_nodes": 2}
    )
    gql.backends.jobs.add(more)
    reply = await gql('{ allocatedNodes(cluster: "fritz") { name count } }', role="user")
    hosts = {r.hostname for j in (JOBS["alice_running"], more) for r in j.resources}
    assert reply.ok() == {"allocatedNodes": [{"name": "main", "count": len(hosts)}]}
    none = await gql('{ allocatedNodes(cluster: "alex") { name count } }')
    assert none.ok() == {"allocatedNodes": []}


# -- users ----------------------------------------------------------------------------------

USER = "query ($u: String!) { user(username: $u) { username name email } }"


@pytest.mark.parametrize(
    ("role", "username", "outcome"),
    [
        ("user", "alice", "found"),
        ("user", "bob", "FORBIDDEN"),
        ("manager", "alice", "found"),
        ("support", "alice", "found"),
        ("admin", "alice", "found"),
        ("admin", "nobody", "null"),
    ],
)
async def test_user_looks_up_oneself_or_anybody_for_managers_and_staff(
    gql: GraphQL, seeded: Seeded, role: str, username: str, outcome: str
) -> None:
    reply = await gql(USER, {"u": username}, role=role)
    if outcome == "found":
        stored = gql.backends.users.get(username)
        assert reply.ok() == {
            "user": {"username": username, "name": stored.name, "email": stored.email}
        }
    elif outcome == "null":
        assert reply.ok() == {"user": None}
    else:
        assert reply.codes == [outcome]


UPDATE = "mutation ($n: String!, $v: String!) { updateConfiguration(name: $n, value: $v) }"


async def test_update_configuration_stores_the_callers_setting(
    gql: GraphQL, seeded: Seeded
) -> None:
    reply = await gql(UPDATE, {"n": "plot_list_jobsPerPage", "v": "25"}, role="user")
    assert reply.ok() == {"updateConfiguration": None}
    assert gql.backends.user_config.get("alice", "plot_list_jobsPerPage") == 25
    assert gql.backends.user_config.get_all("root") == {}


@pytest.mark.parametrize(
    ("variables", "user", "code"),
    [
        ({"n": "x", "v": "{not json"}, None, "BAD_USER_INPUT"),
        ({"n": "", "v": "1"}, None, "BAD_USER_INPUT"),
        ({"n": "x", "v": "1"}, User.build("ghost", ["user"]), "NOT_FOUND"),
    ],
)
async def test_a_setting_that_cannot_be_stored_is_refused(
    gql: GraphQL, seeded: Seeded, variables: dict[str, str], user: User | None, code: str
) -> None:
    reply = await gql(UPDATE, variables, role="user", user=user)
    assert reply.codes == [code]
    assert gql.backends.user_config.get_all("alice") == {}


# -- nodes ----------------------------------------------------------------------------------

NODES = """query ($f: [NodeFilter!]) { nodes(filter: $f) {
  items { id hostname cluster subCluster schedulerState healthState cpusAllocated
          jobsRunning memoryAllocated gpusAllocated metaData } count } }"""


async def test_nodes_show_their_latest_report(gql: GraphQL, seeded: Seeded) -> None:
    data = (await gql(NODES, role="support")).ok()["nodes"]
    latest = {
        item["hostname"]: (item["schedulerState"], item["healthState"], item["cpusAllocated"])
        for item in data["items"]
    }
    assert latest == {
        "a0101": ("mixed", "full", 0),
        "f0101": ("allocated", "full", 20),
        "f0102": ("allocated", "partial", 20),
        "f0201": ("down", "failed", 20),
    }
    assert data["count"] == 4
    assert [i["hostname"] for i in data["items"]] == ["a0101", "f0101", "f0102", "f0201"]
    assert {int(i["id"]) for i in data["items"]} == set(seeded.nodes.values())


@pytest.mark.parametrize(
    ("node_filter", "hosts"),
    [
        ([{"cluster": {"eq": "alex"}}], ["a0101"]),
        ([{"hostname": {"startsWith": "f01"}}], ["f0101", "f0102"]),
        ([{"schedulerState": "allocated"}], ["f0101", "f0102"]),
        ([{"schedulerState": "idle"}], []),  # f0101 was idle, but is no longer
        ([{"healthState": "failed"}], ["f0201"]),
        ([{"subcluster": {"eq": "main"}}, {"healthState": "full"}], ["f0101"]),
        ([{"timeStart": 180}], ["f0101", "f0102", "f0201"]),
    ],
)
async def test_node_filters_apply_to_the_node_and_its_latest_report(
    gql: GraphQL, seeded: Seeded, node_filter: list[dict[str, Any]], hosts: list[str]
) -> None:
    data = (await gql(NODES, {"f": node_filter}, role="admin")).ok()["nodes"]
    assert [i["hostname"] for i in data["items"]] == hosts


async def test_node_meta_data_is_decoded(gql: GraphQL, seeded: Seeded) -> None:
    with gql.backends.db.engine.begin() as conn:
        conn.execute(
            sa.update(node).where(node.c.hostname == "f0101").values(meta_data='{"rack": "r1"}')
        )
    items = (await gql(NODES, role="admin")).ok()["nodes"]["items"]
    assert {i["hostname"]: i["metaData"] for i in items}["f0101"] == {"rack": "r1"}
    one = f'{{ node(id: "{seeded.nodes["f0101"]}") {{ hostname metaData schedulerState }} }}'
    assert (await gql(one, role="support")).ok() == {
        "node": {"hostname": "f0101", "metaData": {"rack": "r1"}, "schedulerState": "allocated"}
    }


async def test_an_unknown_node_is_not_found(gql: GraphQL, seeded: Seeded) -> None:
    assert (await gql('{ node(id: "4711") { id } }')).codes == ["NOT_FOUND"]


async def test_node_states_count_latest_scheduler_then_health_states(
    gql: GraphQL, seeded: Seeded
) -> None:
    reply = await gql('{ nodeStates(filter: [{cluster: {eq: "fritz"}}]) { state count } }')
    states = reply.ok()["nodeStates"]
    assert states == [
        {"state": "allocated", "count": 2},
        {"state": "down", "count": 1},
        {"state": "failed", "count": 1},
        {"state": "full", "count": 1},
        {"state": "partial", "count": 1},
    ]


async def test_node_states_timed_count_every_report_time(gql: GraphQL, seeded: Seeded) -> None:
    query = """query ($f: [NodeFilter!], $t: String!) {
      nodeStatesTimed(filter: $f, type: $t) { state counts times } }"""
    fritz = {"cluster": {"eq": "fritz"}}
    nodes = (await gql(query, {"f": [fritz], "t": "node"})).ok()["nodeStatesTimed"]
    assert nodes == [
        {"state": "allocated", "counts": [1, 2], "times": [100, 200]},
        {"state": "down", "counts": [1, 1], "times": [100, 200]},
        {"state": "idle", "counts": [1], "times": [100]},
    ]
    later = {**fritz, "timeStart": 150}
    health = (await gql(query, {"f": [later], "t": "health"})).ok()["nodeStatesTimed"]
    reports = Counter({("full", 200): 1, ("partial", 200): 1, ("failed", 200): 1})
    assert {
        (h["state"], t): c for h in health for t, c in zip(h["times"], h["counts"], strict=True)
    } == reports
    assert (await gql(query, {"t": "power"})).codes == ["BAD_USER_INPUT"]
