"""``job`` and ``jobs``: values, filters, paging, ordering and who sees which jobs.

Expected values come from the seeded job definitions (:data:`JOBS`), not from the code
under test.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cc_backend.domain.errors import BackendUnavailable
from tests.web.graphql.conftest import JOBS, GraphQL, Seeded

JOB_FIELDS = """
  id jobId user project cluster subCluster startTime duration walltime numNodes
  numHWThreads numAcc energy SMT shared partition arrayJobId monitoringStatus state
  resources { hostname hwthreads accelerators configuration } metaData
"""

LIST = """
query ($filter: [JobFilter!], $page: PageRequest, $order: OrderByInput) {
  jobs(filter: $filter, page: $page, order: $order) {
    items { id jobId } offset limit count hasNextPage
  }
}
"""


def _names(seeded: Seeded, items: list[dict[str, Any]]) -> list[str]:
    by_id = {db_id: name for name, db_id in seeded.jobs.items()}
    return [by_id[int(item["id"])] for item in items]


def _newest_first(names: list[str]) -> list[str]:
    return sorted(names, key=lambda n: (-JOBS[n].start_time, -list(JOBS).index(n)))


async def _list(gql: GraphQL, seeded: Seeded, role: str = "admin", **variables: Any) -> list[str]:
    data = (await gql(LIST, variables, role=role)).ok()
    return _names(seeded, data["jobs"]["items"])


async def test_a_job_reads_as_it_was_stored(gql: GraphQL, seeded: Seeded) -> None:
    stored = JOBS["bob_alex"]
    query = f'{{ job(id: "{seeded.jobs["bob_alex"]}") {{ {JOB_FIELDS} }} }}'
    job = (await gql(query)).ok()["job"]
    assert job == {
        "id": str(seeded.jobs["bob_alex"]),
        "jobId": stored.job_id,
        "user": "bob",
        "project": "project-b",
        "cluster": "alex",
        "subCluster": "a40",
        "startTime": datetime.fromtimestamp(stored.start_time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration": 1800,
        "walltime": 86_400,
        "numNodes": 1,
        "numHWThreads": 72,
        "numAcc": 4,
        "energy": 0.0,
        "SMT": 0,
        "shared": "none",
        "partition": "a40",
        "arrayJobId": 0,
        "monitoringStatus": 3,
        "state": "failed",
        "resources": [
            {
                "hostname": "a0101",
                "hwthreads": None,
                "accelerators": ["0", "1", "2", "3"],
                "configuration": None,
            }
        ],
        "metaData": {"jobName": "job-5"},
    }


async def test_footprints_split_metric_and_statistic_and_name_the_hardware(
    gql: GraphQL, seeded: Seeded
) -> None:
    query = f"""{{ job(id: "{seeded.jobs["alice_running"]}") {{
        footprint {{ name stat value }} energyFootprint {{ hardware metric value }} energy }} }}"""
    job = (await gql(query)).ok()["job"]
    assert job["footprint"] == [
        {"name": "cpu_load", "stat": "avg", "value": 50.5},
        {"name": "mem_used", "stat": "max", "value": 120.0},
    ]
    assert job["energyFootprint"] == [
        {"hardware": "CPU", "metric": "cpu_power", "value": 10.0},
        {"hardware": "Accelerator", "metric": "acc_power", "value": 2.0},
        {"hardware": "Other", "metric": "other", "value": 1.0},
    ]
    assert job["energy"] == 13.0


async def test_a_job_without_footprint_has_null_footprints(gql: GraphQL, seeded: Seeded) -> None:
    job_id = seeded.jobs["carol_done"]
    query = f'{{ job(id: "{job_id}") {{ footprint {{ name }} energyFootprint {{ metric }} }} }}'
    assert (await gql(query)).ok()["job"] == {"footprint": None, "energyFootprint": None}


async def test_jobs_lists_every_job_newest_first_with_count(gql: GraphQL, seeded: Seeded) -> None:
    data = (await gql(LIST)).ok()["jobs"]
    assert _names(seeded, data["items"]) == _newest_first(list(JOBS))
    assert data["count"] == len(JOBS)
    assert data["hasNextPage"] is False
    assert data["offset"] == 0
    assert data["limit"] == 50


async def test_pages_cover_all_jobs_once_and_say_whether_more_follow(
    gql: GraphQL, seeded: Seeded
) -> None:
    seen: list[str] = []
    flags = []
    for page in range(1, 5):
        variables = {"page": {"itemsPerPage": 2, "page": page}}
        data = (await gql(LIST, variables)).ok()["jobs"]
        assert data["count"] == len(JOBS)
        seen += _names(seeded, data["items"])
        flags.append(data["hasNextPage"])
    assert seen == _newest_first(list(JOBS))
    assert flags == [True, True, True, False]
    everything = (await gql(LIST, {"page": {"itemsPerPage": -1, "page": 1}})).ok()["jobs"]
    assert len(everything["items"]) == len(JOBS)
    assert everything["hasNextPage"] is False


async def test_count_is_not_computed_unless_asked_for(
    gql: GraphQL, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted: list[Any] = []
    original = gql.backends.jobs.count

    def spy(*args: Any, **kwargs: Any) -> Any:
        counted.append(kwargs["actor"])
        return original(*args, **kwargs)

    monkeypatch.setattr(gql.backends.jobs, "count", spy)
    await gql("{ jobs { items { id } } }")
    assert counted == []
    await gql("{ jobs { ... on JobResultList { count } } }")
    assert len(counted) == 1


async def test_a_count_alone_reads_no_page(
    gql: GraphQL, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gql.backends.jobs, "query", _database_locked)
    reply = await gql("{ jobs(page: {itemsPerPage: 2, page: 3}) { count offset limit } }")
    assert reply.ok()["jobs"] == {"count": len(seeded.jobs), "offset": 4, "limit": 2}
    everything = await gql("{ jobs(page: {itemsPerPage: -1, page: 1}) { offset limit } }")
    assert everything.ok()["jobs"] == {"offset": 0, "limit": None}


def _database_locked(*_: Any, **__: Any) -> Any:
    raise BackendUnavailable("job database is locked")


async def test_a_failing_count_leaves_the_page_intact(
    gql: GraphQL, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gql.backends.jobs, "count", _database_locked)
    reply = await gql("{ jobs(page: {itemsPerPage: 100, page: 1}) { items { id } count } }")
    assert reply.data["jobs"]["count"] is None
    assert {int(item["id"]) for item in reply.data["jobs"]["items"]} == set(seeded.jobs.values())
    [error] = reply.errors
    assert error["path"] == ["jobs", "count"]
    assert reply.codes == ["BACKEND_UNAVAILABLE"]


async def test_a_failing_page_fails_the_whole_list(
    gql: GraphQL, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gql.backends.jobs, "query", _database_locked)
    reply = await gql("{ jobs { items { id } count } }")
    assert reply.data is None
    assert reply.codes == ["BACKEND_UNAVAILABLE"]


@pytest.mark.parametrize(
    ("job_filter", "expected"),
    [
        ({"user": {"eq": "bob"}}, ["bob_shared", "bob_alex"]),
        ({"project": {"in": ["project-c", "project-x"]}}, ["carol_done", "manny_own"]),
        ({"cluster": {"eq": "alex"}}, ["bob_alex"]),
        ({"state": ["running", "timeout"]}, ["alice_running", "manny_own"]),
        ({"partition": {"startsWith": "wor"}}, ["carol_done"]),
        ({"jobId": {"eq": "5006"}}, ["carol_done"]),
        ({"jobName": {"contains": "job-7"}}, ["manny_own"]),
        ({"numNodes": {"from": 2, "to": 2}}, ["alice_done"]),
        ({"numAccelerators": {"from": 1, "to": 8}}, ["bob_alex"]),
        ({"duration": {"from": 3000, "to": 0}}, ["alice_shared", "bob_shared"]),
        ({"shared": "multi_user"}, ["alice_shared", "bob_shared"]),
        ({"node": {"eq": "f0102"}}, ["alice_running", "alice_done"]),
        ({"energy": {"from": 10, "to": 20}}, ["alice_running"]),
        (
            {"metricStats": [{"metricName": "cpu_load_avg", "range": {"from": 50, "to": 51}}]},
            ["alice_running"],
        ),
        (
            {
                "startTime": {
                    "from": "2023-11-15T00:00:00Z",
                    "to": "2023-11-15T04:00:00+00:00",
                }
            },
            ["alice_done", "bob_alex"],
        ),
    ],
)
async def test_each_filter_selects_the_jobs_it_names(
    gql: GraphQL, seeded: Seeded, job_filter: dict[str, Any], expected: list[str]
) -> None:
    assert sorted(await _list(gql, seeded, filter=[job_filter])) == sorted(expected)


async def test_tag_and_database_id_filters_take_ids(gql: GraphQL, seeded: Seeded) -> None:
    tagged = await _list(gql, seeded, filter=[{"tags": [str(seeded.tags["global"])]}])
    assert sorted(tagged) == ["alice_running", "bob_alex"]
    ids = [str(seeded.jobs["carol_done"]), str(seeded.jobs["bob_alex"])]
    assert sorted(await _list(gql, seeded, filter=[{"dbId": ids}])) == ["bob_alex", "carol_done"]


async def test_several_filters_must_all_hold(gql: GraphQL, seeded: Seeded) -> None:
    both = [{"user": {"eq": "alice"}}, {"shared": "multi_user"}]
    assert await _list(gql, seeded, filter=both) == ["alice_shared"]


async def test_order_by_a_column_or_a_footprint_value(gql: GraphQL, seeded: Seeded) -> None:
    by_duration = await _list(
        gql, seeded, order={"field": "duration", "type": "col", "order": "ASC"}
    )
    durations = [JOBS[name].duration for name in by_duration]
    assert durations == sorted(durations)
    by_load = await _list(
        gql, seeded, order={"field": "cpu_load_avg", "type": "foot", "order": "DESC"}
    )
    assert by_load[0] == "alice_running"  # the only job with the value; missing ones last


@pytest.mark.parametrize(
    ("role", "visible"),
    [
        ("user", {"alice_running", "alice_done", "alice_shared"}),
        ("manager", {"bob_shared", "bob_alex", "manny_own"}),
        ("support", set(JOBS)),
        ("admin", set(JOBS)),
    ],
)
async def test_each_role_lists_exactly_the_jobs_it_may_see(
    gql: GraphQL, seeded: Seeded, role: str, visible: set[str]
) -> None:
    data = (await gql(LIST, role=role)).ok()["jobs"]
    assert set(_names(seeded, data["items"])) == visible
    assert data["count"] == len(visible)
    for name, db_id in seeded.jobs.items():
        reply = await gql(f'{{ job(id: "{db_id}") {{ id }} }}', role=role)
        if name in visible:
            assert reply.ok() == {"job": {"id": str(db_id)}}
        else:
            assert reply.codes == ["NOT_FOUND"]
            assert reply.data == {"job": None}


@pytest.mark.parametrize(
    ("role", "tags"),
    [
        ("user", {"global", "alice"}),
        ("support", {"global", "admin"}),
        ("admin", {"global", "admin"}),
    ],
)
async def test_a_job_shows_the_tags_the_caller_may_read(
    gql: GraphQL, seeded: Seeded, role: str, tags: set[str]
) -> None:
    by_id = {str(tag_id): name for name, tag_id in seeded.tags.items()}
    single = f'{{ job(id: "{seeded.jobs["alice_running"]}") {{ tags {{ id }} }} }}'
    listed = '{ jobs(filter: [{state: ["running"]}]) { items { tags { id } } } }'
    single_tags = (await gql(single, role=role)).ok()["job"]["tags"]
    list_tags = (await gql(listed, role=role)).ok()["jobs"]["items"][0]["tags"]
    assert {by_id[t["id"]] for t in single_tags} == tags
    assert list_tags == single_tags


async def test_a_job_list_loads_the_tags_of_a_page_at_once(
    gql: GraphQL, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    original = gql.backends.tags.tags_of_jobs

    def spy(ids: list[int], actor: Any) -> Any:
        calls.append(len(ids))
        return original(ids, actor)

    monkeypatch.setattr(gql.backends.tags, "tags_of_jobs", spy)
    (await gql("{ jobs { items { tags { name } } } }")).ok()
    assert calls == [len(JOBS)]


async def test_user_data_names_the_owner_if_known(gql: GraphQL, seeded: Seeded) -> None:
    query = "{ jobs { items { user userData { username name email } } } }"
    items = (await gql(query)).ok()["jobs"]["items"]
    by_user = {item["user"]: item["userData"] for item in items}
    assert by_user["alice"] == {
        "username": "alice",
        "name": "Alice Archer",
        "email": "alice@example.org",
    }
    assert by_user["carol"] is None  # not a user of the site


async def test_concurrent_jobs_of_a_shared_job_are_those_on_its_node_meanwhile(
    gql: GraphQL, seeded: Seeded
) -> None:
    query = f"""{{ job(id: "{seeded.jobs["alice_shared"]}") {{
        concurrentJobs {{ listQuery items {{ id jobId }} count }} }} }}"""
    admin_view = (await gql(query)).ok()["job"]["concurrentJobs"]
    bob = JOBS["bob_shared"]
    assert admin_view == {
        "listQuery": f"cluster=fritz&jobId={bob.job_id}",
        "items": [{"id": str(seeded.jobs["bob_shared"]), "jobId": bob.job_id}],
        "count": 1,
    }
    alice_view = (await gql(query, role="user")).ok()["job"]["concurrentJobs"]
    assert alice_view["items"] == []  # bob's job is not hers to see


async def test_an_exclusive_job_has_no_concurrent_jobs(gql: GraphQL, seeded: Seeded) -> None:
    query = f'{{ job(id: "{seeded.jobs["alice_done"]}") {{ concurrentJobs {{ count }} }} }}'
    assert (await gql(query)).ok() == {"job": {"concurrentJobs": None}}


@pytest.mark.parametrize(
    "variables",
    [
        {"filter": [{"user": {"like": "x"}}]},
        {"filter": [{"numNodes": {"from": 5, "to": 2}}]},
        {"filter": [{"startTime": {"range": "lastCentury"}}]},
        {"filter": [{"tags": ["not-a-number"]}]},
        {"order": {"field": "duration; DROP TABLE job", "type": "col"}},
        {"page": {"itemsPerPage": 10, "page": 0}},
    ],
)
async def test_a_bad_filter_order_or_page_is_bad_user_input_and_changes_nothing(
    gql: GraphQL, seeded: Seeded, variables: dict[str, Any]
) -> None:
    reply = await gql(LIST, variables)
    assert set(reply.codes) <= {"BAD_USER_INPUT"}
    assert reply.codes
    assert gql.backends.jobs.count(actor=None) == len(JOBS)
