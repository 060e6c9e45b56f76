"""Tags, meta data and deletion of stored jobs, and the archived meta.json kept in step.

Runs on every database backend; archives are real (in memory, a folder, an SQLite file).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cc_backend.archive import JobArchive, open_archive_url
from cc_backend.domain.errors import AlreadyExists, InvalidInput, NotFound, PermissionDenied
from cc_backend.domain.filters import JobFilter
from cc_backend.domain.job import Job, MonitoringStatus
from cc_backend.domain.user import User
from cc_backend.repository import schema
from cc_backend.repository.database import Database
from cc_backend.repository.jobs import JobRepository
from cc_backend.repository.tags import TagRepository
from cc_backend.services.job_changes import (
    ApiTag,
    ArchiveNotUpdated,
    DeleteJobRequest,
    JobChanges,
    JobMetaRequest,
    OmitTagged,
    TagRemoval,
)
from cc_backend.stats import ArchiveStats, open_archive_index

# cc-backend's reference database on every backend (the repository tests' fixtures).
from tests.repository.conftest import (
    postgres_reference_template,  # noqa: F401
    reference_db,  # noqa: F401
    reference_rows,  # noqa: F401
)

API = User.build("adapter", ["api"])
ADMIN = User.build("root", ["admin", "api"])
ALICE = User.build("alice", ["user"])
BOB = User.build("bob", ["user"])

GROMACS = ApiTag(type="app", name="gromacs")
REVIEW = ApiTag(type="review", name="slow", scope="admin")


class Site:
    """The service over a database and an archive, with helpers to put jobs in."""

    def __init__(self, db: Database, archive: JobArchive, make_job: Callable[..., Job]) -> None:
        self.db = db
        self.jobs = JobRepository(db)
        self.tags = TagRepository(db)
        self.archive = archive
        self.make_job = make_job
        self.service = JobChanges(self.jobs, self.tags, archive)

    def running(self, **fields: Any) -> Job:
        """A running job in the database."""
        job = self.make_job(**fields)
        return job.model_copy(update={"id": self.jobs.add(job)})

    def archived(self, **fields: Any) -> Job:
        """A finished job in the database and in the archive, as the archiver leaves it."""
        job = self.make_job(
            **{
                "jobState": "completed",
                "duration": 600,
                "monitoringStatus": int(MonitoringStatus.ARCHIVING_SUCCESSFUL),
                "metaData": {"jobName": "archived", "jobScript": "#!/bin/sh"},
                "statistics": {"cpu_load": {"unit": {"base": ""}, "avg": 1, "min": 0, "max": 2}},
                **fields,
            }
        )
        self.archive.store_meta(job)
        return job.model_copy(update={"id": self.jobs.add(job)})

    def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the job, tag and jobtag tables (to prove nothing changed)."""
        with self.db.engine.connect() as conn:
            return {
                table.name: sorted(tuple(r) for r in conn.execute(sa.select(table)))
                for table in (schema.job, schema.tag, schema.jobtag)
            }


@pytest.fixture
def jobsite(empty_db: Database, demo_archive: JobArchive, make_job: Callable[..., Job]) -> Site:
    return Site(empty_db, demo_archive, make_job)


def names(job: Job) -> list[str]:
    return [f"{t.type}:{t.name}:{t.scope}" for t in job.tags or []]


def db_id(job: Job) -> int:
    assert job.id is not None
    return job.id


# -- adding tags --------------------------------------------------------------------------


def test_adding_tags_creates_missing_ones_and_answers_the_readable_tags(jobsite: Site) -> None:
    job = jobsite.running()
    tagged = jobsite.service.add_tags(db_id(job), [GROMACS, REVIEW], API)
    assert names(tagged) == ["app:gromacs:global"]  # a pure API client cannot read admin tags
    assert names(jobsite.service.job(db_id(job), ADMIN)) == [
        "app:gromacs:global",
        "review:slow:admin",
    ]
    again = jobsite.service.add_tags(db_id(job), [GROMACS], API)
    assert names(again) == ["app:gromacs:global"]
    assert len(jobsite.tags.list(ADMIN)) == 2


def test_a_tag_without_scope_is_global() -> None:
    assert ApiTag.model_validate({"type": "app", "name": "vasp", "scope": ""}).scope == "global"
    assert ApiTag.model_validate({"type": "app", "name": "vasp"}).scope == "global"


def test_a_user_tags_their_own_job_privately(jobsite: Site) -> None:
    job = jobsite.running(user="alice")
    mine = ApiTag(type="note", name="check", scope="alice")
    assert names(jobsite.service.add_tags(db_id(job), [mine], ALICE)) == ["note:check:alice"]
    assert names(jobsite.service.job(db_id(job), User.build("carol", ["admin"]))) == []


