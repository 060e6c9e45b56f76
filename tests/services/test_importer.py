"""Importing job archives into the job database, and single jobs from files."""

from __future__ import annotations

import gc
import gzip
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from cc_backend.archive import ArchiveEntry, JobArchive, JobRef
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.job import Job, MonitoringStatus
from cc_backend.domain.jobdata import JobData
from cc_backend.domain.tag import Tag
from cc_backend.domain.user import User
from cc_backend.repository import dialect, schema
from cc_backend.repository.database import Database
from cc_backend.repository.jobs import JobRepository
from cc_backend.repository.tags import TagRepository
from cc_backend.services.importer import (
    ImportInterrupted,
    ImportReport,
    import_archive,
    import_job_files,
)

OpenArchive = Callable[[Path], JobArchive]
MetaDocument = Callable[..., dict[str, Any]]
WriteArchive = Callable[..., Path]
ADMIN = User.build("admin", ["admin"])
#: Job fields the database does not keep, or that the import sets.
NOT_COMPARED = {
    "id",
    "statistics",
    "tags",
    "monitoring_status",
    "footprint",
    "energy_footprint",
    "energy",
    "stop_time",
    "requested_memory",
    "concurrent_jobs",
}


@dataclass
class Site:
    """The job database with its repositories."""

    db: Database
    jobs: JobRepository
    tags: TagRepository


@pytest.fixture
def site(job_db: Database) -> Site:
    return Site(job_db, JobRepository(job_db), TagRepository(job_db))


def count_jobs(site: Site) -> int:
    with site.db.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(schema.job)).scalar_one())


def stored(site: Site, job_id: int, cluster: str = "testcl") -> Job:
    (found,) = site.jobs.find(job_id, cluster)
    return found


def run(archive: JobArchive, site: Site, **options: Any) -> ImportReport:
    return import_archive(archive, site.jobs, site.tags, **options)


@pytest.fixture
def reference_archive(reference_dir: Path, open_archive_at: OpenArchive) -> JobArchive:
    """cc-backend's reference archive, read in place."""
    return open_archive_at(reference_dir / "job-archive")


# -- the reference archive ----------------------------------------------------------------


@pytest.mark.reference
def test_reference_archive_imports_into_a_fresh_database(
    reference_archive: JobArchive, site: Site
) -> None:
    report = run(reference_archive, site)

    assert (report.imported, report.skipped, report.failed) == (2, 0, [])
    assert report.ok
    for entry in reference_archive.iter_jobs():
        assert entry.meta is not None
        meta = entry.meta
        row = stored(site, meta.job_id, "emmy")
        assert row.model_dump(exclude=NOT_COMPARED) == meta.model_dump(exclude=NOT_COMPARED)
        assert row.sub_cluster == "haswell"
        assert row.monitoring_status is MonitoringStatus.ARCHIVING_SUCCESSFUL
        # emmy's cluster.json configures no footprint or energy metrics
        assert (row.footprint, row.energy_footprint, row.energy) == ({}, {}, 0.0)


@pytest.mark.reference
def test_a_second_run_adds_nothing_and_says_so(reference_archive: JobArchive, site: Site) -> None:
    run(reference_archive, site)
    again = run(reference_archive, site)
    assert (again.imported, again.skipped, again.failed) == (0, 2, [])
    assert count_jobs(site) == 2


# -- synthetic archives -------------------------------------------------------------------


def test_footprint_and_energy_are_computed(
    make_archive: WriteArchive, meta_doc: MetaDocument, open_archive_at: OpenArchive, site: Site
) -> None:
    archive = open_archive_at(make_archive([meta_doc(n) for n in range(3)]))
    report = run(archive, site)
    assert report.imported == 3
    job = stored(site, 5_001)
    assert job.footprint == {"cpu_load_avg": 1.5, "mem_used_max": 20.0}
    # 200 W x 2 nodes x 1 h
    assert job.energy_footprint == {"cpu_power": 0.4}
    assert job.energy == 0.4


def test_values_in_the_meta_data_are_kept_and_the_subcluster_is_assigned(
    make_archive: WriteArchive, meta_doc: MetaDocument, open_archive_at: OpenArchive, site: Site
) -> None:
    given = meta_doc(1, footprint={"cpu_load_avg": 9.0}, energyFootprint={}, energy=0.0)
    del given["subCluster"]
    archive = open_archive_at(make_archive([given]))
    run(archive, site)
    job = stored(site, 5_001)
    assert (job.footprint, job.energy_footprint, job.energy) == ({"cpu_load_avg": 9.0}, {}, 0.0)
    assert job.sub_cluster == "main"


