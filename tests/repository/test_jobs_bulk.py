"""Bulk writes of the job table: batches, skipping stored jobs, tag links, emptying it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from cc_backend.domain.errors import AlreadyExists
from cc_backend.domain.job import Job
from cc_backend.domain.tag import Tag
from cc_backend.domain.user import User
from cc_backend.repository.database import Database
from cc_backend.repository.jobs import JobRepository
from cc_backend.repository.schema import job as job_table
from cc_backend.repository.schema import jobtag
from cc_backend.repository.tags import TagRepository

MakeJob = Callable[..., Job]
ADMIN = User.build("admin", ["admin"])


@pytest.fixture
def jobs(empty_db: Database) -> JobRepository:
    return JobRepository(empty_db)


def count(db: Database, table: sa.Table = job_table) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_add_many_inserts_all_or_nothing(jobs: JobRepository, make_job: MakeJob) -> None:
    first, second = make_job(), make_job()
    assert jobs.add_many([first, second]) == 2
    with pytest.raises(AlreadyExists):
        jobs.add_many([make_job(), second])
    assert count(jobs.db) == 2
    assert jobs.add_many([]) == 0


def test_add_many_can_skip_stored_jobs(jobs: JobRepository, make_job: MakeJob) -> None:
    stored = make_job()
    jobs.add(stored)
    assert jobs.add_many([stored, make_job(), make_job()], skip_existing=True) == 2
    assert jobs.add_many([stored], skip_existing=True) == 0
    assert count(jobs.db) == 3


def test_insert_many_returns_ids_in_order_and_none_for_skipped(
    jobs: JobRepository, make_job: MakeJob
) -> None:
    stored, new_a, new_b = make_job(), make_job(), make_job()
    stored_id = jobs.add(stored)
    with jobs.db.engine.begin() as conn:
        ids = jobs.insert_many(conn, [new_a, stored, new_b, new_a], skip_existing=True)
    assert ids[1] is None
    assert ids[3] is None  # a repeat within the batch
    assert ids[0] is not None
    assert ids[2] is not None
    assert stored_id not in ids
    assert jobs.get(ids[0]).job_id == new_a.job_id
    assert jobs.get(ids[2]).job_id == new_b.job_id


def test_insert_many_takes_part_in_the_callers_transaction(
    jobs: JobRepository, make_job: MakeJob
) -> None:
    class Abort(Exception):
        pass

    def insert_then_fail() -> None:
        with jobs.db.engine.begin() as conn:
            jobs.insert_many(conn, [make_job(), make_job()], skip_existing=True)
            raise Abort

    with pytest.raises(Abort):
        insert_then_fail()
    assert count(jobs.db) == 0


def test_link_tags_writes_each_pair_once(jobs: JobRepository, make_job: MakeJob) -> None:
    tags = TagRepository(jobs.db)
    tag = tags.create(Tag(type="app", name="python"), ADMIN)
    assert tag.id is not None
    with jobs.db.engine.begin() as conn:
        (db_id,) = jobs.insert_many(conn, [make_job()])
        assert db_id is not None
        assert jobs.link_tags(conn, [(db_id, tag.id), (db_id, tag.id)]) == 1
        assert jobs.link_tags(conn, []) == 0
    assert tags.all_tags_of_job(db_id) == [tag]


def test_delete_all_empties_jobs_and_links_but_keeps_tags(
    jobs: JobRepository, make_job: MakeJob
) -> None:
    tags = TagRepository(jobs.db)
    tag = tags.create(Tag(type="app", name="python"), ADMIN)
    assert tag.id is not None
    db_id = jobs.add(make_job())
    tags.attach(db_id, tag.id, ADMIN)
    jobs.add(make_job())

    assert jobs.delete_all() == 2

    assert count(jobs.db) == 0
    assert count(jobs.db, jobtag) == 0
    assert tags.list(ADMIN) == [tag]
    assert jobs.add(make_job()) > 0
