"""The job list's URL query: cc-backend's parameters read into filters and written back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode

import pytest

from app.filters import (
    DURATION_CEILING,
    JobQuery,
    ListOptions,
    SortKey,
    Span,
    StartWindow,
    StatSpan,
    parse_job_query,
    parse_list_options,
    query_pairs,
)
from app.views.job_list_summary import describe_query
from cc_backend.domain.filters import JobFilter, StringInput
from cc_backend.domain.job import Job, JobState
from cc_backend.server import Backends


def _query(url_query: str) -> dict[str, list[str]]:
    return parse_qs(url_query, keep_blank_values=True)


def _parse(url_query: str) -> JobQuery:
    parsed = parse_job_query(_query(url_query))
    assert parsed.problems == ()
    return parsed.query


def _dumped(filters: list[JobFilter]) -> list[dict[str, object]]:
    return [f.model_dump(mode="json", by_alias=True, exclude_none=True) for f in filters]


# -- the links other pages make ---------------------------------------------------------


def test_the_home_pages_links_select_cluster_and_state() -> None:
    query = _parse("cluster=fritz&state=running")

    assert query == JobQuery(cluster="fritz", states=(JobState.RUNNING,))
    assert _dumped(query.to_filters()) == [{"cluster": {"eq": "fritz"}}, {"state": ["running"]}]


def test_the_search_links_read_as_cc_backend_reads_them() -> None:
    assert _dumped(_parse("jobId=123").to_filters()) == [{"jobId": {"eq": "123"}}]
    assert _dumped(_parse("projectMatch=eq&project=p1").to_filters()) == [{"project": {"eq": "p1"}}]
    named = _parse("startTime=1700000000-1700086400&jobName=lbm")
    assert named.start == StartWindow(start=1_700_000_000, stop=1_700_086_400)
    assert _dumped(named.to_filters()) == [
        {"startTime": {"from": "2023-11-14T22:13:20Z", "to": "2023-11-15T22:13:20Z"}},
        {"jobName": {"contains": "lbm"}},
    ]
    assert _dumped(_parse("arrayJobId=77").to_filters()) == [{"arrayJobId": 77}]


def test_a_project_without_operator_is_matched_exactly() -> None:
    # cc-backend's server presets projectMatch=eq for ?project=
    assert _parse("project=p1").to_filters() == [JobFilter(project=StringInput(eq="p1"))]


def test_one_user_is_a_substring_several_users_are_a_list() -> None:
    assert _dumped(_parse("user=ali").to_filters()) == [{"user": {"contains": "ali"}}]
    assert _dumped(_parse("user=alice&user=bob").to_filters()) == [
        {"user": {"in": ["alice", "bob"]}}
    ]
    assert _dumped(_parse("user=alice&userMatch=eq").to_filters()) == [{"user": {"eq": "alice"}}]


def test_several_job_ids_are_a_list() -> None:
    assert _dumped(_parse("jobId=1&jobId=2").to_filters()) == [{"jobId": {"in": ["1", "2"]}}]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("numNodes=2-8", {"numNodes": {"from": 2, "to": 8}}),
        ("numNodes=lessthan-4", {"numNodes": {"from": 1, "to": 4}}),
        ("numNodes=morethan-16", {"numNodes": {"from": 16, "to": 0}}),
        ("numHWThreads=morethan-72", {"numHWThreads": {"from": 72, "to": 0}}),
        ("numAccelerators=1-4", {"numAccelerators": {"from": 1, "to": 4}}),
        ("duration=lessthan-3600", {"duration": {"from": 0, "to": 3600}}),
        ("duration=morethan-3600", {"duration": {"from": 3600, "to": DURATION_CEILING}}),
        ("duration=60-7200", {"duration": {"from": 60, "to": 7200}}),
        ("energy=morethan-10", {"energy": {"from": 10.0, "to": 0.0}}),
        ("energy=0.5-2.5", {"energy": {"from": 0.5, "to": 2.5}}),
        ("startTime=last24h", {"startTime": {"range": "last24h"}}),
        ("tag=3&tag=5", {"tags": [3, 5]}),
        ("dbId=10&dbId=11", {"dbId": [10, 11]}),
        ("shared=multi_user", {"shared": "multi_user"}),
        ("node=f0101", {"node": {"eq": "f0101"}}),
        ("node=f01&nodeMatch=startsWith", {"node": {"startsWith": "f01"}}),
        ("partition=gpu", {"partition": {"eq": "gpu"}}),
        ("schedule=interactive", {"jobName": {"eq": "interactive"}}),
        ("schedule=batch", {"jobName": {"neq": "interactive"}}),
        (
            "stat=flops_any_avg-10-100&stat=mem_used_max-morethan-64",
            {
                "metricStats": [
                    {"metricName": "flops_any_avg", "range": {"from": 10.0, "to": 100.0}},
                    {"metricName": "mem_used_max", "range": {"from": 64.0, "to": 0.0}},
                ]
            },
        ),
    ],
)
def test_each_parameter_becomes_its_filter(text: str, expected: dict[str, object]) -> None:
    assert _dumped(_parse(text).to_filters()) == [expected]


def test_an_empty_query_filters_nothing() -> None:
    parsed = parse_job_query({})

    assert parsed.query.is_empty
    assert parsed.query.to_filters() == []
    assert parsed.query.to_pairs() == []
    assert parse_job_query(_query("cluster=&user=")).query.is_empty
    # cc-backend's pages write an operator even without its filter
    assert parse_job_query(_query("userMatch=in&jobIdMatch=in")).query.is_empty


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("state=sleeping", "state: unknown job state 'sleeping'"),
        ("startTime=yesterday", "startTime: unknown range 'yesterday'"),
        ("startTime=a-b", "startTime: 'a-b' is not FROM-TO in Unix seconds"),
        ("numNodes=many", "numNodes: 'many' is not a range"),
        ("duration=10-5", "duration: '10-5' is not a range"),
        ("numNodes=1.5-3", "numNodes: '1.5-3' is not a range"),
        ("tag=python", "tag: 'python' is not a tag id"),
        ("arrayJobId=x1", "arrayJobId: 'x1' is not a number"),
        ("shared=everybody", "shared: 'everybody' is not one of none, single_user, multi_user"),
        ("userMatch=like&user=a", "userMatch: unknown operator 'like'"),
        ("stat=flops-any-1-2", "stat: 'flops-any-1-2' is not <metric>_<stat>-FROM-TO"),
        ("stat=x;drop-1-2", "stat: 'x;drop-1-2' is not <metric>_<stat>-FROM-TO"),
    ],
)
def test_a_value_that_cannot_be_read_is_left_out_and_reported(text: str, problem: str) -> None:
    parsed = parse_job_query(_query(text + "&cluster=fritz"))

    assert parsed.query.cluster == "fritz"  # the rest of the link still applies
    assert len(parsed.problems) == 1
    assert parsed.problems[0].startswith(problem)


def test_valid_values_survive_next_to_invalid_ones() -> None:
    parsed = parse_job_query(_query("state=running&state=bogus&tag=1&tag=x"))

    assert parsed.query.states == (JobState.RUNNING,)
    assert parsed.query.tags == (1,)
    assert len(parsed.problems) == 2


# -- writing a query back ---------------------------------------------------------------

EVERYTHING = JobQuery(
    db_ids=(4, 5),
    job_ids=("100",),
    array_job_id=9,
    job_name="lbm",
    project="p1",
    project_match="contains",
    users=("alice", "bob"),
    cluster="fritz",
    partition="main",
    states=(JobState.RUNNING, JobState.FAILED),
    shared="none",
    schedule="batch",
    start=StartWindow(range="last7d"),
    duration=Span(60, 7200),
    tags=(1, 2),
    num_nodes=Span(2, 0),
    num_hwthreads=Span(1, 72),
    num_accelerators=Span(1, 4),
    node="f0101",
    node_match="contains",
    energy=Span(0.5, 2.5),
    stats=(StatSpan("flops_any_avg", Span(10, 100)), StatSpan("mem_used_max", Span(64, 0))),
)


def test_a_written_query_reads_back_the_same() -> None:
    url = urlencode(EVERYTHING.to_pairs())

    assert _parse(url) == EVERYTHING


def test_written_queries_use_cc_backends_forms() -> None:
    pairs = EVERYTHING.to_pairs()

    assert ("numNodes", "morethan-2") in pairs
    assert ("duration", "60-7200") in pairs
    assert ("stat", "flops_any_avg-10-100") in pairs
    assert ("stat", "mem_used_max-morethan-64") in pairs
    assert ("projectMatch", "contains") in pairs  # only where it is not cc-backend's "eq"
    assert not any(key in ("userMatch", "jobIdMatch") for key, _ in pairs)
    assert pairs.count(("user", "alice")) == 1
    assert ("state", "running") in pairs
    assert ("state", "failed") in pairs


def test_describe_names_every_restriction() -> None:
    words = describe_query(EVERYTHING)

    assert "cluster fritz (main)" in words
    assert "state running, failed" in words
    assert "started last 7 days" in words
    assert "user alice, bob" in words
    assert "project contains p1" in words
    assert "nodes at least 2" in words
    assert "flops_any_avg 10 to 100" in words
    assert describe_query(JobQuery()) == []


# -- sorting and paging -----------------------------------------------------------------


def test_list_options_default_to_newest_first_page_one() -> None:
    options = parse_list_options({})

    assert options == ListOptions()
    assert options.sort.order_by().model_dump(by_alias=True) == {
        "field": "startTime",
        "type": "col",
        "order": "DESC",
    }
    assert options.to_pairs() == []


def test_list_options_read_back_the_same() -> None:
    options = ListOptions(SortKey("flops_any_avg", footprint=True, descending=False), 3, 50, True)
    pairs = options.to_pairs()

    assert pairs == [
        ("sort", "footprint:flops_any_avg"),
        ("order", "asc"),
        ("page", "3"),
        ("itemsPerPage", "50"),
        ("hideShort", "1"),
    ]
    assert parse_list_options(_query(urlencode(pairs))) == options
    assert options.sort.order_by().type == "foot"
    assert query_pairs(JobQuery(cluster="alex"), options)[0] == ("cluster", "alex")


@pytest.mark.parametrize(
    "text",
    ["sort=start%20time", "order=up", "page=0", "page=x", "itemsPerPage=7", "hideShort=yes"],
)
def test_bad_list_options_keep_the_default_and_say_so(text: str) -> None:
    problems: list[str] = []

    assert parse_list_options(_query(text), problems) == ListOptions()
    assert len(problems) == 1


# -- the filters select what cc-backend would -------------------------------------------


async def test_the_filters_select_the_jobs_the_link_names(
    backends: Backends, make_job: Callable[..., Job]
) -> None:
    now = int(datetime.now(tz=UTC).timestamp())
    backends.jobs.add(make_job(user="alice", numNodes=4, startTime=now - 600))
    backends.jobs.add(make_job(user="alice", numNodes=1, startTime=now - 600))
    backends.jobs.add(make_job(user="bob", numNodes=8, startTime=now - 40 * 86_400))
    backends.jobs.add(make_job(user="bob", cluster="alex", resources=[{"hostname": "a0101"}]))

    def count(url_query: str) -> int:
        return backends.jobs.count(_parse(url_query).to_filters(), actor=None)

    assert count("cluster=fritz") == 3
    assert count("numNodes=morethan-2") == 2
    assert count("numNodes=lessthan-2&cluster=fritz") == 1
    assert count("startTime=last24h") == 2
    assert count("user=ali") == 2
    assert count("user=alice&user=bob") == 4
    assert count("node=a0101") == 1
    assert count("state=completed") == 0
