"""Writing and reading single jobs; who may see which job."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cc_backend.domain.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied
from cc_backend.domain.filters import JobFilter, OrderBy
from cc_backend.domain.job import OMIT_WHEN_EMPTY, Job, JobState
from cc_backend.domain.user import User
from cc_backend.repository.database import Database
from cc_backend.repository.jobs import JobRepository
from cc_backend.repository.schema import job as job_table

MakeJob = Callable[..., Job]
InsertJob = Callable[..., int]


@pytest.fixture
def jobs(empty_db: Database) -> JobRepository:
    return JobRepository(empty_db)


@pytest.mark.reference
def test_the_reference_start_payload_is_stored_and_read_back(
    jobs: JobRepository, reference_dir: Path
) -> None:
    payload = json.loads((reference_dir / "configs" / "startJobPayload.json").read_text())
    db_id = jobs.add(Job.model_validate(payload))

    stored = jobs.get(db_id).to_json_dict()

    assert stored["id"] == db_id
    # Schema version 10 has no column for the requested memory (cc-backend drops it too).
    del payload["requestedMemory"]
    for key, value in payload.items():
        if key in OMIT_WHEN_EMPTY and not value:
            assert key not in stored, key
        else:
            assert stored[key] == value, key


def test_a_second_start_of_the_same_job_is_a_duplicate(
    jobs: JobRepository, make_job: MakeJob
) -> None:
    job = make_job()
    jobs.add(job)
    with pytest.raises(AlreadyExists, match=f"job {job.job_id} on cluster fritz"):
        jobs.add(job)
    assert jobs.count(actor=None) == 1


def test_the_same_job_id_may_start_again_later(jobs: JobRepository, make_job: MakeJob) -> None:
    first = make_job(jobId=7)
    jobs.add(first)
    jobs.add(make_job(jobId=7, startTime=first.start_time + 3600))
    assert [j.start_time for j in jobs.find(7)] == [first.start_time + 3600, first.start_time]


def test_out_of_memory_uses_the_database_spelling_and_reads_back(
    jobs: JobRepository, empty_db: Database, make_job: MakeJob
) -> None:
    db_id = jobs.add(make_job(jobState="out_of_memory"))
    with empty_db.engine.connect() as conn:
        stored = conn.scalar(sa.select(job_table.c.job_state).where(job_table.c.id == db_id))
    assert stored == "out-of-memory"
    assert jobs.get(db_id).job_state is JobState.OUT_OF_MEMORY
    found = jobs.query([JobFilter(state=[JobState.OUT_OF_MEMORY])], actor=None)
    assert [j.id for j in found.items] == [db_id]


def test_unknown_job_is_not_found(jobs: JobRepository) -> None:
    with pytest.raises(NotFound):
        jobs.get(404)


def test_update_and_delete(jobs: JobRepository, make_job: MakeJob) -> None:
    db_id = jobs.add(make_job())
    jobs.update(db_id, job_state="completed", duration=120)
    assert jobs.get(db_id).duration == 120
    with pytest.raises(InvalidInput, match="unknown job columns"):
        jobs.update(db_id, password="x")
    with pytest.raises(NotFound):
        jobs.update(999, duration=1)
    assert jobs.delete([db_id]) == 1
    assert jobs.count(actor=None) == 0


class TestVisibility:
    """Each role sees exactly the jobs cc-backend lets it see."""

    @pytest.fixture
    def ids(self, jobs: JobRepository, make_job: MakeJob) -> dict[str, int]:
        return {
            "alice-a": jobs.add(make_job(user="alice", project="a")),
            "bob-a": jobs.add(make_job(user="bob", project="a")),
            "bob-b": jobs.add(make_job(user="bob", project="b")),
            "carol-c": jobs.add(make_job(user="carol", project="c")),
        }

    @staticmethod
    def visible(jobs: JobRepository, actor: User) -> set[int]:
        return {j.id for j in jobs.query(actor=actor).items if j.id is not None}

    def test_a_user_sees_only_own_jobs(self, jobs: JobRepository, ids: dict[str, int]) -> None:
        bob = User.build("bob", ["user"])
        assert self.visible(jobs, bob) == {ids["bob-a"], ids["bob-b"]}
        assert jobs.count(actor=bob) == 2

    def test_a_manager_sees_managed_projects_and_own_jobs(
        self, jobs: JobRepository, ids: dict[str, int]
    ) -> None:
        carol = User.build("carol", ["user", "manager"], projects=["a"])
        assert self.visible(jobs, carol) == {ids["alice-a"], ids["bob-a"], ids["carol-c"]}

    def test_a_manager_without_projects_sees_own_jobs(
        self, jobs: JobRepository, ids: dict[str, int]
    ) -> None:
        assert self.visible(jobs, User.build("carol", ["manager"])) == {ids["carol-c"]}

    @pytest.mark.parametrize("roles", [["admin"], ["support"], ["api"], ["user", "support"]])
    def test_admin_support_and_pure_api_clients_see_everything(
        self, jobs: JobRepository, ids: dict[str, int], roles: list[str]
    ) -> None:
        assert self.visible(jobs, User.build("x", roles)) == set(ids.values())

    def test_an_api_client_that_is_also_a_user_sees_own_jobs(
        self, jobs: JobRepository, ids: dict[str, int]
    ) -> None:
        assert self.visible(jobs, User.build("alice", ["api", "user"])) == {ids["alice-a"]}

    def test_an_invisible_job_is_indistinguishable_from_a_missing_one(
        self, jobs: JobRepository, ids: dict[str, int]
    ) -> None:
        with pytest.raises(NotFound):
            jobs.get(ids["alice-a"], actor=User.build("bob", ["user"]))
        assert jobs.find(jobs.get(ids["alice-a"]).job_id, actor=User.build("bob", ["user"])) == []

    def test_filters_cannot_widen_visibility(
        self, jobs: JobRepository, ids: dict[str, int]
    ) -> None:
        bob = User.build("bob", ["user"])
        page = jobs.query([JobFilter.model_validate({"user": {"eq": "alice"}})], actor=bob)
        assert page.items == []

    def test_without_a_job_seeing_role_the_query_is_refused(
        self, jobs: JobRepository, ids: dict[str, int]
    ) -> None:
        with pytest.raises(PermissionDenied):
            jobs.query(actor=User.build("anon", ["anonymous"]))


class TestEveryBackendAnswersAlike:
    """Where SQLite and PostgreSQL differ by default, queries still give the same answer."""

    @staticmethod
    def ordered(jobs: JobRepository, field: str, kind: str, direction: str) -> list[int | None]:
        order = OrderBy(field=field, type=kind, order=direction)
        return [j.id for j in jobs.query(actor=None, order=order).items]

    def test_null_sorts_before_every_value_of_a_nullable_column(
        self, jobs: JobRepository, empty_db: Database, insert_job: InsertJob
    ) -> None:
        two = insert_job(empty_db, num_acc=2)
        none_a = insert_job(empty_db, num_acc=None)
        zero = insert_job(empty_db, num_acc=0)
        none_b = insert_job(empty_db, num_acc=None)
        assert self.ordered(jobs, "numAcc", "col", "ASC") == [none_a, none_b, zero, two]
        assert self.ordered(jobs, "numAcc", "col", "DESC") == [two, zero, none_b, none_a]

    def test_jobs_without_the_footprint_value_come_last_in_both_directions(
        self, jobs: JobRepository, empty_db: Database, insert_job: InsertJob
    ) -> None:
        high = insert_job(empty_db, footprint='{"flops_any_avg": 20.5}')
        missing = insert_job(empty_db, footprint='{"mem_bw_avg": 1}')
        low = insert_job(empty_db, footprint='{"flops_any_avg": 3}')
        empty = insert_job(empty_db, footprint=None)
        # Ties (here: no value) are broken by database id, in the same direction.
        assert self.ordered(jobs, "flops_any_avg", "foot", "ASC") == [low, high, missing, empty]
        assert self.ordered(jobs, "flops_any_avg", "foot", "DESC") == [high, low, empty, missing]

    @pytest.mark.parametrize(
        ("condition", "expected"),
        [
            ({"contains": "LIC"}, {"alice", "ALICE", "Malice"}),
            ({"startsWith": "al"}, {"alice", "ALICE"}),
            ({"endsWith": "Ce"}, {"alice", "ALICE", "Malice"}),
            ({"eq": "alice"}, {"alice"}),
            ({"in": ["ALICE", "bob"]}, {"ALICE"}),
        ],
        ids=["contains", "startsWith", "endsWith", "eq", "in"],
    )
    def test_pattern_filters_ignore_ascii_case_while_eq_and_in_do_not(
        self,
        jobs: JobRepository,
        empty_db: Database,
        insert_job: InsertJob,
        condition: dict[str, Any],
        expected: set[str],
    ) -> None:
        for user in ("alice", "ALICE", "Malice", "carol"):
            insert_job(
                empty_db,
                hpc_user=user,
                meta_data=f'{{"jobName": "run-{user}"}}',
                resources=f'[{{"hostname": "n-{user}"}}]',
            )
        filters = {
            "user": condition,
            "jobName": prefixed(condition, "run-"),
            "node": prefixed(condition, "n-"),
        }
        for field, value in filters.items():
            page = jobs.query([JobFilter.model_validate({field: value})], actor=None)
            assert {j.user for j in page.items} == expected, field


def prefixed(condition: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The same condition for values ``<prefix><user>``."""
    op, value = next(iter(condition.items()))
    if op in ("eq", "startsWith"):
        return {op: f"{prefix}{value}"}
    if op == "in":
        return {op: [f"{prefix}{v}" for v in value]}
    return condition
