"""Smoke test of the ingest benchmark on a tiny workload (no timings checked)."""

from __future__ import annotations


def test_benchmark_runs_and_checks_what_it_stored() -> None:
    from benchmarks.bench_ingest import main

    results = main(["--nodes", "2", "--steps", "3", "--repeat", "1"])
    assert set(results) == {
        "one payload per node",
        "one payload per time step",
        "one payload per node, each with a bad line",
    }
    for figures in results.values():
        assert figures["values"] == 2 * 2 * 515  # two timed steps of two nodes
        assert figures["ingest_values_per_s"] > 0
        assert set(figures["seconds"]) == {"split", "parse", "ingest"}