def test_a_tag_of_another_users_private_scope_is_refused_and_nothing_changes(jobsite: Site) -> None:
    job = jobsite.running(user="bob")
    before = jobsite.rows()
    with pytest.raises(PermissionDenied, match="scope 'bob'"):
        jobsite.service.add_tags(
            db_id(job), [GROMACS, ApiTag(type="n", name="x", scope="bob")], API
        )
    assert jobsite.rows() == before


def test_a_name_taken_in_another_scope_refuses_the_whole_request(jobsite: Site) -> None:
    job = jobsite.running()
    jobsite.service.add_tags(db_id(job), [ApiTag(type="app", name="python", scope="admin")], ADMIN)
    before = jobsite.rows()
    with pytest.raises(AlreadyExists, match="another scope"):
        jobsite.service.add_tags(db_id(job), [GROMACS, ApiTag(type="app", name="python")], API)
    assert jobsite.rows() == before


def test_changes_of_an_unknown_or_invisible_job_are_not_found(jobsite: Site) -> None:
    bobs = jobsite.running(user="bob")
    before = jobsite.rows()
    for target, actor in ((db_id(bobs) + 100, API), (db_id(bobs), ALICE)):
        with pytest.raises(NotFound):
            jobsite.service.add_tags(
                target, [ApiTag(type="n", name="x", scope=actor.username)], actor
            )
        with pytest.raises(NotFound):
            jobsite.service.remove_tags(target, [GROMACS], actor)
        with pytest.raises(NotFound):
            jobsite.service.edit_meta(target, "k", "v", actor)
    assert jobsite.rows() == before


# -- removing tags ------------------------------------------------------------------------


def test_removing_tags_skips_private_ones(jobsite: Site) -> None:
    job = jobsite.running(user="alice")
    note = ApiTag(type="note", name="check", scope="alice")
    jobsite.service.add_tags(db_id(job), [GROMACS, REVIEW], API)
    jobsite.service.add_tags(db_id(job), [note], ALICE)
    left = jobsite.service.remove_tags(db_id(job), [GROMACS, note], ADMIN)
    assert names(left) == ["review:slow:admin"]
    assert names(jobsite.service.job(db_id(job), ALICE)) == ["note:check:alice"]


def test_removing_an_unknown_tag_is_not_found_and_removes_nothing(jobsite: Site) -> None:
    job = jobsite.running()
    jobsite.service.add_tags(db_id(job), [GROMACS], API)
    before = jobsite.rows()
    with pytest.raises(NotFound, match=r"app:unknown \(global\) does not exist"):
        jobsite.service.remove_tags(db_id(job), [GROMACS, ApiTag(type="app", name="unknown")], API)
    assert jobsite.rows() == before


def test_removing_tags_globally_deletes_them_from_every_job(jobsite: Site) -> None:
    first, second = jobsite.running(), jobsite.running()
    for job in (first, second):
        jobsite.service.add_tags(db_id(job), [GROMACS, REVIEW], API)
    private = ApiTag(type="note", name="x", scope="alice")
    result = jobsite.service.remove_tags_globally([GROMACS, private], ADMIN)
    assert result == TagRemoval(removed=1, requested=2)
    assert [t.name for t in jobsite.tags.list(ADMIN)] == ["slow"]
    assert names(jobsite.service.job(db_id(second), ADMIN)) == ["review:slow:admin"]


def test_removing_an_unknown_tag_globally_deletes_nothing(jobsite: Site) -> None:
    jobsite.service.add_tags(db_id(jobsite.running()), [GROMACS], API)
    before = jobsite.rows()
    with pytest.raises(NotFound):
        jobsite.service.remove_tags_globally([GROMACS, ApiTag(type="app", name="unknown")], API)
    assert jobsite.rows() == before


def test_detaching_tags_by_id_includes_private_ones_the_actor_owns(jobsite: Site) -> None:
    job = jobsite.running(user="alice")
    note = ApiTag(type="note", name="check", scope="alice")
    jobsite.service.add_tags(db_id(job), [GROMACS], API)
    tags = jobsite.service.add_tags(db_id(job), [note], ALICE).tags or []
    note_id = next(t.id for t in tags if t.scope == "alice")
    assert note_id is not None

    left = jobsite.service.detach_tags(db_id(job), [note_id], ALICE)

    assert [f"{t.type}:{t.name}:{t.scope}" for t in left] == ["app:gromacs:global"]


