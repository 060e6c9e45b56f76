"""Smoke test of the status page benchmark on tiny data (no timings checked)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench_status import main


@pytest.mark.slow
def test_the_benchmark_times_the_store_and_every_raw_query(tmp_path: Path) -> None:
    args = ["--jobs", "3000", "--days", "1", "--metric-hours", "1", "--nodes", "40"]
    result = main([*args, "--repeat", "2", "--data", str(tmp_path)])

    assert len(result["store_ms"]) == 2
    assert len(result["parts_ms"]) == 10
    for name, (client, raw) in result["parts_ms"].items():
        assert len(client) == len(raw) == 2, name
        assert result["ratios"][name] > 0, name
    assert result["ratio"] > 0
    assert result["nodes"] == 824  # the cluster's nodes, of which 40 report
    assert result["state_reports"] > 0
    kept = sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".db")
    assert kept == ["jobs-3000.db", "node-states-fritz-40n-1d-1727776800.db"]


@pytest.mark.parametrize("option", ["--jobs", "--days", "--nodes", "--repeat"])
def test_a_count_below_one_is_refused_before_anything_is_generated(
    tmp_path: Path, option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([option, "0", "--data", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "must be at least 1, not 0" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
