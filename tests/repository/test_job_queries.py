"""Job queries over the real cc-backend database: every JobFilter field, ordering, paging.

Expected results are computed independently: the reference rows are read with the standard
library's sqlite3 and filtered in plain Python.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.filters import JobFilter, OrderBy, PageRequest
from cc_backend.domain.job import Job
from cc_backend.domain.user import User
from cc_backend.repository.database import Database
from cc_backend.repository.jobs import JobRepository

pytestmark = pytest.mark.reference

Row = dict[str, Any]
ADMIN = User.build("admin", ["admin"])
#: A fixed "now" just after the newest reference job started, for named time ranges.
NOW = 1675957496 + 60


@pytest.fixture(scope="module")
def rows(reference_dir: Path) -> list[Row]:
    """Every reference job row, JSON columns decoded, as plain dicts."""
    conn = sqlite3.connect(f"file:{reference_dir / 'db' / 'job.db'}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    result = []
    for row in conn.execute("SELECT * FROM job"):
        item = dict(row)
        for column in ("meta_data", "resources", "footprint", "energy_footprint"):
            raw = item[column]
            item[column] = json.loads(raw) if raw else None
        result.append(item)
    tags = conn.execute("SELECT job_id, tag_id FROM jobtag").fetchall()
    conn.close()
    for item in result:
        item["tag_ids"] = {tag_id for job_id, tag_id in tags if job_id == item["id"]}
    return result


@pytest.fixture
def jobs(reference_db: Database) -> JobRepository:
    return JobRepository(reference_db)


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def hosts(row: Row) -> list[str]:
    return [r["hostname"] for r in row["resources"]]


def footprint(row: Row, key: str) -> float | None:
    return (row["footprint"] or {}).get(key)


# (filter as GraphQL sends it, the same selection as a Python predicate over raw rows)
CASES: dict[str, tuple[dict[str, Any], Callable[[Row], bool]]] = {
    "no filter": ({}, lambda r: True),
    "user eq": ({"user": {"eq": "iwi5056h"}}, lambda r: r["hpc_user"] == "iwi5056h"),
    "user neq": ({"user": {"neq": "k106eb10"}}, lambda r: r["hpc_user"] != "k106eb10"),
    "user contains": ({"user": {"contains": "106"}}, lambda r: "106" in r["hpc_user"]),
    "user startsWith": ({"user": {"startsWith": "iwi"}}, lambda r: r["hpc_user"].startswith("iwi")),
    "user endsWith": ({"user": {"endsWith": "h"}}, lambda r: r["hpc_user"].endswith("h")),
    "user in": (
        {"user": {"in": ["iwi5056h", "mppi067h", "nobody"]}},
        lambda r: r["hpc_user"] in ("iwi5056h", "mppi067h"),
    ),
    "project eq": ({"project": {"eq": "caph"}}, lambda r: r["project"] == "caph"),
    "cluster eq": ({"cluster": {"eq": "alex"}}, lambda r: r["cluster"] == "alex"),
    "subCluster eq": ({"subCluster": {"eq": "a100m80"}}, lambda r: r["subcluster"] == "a100m80"),
    "partition eq": (
        {"partition": {"eq": "preempt"}},
        lambda r: r["cluster_partition"] == "preempt",
    ),
    "jobId eq": ({"jobId": {"eq": "398980"}}, lambda r: r["job_id"] == 398980),
    "jobId in": (
        {"jobId": {"in": ["398980", "679694"]}},
        lambda r: r["job_id"] in (398980, 679694),
    ),
    "jobId contains": ({"jobId": {"contains": "989"}}, lambda r: "989" in str(r["job_id"])),
    "jobId startsWith": (
        {"jobId": {"startsWith": "67"}},
        lambda r: str(r["job_id"]).startswith("67"),
    ),
    "arrayJobId": ({"arrayJobId": 0}, lambda r: r["array_job_id"] == 0),
    "jobName eq": (
        {"jobName": {"eq": "interactive"}},
        lambda r: r["meta_data"]["jobName"] == "interactive",
    ),
    "jobName contains": (
        {"jobName": {"contains": "gan"}},
        lambda r: "gan" in r["meta_data"]["jobName"],
    ),
    "duration range": (
        {"duration": {"from": 3600, "to": 86400}},
        lambda r: 3600 <= r["duration"] <= 86400,
    ),
    "duration open top": ({"duration": {"from": 86400, "to": 0}}, lambda r: r["duration"] >= 86400),
    "energy range": ({"energy": {"from": 10.5, "to": 200.0}}, lambda r: 10.5 <= r["energy"] <= 200),
    "numNodes": ({"numNodes": {"from": 2, "to": 3}}, lambda r: 2 <= r["num_nodes"] <= 3),
    "numHWThreads": (
        {"numHWThreads": {"from": 32, "to": 72}},
        lambda r: 32 <= (r["num_hwthreads"] or 0) <= 72,
    ),
    "numAccelerators": (
        {"numAccelerators": {"from": 4, "to": 8}},
        lambda r: 4 <= (r["num_acc"] or 0) <= 8,
    ),
    "numAccelerators exactly none": (
        {"numAccelerators": {"from": 0, "to": 0}},
        lambda r: (r["num_acc"] or 0) == 0,
    ),
    "startTime from/to": (
        {"startTime": {"from": "2023-02-08T00:00:00Z", "to": "2023-02-08T12:00:00Z"}},
        lambda r: ts("2023-02-08T00:00:00") <= r["start_time"] <= ts("2023-02-08T12:00:00"),
    ),
    "startTime from only": (
        {"startTime": {"from": "2023-02-09T00:00:00Z"}},
        lambda r: r["start_time"] >= ts("2023-02-09T00:00:00"),
    ),
    "startTime last6h": (
        {"startTime": {"range": "last6h"}},
        lambda r: r["start_time"] >= NOW - 6 * 3600,
    ),
    "startTime last24h": (
        {"startTime": {"range": "last24h"}},
        lambda r: r["start_time"] >= NOW - 24 * 3600,
    ),
    "startTime last7d": ({"startTime": {"range": "last7d"}}, lambda r: True),
    "minRunningFor": (
        {"minRunningFor": 12 * 3600},
        lambda r: r["start_time"] < NOW - 12 * 3600,
    ),
    "state completed": ({"state": ["completed"]}, lambda r: r["job_state"] == "completed"),
    "state as GraphQL enum": ({"state": ["RUNNING", "FAILED"]}, lambda r: False),
    "shared": ({"shared": "multi_user"}, lambda r: r["shared"] == "multi_user"),
    "metricStats": (
        {"metricStats": [{"metricName": "flops_any_avg", "range": {"from": 100, "to": 1000}}]},
        lambda r: 100 <= (footprint(r, "flops_any_avg") or -1) <= 1000,
    ),
    "metricStats two metrics": (
        {
            "metricStats": [
                {"metricName": "cpu_load_avg", "range": {"from": 10, "to": 80}},
                {"metricName": "mem_used_avg", "range": {"from": 20, "to": 0}},
            ]
        },
        lambda r: (
            10 <= (footprint(r, "cpu_load_avg") or -1) <= 80
            and (footprint(r, "mem_used_avg") or -1) >= 20
        ),
    ),
    "node eq": ({"node": {"eq": "a0128"}}, lambda r: "a0128" in hosts(r)),
    "node startsWith": (
        {"node": {"startsWith": "f07"}},
        lambda r: any(h.startswith("f07") for h in hosts(r)),
    ),
    "node contains": ({"node": {"contains": "012"}}, lambda r: any("012" in h for h in hosts(r))),
    "tags": ({"tags": ["1"]}, lambda r: 1 in r["tag_ids"]),
    "dbId": ({"dbId": ["1", "2", "3", "525"]}, lambda r: r["id"] in (1, 2, 3, 525)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_filter_selects_exactly_the_matching_jobs(
    jobs: JobRepository, rows: list[Row], name: str
) -> None:
    graphql_filter, predicate = CASES[name]
    expected = sorted(r["id"] for r in rows if predicate(r))

    page = jobs.query(
        [JobFilter.model_validate(graphql_filter)], actor=ADMIN, now=NOW, with_count=True
    )

    assert sorted(j.id for j in page.items if j.id is not None) == expected
    assert page.count == len(expected)


def test_filters_in_a_list_are_combined_with_and(jobs: JobRepository, rows: list[Row]) -> None:
    filters = [
        JobFilter.model_validate({"cluster": {"eq": "alex"}}),
        JobFilter.model_validate({"numAccelerators": {"from": 8, "to": 8}, "shared": "none"}),
    ]
    expected = {
        r["id"]
        for r in rows
        if r["cluster"] == "alex" and r["num_acc"] == 8 and r["shared"] == "none"
    }
    assert {j.id for j in jobs.query(filters, actor=ADMIN).items} == expected
    assert expected, "the case should select something"


def test_like_operators_match_wildcard_characters_literally(jobs: JobRepository) -> None:
    page = jobs.query([JobFilter.model_validate({"user": {"contains": "%"}})], actor=ADMIN)
    assert page.items == []


def test_default_order_is_newest_start_first(jobs: JobRepository) -> None:
    starts = [j.start_time for j in jobs.query(actor=ADMIN).items]
    assert starts == sorted(starts, reverse=True)


@pytest.mark.parametrize(
    ("field", "key"),
    [("duration", "duration"), ("numHWThreads", "num_hwthreads"), ("start_time", "start_time")],
)
def test_sorting_by_a_column(jobs: JobRepository, rows: list[Row], field: str, key: str) -> None:
    order = OrderBy(field=field, type="col", order="ASC")
    got = [j.id for j in jobs.query(actor=ADMIN, order=order).items]
    expected = [r["id"] for r in sorted(rows, key=lambda r: ((r[key] or 0), r["id"]))]
    assert got == expected


def test_sorting_by_a_footprint_value_puts_missing_values_last(
    jobs: JobRepository, rows: list[Row]
) -> None:
    order = OrderBy(field="flops_any_avg", type="foot", order="DESC")
    got = [j.id for j in jobs.query(actor=ADMIN, order=order).items]
    with_value = [r for r in rows if footprint(r, "flops_any_avg") is not None]
    without = [r for r in rows if footprint(r, "flops_any_avg") is None]
    expected = [
        r["id"]
        for r in sorted(with_value, key=lambda r: (-footprint(r, "flops_any_avg"), -r["id"]))
    ]  # type: ignore[operator]
    expected += [r["id"] for r in sorted(without, key=lambda r: -r["id"])]
    assert got == expected


def test_unknown_sort_column_is_rejected(jobs: JobRepository) -> None:
    with pytest.raises(InvalidInput, match="unknown column"):
        jobs.query(actor=ADMIN, order=OrderBy(field="password", type="col"))


def test_unsafe_footprint_names_never_reach_sql() -> None:
    with pytest.raises(ValueError, match="invalid sort field"):
        OrderBy(field="x') OR 1=1 --", type="foot")
    with pytest.raises(ValueError, match="invalid metric name"):
        JobFilter.model_validate(
            {"metricStats": [{"metricName": "a.b", "range": {"from": 1, "to": 2}}]}
        )


def test_pages_partition_the_ordered_result(jobs: JobRepository) -> None:
    everything = [j.id for j in jobs.query(actor=ADMIN).items]
    seen: list[int | None] = []
    page_number = 1
    while True:
        page = jobs.query(
            actor=ADMIN, page=PageRequest(itemsPerPage=50, page=page_number), with_count=True
        )
        assert page.count == 544
        seen += [j.id for j in page.items]
        if not page.has_next_page:
            break
        page_number += 1
    assert seen == everything
    assert page_number == 11


def test_items_per_page_minus_one_returns_everything(jobs: JobRepository) -> None:
    page = jobs.query(actor=ADMIN, page=PageRequest(itemsPerPage=-1, page=1))
    assert len(page.items) == 544
    assert not page.has_next_page


def test_a_new_job_gets_the_next_id_after_the_existing_ones(
    jobs: JobRepository, rows: list[Row], make_job: Callable[..., Job]
) -> None:
    assert jobs.add(make_job()) == max(r["id"] for r in rows) + 1


def test_empty_range_is_an_input_error(jobs: JobRepository) -> None:
    with pytest.raises(InvalidInput, match="empty"):
        jobs.query([JobFilter.model_validate({"numNodes": {"from": 5, "to": 2}})], actor=ADMIN)


def test_non_numeric_job_id_is_an_input_error(jobs: JobRepository) -> None:
    with pytest.raises(InvalidInput, match="not a job id"):
        jobs.query([JobFilter.model_validate({"jobId": {"eq": "12a"}})], actor=ADMIN)


def test_unknown_named_time_range_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown named time range"):
        JobFilter.model_validate({"startTime": {"range": "last2y"}})


#: Cases that legitimately select all or none of the reference jobs.
TRIVIAL_CASES = {
    "no filter": 544,
    "arrayJobId": 544,
    "startTime last7d": 544,
    "state completed": 544,
    "state as GraphQL enum": 0,
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_case_discriminates(rows: list[Row], name: str) -> None:
    """Guards the table above: a case matching all or nothing would prove little."""
    _, predicate = CASES[name]
    selected = sum(1 for r in rows if predicate(r))
    if name in TRIVIAL_CASES:
        assert selected == TRIVIAL_CASES[name]
    else:
        assert 0 < selected < len(rows)