def test_detaching_a_tag_the_actor_cannot_read_changes_nothing(jobsite: Site) -> None:
    job = jobsite.running(user="alice")
    tags = jobsite.service.add_tags(db_id(job), [REVIEW], ADMIN).tags or []
    review_id = next(t.id for t in tags if t.scope == "admin")
    assert review_id is not None
    before = jobsite.rows()
    with pytest.raises(NotFound):
        jobsite.service.detach_tags(db_id(job), [review_id], ALICE)
    assert jobsite.rows() == before


def test_deleting_tags_by_id_is_all_or_nothing(jobsite: Site) -> None:
    job = jobsite.running()
    tags = jobsite.service.add_tags(db_id(job), [GROMACS, REVIEW], API).tags or []
    ids = [t.id for t in tags if t.id is not None]
    before = jobsite.rows()
    with pytest.raises(NotFound):
        jobsite.service.delete_tags([*ids, max(ids) + 100], ADMIN)
    assert jobsite.rows() == before

    assert jobsite.service.delete_tags([ids[0], ids[0]], ADMIN) == [ids[0]]
    assert len(jobsite.tags.list(ADMIN)) == 1


# -- meta data ----------------------------------------------------------------------------


def test_editing_meta_data_sets_one_key_and_keeps_the_others(jobsite: Site) -> None:
    job = jobsite.running(metaData={"jobName": "a", "jobScript": "#!/bin/sh"})
    edited = jobsite.service.edit_meta(db_id(job), "jobName", "b", API)
    assert edited.meta_data == {"jobName": "b", "jobScript": "#!/bin/sh"}
    jobsite.service.edit_meta(db_id(job), "issue", "slow I/O", API)
    assert jobsite.jobs.get(db_id(job)).meta_data == {
        "jobName": "b",
        "jobScript": "#!/bin/sh",
        "issue": "slow I/O",
    }
    with pytest.raises(InvalidInput):
        jobsite.service.edit_meta(db_id(job), "", "v", API)


