"""cc-backend's own example archive: read in place without a single write, and copied into
every backend without losing anything."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from cc_backend.archive import JobArchive, JobRef
from cc_backend.archive.codec import encode_cluster, encode_meta
from cc_backend.archive.fsspec_backend import FsspecArchive

pytestmark = pytest.mark.reference

JOBS = {JobRef("emmy", 1403244, 1608923076), JobRef("emmy", 1404397, 1609300556)}


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder below ``root`` with its size and modification time."""
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
    }


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def reference_archive(reference_dir: Path) -> JobArchive:
    """The reference archive, opened in place (never written to)."""
    archive = FsspecArchive.from_location(str(reference_dir / "job-archive"))
    assert archive.init() == 3
    return archive


def test_it_is_read_without_error_and_without_writing(reference_dir: Path) -> None:
    root = reference_dir / "job-archive"
    before = snapshot(root)
    archive = FsspecArchive.from_location(str(root))
    assert archive.init() == 3
    assert archive.clusters() == ["alex", "emmy", "fritz"]
    for name in archive.clusters():
        assert archive.load_cluster(name).name == name
    entries = list(archive.iter_jobs(with_data=True, workers=2))
    assert [e.error for e in entries] == [None, None]
    assert {JobRef.of(e.meta) for e in entries if e.meta} == JOBS
    for ref in JOBS:
        assert archive.exists(ref)
        assert archive.load_data(ref).metrics()
        assert archive.load_scoped_statistics(ref)
    info = archive.info()
    assert (info.version, info.jobs) == (3, 2)
    emmy = next(c for c in info.clusters if c.name == "emmy")
    assert (emmy.first_start, emmy.last_start) == (1608923076, 1609300556)
    job_files = [rel for rel in before if rel.startswith("emmy/") and rel.count("/") == 4]
    assert len(job_files) == 4
    assert emmy.size_bytes == sum(before[rel][0] for rel in job_files)
    assert snapshot(root) == before


def test_every_job_and_cluster_copies_into_each_backend_unchanged(
    reference_archive: JobArchive, archive: JobArchive
) -> None:
    copy_all(reference_archive, archive)

    assert archive.clusters() == reference_archive.clusters()
    for name in archive.clusters():
        assert orjson.loads(encode_cluster(archive.load_cluster(name))) == orjson.loads(
            encode_cluster(reference_archive.load_cluster(name))
        )
    copied = list(archive.iter_jobs(with_data=True))
    assert {JobRef.of(e.meta) for e in copied if e.ok and e.meta} == JOBS
    for ref in JOBS:
        assert orjson.loads(encode_meta(archive.load_meta(ref))) == orjson.loads(
            encode_meta(reference_archive.load_meta(ref))
        )
        assert archive.load_data(ref) == reference_archive.load_data(ref)  # NaN-aware
    assert archive.info().jobs == 2


def test_a_copy_has_the_same_files_as_the_original(
    reference_dir: Path,
    reference_archive: JobArchive,
    fresh: Callable[..., JobArchive],
) -> None:
    target = fresh("file")
    copy_all(reference_archive, target)
    written = files(Path(target.location))
    assert written == files(reference_dir / "job-archive")
    assert "emmy/1403/244/1608923076/meta.json" in written
    assert "emmy/1403/244/1608923076/data.json.gz" in written


def test_original_cluster_json_survives_a_copy(
    reference_dir: Path, reference_archive: JobArchive, fresh: Callable[..., JobArchive]
) -> None:
    target = fresh("file")
    copy_all(reference_archive, target)
    for name in ("alex", "emmy", "fritz"):
        original = (reference_dir / "job-archive" / name / "cluster.json").read_bytes()
        copied = (Path(target.location) / name / "cluster.json").read_bytes()
        assert orjson.loads(copied) == orjson.loads(original)


def copy_all(source: JobArchive, target: JobArchive) -> None:
    for name in source.clusters():
        target.store_cluster(source.load_cluster(name))
    for entry in source.iter_jobs(with_data=True):
        assert entry.meta is not None
        assert entry.data is not None
        target.import_job(entry.meta, entry.data)
