"""Smoke test of the archive statistics benchmark on a tiny archive (no timings checked)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.slow
def test_benchmark_runs_and_all_paths_agree(tmp_path: Path) -> None:
    from benchmarks.bench_archive_stats import main

    argv = ["--jobs", "300", "--repeat", "2", "--slow-repeat", "1", "--data", str(tmp_path)]
    result = main(argv)
    assert result["files"] == 300
    assert result["checks"] == {"all jobs": True, "fritz, last 90 days": True}
    assert set(result["ratios"]) >= {"upsert p95 ms (goal < 50)"}