def test_broken_jobs_are_listed_with_their_location_and_the_rest_imports(
    make_archive: WriteArchive, meta_doc: MetaDocument, open_archive_at: OpenArchive, site: Site
) -> None:
    good = [meta_doc(n) for n in range(5)]
    mismatch = meta_doc(10, numNodes=3)
    stranger = meta_doc(11, cluster="nosuch")
    odd_subcluster = meta_doc(12, subCluster="gpu")
    root = make_archive([*good, mismatch, odd_subcluster])
    folder = root / JobRef("nosuch", 5_011, stranger["startTime"]).directory
    folder.mkdir(parents=True)
    (folder / "meta.json").write_bytes(orjson.dumps(stranger))
    garbled = root / "testcl/7/000/1700000000"
    garbled.mkdir(parents=True)
    (garbled / "meta.json").write_text('{"jobId": 7000, "user": ')
    archive = open_archive_at(root)

    report = run(archive, site)

    assert report.imported == 5
    assert count_jobs(site) == 5
    assert not report.ok
    failed = {Path(p.location).relative_to(root).as_posix(): p.message for p in report.failed}
    assert set(failed) == {
        "testcl/7/000/1700000000",
        JobRef("testcl", 5_010, mismatch["startTime"]).directory,
        JobRef("nosuch", 5_011, stranger["startTime"]).directory,
        JobRef("testcl", 5_012, odd_subcluster["startTime"]).directory,
    }
    assert "3 resources" not in failed[JobRef("testcl", 5_010, mismatch["startTime"]).directory]
    assert "numNodes is 3" in failed[JobRef("testcl", 5_010, mismatch["startTime"]).directory]
    assert "nosuch" in failed[JobRef("nosuch", 5_011, stranger["startTime"]).directory]
    assert "'gpu'" in failed[JobRef("testcl", 5_012, odd_subcluster["startTime"]).directory]
    assert "meta.json" in failed["testcl/7/000/1700000000"]


def test_tags_are_created_with_their_scopes_and_attached(
    make_archive: WriteArchive, meta_doc: MetaDocument, open_archive_at: OpenArchive, site: Site
) -> None:
    tags = [
        {"type": "app", "name": "gromacs"},
        {"type": "class", "name": "lowload", "scope": "admin"},
        {"type": "note", "name": "check", "scope": "user1"},
    ]
    metas = [meta_doc(1, tags=tags), meta_doc(2, tags=tags[:1]), meta_doc(3)]
    archive = open_archive_at(make_archive(metas))

    report = run(archive, site)

    assert (report.imported, report.tags_attached, report.warnings) == (3, 4, [])
    scopes = {(t.type, t.name): t.scope for t in site.tags.list(ADMIN)}
    assert scopes["app", "gromacs"] == "global"
    assert scopes["class", "lowload"] == "admin"
    assert site.tags.find("note", "check", "user1") is not None
    first, second, third = (stored(site, 5_000 + n) for n in (1, 2, 3))
    assert first.id is not None
    assert second.id is not None
    assert third.id is not None
    attached = site.tags.tags_of_jobs([first.id, second.id, third.id], ADMIN)
    assert {(t.type, t.name) for t in attached[first.id]} == {
        ("app", "gromacs"),
        ("class", "lowload"),
    }
    assert [t.name for t in attached[second.id]] == ["gromacs"]
    assert attached[third.id] == []
    assert [t.name for t in site.tags.all_tags_of_job(first.id)].count("check") == 1


def test_a_tag_taken_in_another_scope_is_a_warning_not_a_failure(
    make_archive: WriteArchive, meta_doc: MetaDocument, open_archive_at: OpenArchive, site: Site
) -> None:
    site.tags.create(Tag(type="app", name="vasp"), ADMIN)
    archive = open_archive_at(
        make_archive([meta_doc(1, tags=[{"type": "app", "name": "vasp", "scope": "user1"}])])
    )
    report = run(archive, site)
    assert report.imported == 1
    assert report.ok
    (warning,) = report.warnings
    assert "app:vasp" in warning.message
    assert "another scope" in warning.message


def test_rebuild_replaces_the_jobs_and_keeps_the_tags(
    make_archive: WriteArchive,
    meta_doc: MetaDocument,
    open_archive_at: OpenArchive,
    site: Site,
    make_job: Callable[..., Job],
) -> None:
    old_id = site.jobs.add(make_job(jobState="completed"))
    tag = site.tags.create(Tag(type="app", name="old"), ADMIN)
    assert tag.id is not None
    site.tags.attach(old_id, tag.id, ADMIN)
    archive = open_archive_at(make_archive([meta_doc(n) for n in range(4)]))

    report = run(archive, site, rebuild=True)

    assert report.rebuilt
    assert report.imported == 4
    assert count_jobs(site) == 4
    assert site.tags.list(ADMIN) == [tag]
    with site.db.engine.connect() as conn:
        assert conn.execute(sa.select(schema.jobtag)).all() == []


