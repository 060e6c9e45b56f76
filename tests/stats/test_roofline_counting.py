"""Roofline counts of many jobs in worker processes: the same counts in the same order as
in one process, for file and SQLite archives; an archive in memory, entries that carry
their data and the first chunk are counted in the caller's process."""

from __future__ import annotations

import pickle
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cc_backend.archive import JobArchive, open_archive_url
from cc_backend.archive.base import ArchiveEntry
from cc_backend.demo import demo_clusters
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData
from cc_backend.stats import ArchiveIndex
from cc_backend.stats.locations import RooflineData
from cc_backend.stats.roofline_cells import JobCells
from cc_backend.stats.roofline_counting import cells_of, counted
from tests.stats.conftest import make_job
from tests.stats.test_index_roofline import stored

JOBS = 9
CHUNK = 3


def data_of(n: int) -> JobData:
    """Job ``n``'s flop rate and bandwidth: distinct for every job."""

    def metric(values: list[float], base: str) -> dict[str, Any]:
        return {
            "node": {
                "unit": {"base": base, "prefix": "G"},
                "timestep": 60,
                "series": [{"hostname": "f0101", "data": values}],
            }
        }

    flops = [10.0 * (n + 1), 20.0 * (n + 1), 400.0]
    return JobData.from_json(
        {"flops_any": metric(flops, "F/s"), "mem_bw": metric([5.0, 9.0, 50.0 + n], "B/s")}
    )


def as_dict(cells: JobCells | None) -> dict[int, int] | None:
    if cells is None:
        return None
    return dict(zip(cells.cells.tolist(), cells.counts.tolist(), strict=True))


@pytest.fixture(params=["file", "sqlite", "memory"])
def archive(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobArchive]:
    location = {
        "file": str(tmp_path / "archive"),
        "sqlite": str(tmp_path / "archive.db"),
        "memory": f"memory://counting-{random.randrange(1 << 30)}",
    }[request.param]
    archive = open_archive_url(location)
    archive.init()
    for cluster in demo_clusters():
        archive.store_cluster(cluster)
    for n in range(JOBS):
        job = make_job(random.Random(n), n, jobId=n, jobState="completed", cluster="fritz")
        archive.import_job(job, data_of(n))
    yield archive
    archive.close()


class CountedHere:
    """Counts entries in the test's process, recording the job ids it counted."""

    def __init__(self, loader: RooflineData) -> None:
        self.loader = loader
        self.jobs: list[int] = []

    def __call__(self, entry: Job | ArchiveEntry) -> JobCells | None:
        job = entry if isinstance(entry, Job) else entry.meta
        self.jobs.append(-1 if job is None else job.job_id)
        return cells_of(entry, self.loader)


def jobs_of(archive: JobArchive) -> list[Job]:
    return sorted(
        (e.meta for e in archive.iter_jobs() if e.meta is not None), key=lambda j: j.job_id
    )


@pytest.mark.slow
def test_workers_give_the_counts_of_one_process_in_order(archive: JobArchive) -> None:
    loader = RooflineData(archive)
    jobs = jobs_of(archive)
    here = CountedHere(loader)

    found = list(counted(jobs, here, loader=loader, workers=2, chunk=CHUNK))

    assert [entry for entry, _ in found] == jobs
    assert [as_dict(cells) for _, cells in found] == [
        as_dict(cells_of(job, loader)) for job in jobs
    ]
    assert all(cells is not None and cells.steps > 0 for _, cells in found)
    in_memory = archive.location.startswith("memory://")
    expected_here = list(range(JOBS)) if in_memory else list(range(CHUNK))
    assert here.jobs == expected_here


@pytest.mark.slow
@pytest.mark.parametrize("archive", ["file", "sqlite"], indirect=True)
def test_entries_with_their_data_or_without_meta_data_are_counted_here(
    archive: JobArchive,
) -> None:
    loader = RooflineData(archive)
    jobs = jobs_of(archive)
    entries: list[Job | ArchiveEntry] = [*jobs[:CHUNK]]
    entries.append(ArchiveEntry("with-data", jobs[CHUNK], data_of(CHUNK)))
    entries.append(ArchiveEntry("broken", None, None, "unreadable"))
    entries.extend(jobs[CHUNK + 1 :])
    here = CountedHere(loader)

    found = list(counted(entries, here, loader=loader, workers=2, chunk=CHUNK))

    assert [entry for entry, _ in found] == entries
    assert here.jobs == [*range(CHUNK), CHUNK, -1]
    assert found[CHUNK + 1][1] is None
    assert as_dict(found[-1][1]) == as_dict(cells_of(jobs[-1], loader))


def test_an_archive_in_memory_stays_in_its_process(archive: JobArchive) -> None:
    loader = RooflineData(archive)
    if archive.location.startswith("memory://"):
        with pytest.raises(TypeError, match="in memory"):
            pickle.dumps(loader)
    else:
        copy = pickle.loads(pickle.dumps(loader))
        job = jobs_of(archive)[0]
        assert as_dict(cells_of(job, copy)) == as_dict(cells_of(job, loader))
        copy.archive.close()


@pytest.mark.slow
def test_an_index_built_with_workers_holds_the_counts_of_one_built_without(
    archive: JobArchive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cc_backend.stats.roofline_counting.CHUNK", CHUNK)
    loader = RooflineData(archive)
    alone = ArchiveIndex(str(tmp_path / "alone"), data_loader=loader)
    shared = ArchiveIndex(str(tmp_path / "shared"), data_loader=loader)

    alone.build(archive.iter_jobs())
    shared.build(archive.iter_jobs(), workers=2)

    assert stored(shared) == stored(alone)
    assert len(stored(alone)) == JOBS
    assert None not in stored(alone).values()
