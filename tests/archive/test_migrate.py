"""Upgrading a version-2 archive to version 3."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import fsspec
import pytest

from cc_backend.archive.migrate import migrate_archive, migrate_meta, read_version
from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.job import Job

V2_META: dict[str, Any] = {
    "jobId": 1403244,
    "user": "emmyUser6",
    "project": "no project",
    "cluster": "emmy",
    "subCluster": "haswell",
    "numNodes": 1,
    "exclusive": 1,
    "jobState": "completed",
    "startTime": 1608923076,
    "duration": 3600,
    "resources": [{"hostname": "e0101"}],
    "statistics": {},
    "flops_any_avg": 12.5,
    "mem_used_max": 40.0,
}


@pytest.mark.parametrize(
    ("exclusive", "shared"), [(0, "multi_user"), (1, "none"), (2, "single_user")]
)
def test_exclusive_becomes_shared(exclusive: int, shared: str) -> None:
    migrated = migrate_meta(V2_META | {"exclusive": exclusive})
    assert migrated["shared"] == shared
    assert "exclusive" not in migrated


def test_missing_fields_are_added_and_deprecated_ones_dropped() -> None:
    migrated = migrate_meta(V2_META)
    assert migrated["submitTime"] == V2_META["startTime"]
    assert migrated["energy"] == 0.0
    assert migrated["requestedMemory"] == 0
    assert "flops_any_avg" not in migrated
    assert "mem_used_max" not in migrated
    Job.model_validate(migrated)


def test_migration_is_idempotent() -> None:
    once = migrate_meta(V2_META)
    assert migrate_meta(once) == once


@pytest.mark.parametrize("value", [3, -1, "1", 1.5, True])
def test_an_unknown_exclusive_value_is_an_error(value: object) -> None:
    with pytest.raises(InvalidInput, match="exclusive"):
        migrate_meta(V2_META | {"exclusive": value})


@pytest.fixture
def v2_archive(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    for job_id, start in ((1403244, 1608923076), (1404397, 1609300556)):
        folder = root / "emmy" / str(job_id // 1000) / f"{job_id % 1000:03d}" / str(start)
        folder.mkdir(parents=True)
        meta = V2_META | {"jobId": job_id, "startTime": start}
        (folder / "meta.json").write_text(json.dumps(meta))
    (root / "version.txt").write_text("2\n")
    return root


def test_a_version_2_archive_is_upgraded_in_place(v2_archive: Path) -> None:
    fs = fsspec.filesystem("file")
    progress: list[tuple[int, int]] = []

    report = migrate_archive(fs, str(v2_archive), on_progress=lambda d, t: progress.append((d, t)))

    assert (report.migrated, report.unchanged, report.failed) == (2, 0, [])
    assert report.version_updated
    assert read_version(fs, str(v2_archive)) == 3
    for meta in v2_archive.glob("emmy/*/*/*/meta.json"):
        assert json.loads(meta.read_text())["shared"] == "none"
    assert progress[-1] == (2, 2)
    assert not list(v2_archive.rglob("*.migrating"))


def test_a_dry_run_changes_nothing(v2_archive: Path) -> None:
    before = {p: p.read_bytes() for p in v2_archive.rglob("*") if p.is_file()}
    report = migrate_archive(fsspec.filesystem("file"), str(v2_archive), dry_run=True)
    assert report.migrated == 2
    assert not report.version_updated
    assert {p: p.read_bytes() for p in v2_archive.rglob("*") if p.is_file()} == before


def test_a_broken_job_is_reported_and_the_version_stays(v2_archive: Path) -> None:
    broken = next(v2_archive.glob("emmy/*/*/*/meta.json"))
    broken.write_text("{not json")
    fs = fsspec.filesystem("file")

    report = migrate_archive(fs, str(v2_archive))

    assert report.migrated == 1
    assert [path for path, _ in report.failed] == [str(broken)]
    assert read_version(fs, str(v2_archive)) == 2


@pytest.mark.reference
def test_a_version_3_archive_is_refused(reference_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "v3"
    shutil.copytree(reference_dir / "job-archive", copy)
    with pytest.raises(InvalidInput, match="archive version 3"):
        migrate_archive(fsspec.filesystem("file"), str(copy))


def test_a_folder_without_version_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"version\.txt: missing"):
        migrate_archive(fsspec.filesystem("file"), str(tmp_path))
