"""Smoke test of the metric data benchmark on tiny sizes (no timings checked)."""

from __future__ import annotations

import pytest

from tests.conftest import SITE_SECRET_ENV

TINY = [
    "--ingest-nodes", "2", "--steps", "1", "--rounds", "1", "--batch-nodes", "2",
    "--clients", "2", "--job-nodes", "2", "--hours", "1", "--metrics", "3",
    "--resolutions", "600", "--repeat", "1", "--archive-jobs", "3",
]  # fmt: skip


@pytest.mark.slow
def test_benchmark_runs_every_part_and_prints_its_sections(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in SITE_SECRET_ENV:
        monkeypatch.delenv(name, raising=False)
    from benchmarks.bench_metric_data import main

    result = main(TINY)

    ingest = result["ingest"]
    assert ingest["problems"] == []
    assert set(ingest["shapes"]) == {"one node per request", "2 nodes per request"}
    for shape in ingest["shapes"].values():
        assert shape["values"] == shape["written"] == 2 * 515  # two nodes, one timed step
        assert shape["payloads"] in (1, 2)
    plot = result["plot"]
    assert plot["job"] == {"nodes": 2, "metrics": 3, "hours": 1.0}
    assert set(plot["rows"]) == {
        "store, native",
        "store, 240 s",
        "store, 600 s",
        "archive, cache emptied, native",
        "archive, cache emptied, 240 s",
        "archive, cache emptied, 600 s",
        "archive, cache warm, 240 s",
    }
    for row in plot["rows"].values():
        assert row["series"] == 2 * 3  # node scope: one series per node and metric
    archiving = result["archiving"]
    assert archiving["archived"] == archiving["jobs"] == 3
    output = capsys.readouterr().out
    for section in ("1. Ingest over HTTP", "2. Plot data of a 2-node job", "3. Archiving", "Goals"):
        assert section in output
    assert "x floor" in output
    assert "jobs/s" in output
