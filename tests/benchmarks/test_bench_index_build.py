"""Smoke test of the index-build benchmark on a small demo archive (no timings checked)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_index_build import PATHS, main


def test_every_path_runs_and_the_archive_is_kept_for_the_next_run(tmp_path: Path) -> None:
    medians = main(["--jobs", "20", "--repeat", "1", "--data", str(tmp_path)])

    assert set(medians) == set(PATHS)
    assert all(seconds > 0 for seconds in medians.values())
    assert (tmp_path / "demo-archive-20" / "generated.json").is_file()
