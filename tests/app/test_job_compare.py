"""The job comparison's store and its place in the job list page, against a real site:
archived demo jobs with metric data and a built statistics index, a running job of
alice's and a finished one of bob's.

Shared by the view tests (``test_job_compare_views.py``): :func:`seed_site` and
:class:`Recording`, a real client that notes which questions it is asked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from app.context import PageContext
from app.filters import JobQuery
from app.pages.jobs import compare_when_shown, job_list_store, jobs_page, location_search
from app.stores import job_compare
from app.stores.job_compare import (
    COMPARE_LIMIT,
    ComparedJob,
    JobCompareStore,
    compare_requested,
    join_jobs,
)
from cc_backend.client import LocalClient
from cc_backend.demo import generate_demo_archive
from cc_backend.domain.filters import JobFilter, StringInput
from cc_backend.domain.job import Job, JobState
from cc_backend.server import Backends
from cc_backend.services.importer import import_archive

DEMO_JOBS = 8
METRICS = ["flops_any", "mem_bw"]


@dataclass
class Recording:
    """A real client that records the name of every method the store calls."""

    client: LocalClient
    asked: list[str] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.asked.append(name)
            return await method(*args, **kwargs)

        return call


@dataclass(frozen=True)
class Compared:
    """The seeded site and the jobs the tests look at."""

    backends: Backends
    alice_running: int
    bob_finished: int

    def client(self, username: str = "root") -> Recording:
        return Recording(LocalClient(self.backends, self.backends.users.get(username)))

    def store(self, username: str = "root", **params: Any) -> JobCompareStore:
        return JobCompareStore(self.client(username), **params)

    def archived(self) -> list[int]:
        """The demo jobs' ids (archived, with statistics), oldest first."""
        found = self.backends.job_statistics.job_metric_stats(actor=None, metrics=METRICS)
        return [j.id for j in found if j.stats]


def seed_site(backends: Backends, make_job: Callable[..., Job]) -> Compared:
    """Seed the site (see the module docstring)."""
    generate_demo_archive(backends.archive, jobs=DEMO_JOBS, seed=11, with_data=True)
    report = import_archive(backends.archive, backends.jobs, backends.tags, workers=1)
    assert report.ok, report
    backends.clusters.refresh()
    index = backends.statistics_index.index()
    assert index is not None
    index.build(backends.archive.iter_jobs())
    now = int(time.time())
    alice = backends.jobs.add(make_job(user="alice", startTime=now - 3600))
    bob = backends.jobs.add(
        make_job(user="bob", startTime=now - 7200, jobState="completed", duration=600)
    )
    return Compared(backends, alice, bob)


@pytest.fixture
def compared(backends: Backends, make_job: Callable[..., Job]) -> Compared:
    return seed_site(backends, make_job)


async def until(condition: Callable[[], bool], attempts: int = 500) -> None:
    """Let the event loop run the watchers' work until ``condition`` holds."""
    for _ in range(attempts):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


def _values(job: ComparedJob) -> dict[str, tuple[float, float, float]]:
    return {s.name: (s.data.min, s.data.avg, s.data.max) for s in job.stats.stats}


# -- the store ----------------------------------------------------------------------------


async def test_all_matching_jobs_are_compared_with_two_requests(compared: Compared) -> None:
    clusters = await compared.client().clusters()
    store = compared.store(metrics=METRICS, clusters={c.name: c for c in clusters})

    await store.load()

    assert store.client.asked == ["jobs", "job_metric_stats"]  # never a request per job
    assert store.error == ""
    assert store.count == DEMO_JOBS + 2
    assert len(store.jobs) == DEMO_JOBS + 2
    starts = [j.stats.start_time for j in store.jobs]
    assert starts == sorted(starts)  # oldest first
    expected = compared.backends.job_metric_stats.job_metric_stats(actor=None, metrics=METRICS)
    assert [(j.id, _values(j)) for j in store.jobs] == [
        (e.id, {s.name: (s.data.min, s.data.avg, s.data.max) for s in e.stats}) for e in expected
    ]
    by_id = {j.id: j for j in store.jobs}
    alice = by_id[compared.alice_running]
    assert (alice.user, alice.project, alice.state) == ("alice", "project-a", JobState.RUNNING)
    assert alice.stats.stats == ()  # running, no samples in the metric store: none
    assert all(j.user and j.project for j in store.jobs)
    assert store.unit_of("mem_bw") == "GB/s"
    assert store.unit_of("nonexistent") == ""


