"""``cc-backend init-db`` and ``cc-backend import-job``, run as a user would run them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from cc_backend.archive import ArchiveEntry, JobRef, open_archive_url
from cc_backend.archive.fsspec_backend import FsspecArchive
from cc_backend.cli import main
from cc_backend.domain.cluster import Cluster

REFERENCE_JOB = Path("emmy") / "1403" / "244" / "1608923076"


def use_archive(site: Path, archive: Path) -> None:
    """Point the site's config at the archive folder ``archive``."""
    config = json.loads((site / "config.json").read_text())
    config["archive"] = {"kind": "file", "path": str(archive)}
    (site / "config.json").write_text(json.dumps(config))


def job_count(site: Path) -> int:
    with sqlite3.connect(site / "var" / "job.db") as conn:
        return int(conn.execute("SELECT count(*) FROM job").fetchone()[0])


def synthetic_archive(root: Path, jobs: int, *, garbled: bool = False) -> Path:
    """A file archive of cluster 'tiny' with ``jobs`` one-node jobs (and a broken one)."""
    value = {"unit": {"base": "F/s", "prefix": "G"}, "value": 1}
    cluster = {
        "name": "tiny",
        "metricConfig": [
            {
                "name": "cpu_load",
                "unit": {"base": ""},
                "scope": "node",
                "aggregation": "avg",
                "timestep": 60,
                "peak": 4,
                "normal": 2,
                "caution": 1,
                "alert": 0.5,
                "footprint": "avg",
            }
        ],
        "subClusters": [
            {
                "name": "main",
                "nodes": "t[001-999]",
                "processorType": "test",
                "socketsPerNode": 1,
                "coresPerSocket": 1,
                "threadsPerCore": 1,
                "flopRateScalar": value,
                "flopRateSimd": value,
                "memoryBandwidth": value,
                "topology": {"node": [0], "socket": [[0]], "memoryDomain": [[0]]},
            }
        ],
    }
    (root / "tiny").mkdir(parents=True)
    (root / "version.txt").write_text("3\n")
    (root / "tiny" / "cluster.json").write_bytes(orjson.dumps(cluster))
    for n in range(jobs):
        meta: dict[str, Any] = {
            "jobId": 100 + n,
            "user": "alice",
            "project": "p",
            "cluster": "tiny",
            "subCluster": "main",
            "numNodes": 1,
            "shared": "none",
            "jobState": "completed",
            "startTime": 1_700_000_000 + n,
            "duration": 600,
            "resources": [{"hostname": f"t{n % 999 + 1:03d}"}],
            "statistics": {"cpu_load": {"unit": {"base": ""}, "avg": 1.0, "min": 0, "max": 2}},
        }
        folder = root / JobRef("tiny", meta["jobId"], meta["startTime"]).directory
        folder.mkdir(parents=True)
        (folder / "meta.json").write_bytes(orjson.dumps(meta))
    if garbled:
        folder = root / "tiny" / "9" / "999" / "1700000000"
        folder.mkdir(parents=True)
        (folder / "meta.json").write_text("{not json")
    return root


@pytest.mark.reference
def test_init_db_builds_the_job_table_from_the_reference_archive(
    site: Path, reference_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_archive(site, reference_dir / "job-archive")

    assert main(["init-db"]) == 0

    out = capsys.readouterr().out
    assert "Rebuilt the job table from" in out
    assert "imported: 2 jobs" in out
    assert "jobs/s" in out
    assert job_count(site) == 2
    assert main(["init-db"]) == 0  # a rebuild: the same two jobs again
    assert "imported: 2 jobs" in capsys.readouterr().out
    assert job_count(site) == 2


def test_init_db_lists_jobs_it_could_not_import_and_exits_1(
    site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_archive(site, synthetic_archive(tmp_path / "archive", 3, garbled=True))

    assert main(["init-db"]) == 1

    captured = capsys.readouterr()
    assert "imported: 3 jobs" in captured.out
    assert "failed:   1" in captured.out
    assert "Jobs not imported:" in captured.out
    assert "tiny/9/999/1700000000" in captured.out
    assert "1 jobs could not be imported" in captured.err
    assert "Traceback" not in captured.err
    assert job_count(site) == 3


def test_an_interrupted_init_db_keeps_whole_batches_and_says_so(
    site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_archive(site, synthetic_archive(tmp_path / "archive", 12))
    scan = FsspecArchive.iter_jobs

    def interrupted(self: FsspecArchive, **options: Any) -> Iterator[ArchiveEntry]:
        for n, entry in enumerate(scan(self, **options)):
            if n == 8:
                raise KeyboardInterrupt
            yield entry

    monkeypatch.setattr(FsspecArchive, "iter_jobs", interrupted)

    assert main(["init-db", "--batch-size", "5"]) == 130

    captured = capsys.readouterr()
    assert "error: import interrupted after 5 jobs were committed" in captured.err
    assert "Traceback" not in captured.err
    assert "imported: 5 jobs" in captured.out
    assert job_count(site) == 5


def test_init_db_leaves_the_table_alone_when_the_archive_is_empty(
    site: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    use_archive(site, synthetic_archive(tmp_path / "archive", 2))
    assert main(["init-db"]) == 0
    use_archive(site, site / "var" / "job-archive")  # the new site's empty archive
    capsys.readouterr()

    assert main(["init-db"]) == 1

    assert "holds no cluster.json" in capsys.readouterr().err
    assert job_count(site) == 2


def test_init_db_help_names_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["init-db", "--help"])
    assert done.value.code == 0
    assert "130 when interrupted" in " ".join(capsys.readouterr().out.split())


@pytest.mark.reference
def test_import_job_imports_once(
    site: Path, reference_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = open_archive_url(str(site / "var" / "job-archive"))
    try:
        emmy = reference_dir / "job-archive" / "emmy" / "cluster.json"
        archive.store_cluster(Cluster.from_json(emmy.read_bytes()))
    finally:
        archive.close()
    folder = reference_dir / "job-archive" / REFERENCE_JOB
    files = [str(folder / "meta.json"), str(folder / "data.json.gz")]

    assert main(["import-job", *files]) == 0
    assert "Imported job emmy/1403244@1608923076" in capsys.readouterr().out
    assert (site / "var" / "job-archive" / REFERENCE_JOB / "meta.json").is_file()

    assert main(["import-job", *files]) == 0
    out = capsys.readouterr().out
    assert "is already in the database" in out
    assert "already in the archive" in out
    assert job_count(site) == 1


def test_import_job_with_a_missing_file_fails_clearly(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["import-job", "nowhere/meta.json", "nowhere/data.json"]) == 1
    err = capsys.readouterr().err
    assert "nowhere/meta.json: cannot read" in err
    assert "Traceback" not in err
    assert job_count(site) == 0
