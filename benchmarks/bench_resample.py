"""Resampling a large job's plot data: LTTB against plain mean down-sampling.

Builds the metric data of one job in memory (by default 64 nodes x 10 metrics x 24 h at
60 s: 640 series of 1441 samples, node scope) and measures in one run, as the median of
``--repeat`` rounds:

- the baseline: numpy mean down-sampling of the same arrays to the same number of points
  (one reshape and mean per metric);
- LTTB of the job's metrics through :func:`resample_metrics` (all metrics in one batch,
  what a data loader does), the same metric by metric (:func:`resample_metric`), and
  the batch on data where some series have gaps;
- the statistics series (min/median/max across the 64 nodes) of all metrics;
- the decode floor: gunzip and parse the job's ``data.json.gz``.

    python -m benchmarks.bench_resample --repeat 20
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson

from cc_backend.domain.jobdata import JobData, JobMetric
from cc_backend.metricdata.resample import lttb, resample_metric, resample_metrics, resample_step
from cc_backend.metricdata.statistics_series import add_statistics_series

METRICS = [
    "cpu_load", "cpu_user", "mem_used", "flops_any", "mem_bw",
    "clock", "ipc", "cpu_power", "net_bw", "nfs4_read",
]  # fmt: skip


def job_arrays(nodes: int, metrics: int, points: int, seed: int) -> np.ndarray:
    """(metric, node, sample) values: smooth random walks around a per-node level."""
    rng = np.random.default_rng(seed)
    level = rng.uniform(10, 100, size=(metrics, nodes, 1))
    walk = rng.normal(0, 1, size=(metrics, nodes, points)).cumsum(axis=2)
    noise = rng.normal(0, 2, size=(metrics, nodes, points))
    values: np.ndarray = np.clip(level + walk + noise, 0, None)
    return values


def with_gaps(values: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A copy where ``share`` of the series miss 30 consecutive samples."""
    rng = np.random.default_rng(seed + 1)
    gapped = values.copy()
    metrics, nodes, points = values.shape
    for m in range(metrics):
        for n in rng.choice(nodes, size=max(1, int(nodes * share)), replace=False):
            start = int(rng.integers(1, points - 31))
            gapped[m, n, start : start + 30] = np.nan
    return gapped


def job_metrics(values: np.ndarray, timestep: int) -> list[JobMetric]:
    return [
        JobMetric.model_validate(
            {
                "unit": {"base": "W"},
                "timestep": timestep,
                "series": [
                    {"hostname": f"f{n + 101:04d}", "data": row} for n, row in enumerate(rows)
                ],
            }
        )
        for rows in values
    ]


def mean_downsample(values: np.ndarray, step: int) -> list[np.ndarray]:
    """The baseline: per metric, the mean of each group of ``step`` samples."""
    nodes, points = values.shape[1:]
    n_out = points // step
    return [rows[:, : n_out * step].reshape(nodes, n_out, step).mean(axis=2) for rows in values]


def timed(work: Callable[[], object], repeat: int) -> float:
    """Median wall time of ``work`` in milliseconds (one untimed warm-up round)."""
    work()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        work()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=64)
    parser.add_argument("--metrics", type=int, default=10)
    parser.add_argument("--hours", type=float, default=24)
    parser.add_argument("--timestep", type=int, default=60)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[240, 600])
    parser.add_argument("--minimum-points", type=int, default=600)
    parser.add_argument("--gap-share", type=float, default=0.05)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    points = int(args.hours * 3600 // args.timestep) + 1
    values = job_arrays(args.nodes, args.metrics, points, args.seed)
    gapped = with_gaps(values, args.gap_share, args.seed)
    metrics, gapped_metrics = job_metrics(values, args.timestep), job_metrics(gapped, args.timestep)
    names = [
        METRICS[i % len(METRICS)] + ("" if i < len(METRICS) else f"_{i}")
        for i in range(args.metrics)
    ]
    data = JobData.model_validate(
        {name: {"node": m} for name, m in zip(names, metrics, strict=True)}
    )
    compressed = gzip.compress(data.to_json(), compresslevel=6)
    print(
        f"job: {args.nodes} nodes x {args.metrics} metrics x {points} samples "
        f"({args.nodes * args.metrics} series, {values.size:,} values); "
        f"data.json.gz {len(compressed) / 2**20:.1f} MiB"
    )

    floor = timed(lambda: orjson.loads(gzip.decompress(compressed)), args.repeat)
    stats = timed(lambda: [add_statistics_series(m) for m in metrics], args.repeat)
    print(f"decode floor (gunzip + parse data.json.gz): {floor:8.1f} ms")
    print(f"statistics series, all metrics:              {stats:8.1f} ms")

    result: dict[str, Any] = {"points": points, "floor_ms": floor, "stats_ms": stats}
    for resolution in args.resolutions:
        step = resample_step(points, args.timestep, resolution, args.minimum_points)
        if step is None:
            print(f"\n{resolution} s: the series are not resampled (too short or not coarser)")
            continue
        n_out = points // step

        def per_job(source: list[JobMetric], res: int = resolution) -> list[JobMetric]:
            return resample_metrics(source, res, minimum_points=args.minimum_points)

        def per_metric(source: list[JobMetric], res: int = resolution) -> list[JobMetric]:
            return [resample_metric(m, res, minimum_points=args.minimum_points) for m in source]

        baseline = timed(lambda s=step: mean_downsample(values, s), args.repeat)
        lttb_job = timed(lambda: per_job(metrics), args.repeat)
        lttb_metric = timed(lambda: per_metric(metrics), args.repeat)
        lttb_gaps = timed(lambda: per_job(gapped_metrics), args.repeat)
        lttb_arrays = timed(lambda n=n_out: lttb(values.reshape(-1, points), n), args.repeat)
        out = per_job(metrics)[0].series[0].data.size
        print(f"\nresolution {resolution} s: {points} -> {out} points per series")
        print(f"  baseline: numpy mean down-sampling       {baseline:8.1f} ms")
        print(f"  LTTB, the job's metrics in one batch     {lttb_job:8.1f} ms")
        print(f"  LTTB, metric by metric                   {lttb_metric:8.1f} ms")
        print(f"  LTTB batch, {args.gap_share:.0%} of series with a gap     {lttb_gaps:8.1f} ms")
        print(f"  LTTB on the bare arrays (no models)      {lttb_arrays:8.1f} ms")
        print(f"  ratio LTTB / baseline:     {lttb_job / baseline:6.1f}x")
        print(f"  ratio LTTB / decode floor: {lttb_job / floor:6.2f}x")
        result[str(resolution)] = {
            "points_out": out,
            "baseline_ms": baseline,
            "lttb_job_ms": lttb_job,
            "lttb_metric_ms": lttb_metric,
            "lttb_gaps_ms": lttb_gaps,
            "lttb_arrays_ms": lttb_arrays,
            "ratio_baseline": lttb_job / baseline,
            "ratio_floor": lttb_job / floor,
        }
    return result


if __name__ == "__main__":
    main()
