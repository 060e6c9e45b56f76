"""Smoke test of the GraphQL job-list benchmark on a tiny job table (no timings checked)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.bench_graphql_jobs import PATHS, main

JOBS = "2000"


@pytest.mark.slow
@pytest.mark.parametrize("page", ["1", "3"])
def test_every_path_returns_the_same_page_and_count(tmp_path: Path, page: str) -> None:
    result = main(["--jobs", JOBS, "--page", page, "--repeat", "2", "--data", str(tmp_path)])
    queries = result["queries"]
    assert sorted(queries) == ["a", "b", "c", "d"]
    for key, found in queries.items():
        assert found["problems"] == [], key
        shown = max(0, min(50, found["count"] - 50 * (int(page) - 1)))
        assert found["items"] == shown, key
        assert found["statements"]["page"] == found["statements"]["count"] == 1, key
        assert set(PATHS) <= set(found["times"]), key
        assert all(len(times) == 2 for times in found["times"].values()), key
    assert queries["a"]["count"] == int(JOBS)  # all jobs, as the admin sees them
    assert (tmp_path / f"jobs-{JOBS}.db").is_file()  # the table is kept for the next run


@pytest.mark.parametrize("option", ["--jobs", "--page", "--repeat"])
def test_a_count_below_one_is_refused_before_anything_is_generated(
    tmp_path: Path, option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([option, "0", "--data", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "must be at least 1, not 0" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