async def test_ticked_jobs_are_compared_through_their_database_ids(compared: Compared) -> None:
    chosen = compared.archived()[:3]
    store = compared.store(filters=[JobFilter(db_id=chosen)], metrics=["mem_bw"])

    await store.load()

    assert [j.id for j in store.jobs] == chosen
    assert all(set(_values(j)) == {"mem_bw"} for j in store.jobs)
    first = store.jobs[0].metric("mem_bw")
    assert first is not None
    assert first.min <= first.avg <= first.max
    assert store.jobs[0].metric("flops_any") is None


async def test_filters_that_match_too_many_jobs_are_refused_without_statistics(
    compared: Compared, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(job_compare, "COMPARE_LIMIT", 5)
    store = compared.store(metrics=METRICS)

    await store.load()

    assert store.too_many
    assert store.count == DEMO_JOBS + 2
    assert store.jobs == []
    assert store.client.asked == ["jobs"]  # no statistics asked for
    assert store.loaded


def test_the_limit_is_cc_backends() -> None:
    assert COMPARE_LIMIT == 500


async def test_a_user_compares_only_their_own_jobs(compared: Compared) -> None:
    everything = [compared.alice_running, compared.bob_finished, *compared.archived()]
    store = compared.store("bob", filters=[JobFilter(db_id=everything)], metrics=METRICS)

    await store.load()

    assert [j.id for j in store.jobs] == [compared.bob_finished]
    assert store.count == 1


async def test_a_refused_question_is_the_stores_error(compared: Compared) -> None:
    store = compared.store(metrics=["flops_any; drop table job"])

    await store.load()

    assert "invalid metric name" in store.error
    assert store.jobs == []
    assert store.loaded


async def test_an_unchanged_update_asks_nothing_again(compared: Compared) -> None:
    store = compared.store()
    fritz = [JobFilter(cluster=StringInput(eq="fritz"))]

    await store.update(fritz, METRICS)
    await store.update(fritz, METRICS)
    assert store.client.asked == ["jobs", "job_metric_stats"]
    assert {j.stats.cluster for j in store.jobs} == {"fritz"}

    await store.update(metrics=["mem_bw"])
    assert store.client.asked[2:] == ["job_metric_stats"]  # the same jobs: listed already
    assert all(set(_values(j)) <= {"mem_bw"} for j in store.jobs)


def test_statistics_are_joined_with_their_jobs_and_kept_without_one(
    compared: Compared,
) -> None:
    stats = compared.backends.job_statistics.job_metric_stats(actor=None, metrics=METRICS)
    listed = compared.backends.jobs.query([], actor=None).items

    joined = join_jobs(stats, [j for j in listed if j.id != compared.bob_finished])

    assert [j.id for j in joined] == [s.id for s in stats]
    bob = next(j for j in joined if j.id == compared.bob_finished)
    assert (bob.user, bob.state) == ("", None)  # no job: kept, without its facts


# -- the page -------------------------------------------------------------------------------


def _context(compared: Compared, username: str, query: dict[str, list[str]]) -> PageContext:
    user = compared.backends.users.get(username)
    client = LocalClient(compared.backends, user)
    return PageContext(user, client, "/monitoring/jobs/", {}, query)


def test_the_comparison_is_a_view_of_the_job_list_in_its_url(compared: Compared) -> None:
    query = {"dbId": ["3", "5"], "cluster": ["alex"], "view": ["compare"]}
    store, problems = job_list_store(_context(compared, "root", query))

    assert problems == ()
    assert store.compare
    assert store.selected == [3, 5]  # a link's jobs count as ticked
    assert store.query == JobQuery(db_ids=(3, 5), cluster="alex")
    assert location_search(store) == "?dbId=3&dbId=5&cluster=alex&view=compare"
    store.compare = False
    assert location_search(store) == "?dbId=3&dbId=5&cluster=alex"
    assert compare_requested({"view": ["compare"]})
    assert not compare_requested({"view": ["list"]})
    assert not compare_requested({})


async def test_the_comparison_follows_the_lists_filters_and_metrics(compared: Compared) -> None:
    store, _ = job_list_store(_context(compared, "root", {"view": ["compare"]}))
    comparison = JobCompareStore(Recording(LocalClient(compared.backends, store.client.user)))
    compare_when_shown(store, comparison)

    await store.load()
    await until(lambda: comparison.loaded and not comparison.loading)

    assert store.metrics
    assert comparison.metrics == store.metrics
    assert len(comparison.jobs) == DEMO_JOBS + 2
    assert set(comparison.clusters) == {"alex", "fritz"}

    await store.update(query=store.query.replace(cluster="alex"))
    await until(lambda: {j.stats.cluster for j in comparison.jobs} == {"alex"})
    assert not comparison.loading

    store.compare = False  # back to the list: nothing more is asked
    asked = len(comparison.client.asked)
    await store.update(query=store.query.replace(cluster="fritz"))
    await asyncio.sleep(0.05)
    assert len(comparison.client.asked) == asked


async def test_comparing_ticked_jobs_filters_the_list_by_them(compared: Compared) -> None:
    store, _ = job_list_store(_context(compared, "root", {}))
    await store.load()
    chosen = compared.archived()[:2]

    store.select([j.id for j in store.jobs if j.id is not None], chosen)
    assert store.may_compare
    await store.compare_jobs()

    assert store.compare
    assert store.query.db_ids == tuple(sorted(chosen, key=[j.id for j in store.jobs].index))
    assert store.count == 2
    assert location_search(store).endswith("&view=compare")

    store.compare = False
    await store.clear_selection()
    assert store.selected == []
    assert store.query.db_ids == ()
    assert store.count == DEMO_JOBS + 2


async def test_a_selection_spans_pages(compared: Compared, make_job: Callable[..., Job]) -> None:
    for _ in range(3):
        compared.backends.jobs.add(make_job(jobState="completed", duration=600))
    store, _ = job_list_store(_context(compared, "root", {"itemsPerPage": ["10"]}))
    await store.load()
    first_page = [j.id for j in store.jobs if j.id is not None]
    store.select(first_page, first_page[:2])

    await store.go_to_page(2)
    second_page = [j.id for j in store.jobs if j.id is not None]
    store.select(second_page, second_page[:1])
    store.select(second_page, second_page[:1])  # the same again changes nothing

    assert store.selected == [*first_page[:2], second_page[0]]
    store.select(first_page, [])
    assert store.selected == [second_page[0]]


def test_the_page_holds_the_comparison_hidden_until_asked_for(compared: Compared) -> None:
    page = jobs_page(_context(compared, "root", {}))
    names = {getattr(obj, "name", "") for obj in page.select() if obj is not page}
    assert {"compare-buttons", "job-comparison"} <= names
    comparison = next(o for o in page.select() if getattr(o, "name", "") == "job-comparison")
    assert not _shown(page, comparison)

    page = jobs_page(_context(compared, "root", {"view": ["compare"]}))
    comparison = next(o for o in page.select() if getattr(o, "name", "") == "job-comparison")
    assert _shown(page, comparison)


def _shown(page: Any, target: Any) -> bool:
    """Whether ``target`` and every layout around it inside ``page`` are visible."""

    def path(layout: Any) -> list[Any] | None:
        if layout is target:
            return [layout]
        for child in getattr(layout, "objects", []):
            found = path(child)
            if found is not None:
                return [layout, *found]
        return None

    found = path(page)
    assert found is not None
    return all(getattr(obj, "visible", True) for obj in found)