def test_concurrent_edits_of_different_keys_are_all_kept(jobsite: Site) -> None:
    job = jobsite.running(metaData={})
    keys = [f"key{n}" for n in range(8)]
    threads = [
        threading.Thread(target=jobsite.service.edit_meta, args=(db_id(job), key, key, API))
        for key in keys
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert jobsite.jobs.get(db_id(job)).meta_data == {key: key for key in keys}


def test_editing_meta_data_by_request_picks_the_newest_matching_job(jobsite: Site) -> None:
    old = jobsite.running(jobId=7, startTime=1_700_000_000)
    new = jobsite.running(jobId=7, startTime=1_700_100_000)
    request = JobMetaRequest.model_validate(
        {"jobId": 7, "cluster": "fritz", "payload": {"key": "k", "value": "v"}}
    )
    assert jobsite.service.edit_meta_by_request(request, API).id == new.id
    assert "k" not in (jobsite.jobs.get(db_id(old)).meta_data or {})
    pinned = request.model_copy(update={"start_time": 1_700_000_000})
    assert jobsite.service.edit_meta_by_request(pinned, API).id == old.id


def test_editing_meta_data_by_request_needs_a_job_id_a_payload_and_a_match(jobsite: Site) -> None:
    jobsite.running(jobId=7)
    before = jobsite.rows()
    with pytest.raises(InvalidInput, match="'jobId' is required"):
        jobsite.service.edit_meta_by_request(
            JobMetaRequest.model_validate({"payload": {"key": "k", "value": "v"}}), API
        )
    with pytest.raises(InvalidInput, match="'payload' is required"):
        jobsite.service.edit_meta_by_request(JobMetaRequest.model_validate({"jobId": 7}), API)
    unknown = {"jobId": 8, "payload": {"key": "k", "value": "v"}}
    with pytest.raises(NotFound):
        jobsite.service.edit_meta_by_request(JobMetaRequest.model_validate(unknown), API)
    assert jobsite.rows() == before


# -- deleting -----------------------------------------------------------------------------


def test_deleting_by_id_and_by_request(jobsite: Site) -> None:
    first, second = jobsite.running(jobId=7), jobsite.running(jobId=8)
    jobsite.service.add_tags(db_id(first), [GROMACS], API)
    jobsite.service.delete_job(db_id(first))
    with pytest.raises(NotFound):
        jobsite.service.delete_job(db_id(first))
    with pytest.raises(InvalidInput):
        jobsite.service.delete_job_by_request(DeleteJobRequest(), API)
    with pytest.raises(NotFound):
        jobsite.service.delete_job_by_request(DeleteJobRequest.model_validate({"jobId": 7}), API)
    request = DeleteJobRequest.model_validate({"jobId": 8, "cluster": "fritz"})
    assert jobsite.service.delete_job_by_request(request, API) == second.id
    assert jobsite.rows()["job"] == []
    assert jobsite.rows()["jobtag"] == []


@pytest.mark.parametrize(
    ("omit", "kept"),
    [
        (OmitTagged.NONE, {"late"}),
        (OmitTagged.ALL, {"late", "global tag", "private tag"}),
        (OmitTagged.USER, {"late", "private tag"}),
    ],
)
def test_deleting_jobs_before_a_time_spares_tagged_ones_as_asked(
    jobsite: Site, omit: OmitTagged, kept: set[str]
) -> None:
    jobs = {
        name: jobsite.running(startTime=start, metaData={"jobName": name}, user="alice")
        for name, start in (
            ("untagged", 1_000),
            ("global tag", 2_000),
            ("private tag", 3_000),
            ("late", 5_000),
        )
    }
    jobsite.service.add_tags(db_id(jobs["global tag"]), [GROMACS], API)
    jobsite.service.add_tags(
        db_id(jobs["private tag"]), [ApiTag(type="n", name="x", scope="alice")], ALICE
    )
    deleted = jobsite.service.delete_jobs_before(5_000, omit)
    left = {(j.meta_data or {})["jobName"] for j in jobsite.jobs.query([], actor=None).items}
    assert (deleted, left) == (4 - len(kept), kept)
    assert jobsite.service.delete_jobs_before(0) == 0


# -- the nodes in use ---------------------------------------------------------------------


def test_used_nodes_are_the_hosts_of_running_jobs_that_started_before(jobsite: Site) -> None:
    hosts = [{"hostname": "f0102"}, {"hostname": "f0101"}]
    jobsite.running(startTime=1_000, resources=hosts)
    jobsite.running(startTime=2_000, resources=[{"hostname": "f0102"}])
    jobsite.running(startTime=2_000, cluster="alex", resources=[{"hostname": "a0101"}])
    jobsite.running(startTime=9_000, resources=[{"hostname": "f0200"}])
    jobsite.archived(startTime=1_000, resources=[{"hostname": "f0300"}])
    assert jobsite.jobs.used_nodes(5_000) == {"alex": ["a0101"], "fritz": ["f0101", "f0102"]}
    assert jobsite.jobs.used_nodes(1_000) == {}


# -- the archive ----------------------------------------------------------------------------


def test_an_archived_jobs_meta_json_follows_its_tags_and_meta_data(jobsite: Site) -> None:
    job = jobsite.archived()
    jobsite.service.add_tags(db_id(job), [GROMACS, REVIEW], API)
    jobsite.service.edit_meta(db_id(job), "issue", "slow I/O", API)
    archived = jobsite.archive.load_meta(job)
    assert [t.model_dump() for t in archived.tags or []] == [
        {"id": None, "type": "app", "name": "gromacs", "scope": "global"},
        {"id": None, "type": "review", "name": "slow", "scope": "admin"},
    ]
    assert archived.meta_data == {
        "jobName": "archived",
        "jobScript": "#!/bin/sh",
        "issue": "slow I/O",
    }
    assert archived.statistics == job.statistics  # the rest of meta.json is left as it was
    jobsite.service.remove_tags(db_id(job), [GROMACS], API)
    assert names(jobsite.archive.load_meta(job)) == ["review:slow:admin"]
    jobsite.service.remove_tags_globally([REVIEW], ADMIN)
    assert jobsite.archive.load_meta(job).tags is None


def test_jobs_that_are_not_archived_leave_the_archive_alone(jobsite: Site) -> None:
    running = jobsite.running()
    waiting = jobsite.archived(monitoringStatus=int(MonitoringStatus.RUNNING_OR_ARCHIVING))
    absent = jobsite.archived()
    jobsite.archive.delete([absent])
    for job in (running, waiting, absent):
        jobsite.service.add_tags(db_id(job), [GROMACS], API)
        jobsite.service.edit_meta(db_id(job), "k", "v", API)
    assert not jobsite.archive.exists(running)
    assert not jobsite.archive.exists(absent)
    assert jobsite.archive.load_meta(waiting).tags is None
    assert "k" not in (jobsite.archive.load_meta(waiting).meta_data or {})


def test_a_job_deleted_meanwhile_is_not_written_back(jobsite: Site) -> None:
    job = jobsite.archived()
    jobsite.jobs.delete([db_id(job)])
    assert jobsite.service.sync_archive(db_id(job)) is False


class WriteLock:
    """Another connection to an SQLite archive that takes its write lock, as a long-running
    archive tool would; readers still get through (WAL)."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path, isolation_level=None)

    def lock(self) -> None:
        self.connection.execute("BEGIN IMMEDIATE")

    def unlock(self) -> None:
        with contextlib.suppress(sqlite3.OperationalError):  # not locked
            self.connection.execute("ROLLBACK")


@pytest.fixture
def locked_site(
    empty_db: Database, make_job: Callable[..., Job], tmp_path: Path
) -> Iterator[tuple[Site, WriteLock]]:
    """A site whose archive is an SQLite file with a short busy timeout, and its lock."""
    path = tmp_path / "archive.db"
    archive = open_archive_url(str(path), busy_timeout=0.05)
    gate = WriteLock(path)
    yield Site(empty_db, archive, make_job), gate
    gate.unlock()
    gate.connection.close()
    archive.close()


def test_an_unwritable_archive_keeps_the_change_in_the_database_and_says_so(
    locked_site: tuple[Site, WriteLock], caplog: pytest.LogCaptureFixture
) -> None:
    site, gate = locked_site
    job = site.archived()
    gate.lock()
    with caplog.at_level(logging.ERROR), pytest.raises(ArchiveNotUpdated) as refused:
        site.service.add_tags(db_id(job), [GROMACS], API)
    assert "saved in the database" in refused.value.message
    assert "locked" in refused.value.message
    assert f"job {job.id}" in caplog.text
    assert names(site.service.job(db_id(job), API)) == ["app:gromacs:global"]  # kept
    assert site.archive.load_meta(job).tags is None  # and the archive is as it was
    with pytest.raises(ArchiveNotUpdated):
        site.service.edit_meta(db_id(job), "k", "v", API)
    assert (site.jobs.get(db_id(job)).meta_data or {})["k"] == "v"
    assert "k" not in (site.archive.load_meta(job).meta_data or {})


def test_repeating_a_change_once_the_archive_is_writable_brings_it_in_line(
    locked_site: tuple[Site, WriteLock],
) -> None:
    site, gate = locked_site
    job = site.archived()
    gate.lock()
    with pytest.raises(ArchiveNotUpdated):
        site.service.edit_meta(db_id(job), "k", "v", API)
    with pytest.raises(ArchiveNotUpdated):
        site.service.add_tags(db_id(job), [GROMACS], API)
    gate.unlock()
    site.service.add_tags(db_id(job), [GROMACS], API)
    archived = site.archive.load_meta(job)
    assert names(archived) == ["app:gromacs:global"]
    assert (archived.meta_data or {})["k"] == "v"  # the earlier edit arrives as well


def test_deleting_tags_globally_reports_the_jobs_whose_archive_was_not_updated(
    locked_site: tuple[Site, WriteLock],
) -> None:
    site, gate = locked_site
    archived, running = site.archived(), site.running()
    for job in (archived, running):
        site.service.add_tags(db_id(job), [GROMACS], API)
    gate.lock()
    with pytest.raises(ArchiveNotUpdated, match="1 archived jobs were not updated"):
        site.service.remove_tags_globally([GROMACS], API)
    assert site.tags.list(ADMIN) == []
    gate.unlock()
    assert site.service.sync_archive(db_id(archived)) is True
    assert site.service.sync_archive(db_id(running)) is False
    assert site.archive.load_meta(archived).tags is None


def test_the_statistics_index_beside_the_archive_follows_the_tags(
    empty_db: Database,
    make_job: Callable[..., Job],
    open_archive_at: Callable[[Path], JobArchive],
    demo_archive: JobArchive,
    tmp_path: Path,
) -> None:
    archive = open_archive_at(tmp_path / "archive")
    archive.store_cluster(demo_archive.load_cluster("fritz"))
    site = Site(empty_db, archive, make_job)
    job = site.archived()
    open_archive_index(archive).build(archive.iter_jobs())
    tagged = site.service.add_tags(db_id(job), [GROMACS], API)
    tag_id = (tagged.tags or [])[0].id
    stats = ArchiveStats(open_archive_index(archive))
    try:
        assert stats.totals([JobFilter.model_validate({"tags": [tag_id]})]).jobs == 1
    finally:
        stats.close()


def test_without_an_index_nothing_but_the_archive_is_written(jobsite: Site, tmp_path: Path) -> None:
    job = jobsite.archived()
    jobsite.service.add_tags(db_id(job), [GROMACS], API)
    assert not open_archive_index(jobsite.archive).exists()