def test_rebuilding_from_an_empty_archive_empties_the_job_table(
    make_archive: WriteArchive,
    open_archive_at: OpenArchive,
    site: Site,
    make_job: Callable[..., Job],
) -> None:
    site.jobs.add(make_job())
    report = run(open_archive_at(make_archive([])), site, rebuild=True)
    assert (report.imported, report.scanned) == (0, 0)
    assert count_jobs(site) == 0


# -- interruptions ------------------------------------------------------------------------


def interrupt_after(entries: int) -> Callable[[ImportReport], None]:
    def callback(report: ImportReport) -> None:
        if report.scanned == entries:
            raise KeyboardInterrupt

    return callback


def test_an_interrupt_leaves_whole_batches_and_a_rerun_finishes(
    make_archive: WriteArchive, meta_doc: MetaDocument, open_archive_at: OpenArchive, site: Site
) -> None:
    archive = open_archive_at(make_archive([meta_doc(n) for n in range(25)]))

    with pytest.raises(ImportInterrupted, match="after 10 jobs were committed") as caught:
        run(archive, site, batch_size=10, on_progress=interrupt_after(15))

    assert caught.value.report.imported == 10
    assert count_jobs(site) == 10
    assert gc.isenabled()
    rerun = run(archive, site, batch_size=10)
    assert (rerun.imported, rerun.skipped) == (15, 10)


def test_an_interrupted_rebuild_before_the_first_batch_keeps_the_old_table(
    make_archive: WriteArchive,
    meta_doc: MetaDocument,
    open_archive_at: OpenArchive,
    site: Site,
    make_job: Callable[..., Job],
) -> None:
    site.jobs.add(make_job())
    archive = open_archive_at(make_archive([meta_doc(n) for n in range(25)]))
    with pytest.raises(ImportInterrupted):
        run(archive, site, rebuild=True, batch_size=10, on_progress=interrupt_after(9))
    assert count_jobs(site) == 1  # the old job, untouched
    with pytest.raises(ImportInterrupted):
        run(archive, site, rebuild=True, batch_size=10, on_progress=interrupt_after(21))
    assert count_jobs(site) == 20  # the first two batches of the new jobs only


