"""The site keeps the Parquet index beside its archive in step with its job database."""

from __future__ import annotations

from pathlib import Path

import pytest

from cc_backend.archive import open_archive
from cc_backend.archive.codec import encode_meta
from cc_backend.cli import main
from cc_backend.config import load_config
from cc_backend.demo import generate_demo_archive, iter_demo_jobs
from cc_backend.stats import ArchiveStats, open_archive_index


def indexed_jobs(site: Path) -> int:
    config = load_config(site / "config.json")
    archive = open_archive(config.archive)
    stats = ArchiveStats(open_archive_index(archive))
    try:
        return stats.totals().jobs
    finally:
        stats.close()
        archive.close()


def test_init_db_builds_the_index_and_import_job_extends_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    main(["init", str(site)])
    archive = open_archive(load_config(site / "config.json").archive)
    generate_demo_archive(archive, jobs=30, seed=5, with_data=False)
    archive.close()
    monkeypatch.chdir(site)

    assert main(["init-db"]) == 0
    assert (site / "var" / "job-archive-index").is_dir()
    assert indexed_jobs(site) == 30

    job, data = next(iter_demo_jobs(jobs=1, seed=99, with_data=True))
    assert data is not None
    (tmp_path / "meta.json").write_bytes(encode_meta(job))
    (tmp_path / "data.json").write_bytes(data.to_json())
    assert main(["import-job", str(tmp_path / "meta.json"), str(tmp_path / "data.json")]) == 0
    assert indexed_jobs(site) == 31
