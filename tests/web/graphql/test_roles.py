"""The role matrix: every query and mutation of the schema, called as anonymous, user,
manager, support and admin.

``ok`` means data without errors; otherwise the expected ``extensions.code``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cc_backend.web.graphql.schema import executable_schema
from tests.web.graphql.conftest import PEOPLE, ROLES, GraphQL, Seeded

OK = "ok"
FORBIDDEN, NOT_FOUND = "FORBIDDEN", "NOT_FOUND"

#: user, manager, support, admin (anonymous is always refused).
EVERYBODY = (OK, OK, OK, OK)
STAFF_ONLY = (FORBIDDEN, FORBIDDEN, OK, OK)

Operation = tuple[str, Callable[[Seeded, str], dict[str, Any]], tuple[str, str, str, str]]


def _none(_seeded: Seeded, _role: str) -> dict[str, Any]:
    return {}


def _alice_job(seeded: Seeded, _role: str) -> dict[str, Any]:
    return {"id": str(seeded.jobs["alice_done"])}


def _alice_running(seeded: Seeded, _role: str) -> dict[str, Any]:
    return {"id": str(seeded.jobs["alice_running"])}


def _node(seeded: Seeded, _role: str) -> dict[str, Any]:
    return {"id": str(seeded.nodes["f0101"])}


def _own_scope(_seeded: Seeded, role: str) -> dict[str, Any]:
    person = PEOPLE[role]
    return {"scope": person.username if person else "nobody"}


def _tag(name: str, job: str | None = None) -> Callable[[Seeded, str], dict[str, Any]]:
    def variables(seeded: Seeded, _role: str) -> dict[str, Any]:
        found: dict[str, Any] = {"tag": str(seeded.tags[name])}
        if job is not None:
            found["job"] = str(seeded.jobs[job])
        return found

    return variables


WINDOW = 'from: "2024-01-01T00:00:00Z", to: "2024-01-01T01:00:00Z"'

OPERATIONS: dict[str, Operation] = {
    "clusters": ("{ clusters { name } }", _none, EVERYBODY),
    "tags": ("{ tags { id } }", _none, EVERYBODY),
    "globalMetrics": ("{ globalMetrics { name } }", _none, EVERYBODY),
    "user": ('{ user(username: "alice") { name } }', _none, (OK, OK, OK, OK)),
    "allocatedNodes": ('{ allocatedNodes(cluster: "fritz") { count } }', _none, EVERYBODY),
    "node": ("query ($id: ID!) { node(id: $id) { hostname } }", _node, STAFF_ONLY),
    "nodes": ("{ nodes { count } }", _none, STAFF_ONLY),
    "nodeStates": ("{ nodeStates { state } }", _none, STAFF_ONLY),
    "nodeStatesTimed": ('{ nodeStatesTimed(type: "node") { state } }', _none, STAFF_ONLY),
    "job": ("query ($id: ID!) { job(id: $id) { id } }", _alice_job, (OK, NOT_FOUND, OK, OK)),
    "jobMetrics": (
        "query ($id: ID!) { jobMetrics(id: $id) { name } }",
        _alice_running,
        (OK, NOT_FOUND, OK, OK),
    ),
    "jobStats": (
        "query ($id: ID!) { jobStats(id: $id) { name } }",
        _alice_running,
        (OK, NOT_FOUND, OK, OK),
    ),
    "scopedJobStats": (
        "query ($id: ID!) { scopedJobStats(id: $id) { name } }",
        _alice_running,
        (OK, NOT_FOUND, OK, OK),
    ),
    "jobs": ("{ jobs { count } }", _none, EVERYBODY),
    "jobsStatistics": ("{ jobsStatistics { totalJobs } }", _none, EVERYBODY),
    "jobsMetricStats": ("{ jobsMetricStats { id } }", _none, EVERYBODY),
    "jobsFootprints": (
        '{ jobsFootprints(metrics: ["cpu_load"]) { metrics { metric } } }',
        _none,
        EVERYBODY,
    ),
    "rooflineHeatmap": (
        "{ rooflineHeatmap(filter: [], rows: 2, cols: 2, minX: 0.01, minY: 1, maxX: 1000, "
        "maxY: 10000) }",
        _none,
        EVERYBODY,
    ),
    "nodeMetrics": (
        f'{{ nodeMetrics(cluster: "fritz", {WINDOW}) {{ host }} }}',
        _none,
        STAFF_ONLY,
    ),
    "nodeMetricsList": (
        f'{{ nodeMetricsList(cluster: "fritz", subCluster: "main", stateFilter: "all", '
        f'nodeFilter: "", {WINDOW}) {{ totalNodes }} }}',
        _none,
        STAFF_ONLY,
    ),
    "clusterMetrics": (
        f'{{ clusterMetrics(cluster: "fritz", {WINDOW}) {{ nodeCount }} }}',
        _none,
        STAFF_ONLY,
    ),
    "createTag": (
        'mutation ($scope: String!) { createTag(type: "t", name: $scope, scope: $scope) { id } }',
        _own_scope,
        EVERYBODY,
    ),
    "deleteTag": (
        "mutation ($tag: ID!) { deleteTag(id: $tag) }",
        _tag("global"),
        (FORBIDDEN, FORBIDDEN, FORBIDDEN, OK),
    ),
    "addTagsToJob": (
        "mutation ($job: ID!, $tag: ID!) { addTagsToJob(job: $job, tagIds: [$tag]) { id } }",
        _tag("global", "alice_done"),
        (FORBIDDEN, FORBIDDEN, FORBIDDEN, OK),
    ),
    "removeTagsFromJob": (
        "mutation ($job: ID!, $tag: ID!) { removeTagsFromJob(job: $job, tagIds: [$tag]) { id } }",
        _tag("admin", "alice_running"),
        (NOT_FOUND, NOT_FOUND, FORBIDDEN, OK),
    ),
    "removeTagFromList": (
        "mutation ($tag: ID!) { removeTagFromList(tagIds: [$tag]) }",
        _tag("admin"),
        (NOT_FOUND, NOT_FOUND, FORBIDDEN, OK),
    ),
    "updateConfiguration": (
        'mutation { updateConfiguration(name: "plot_list_jobsPerPage", value: "10") }',
        _none,
        EVERYBODY,
    ),
}


def test_the_matrix_covers_every_query_and_mutation() -> None:
    schema = executable_schema()
    assert schema.query_type is not None
    assert schema.mutation_type is not None
    fields = set(schema.query_type.fields) | set(schema.mutation_type.fields)
    assert set(OPERATIONS) == fields


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
async def test_each_role_gets_what_its_rights_allow(
    gql: GraphQL, seeded: Seeded, operation: str
) -> None:
    query, variables, outcomes = OPERATIONS[operation]
    got = {}
    for role in ROLES:  # anonymous first, admin last: a mutation that works changes state
        reply = await gql(query, variables(seeded, role), role=role)
        if role == "anonymous":
            assert reply.status == 401
        got[role] = OK if reply.status == 200 and not reply.errors else ",".join(reply.codes)
    expected = dict(zip(ROLES, ("UNAUTHENTICATED", *outcomes), strict=True))
    assert got == expected