def test_an_interrupt_inside_the_archive_scan(
    make_archive: WriteArchive,
    meta_doc: MetaDocument,
    open_archive_at: OpenArchive,
    site: Site,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    archive = open_archive_at(make_archive([meta_doc(n) for n in range(30)]))
    scan = archive.iter_jobs

    def interrupted_scan(**options: Any) -> Iterator[ArchiveEntry]:
        for n, entry in enumerate(scan(**options)):
            if n == 17:
                raise KeyboardInterrupt
            yield entry

    monkeypatch.setattr(archive, "iter_jobs", interrupted_scan)
    with pytest.raises(ImportInterrupted):
        run(archive, site, batch_size=5)
    assert count_jobs(site) == 15


def test_planner_statistics_are_fresh_after_an_import(
    make_archive: WriteArchive, meta_doc: MetaDocument, open_archive_at: OpenArchive, site: Site
) -> None:
    archive = open_archive_at(make_archive([meta_doc(n) for n in range(1500)]))
    run(archive, site)
    assert not dialect.planner_statistics_stale(site.db.engine)


def test_progress_bar_does_not_disturb_the_output(
    make_archive: WriteArchive,
    meta_doc: MetaDocument,
    open_archive_at: OpenArchive,
    site: Site,
    capsys: pytest.CaptureFixture[str],
) -> None:
    archive = open_archive_at(make_archive([meta_doc(n) for n in range(5)]))
    assert run(archive, site, progress=True).imported == 5
    assert capsys.readouterr().out == ""


@pytest.mark.slow
def test_throughput_of_a_meta_only_import(
    make_archive: WriteArchive,
    meta_doc: MetaDocument,
    open_archive_at: OpenArchive,
    site: Site,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Prints the figure (no assertion on it: it depends on the machine)."""
    jobs = 20_000
    archive = open_archive_at(make_archive([meta_doc(n) for n in range(jobs)]))
    started = time.perf_counter()
    report = run(archive, site)
    seconds = time.perf_counter() - started
    assert report.imported == jobs
    with capsys.disabled():
        print(f"\nmeta-only import of {jobs:,} jobs: {seconds:.2f} s, {jobs / seconds:,.0f} jobs/s")


# -- single jobs from files ---------------------------------------------------------------


@pytest.fixture
def emmy_archive(reference_dir: Path, tmp_path: Path, open_archive_at: OpenArchive) -> JobArchive:
    """An empty archive knowing cluster emmy (from the reference cluster.json)."""
    archive = open_archive_at(tmp_path / "archive")
    emmy = reference_dir / "job-archive" / "emmy" / "cluster.json"
    archive.store_cluster(Cluster.from_json(emmy.read_bytes()))
    return archive


@pytest.mark.reference
def test_a_job_imported_from_files_lands_in_archive_and_database(
    reference_dir: Path, emmy_archive: JobArchive, site: Site
) -> None:
    folder = reference_dir / "job-archive" / "emmy" / "1403" / "244" / "1608923076"
    meta, data = folder / "meta.json", folder / "data.json.gz"

    first = import_job_files(meta, data, emmy_archive, site.jobs, site.tags)

    assert (first.inserted, first.archived, first.warnings) == (True, True, ())
    assert first.ref == JobRef("emmy", 1_403_244, 1_608_923_076)
    archived = emmy_archive.load_meta(first.ref)
    assert archived.monitoring_status is MonitoringStatus.ARCHIVING_SUCCESSFUL
    assert archived.statistics == Job.model_validate_json(meta.read_bytes()).statistics
    assert emmy_archive.load_data(first.ref) is not None
    row = site.jobs.get(first.db_id)
    assert row.job_id == 1_403_244

    again = import_job_files(meta, data, emmy_archive, site.jobs, site.tags)
    assert (again.inserted, again.archived, again.db_id) == (False, False, first.db_id)
    assert count_jobs(site) == 1


def test_statistics_are_derived_from_the_data_when_missing(
    tmp_path: Path,
    meta_doc: MetaDocument,
    cluster: Cluster,
    open_archive_at: OpenArchive,
    site: Site,
) -> None:
    archive = open_archive_at(tmp_path / "archive")
    archive.store_cluster(cluster)
    doc = meta_doc(1, tags=[{"type": "app", "name": "lammps"}])
    del doc["statistics"]
    hosts = [r["hostname"] for r in doc["resources"]]
    series = [{"hostname": h, "data": [150.0, 250.0] * 30} for h in hosts]
    data = {"cpu_power": {"node": {"unit": {"base": "W"}, "timestep": 60, "series": series}}}
    (tmp_path / "meta.json").write_bytes(orjson.dumps(doc))
    with gzip.open(tmp_path / "data.json.gz", "wb") as fh:
        fh.write(orjson.dumps(data))

    result = import_job_files(
        tmp_path / "meta.json", tmp_path / "data.json.gz", archive, site.jobs, site.tags
    )

    job = site.jobs.get(result.db_id)
    assert job.energy_footprint == {"cpu_power": 0.4}  # 200 W average x 2 nodes x 1 h
    statistics = archive.load_meta(result.ref).statistics
    assert statistics is not None
    assert statistics["cpu_power"].avg == 200.0
    assert [t.name for t in site.tags.all_tags_of_job(result.db_id)] == ["lammps"]


def test_importing_files_of_an_unknown_cluster_or_missing_files_fails_clearly(
    tmp_path: Path, meta_doc: MetaDocument, open_archive_at: OpenArchive, site: Site
) -> None:
    archive = open_archive_at(tmp_path / "archive")
    (tmp_path / "meta.json").write_bytes(orjson.dumps(meta_doc(1)))
    (tmp_path / "data.json").write_bytes(b"{}")
    with pytest.raises(InvalidInput, match=r"'testcl' has no cluster\.json"):
        import_job_files(
            tmp_path / "meta.json", tmp_path / "data.json", archive, site.jobs, site.tags
        )
    with pytest.raises(InvalidInput, match=r"missing\.json: cannot read"):
        import_job_files(
            tmp_path / "missing.json", tmp_path / "data.json", archive, site.jobs, site.tags
        )
    assert count_jobs(site) == 0


def test_gc_stays_enabled_after_an_import(
    make_archive: WriteArchive, meta_doc: MetaDocument, open_archive_at: OpenArchive, site: Site
) -> None:
    run(open_archive_at(make_archive([meta_doc(1)])), site)
    assert gc.isenabled()


def test_every_archive_backend_imports_alike(
    empty_archive: JobArchive, cluster: Cluster, meta_doc: MetaDocument, site: Site
) -> None:
    empty_archive.store_cluster(cluster)
    data = JobData.from_json({})
    tags = [{"type": "app", "name": "gromacs"}]
    for n in range(7):
        empty_archive.import_job(Job.model_validate(meta_doc(n, tags=tags)), data)

    first = run(empty_archive, site, batch_size=3)
    again = run(empty_archive, site, batch_size=3)

    assert (first.imported, first.tags_attached, first.failed) == (7, 7, [])
    assert (again.imported, again.skipped) == (0, 7)
    assert stored(site, 5_003).energy == 0.4
