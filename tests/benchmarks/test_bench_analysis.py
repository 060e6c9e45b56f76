"""Smoke test of the analysis benchmark on a tiny job table and archive (no timings
checked): both sites are measured, the page's data equals the raw queries' results, and the
generated data is kept for the next run."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench_analysis import PARTS, main


@pytest.mark.slow
def test_the_pages_data_equals_the_raw_queries_on_both_sites(tmp_path: Path) -> None:
    argv = ["--jobs", "1500", "--archive-jobs", "200", "--repeat", "1", "--data", str(tmp_path)]

    result = main(argv)

    scenarios = result["scenarios"]
    assert len(scenarios) == 2
    for label, found in scenarios.items():
        assert found["checks"] == dict.fromkeys(PARTS, True), label
        assert found["jobs"] > 0, label
        assert found["page_seconds"] > 0, label
        assert found["raw_seconds"] > 0, label
        assert all(len(times) == 1 for times in found["times"].values()), label
    assert (tmp_path / "jobs-1500.db").is_file()
    assert (tmp_path / "archive-stats-200" / "analysis-index-roofline").is_dir()


@pytest.mark.parametrize("option", ["--jobs", "--archive-jobs", "--repeat"])
def test_a_count_below_one_is_refused_before_anything_is_generated(
    tmp_path: Path, option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([option, "0", "--data", str(tmp_path)])

    assert exit_info.value.code == 2
    assert "must be at least 1, not 0" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
