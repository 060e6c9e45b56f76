"""Smoke test of the NATS job API benchmark on a few pairs (no timings checked)."""

from __future__ import annotations

import pytest

from tests.nats_server import NatsServer, nats_server  # noqa: F401


@pytest.mark.slow
@pytest.mark.parametrize("form", ["line protocol", "plain JSON"])
def test_benchmark_runs_and_stores_every_job(
    nats_server: NatsServer,  # noqa: F811
    form: str,
) -> None:
    from benchmarks.bench_nats import main

    argv = ["--pairs", "30", "--concurrency", "1,3", "--server-url", nats_server.url]
    result = main([*argv, "--plain"] if form == "plain JSON" else argv)
    assert result["problems"] == []
    assert result["jobs"] == 2 * (50 + 30)  # warm-up and timed pairs per concurrency value
    assert set(result["figures"]) == {"1", "3"}
    for figure in result["figures"].values():
        assert figure["stats"]["started"] == figure["stats"]["stopped"] == 80
        assert figure["pairs_per_s"] > 0
        assert figure["ratio"] > 0
