"""Group commit: write calls of many callers share SQLite transactions, each keeping exactly
the writes it would keep on its own."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from cc_backend.domain.errors import BackendUnavailable, NotFound
from cc_backend.repository import schema
from cc_backend.repository.database import Database, open_database
from cc_backend.repository.write_batches import WriteBatcher


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'job.db'}")
    yield database
    database.close()


@pytest.fixture
def batcher(db: Database) -> Iterator[WriteBatcher]:
    writes = WriteBatcher(db)
    yield writes
    writes.close()


def add_tag(db: Database, name: str) -> int:
    """A write as repositories do it: in a transaction of its own."""
    with db.begin() as conn:
        result = conn.execute(
            sa.insert(schema.tag).values(tag_type="t", tag_name=name).returning(schema.tag.c.id)
        )
        return int(result.scalar_one())


def tag_names(db: Database) -> list[str]:
    """The stored tags, read on a connection of their own (committed data only)."""
    with db.engine.connect() as conn:
        return sorted(conn.execute(sa.select(schema.tag.c.tag_name)).scalars())


@contextlib.asynccontextmanager
async def one_batch(batcher: WriteBatcher) -> AsyncIterator[None]:
    """Keep the batch thread busy while the block runs, so that the calls the block makes
    wait and then run together in the next batch (after a call that only waited)."""
    busy, release = threading.Event(), threading.Event()

    def block() -> None:
        busy.set()
        release.wait(10)

    threading.Thread(target=batcher.call, args=(block,), daemon=True).start()
    assert busy.wait(10)
    try:
        yield
        await asyncio.sleep(0.05)  # the block's calls reach the queue
    finally:
        release.set()


async def test_concurrent_calls_share_commits_and_each_gets_its_own_result(
    db: Database, batcher: WriteBatcher
) -> None:
    async with one_batch(batcher):
        calls = [asyncio.ensure_future(batcher.run(add_tag, db, f"tag-{n}")) for n in range(20)]
    ids = await asyncio.gather(*calls)

    assert len(set(ids)) == 20
    assert tag_names(db) == sorted(f"tag-{n}" for n in range(20))
    assert batcher.calls == 21
    assert batcher.batches == 2  # the blocking call, then all twenty in one transaction


async def test_a_failing_call_gets_its_error_and_the_others_of_its_batch_are_stored(
    db: Database, batcher: WriteBatcher
) -> None:
    def add_then_fail() -> None:
        with db.begin() as conn:
            conn.execute(sa.insert(schema.tag).values(tag_type="t", tag_name="rolled-back"))
            raise NotFound("no such thing")

    async with one_batch(batcher):
        first = asyncio.ensure_future(batcher.run(add_tag, db, "before"))
        failing = asyncio.ensure_future(batcher.run(add_then_fail))
        duplicate = asyncio.ensure_future(batcher.run(add_tag, db, "before"))
        last = asyncio.ensure_future(batcher.run(add_tag, db, "after"))

    await first
    with pytest.raises(NotFound, match="no such thing"):
        await failing
    with pytest.raises(sa.exc.IntegrityError):
        await duplicate
    await last
    assert tag_names(db) == ["after", "before"]


async def test_a_call_keeps_the_transactions_it_finished_before_failing(
    db: Database, batcher: WriteBatcher
) -> None:
    """As outside a batch: each transaction of a call stands on its own."""

    def add_two_then_fail() -> None:
        add_tag(db, "kept")
        with db.begin() as conn:
            conn.execute(sa.insert(schema.tag).values(tag_type="t", tag_name="dropped"))
            raise ValueError("second transaction fails")

    with pytest.raises(ValueError, match="second transaction fails"):
        await batcher.run(add_two_then_fail)
    assert tag_names(db) == ["kept"]


async def test_reads_in_a_call_see_the_writes_of_earlier_calls_in_the_batch(
    db: Database, batcher: WriteBatcher
) -> None:
    def count_tags() -> int:
        with db.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(schema.tag)).scalar())

    async with one_batch(batcher):
        added = asyncio.ensure_future(batcher.run(add_tag, db, "one"))
        counted = asyncio.ensure_future(batcher.run(count_tags))
    await added
    assert await counted == 1


async def test_after_commit_callbacks_run_once_the_data_is_stored(
    db: Database, batcher: WriteBatcher
) -> None:
    seen: list[list[str]] = []

    def add_and_announce() -> None:
        add_tag(db, "announced")
        db.after_commit(lambda: seen.append(tag_names(db)))
        assert seen == []  # not before the commit

    await batcher.run(add_and_announce)
    assert seen == [["announced"]]


async def test_a_failed_commit_fails_every_call_of_the_batch_and_stores_nothing(
    db: Database, batcher: WriteBatcher
) -> None:
    def add_dangling_link() -> None:
        with db.connect() as conn:
            conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")  # checked at COMMIT
            conn.execute(sa.insert(schema.jobtag).values(job_id=999, tag_id=999))

    async with one_batch(batcher):
        good = asyncio.ensure_future(batcher.run(add_tag, db, "lost"))
        bad = asyncio.ensure_future(batcher.run(add_dangling_link))

    for call in (good, bad):
        with pytest.raises(BackendUnavailable, match="not stored"):
            await call
    assert tag_names(db) == []
    assert await batcher.run(add_tag, db, "next") > 0  # the next batch works again


async def test_a_call_whose_caller_gave_up_before_it_started_is_not_run(
    db: Database, batcher: WriteBatcher
) -> None:
    async with one_batch(batcher):
        abandoned = asyncio.ensure_future(batcher.run(add_tag, db, "abandoned"))
        await asyncio.sleep(0.05)
        abandoned.cancel()
        await asyncio.sleep(0)
    await batcher.run(add_tag, db, "wanted")
    assert tag_names(db) == ["wanted"]


def test_threads_call_in_batches_too_and_a_call_from_within_a_batch_runs_in_it(
    db: Database, batcher: WriteBatcher
) -> None:
    def nested() -> int:
        return batcher.call(add_tag, db, "inner")  # would wait for itself if queued

    assert batcher.call(add_tag, db, "outer") > 0
    assert batcher.call(nested) > 0
    assert tag_names(db) == ["inner", "outer"]


async def test_close_answers_the_queued_calls_and_refuses_new_ones(
    db: Database, batcher: WriteBatcher
) -> None:
    async with one_batch(batcher):
        queued = asyncio.ensure_future(batcher.run(add_tag, db, "queued"))
        await asyncio.sleep(0.05)
        closing = asyncio.get_running_loop().run_in_executor(None, batcher.close)
    await closing
    assert await queued > 0
    with pytest.raises(BackendUnavailable, match="shutting down"):
        await batcher.run(add_tag, db, "late")
    assert tag_names(db) == ["queued"]


async def test_on_postgresql_calls_run_directly_in_the_executor(empty_db: Database) -> None:
    writes = WriteBatcher(empty_db)
    try:
        assert await writes.run(add_tag, empty_db, "direct") > 0
        assert tag_names(empty_db) == ["direct"]
        assert writes.batches == (1 if empty_db.dialect == "sqlite" else 0)
    finally:
        writes.close()
