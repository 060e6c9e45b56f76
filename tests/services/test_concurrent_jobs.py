"""Which jobs count as concurrent to a job: cc-backend's overlap rule with its slack, the
caller's visibility, and the order of the answer. Runs on every database backend."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cc_backend.domain.job import Job
from cc_backend.domain.user import User
from cc_backend.repository.database import Database
from cc_backend.repository.jobs import JobRepository
from cc_backend.services.concurrent_jobs import (
    CONCURRENT_MIN_DURATION,
    JobLinks,
    concurrent_jobs,
    has_concurrent_jobs,
)

ADMIN = User.build("root", ["admin"])
ALICE = User.build("alice", ["user"])
#: The job looked at: shared, on node n1 from START for an hour.
START, HOUR = 1_700_000_000, 3600
STOP = START + HOUR


class Node:
    """Jobs on one node of a fresh database, started relative to ``START``."""

    def __init__(self, db: Database, make_job: Callable[..., Job]) -> None:
        self.jobs = JobRepository(db)
        self.make_job = make_job

    def add(self, began: int, ran: int, *, running: bool = False, **fields: Any) -> int:
        """A job that started ``began`` seconds after ``START`` and ran ``ran`` seconds
        (so far, if ``running``), shared, on n1 unless ``fields`` say otherwise."""
        values: dict[str, Any] = {
            "startTime": START + began,
            "duration": ran,
            "jobState": "running" if running else "completed",
            "resources": [{"hostname": "n1"}],
            "shared": "multi_user",
            **fields,
        }
        return self.jobs.add(self.make_job(**values))

    def links(self, db_id: int, actor: User = ADMIN, now: int = STOP + 600) -> JobLinks | None:
        job = self.jobs.get(db_id, actor=None)
        return concurrent_jobs(self.jobs, job, actor, now=now)

    def ids(self, db_id: int, actor: User = ADMIN, now: int = STOP + 600) -> list[int]:
        """Database ids of the concurrent jobs of a job that can have them."""
        found = self.links(db_id, actor, now)
        assert found is not None
        return [link.id for link in found.items]


@pytest.fixture
def node(empty_db: Database, make_job: Callable[..., Job]) -> Node:
    return Node(empty_db, make_job)


def test_jobs_overlapping_the_run_are_concurrent_and_hand_overs_are_not(node: Node) -> None:
    job = node.add(0, HOUR)
    started_inside = node.add(600, 600)
    ended_inside = node.add(-600, 1200)  # ended 600 s into the run
    spanning = node.add(-60, HOUR + 120)
    running_since_before = node.add(-120, HOUR, running=True)
    node.add(5, 60)  # started within the first 10 s, ended within the first 200 s
    node.add(-600, 700)  # ended 100 s into the run: the previous job handing over
    node.add(HOUR - 100, 600)  # started within the last 200 s
    node.add(600, 600, resources=[{"hostname": "n2"}])  # another node

    found = node.links(job)

    assert found is not None
    expected = [started_inside, ended_inside, spanning]
    assert [link.id for link in found.items] == [*sorted(expected), running_since_before]
    assert all(link.job_id == node.jobs.get(link.id, actor=None).job_id for link in found.items)
    job_ids = "&".join(f"jobId={link.job_id}" for link in found.items)
    assert found.list_query == f"cluster=fritz&{job_ids}"


def test_a_running_job_runs_until_now(node: Node) -> None:
    job = node.add(0, HOUR, running=True)
    later = node.add(HOUR + 300, 600)

    assert node.links(job, now=STOP) == JobLinks([], "cluster=fritz")
    assert node.ids(job, now=STOP + 2 * HOUR) == [later]


def test_the_caller_sees_only_the_concurrent_jobs_they_may_see(node: Node) -> None:
    job = node.add(0, HOUR, user="alice")
    own = node.add(600, 600, user="alice")
    node.add(900, 600, user="bob")

    assert node.ids(job, actor=ALICE) == [own]
    assert len(node.ids(job)) == 2


@pytest.mark.parametrize(
    ("shared", "ran", "expected"),
    [
        ("none", HOUR, False),
        ("multi_user", CONCURRENT_MIN_DURATION, False),
        ("multi_user", CONCURRENT_MIN_DURATION + 1, True),
        ("single_user", HOUR, True),
    ],
)
def test_only_a_shared_job_that_ran_long_enough_has_concurrent_jobs(
    node: Node, shared: str, ran: int, expected: bool
) -> None:
    job = node.add(0, ran, shared=shared)
    node.add(20, 60)

    assert has_concurrent_jobs(node.jobs.get(job, actor=None)) is expected
    assert (node.links(job) is not None) is expected
