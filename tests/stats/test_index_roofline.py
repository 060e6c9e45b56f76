"""Roofline counts in the archive index: written at build and upsert time from the jobs'
metric data, kept through meta data changes and compactions, and an index of the format
before them (1) still read, then rebuilt."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from cc_backend.archive import JobArchive, open_archive_url
from cc_backend.archive.base import ArchiveEntry
from cc_backend.demo import demo_clusters
from cc_backend.domain.errors import InvalidInput, NotFound
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData
from cc_backend.domain.tag import Tag
from cc_backend.stats import ArchiveIndex, ArchiveStats
from cc_backend.stats.index_source import IndexSource
from cc_backend.stats.roofline_cells import job_cells
from cc_backend.stats.site_index import SiteIndex
from tests.stats.conftest import NOW, make_job


def data_of(flops: list[float], bandwidth: list[float], host: str = "f0101") -> JobData:
    def metric(values: list[float], base: str) -> dict[str, Any]:
        return {
            "node": {
                "unit": {"base": base, "prefix": "G"},
                "timestep": 60,
                "series": [{"hostname": host, "data": values}],
            }
        }

    return JobData.from_json(
        {"flops_any": metric(flops, "F/s"), "mem_bw": metric(bandwidth, "B/s")}
    )


def finished(n: int, **overrides: Any) -> Job:
    fields = {"jobState": "completed", "duration": 3600, "monitoringStatus": 3, **overrides}
    return make_job(random.Random(n), n, **fields)


def cells_of(data: JobData) -> dict[int, int]:
    found = job_cells(data)
    return dict(zip(found.cells.tolist(), found.counts.tolist(), strict=True))


def stored(index: ArchiveIndex) -> dict[int, dict[int, int] | None]:
    """Job id -> the roofline counts of its live row (None: not counted)."""
    relation, params = index.relation(index.snapshot())
    con = duckdb.connect()
    try:
        rows = con.execute(f"SELECT job_id, roofline FROM {relation}", params).fetchall()
    finally:
        con.close()
    return {
        int(job_id): None if cells is None else {int(c["cell"]): int(c["n"]) for c in cells}
        for job_id, cells in rows
    }


DATA = {
    1: data_of([150.0, 150.0, 40.0], [30.0, 30.0, 80.0]),
    2: data_of([900.0], [45.0]),
}


@pytest.fixture
def jobs() -> list[Job]:
    return [finished(1, jobId=1), finished(2, jobId=2)]


class Loader:
    """Metric data by job id (or the error reading it raises), recording what was asked."""

    def __init__(self, data: dict[int, JobData | Exception]) -> None:
        self.data = data
        self.asked: list[int] = []

    def __call__(self, job: Job) -> JobData:
        self.asked.append(job.job_id)
        if job.job_id not in self.data:
            raise NotFound(f"no data of job {job.job_id}")
        found = self.data[job.job_id]
        if isinstance(found, Exception):
            raise found
        return found


@pytest.fixture
def loader() -> Loader:
    return Loader(DATA)


def test_a_build_counts_entries_with_data_and_loads_the_others(
    tmp_path: Path, jobs: list[Job], loader: Loader
) -> None:
    index = ArchiveIndex(str(tmp_path / "index"), data_loader=loader)
    entries = [ArchiveEntry("a/1", jobs[0], DATA[1]), jobs[1]]
    index.build(entries)
    assert stored(index) == {1: cells_of(DATA[1]), 2: cells_of(DATA[2])}
    assert loader.asked == [2]
    assert not index.snapshot().outdated


def test_without_data_a_row_has_no_counts_and_a_job_without_time_steps_an_empty_list(
    tmp_path: Path, jobs: list[Job], caplog: pytest.LogCaptureFixture
) -> None:
    no_roofline = JobData.from_json({})
    broken = InvalidInput("data.json: not a valid gzip file")
    index = ArchiveIndex(str(tmp_path / "index"), data_loader=Loader({2: no_roofline, 3: broken}))
    with caplog.at_level(logging.WARNING):
        index.build([*jobs, finished(3, jobId=3)])
    assert stored(index) == {1: None, 2: {}, 3: None}
    (warning,) = [r.getMessage() for r in caplog.records]
    assert warning.startswith("job alex/3@")
    assert warning.endswith("no roofline counts (data.json: not a valid gzip file)")
    bare = ArchiveIndex(str(tmp_path / "bare"))
    bare.build(jobs)
    assert stored(bare) == {1: None, 2: None}


def test_a_meta_data_change_keeps_the_counts_without_loading_data(
    tmp_path: Path, jobs: list[Job], loader: Loader
) -> None:
    index = ArchiveIndex(str(tmp_path / "index"), data_loader=loader)
    index.build(jobs)
    loader.asked.clear()
    tagged = jobs[0].model_copy(update={"tags": [Tag(id=9, type="app", name="x")]})
    index.upsert([tagged])
    assert loader.asked == []
    assert stored(index)[1] == cells_of(DATA[1])
    index.compact()
    assert stored(index) == {1: cells_of(DATA[1]), 2: cells_of(DATA[2])}


def test_an_archived_job_gets_its_counts_from_the_archive_when_upserted(
    tmp_path: Path, jobs: list[Job]
) -> None:
    loader = Loader({**DATA, 7: data_of([10.0], [5.0])})
    index = ArchiveIndex(str(tmp_path / "index"), data_loader=loader)
    index.build(jobs)
    index.upsert([finished(7, jobId=7)])
    assert stored(index)[7] == cells_of(loader.data[7])
    index.remove([finished(7, jobId=7)])
    assert 7 not in stored(index)


# -- an index of format 1 -------------------------------------------------------------------


def make_format_1(index: ArchiveIndex) -> None:
    """Turn a freshly built index into what format 1 wrote: base files without the roofline
    column and a manifest without the roofline fields."""
    manifest = Path(index.path, "manifest.json")
    data = json.loads(manifest.read_text())
    for name in data["base"]:
        path = Path(index.path, name)
        table = pq.read_table(path)
        pq.write_table(table.drop(["roofline"]), path)
    data["format"] = 1
    del data["roofline_in_base"], data["roofline_complete"]
    manifest.write_text(json.dumps(data))


def test_an_index_of_format_1_still_answers_and_takes_counted_upserts(
    tmp_path: Path, jobs: list[Job], loader: Loader
) -> None:
    index = ArchiveIndex(str(tmp_path / "index"), data_loader=loader)
    index.build(jobs)
    make_format_1(index)
    snapshot = index.snapshot()
    assert snapshot.outdated
    assert not snapshot.roofline_in_base
    stats = ArchiveStats(index, clock=lambda: NOW)
    try:
        assert stats.totals().jobs == 2
        assert IndexSource(stats, snapshot, [], None, NOW).roofline_counts().uncounted == 2
        index.upsert([finished(1, jobId=1, tags=[{"id": 3, "type": "a", "name": "b"}])])
        assert stored(index) == {1: cells_of(DATA[1]), 2: None}  # loaded: the row had none
        counts = IndexSource(stats, index.snapshot(), [], None, NOW).roofline_counts()
        assert (counts.jobs, counts.uncounted) == (1, 1)
        assert dict(zip(counts.cells.tolist(), counts.counts.tolist(), strict=True)) == cells_of(
            DATA[1]
        )
    finally:
        stats.close()
    index.compact()
    assert index.snapshot().outdated  # a compaction does not count the old rows
    assert stored(index) == {1: cells_of(DATA[1]), 2: None}
    index.build(jobs)
    assert not index.snapshot().outdated
    assert stored(index) == {1: cells_of(DATA[1]), 2: cells_of(DATA[2])}


@pytest.fixture
def archive(tmp_path: Path, jobs: list[Job]) -> Iterator[JobArchive]:
    archive = open_archive_url(str(tmp_path / "archive"))
    archive.init()
    for cluster in demo_clusters():
        archive.store_cluster(cluster)
    for job in jobs:
        archive.import_job(job.model_copy(update={"cluster": "fritz"}), DATA[job.job_id])
    yield archive
    archive.close()


def test_a_site_index_of_format_1_is_rebuilt_in_the_background_with_a_log_line(
    tmp_path: Path, archive: JobArchive, caplog: pytest.LogCaptureFixture
) -> None:
    location = str(tmp_path / "site-index")
    old = ArchiveIndex(location)
    old.build(archive.iter_jobs())
    make_format_1(old)
    site = SiteIndex(archive, location)
    with caplog.at_level(logging.WARNING):
        index = site.index()
        assert index is not None
        assert site.rebuilding is not None
        site.rebuilding.join(timeout=60)
    assert "predates roofline counts" in caplog.text
    assert "rebuilt the statistics index" in caplog.text
    assert not index.snapshot().outdated
    assert stored(index) == {1: cells_of(DATA[1]), 2: cells_of(DATA[2])}


def test_a_current_site_index_is_not_rebuilt(tmp_path: Path, archive: JobArchive) -> None:
    location = str(tmp_path / "site-index")
    ArchiveIndex(location).build(archive.iter_jobs())
    site = SiteIndex(archive, location)
    assert site.index() is not None
    assert site.rebuilding is None
