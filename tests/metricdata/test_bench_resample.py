"""Smoke test of the resampling benchmark on a small job (no timings checked)."""

from __future__ import annotations

import pytest


def test_benchmark_runs_and_reports_ratios(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.bench_resample import main

    argv = ["--nodes", "4", "--metrics", "2", "--hours", "12", "--repeat", "1"]
    result = main([*argv, "--resolutions", "240", "30"])
    assert result["points"] == 721
    assert result["240"]["points_out"] == 180
    assert set(result["240"]) >= {"baseline_ms", "lttb_job_ms", "ratio_baseline", "ratio_floor"}
    assert "30" not in result  # finer than the data: not resampled
    output = capsys.readouterr().out
    assert "ratio LTTB / baseline" in output
    assert "30 s: the series are not resampled" in output
