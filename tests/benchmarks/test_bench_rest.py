"""Smoke test of the REST job lifecycle benchmark on a few pairs (no timings checked)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console


@pytest.mark.slow
def test_benchmark_starts_and_stops_every_job_in_shared_commits() -> None:
    from benchmarks.bench_rest import run

    out = io.StringIO()
    run(pairs=60, clients=3, profile=False, console=Console(file=out, width=160))
    report = out.getvalue()
    assert "failed requests" not in report
    # Every start and stop (50 warm-up pairs, 60 timed ones) went through the batcher.
    assert "with 220 calls" in report
    assert "calls per commit" in report
    assert "start+stop pairs/s:" in report
    assert "server CPU per request:" in report
