"""The job list's store against a real site: archived demo jobs with metric data, running
jobs of alice and bob, a tag, and a manager of one demo project.

The site lists every job unless a test gives it a short-running-jobs duration: one of
alice's jobs started a minute ago.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import numpy as np
import pytest

from app.filters import JobQuery, ListOptions, SortKey, Span, parse_job_query
from app.stores.jobs import (
    HIDE_SHORT_KEY,
    METRICS_KEY,
    JobListStore,
    Sparkline,
    coarse_resolution,
    sparkline_of,
)
from app.views.job_list_export import BASE_COLUMNS, export_csv
from cc_backend.client import HttpClient, JobList, LocalClient
from cc_backend.demo import generate_demo_archive
from cc_backend.domain.job import Job, JobState
from cc_backend.domain.jobdata import JobMetric
from cc_backend.domain.tag import Tag
from cc_backend.domain.user import User
from cc_backend.server import Backends
from cc_backend.services.importer import import_archive

DEMO_JOBS = 8
#: The demo project whose manager is "manny" (three of the eight demo jobs).
MANAGED_PROJECT = "a189cz"


@dataclass(frozen=True)
class Seeded:
    """The seeded site and the database ids of the jobs the tests look at."""

    backends: Backends
    alice_running: int
    alice_short: int
    bob_running: int
    tag_id: int

    def store(self, username: str, url_query: str = "", **params: object) -> JobListStore:
        client = LocalClient(self.backends, self.backends.users.get(username))
        query = parse_job_query(parse_qs(url_query)).query
        return JobListStore(client, query=query, **params)


#: The site config of the tests that hide recent jobs: cc-backend's default duration.
HIDING_SITE = {"main": {"short-running-jobs-duration": 300}}


@pytest.fixture
def site_config() -> dict[str, dict[str, Any]]:
    return {"main": {"short-running-jobs-duration": 0}}


@pytest.fixture
def seeded(backends: Backends, make_job: Callable[..., Job]) -> Seeded:
    generate_demo_archive(backends.archive, jobs=DEMO_JOBS, seed=11, with_data=True)
    report = import_archive(backends.archive, backends.jobs, backends.tags, workers=1)
    assert report.ok, report
    backends.clusters.refresh()
    now = int(time.time())
    alice = backends.jobs.add(make_job(user="alice", startTime=now - 3600))
    short = backends.jobs.add(make_job(user="alice", startTime=now - 60))
    bob = backends.jobs.add(make_job(user="bob", project="project-b", startTime=now - 7200))
    root = backends.users.get("root")
    tag = backends.tags.create(Tag(type="app", name="python", scope="global"), root)
    assert tag.id is not None
    backends.tags.attach(alice, tag.id, root)
    backends.users.add(User.build("manny", ["manager"], projects=[MANAGED_PROJECT]))
    return Seeded(backends, alice, short, bob, tag.id)


ALL_JOBS = DEMO_JOBS + 3


# -- who sees what ----------------------------------------------------------------------


async def test_a_user_sees_only_their_own_jobs(seeded: Seeded) -> None:
    alice, bob = seeded.store("alice"), seeded.store("bob")
    await alice.load()
    await bob.load()

    assert {j.user for j in alice.jobs} == {"alice"}
    assert alice.count == 2
    assert [j.id for j in bob.jobs] == [seeded.bob_running]


async def test_a_users_filter_cannot_widen_what_they_see(seeded: Seeded) -> None:
    snooping = seeded.store("bob", "user=alice")
    await snooping.load()

    assert snooping.jobs == []
    assert snooping.count == 0
    assert snooping.error == ""


async def test_a_manager_sees_their_projects_and_staff_see_all(seeded: Seeded) -> None:
    manny, root = seeded.store("manny"), seeded.store("root")
    await manny.load()
    await root.load()

    assert manny.count == 3
    assert {j.project for j in manny.jobs} == {MANAGED_PROJECT}
    assert root.count == ALL_JOBS


# -- filters, sorting, paging -----------------------------------------------------------


async def test_the_url_filters_select_jobs_and_the_count_covers_all_pages(seeded: Seeded) -> None:
    store = seeded.store("root", "cluster=fritz&state=completed")
    await store.load()

    assert store.count == 3
    assert all(j.cluster == "fritz" and j.job_state is JobState.COMPLETED for j in store.jobs)

    await store.update(query=store.query.replace(cluster="alex"))

    assert store.count == 5
    assert {j.cluster for j in store.jobs} == {"alex"}


class CountingClient(LocalClient):
    """The in-process client, counting the job lists it is asked for."""

    asked = 0

    async def jobs(self, *args: Any, **kwargs: Any) -> JobList:
        self.asked += 1
        return await super().jobs(*args, **kwargs)


async def test_an_update_that_changes_nothing_asks_nothing(seeded: Seeded) -> None:
    client = CountingClient(seeded.backends, seeded.backends.users.get("root"))
    store = JobListStore(client, query=JobQuery(cluster="fritz"))
    await store.load()
    assert client.asked == 1

    await store.update(query=JobQuery(cluster="fritz"), options=ListOptions())
    assert client.asked == 1
    await store.update(query=JobQuery(cluster="alex"))
    assert client.asked == 2


async def test_pages_follow_each_other_and_a_new_filter_starts_at_page_one(seeded: Seeded) -> None:
    store = seeded.store("root", options=ListOptions(items_per_page=10))
    await store.load()
    first = [j.id for j in store.jobs]
    assert len(first) == 10
    assert store.has_next_page

    await store.go_to_page(2)

    assert store.options.page == 2
    assert len(store.jobs) == ALL_JOBS - 10
    assert not store.has_next_page
    assert not set(first) & {j.id for j in store.jobs}

    await store.update(query=JobQuery(cluster="fritz"))
    assert store.options.page == 1


async def test_sorting_by_a_column_and_by_a_footprint_value(seeded: Seeded) -> None:
    store = seeded.store("root", "state=completed")
    await store.load()
    newest_first = [j.start_time for j in store.jobs]
    assert newest_first == sorted(newest_first, reverse=True)

    await store.update(options=ListOptions(SortKey("duration", descending=False)))
    durations = [j.duration for j in store.jobs]
    assert durations == sorted(durations)

    await store.update(options=ListOptions(SortKey("flops_any_avg", footprint=True)))
    flops = [(j.footprint or {})["flops_any_avg"] for j in store.jobs]
    assert flops == sorted(flops, reverse=True)


async def test_short_running_jobs_are_hidden_on_request(seeded: Seeded) -> None:
    store = seeded.store("alice")
    await store.load()
    assert not store.hiding_short
    assert {j.id for j in store.jobs} == {seeded.alice_running, seeded.alice_short}

    await store.update(options=ListOptions(hide_short=True))

    assert store.hiding_short
    assert [j.id for j in store.jobs] == [seeded.alice_running]


@pytest.mark.parametrize("site_config", [HIDING_SITE])
async def test_the_sites_short_running_duration_hides_recent_jobs_unless_asked(
    seeded: Seeded,
) -> None:
    store = seeded.store("alice")
    await store.load()

    assert store.hiding_short
    assert store.short_seconds == 300
    assert [j.id for j in store.jobs] == [seeded.alice_running]
    assert store.count == 1

    await store.update(options=ListOptions(hide_short=False))

    assert {j.id for j in store.jobs} == {seeded.alice_running, seeded.alice_short}


@pytest.mark.parametrize("site_config", [HIDING_SITE])
@pytest.mark.parametrize(("setting", "listed"), [(0, 2), (30, 2), (1800, 1)])
async def test_a_users_own_short_job_setting_takes_the_sites_place(
    seeded: Seeded, setting: int, listed: int
) -> None:
    seeded.backends.user_config.set("alice", HIDE_SHORT_KEY, setting)
    store = seeded.store("alice")
    await store.load()

    assert store.hiding_short is (setting > 0)
    assert len(store.jobs) == listed


async def test_the_users_short_job_setting_hides_them_by_default(seeded: Seeded) -> None:
    alice = seeded.backends.users.get("alice")
    seeded.backends.user_config.set(alice.username, HIDE_SHORT_KEY, 1800)
    store = seeded.store("alice")
    await store.load()

    assert store.hiding_short
    assert store.short_seconds == 1800
    assert [j.id for j in store.jobs] == [seeded.alice_running]

    await store.update(options=ListOptions(hide_short=False))
    assert store.count == 2


async def test_an_unknown_sort_column_is_an_error_not_an_exception(seeded: Seeded) -> None:
    store = seeded.store("root", options=ListOptions(SortKey("colour")))
    await store.load()

    assert "unknown column 'colour'" in store.error
    assert store.jobs == []
    assert store.loaded


async def test_a_site_that_cannot_be_reached_is_an_error() -> None:
    store = JobListStore(HttpClient("http://127.0.0.1:1", "token"))
    await store.load()

    assert "cannot reach" in store.error
    assert store.jobs == []
    assert store.loaded


# -- plotted metrics --------------------------------------------------------------------


async def test_plotted_metrics_default_to_the_clusters_footprint_metrics(seeded: Seeded) -> None:
    store = seeded.store("alice", "cluster=fritz")
    await store.load()

    assert store.metrics_key == f"{METRICS_KEY}:fritz"
    assert store.metrics == ["cpu_load", "mem_used", "flops_any"]
    assert "nfs4_read" in store.available_metrics()
    assert "acc_utilization" not in store.available_metrics()  # an alex metric


async def test_the_metric_choice_is_saved_per_cluster(seeded: Seeded) -> None:
    store = seeded.store("alice", "cluster=fritz")
    await store.load()

    await store.set_metrics(["mem_bw", "not_a_metric", "clock"])

    assert store.metrics == ["mem_bw", "clock"]
    saved = seeded.backends.user_config.get_all("alice")
    assert saved[f"{METRICS_KEY}:fritz"] == ["mem_bw", "clock"]
    again = seeded.store("alice", "cluster=fritz")
    await again.load()
    assert again.metrics == ["mem_bw", "clock"]
    elsewhere = seeded.store("alice", "cluster=alex")
    await elsewhere.load()
    assert elsewhere.metrics == ["cpu_load", "mem_used", "flops_any"]

    await elsewhere.update(query=JobQuery(cluster="fritz"))  # the filter moves to fritz
    assert elsewhere.metrics == ["mem_bw", "clock"]


async def test_sparklines_load_for_the_visible_page(seeded: Seeded) -> None:
    store = seeded.store("root", "cluster=fritz&state=completed", metrics=["cpu_load", "mem_bw"])
    await store.load()
    assert store.sparklines == {}  # a step of its own

    await store.load_sparklines()

    assert set(store.sparklines) == {j.id for j in store.jobs}
    for lines in store.sparklines.values():
        for metric in ("cpu_load", "mem_bw"):
            line = lines[metric]
            assert isinstance(line, Sparkline), line
            assert 2 <= len(line.mean) <= 90
            assert line.seconds_per_point >= 60
    assert lines["mem_bw"].unit == "GB/s"


async def test_a_job_without_data_gets_a_reason_instead_of_a_sparkline(seeded: Seeded) -> None:
    store = seeded.store("alice", metrics=["cpu_load"])
    await store.load()
    await store.load_sparklines()

    assert set(store.sparklines) == {seeded.alice_running, seeded.alice_short}
    for lines in store.sparklines.values():
        assert isinstance(lines["cpu_load"], str)
        assert lines["cpu_load"].startswith("no data")
    assert store.error == ""


def test_a_sparkline_of_many_nodes_has_the_mean_and_a_band() -> None:
    samples = [np.array([1.0, 2.0, math.nan, 4.0]), np.array([3.0, 2.0, math.nan, 8.0])]
    metric = JobMetric.model_validate(
        {
            "unit": {"base": "W"},
            "timestep": 60,
            "series": [{"hostname": f"n{i}", "data": list(s)} for i, s in enumerate(samples)],
        }
    )
    line = sparkline_of(metric)

    assert line is not None
    assert line.mean[:2] == (2.0, 2.0)
    assert math.isnan(line.mean[2])
    assert line.low is not None
    assert line.high is not None
    assert (line.low[:2], line.low[3]) == ((1.0, 2.0), 4.0)
    assert (line.high[:2], line.high[3]) == ((3.0, 2.0), 8.0)
    assert math.isnan(line.low[2])  # every node has a gap there
    assert line.unit == "W"


def _metric(series: list[list[float]], stats: dict[str, list[float]] | None = None) -> JobMetric:
    document: dict[str, object] = {
        "unit": {"base": "B/s", "prefix": "G"},
        "timestep": 60,
        "series": [{"hostname": f"n{i}", "data": data} for i, data in enumerate(series)],
    }
    if stats is not None:
        document["statisticsSeries"] = stats
    return JobMetric.model_validate(document)


def test_a_sparkline_uses_the_statistics_series_and_keeps_few_points() -> None:
    values = [float(v) for v in range(1000)]
    stats = {"mean": values, "min": [v - 1 for v in values], "max": [v + 1 for v in values]}
    line = sparkline_of(_metric([[0.0]] * 3, stats), points=100)

    assert line is not None
    assert len(line.mean) == len(line.low or ()) == 100
    assert line.mean[0] == pytest.approx(4.5)  # the mean of the first ten points
    assert line.high is not None
    assert line.high[0] == pytest.approx(5.5)
    assert line.seconds_per_point == 600
    assert line.unit == "GB/s"


def test_no_series_no_sparkline() -> None:
    assert sparkline_of(_metric([])) is None


def test_the_sparkline_resolution_is_coarse_whole_minutes(make_job: Callable[..., Job]) -> None:
    assert coarse_resolution(make_job(jobState="completed", duration=600)) == 60
    assert coarse_resolution(make_job(jobState="completed", duration=86_400)) == 960
    running = make_job(startTime=1_000_000)
    assert coarse_resolution(running, now=1_000_000 + 2 * 86_400) == 1920


# -- export -----------------------------------------------------------------------------


async def test_the_export_holds_every_page_of_the_filtered_list(seeded: Seeded) -> None:
    store = seeded.store("root", "cluster=alex", options=ListOptions(items_per_page=10))
    await store.load()

    content, written = await export_csv(store)

    rows = list(csv.reader(io.StringIO(content.decode())))
    header = rows[0]
    assert header[: len(BASE_COLUMNS)] == list(BASE_COLUMNS)
    assert "footprint:acc_utilization_avg" in header
    assert written == len(rows) - 1 == 5
    column = header.index("cluster")
    assert {r[column] for r in rows[1:]} == {"alex"}


async def test_the_export_walks_the_pages_and_stops_at_its_limit(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.stores.jobs.EXPORT_PAGE", 4)
    store = seeded.store("root")
    await store.load()

    content, written = await export_csv(store)
    assert written == ALL_JOBS
    ids = [r[0] for r in csv.reader(io.StringIO(content.decode()))][1:]
    assert len(set(ids)) == ALL_JOBS  # no job twice across pages

    _content, capped = await export_csv(store, limit=6)
    assert capped == 6


async def test_the_export_of_a_user_holds_only_their_jobs(seeded: Seeded) -> None:
    store = seeded.store("bob")
    await store.load()

    content, written = await export_csv(store)

    assert written == 1
    assert ",bob," in content.decode()


async def test_text_a_spreadsheet_would_run_is_quoted(
    backends: Backends, make_job: Callable[..., Job]
) -> None:
    backends.jobs.add(make_job(metaData={"jobName": "=HYPERLINK(1)"}))
    store = JobListStore(LocalClient(backends, backends.users.get("root")))
    await store.load()

    content, _ = await export_csv(store)

    assert "'=HYPERLINK(1)" in content.decode()


async def test_query_ranges_apply_to_the_store(seeded: Seeded) -> None:
    store = seeded.store("root", "numAccelerators=morethan-4")
    await store.load()

    assert store.query.num_accelerators == Span(4, 0)
    assert store.count == 2
    assert all(j.num_acc >= 4 for j in store.jobs)
