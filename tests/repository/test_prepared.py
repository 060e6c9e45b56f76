"""Statements compiled once and run on the driver's cursor (the scheduler's hot path)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from cc_backend.domain.errors import AlreadyExists
from cc_backend.domain.job import Job, JobState
from cc_backend.repository import dialect
from cc_backend.repository.database import Database
from cc_backend.repository.jobs import JobRepository
from cc_backend.repository.prepared import Prepared
from cc_backend.repository.schema import job as job_table
from cc_backend.repository.schema import tag as tag_table

MakeJob = Callable[..., Job]

NEWEST_OF_CLUSTER = Prepared(
    sa.select(job_table.c.id, job_table.c.job_id)
    .where(job_table.c.cluster == sa.bindparam("cluster"))
    .order_by(job_table.c.start_time.desc())
    .limit(1)
)

#: Names of the tags whose ids are in a JSON list (a statement that differs per database).
TAG_NAMES = Prepared(
    lambda dialect_name: (
        sa.select(tag_table.c.tag_name)
        .where(dialect.in_json_list(tag_table.c.id, "ids", dialect_name))
        .order_by(tag_table.c.tag_name)
    )
)

NEW_TAG = Prepared(
    sa.insert(tag_table)
    .values(
        tag_type=sa.bindparam("type"),
        tag_name=sa.bindparam("name"),
        tag_scope=sa.bindparam("scope"),
    )
    .returning(tag_table.c.id)
)


def test_rows_come_back_as_dictionaries_by_column_name(
    empty_db: Database, make_job: MakeJob
) -> None:
    jobs = JobRepository(empty_db)
    jobs.add(make_job(jobId=1, startTime=1_700_000_000))
    newest = jobs.get(jobs.add(make_job(jobId=2, startTime=1_700_000_100)))

    with empty_db.engine.connect() as conn:
        rows = NEWEST_OF_CLUSTER.rows(conn, cluster="fritz")
        none = NEWEST_OF_CLUSTER.first(conn, cluster="nowhere")

    # LIMIT 1 is part of the statement, not a parameter the caller gives.
    assert rows == [{"id": newest.id, "job_id": 2}]
    assert none is None


def test_each_database_compiles_its_own_sql(empty_db: Database) -> None:
    sql = NEWEST_OF_CLUSTER.sql(empty_db.engine.dialect)

    placeholder = "?" if empty_db.dialect == "sqlite" else "%(cluster)s"
    assert placeholder in sql
    assert NEWEST_OF_CLUSTER.sql(empty_db.engine.dialect) is sql


def test_a_statement_may_be_built_for_each_database(empty_db: Database) -> None:
    with empty_db.engine.begin() as conn:
        ids = {n: NEW_TAG.rows(conn, type="t", name=n, scope="global")[0]["id"] for n in "abc"}

    with empty_db.engine.connect() as conn:
        rows = TAG_NAMES.rows(conn, ids=dialect.json_list([ids["c"], ids["a"], 999]))

    assert rows == [{"tag_name": "a"}, {"tag_name": "c"}]
    sql = TAG_NAMES.sql(empty_db.engine.dialect)
    assert ("json_each" in sql) == (empty_db.dialect == "sqlite")


def test_the_engines_events_see_the_statements(empty_db: Database) -> None:
    seen: list[str] = []

    def record(*args: object) -> None:
        seen.append(str(args[2]))

    sa.event.listen(empty_db.engine, "before_cursor_execute", record)
    try:
        with empty_db.engine.connect() as conn:
            NEWEST_OF_CLUSTER.rows(conn, cluster="fritz")
    finally:
        sa.event.remove(empty_db.engine, "before_cursor_execute", record)

    assert NEWEST_OF_CLUSTER.sql(empty_db.engine.dialect) in seen


def test_a_missing_parameter_is_an_error(empty_db: Database) -> None:
    with empty_db.engine.connect() as conn, pytest.raises(KeyError, match="cluster"):
        NEWEST_OF_CLUSTER.rows(conn)


def test_driver_errors_become_sqlalchemy_errors_and_roll_back(empty_db: Database) -> None:
    values = {"type": "t", "name": "n", "scope": "global"}
    with empty_db.engine.begin() as conn:
        NEW_TAG.rows(conn, **values)

    with empty_db.engine.begin() as conn:
        NEW_TAG.rows(conn, type="t", name="other", scope="global")
        with pytest.raises(sa.exc.IntegrityError):
            NEW_TAG.rows(conn, **values)  # the same tag again: unique constraint
        conn.rollback()

    with empty_db.engine.connect() as conn:
        names = conn.execute(sa.select(tag_table.c.tag_name)).scalars().all()
    assert names == ["n"]


def test_a_stop_applies_to_the_newest_running_job_once(
    empty_db: Database, make_job: MakeJob
) -> None:
    jobs = JobRepository(empty_db)
    older = jobs.add(make_job(jobId=5, startTime=1_700_000_000))
    newer = jobs.add(make_job(jobId=5, startTime=1_700_003_600))

    first = jobs.stop_newest_running(
        5, cluster="fritz", start_time=None, stop_time=1_700_007_200, state=JobState.FAILED
    )
    second = jobs.stop_newest_running(
        5, cluster="fritz", start_time=None, stop_time=1_700_007_300, state=JobState.COMPLETED
    )

    assert first is not None
    assert (first.job.id, first.job.job_state, first.job.duration) == (
        newer,
        JobState.FAILED,
        3600,
    )
    assert first.tagged is False
    assert second is not None
    assert (second.job.id, second.job.duration) == (older, 7300)
    assert (
        jobs.stop_newest_running(
            5, cluster="fritz", start_time=None, stop_time=1_700_009_000, state=JobState.FAILED
        )
        is None
    )


def test_a_stop_before_the_start_changes_nothing(empty_db: Database, make_job: MakeJob) -> None:
    jobs = JobRepository(empty_db)
    db_id = jobs.add(make_job(jobId=6, startTime=1_700_000_000))

    refused = jobs.stop_newest_running(
        6, cluster=None, start_time=None, stop_time=1_699_999_999, state=JobState.COMPLETED
    )

    assert refused is None
    assert jobs.get(db_id).job_state is JobState.RUNNING


def test_a_start_within_the_window_inserts_nothing(empty_db: Database, make_job: MakeJob) -> None:
    jobs = JobRepository(empty_db)
    jobs.add_unless_recent_duplicate(make_job(jobId=8, startTime=1_700_000_000), 86_400)

    with pytest.raises(AlreadyExists, match=r"already exists \(id \d+, startTime 1700000000\)"):
        jobs.add_unless_recent_duplicate(make_job(jobId=8, startTime=1_700_050_000), 86_400)
    jobs.add_unless_recent_duplicate(make_job(jobId=8, startTime=1_700_090_000), 86_400)

    assert [j.start_time for j in jobs.find(8)] == [1_700_090_000, 1_700_000_000]
