"""Archive-wide statistics: the Parquet index with DuckDB against a plain Python loop.

Generates (once) a file job archive of meta-only demo jobs, then measures in one run:
(i) reading every meta.json (the I/O floor), (ii) a ``json.load`` loop computing the
statistics, (iii) the same statistics from :class:`ArchiveStats`, (iv) DuckDB alone with
hand-written SQL on the same Parquet file, (v) building the index and upserting one job.
The statistics: jobs per user, the duration histogram (24 bins of an hour) and the
node-hour-weighted histogram of the jobs' ``flops_any`` average (10 bins, min to max).

    python -m benchmarks.bench_archive_stats --jobs 100000 --repeat 30
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console
from rich.table import Table

from cc_backend.archive import open_archive_url
from cc_backend.archive.base import ArchiveEntry
from cc_backend.demo import demo_clusters, iter_demo_jobs
from cc_backend.domain.filters import JobFilter
from cc_backend.stats import ArchiveIndex, ArchiveStats

END = 1_727_776_800  # the archive's last job ends before this (2024-10-01 10:00 UTC)
METRIC, BINS, WIDTH, COUNT = "flops_any", 10, 3600, 24
#: The filtered scenario: one cluster, the last 90 days.
CLUSTER, SINCE = "fritz", END - 90 * 86400
Result = tuple[dict[str, int], list[int], list[tuple[int, float]]]
console = Console()


def ensure_archive(folder: Path, jobs: int, seed: int) -> Path:
    """The archive in ``folder``, generated when missing or made with other parameters."""
    marker, root = folder / "generated.json", folder / "archive"
    wanted = {"jobs": jobs, "seed": seed, "end": END}
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        return root
    shutil.rmtree(folder, ignore_errors=True)
    root.mkdir(parents=True)
    began = time.perf_counter()
    archive = open_archive_url(str(root))
    for cluster in demo_clusters():
        archive.store_cluster(cluster)
    drawn = iter_demo_jobs(jobs=jobs, seed=seed, end_time=END, with_data=False, period_days=365)
    with ThreadPoolExecutor(4) as pool:
        for _ in pool.map(archive.store_meta, (job for job, _ in drawn), chunksize=256):
            pass
    marker.write_text(json.dumps(wanted))
    console.print(f"generated {jobs:,} jobs in {time.perf_counter() - began:.0f} s")
    return root


def meta_paths(root: Path) -> list[str]:
    return [
        os.path.join(folder, "meta.json")
        for folder, _, files in os.walk(root)
        if "meta.json" in files
    ]


def read_all(paths: list[str]) -> int:
    size = 0
    for path in paths:
        with open(path, "rb") as handle:
            size += len(handle.read())
    return size


def python_loop(paths: list[str]) -> Result:
    """The three statistics with ``json.load`` over every meta.json."""
    per_user: Counter[str] = Counter()
    durations = [0] * COUNT
    values: list[tuple[float, float]] = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            meta = json.load(handle)
        per_user[meta["user"]] += 1
        duration = meta.get("duration", 0)
        if duration // WIDTH < COUNT:
            durations[duration // WIDTH] += 1
        stat = (meta.get("statistics") or {}).get(METRIC)
        if stat is not None:
            values.append((stat["avg"], duration * meta["numNodes"] / 3600))
    lo, hi = min(v for v, _ in values), max(v for v, _ in values)
    bins = [[0, 0.0] for _ in range(BINS)]
    for value, weight in values:
        b = 0 if hi == lo else min(math.floor((value - lo) / (hi - lo) * BINS), BINS - 1)
        bins[b][0] += 1
        bins[b][1] += weight
    return dict(per_user), durations, [(int(c), float(w)) for c, w in bins]


Parts = list[Callable[[], Any]]
PARTS = ("jobs per user", "duration histogram", "weighted metric histogram")


def ours(stats: ArchiveStats, filters: list[JobFilter]) -> Parts:
    """The three statistics from ArchiveStats, each as a callable."""
    return [
        lambda: stats.job_counts("USER", filters),
        lambda: [p.count for p in stats.duration_histogram(filters)],
        lambda: [
            (b.count, b.node_hours)
            for b in stats.metric_histogram(METRIC, filters, num_metric_bins=BINS).bins
        ],
    ]


HAND_WRITTEN = (
    "SELECT user, count(*) FROM read_parquet($file) WHERE {where} GROUP BY user",
    "SELECT duration // 3600 + 1 AS b, count(*) FROM read_parquet($file) "
    "WHERE {where} AND duration // 3600 + 1 <= 24 GROUP BY b",
    "WITH v AS (SELECT stat_flops_any_avg AS x, node_hours AS w FROM read_parquet($file) "
    "WHERE {where} AND stat_flops_any_avg IS NOT NULL), r AS (SELECT min(x) AS lo, max(x) AS hi "
    "FROM v) SELECT CASE WHEN hi = lo THEN 1 ELSE least(CAST(floor((x - lo) / (hi - lo) * 10) "
    "AS BIGINT) + 1, 10) END AS b, count(*), sum(w) FROM v, r GROUP BY b",
)


def duckdb_alone(file: str, filtered: bool) -> Parts:
    """The three statistics with hand-written SQL on the Parquet file, each as a callable."""
    con = duckdb.connect(config={"preserve_insertion_order": False})
    con.execute("SET GLOBAL parquet_metadata_cache = true")
    where, params = "true", dict[str, Any](file=file)
    if filtered:
        where = "cluster = $cluster AND start_time >= $since"
        params |= {"cluster": CLUSTER, "since": SINCE}
    users, durations, metric = (q.replace("{where}", where) for q in HAND_WRITTEN)

    def histogram() -> list[int]:
        hist = dict(con.execute(durations, params).fetchall())
        return [hist.get(i, 0) for i in range(1, COUNT + 1)]

    def weighted() -> list[tuple[int, float]]:
        bins = {b: (c, w) for b, c, w in con.execute(metric, params).fetchall()}
        return [bins.get(i, (0, 0.0)) for i in range(1, BINS + 1)]

    return [lambda: dict(con.execute(users, params).fetchall()), histogram, weighted]


def run_parts(parts: Parts, times: list[list[float]]) -> Result:
    """Run the three statistics, appending each one's time (ms) and then the total."""
    results = []
    for k, part in enumerate(parts):
        began = time.perf_counter()
        results.append(part())
        times[k].append((time.perf_counter() - began) * 1000)
    times[-1].append(sum(t[-1] for t in times[:-1]))
    counts, durations, metric = results
    return counts, durations, metric


def timed(run: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        began = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - began) * 1000)
    return times, result


def p(times: list[float], q: float) -> float:
    if len(times) == 1:
        return times[0]
    return statistics.quantiles(times, n=100, method="inclusive")[int(q) - 1]


def same(left: Result, right: Result) -> bool:
    counts = left[0] == right[0] and left[1] == right[1]
    metric = [c for c, _ in left[2]] == [c for c, _ in right[2]]
    weights = all(
        math.isclose(a, b, rel_tol=1e-9) for (_, a), (_, b) in zip(left[2], right[2], strict=True)
    )
    return counts and metric and weights


def compare(sides: dict[str, Parts], repeat: int) -> tuple[list[list[list[float]]], list[Result]]:
    """Times (per side: per statistic, then the total) and results of the two sides, run
    alternately so that noise hits both alike."""
    results = [run_parts(parts, [[] for _ in range(len(PARTS) + 1)]) for parts in sides.values()]
    times: list[list[list[float]]] = [[[] for _ in range(len(PARTS) + 1)] for _ in sides]
    order = list(range(len(sides)))
    for i in range(repeat):
        for side in order if i % 2 == 0 else order[::-1]:
            run_parts(list(sides.values())[side], times[side])
    return times, results


def upsert_times(index: ArchiveIndex, entries: list[ArchiveEntry]) -> list[float]:
    """Milliseconds of upserting each job of ``entries`` (changed) on its own."""
    times = []
    for entry in entries:
        if entry.meta is not None:
            job = entry.meta.model_copy(update={"user": "moved"})
            began = time.perf_counter()
            index.upsert([job])
            times.append((time.perf_counter() - began) * 1000)
    return times


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=30, help="repetitions of fast steps")
    parser.add_argument("--slow-repeat", type=int, default=3, help="repetitions of (i), (ii)")
    parser.add_argument("--data", type=Path, default=Path("benchmarks/data"))
    args = parser.parse_args(argv)

    folder = args.data / f"archive-stats-{args.jobs}"
    root = ensure_archive(folder, args.jobs, args.seed)
    began = time.perf_counter()
    paths = meta_paths(root)
    listing = time.perf_counter() - began
    rows: dict[str, list[float]] = {}
    io_times, size = timed(lambda: read_all(paths), args.slow_repeat)
    rows["(i) read all meta.json bytes"] = io_times
    loop_times, expected = timed(lambda: python_loop(paths), args.slow_repeat)
    rows["(ii) Python json.load loop"] = loop_times

    archive = open_archive_url(str(root))
    began = time.perf_counter()
    entries: list[ArchiveEntry] = list(archive.iter_jobs(workers=4))
    scan = time.perf_counter() - began
    shutil.rmtree(folder / "index", ignore_errors=True)
    index = ArchiveIndex(str(folder / "index"))
    report = index.build(entries)
    base = index.url(index.snapshot().base[0])
    stats = ArchiveStats(index)

    filtered = [
        JobFilter.model_validate(
            {"cluster": {"eq": CLUSTER}, "startTime": {"from": datetime.fromtimestamp(SINCE, UTC)}}
        )
    ]
    checks, breakdown = {}, {}
    for label, filters in (("all jobs", []), (f"{CLUSTER}, last 90 days", filtered)):
        sides = {"ours": ours(stats, filters), "DuckDB alone": duckdb_alone(base, bool(filters))}
        times, results = compare(sides, args.repeat)
        checks[label] = same(*results) and (bool(filters) or same(results[0], expected))
        rows[f"(iii) ours: ArchiveStats, {label}"] = times[0][-1]
        rows[f"(iv) DuckDB alone, {label}"] = times[1][-1]
        for k, part in enumerate(PARTS):
            breakdown[f"{part}, {label}"] = [p(times[0][k], 50), p(times[1][k], 50)]

    rows["(v) upsert of one job"] = upserts = upsert_times(index, entries[: args.repeat])
    with_deltas: list[list[float]] = [[] for _ in range(len(PARTS) + 1)]
    for _ in range(args.repeat):
        run_parts(ours(stats, []), with_deltas)
    rows[f"(iii) ours, all jobs, {len(upserts)} deltas"] = with_deltas[-1]
    began = time.perf_counter()
    index.compact()
    compaction = time.perf_counter() - began
    stats.close()
    facts = {
        "files": len(paths),
        "listing": listing,
        "size": size,
        "scan": scan,
        "build": report.seconds,
        "compaction": compaction,
        "checks": checks,
        "breakdown": breakdown,
    }
    return render(rows, facts)


def render(rows: dict[str, list[float]], facts: dict[str, Any]) -> dict[str, Any]:
    table = Table(title=f"Archive statistics, {facts['files']:,} jobs (times in ms)")
    for column in ("step", "runs", "p50", "p95"):
        table.add_column(column, justify="left" if column == "step" else "right")
    p50 = {name: p(times, 50) for name, times in rows.items()}
    for name, times in rows.items():
        table.add_row(name, str(len(times)), f"{p50[name]:,.2f}", f"{p(times, 95):,.2f}")
    console.print(table)
    loop, mine = p50["(ii) Python json.load loop"], p50["(iii) ours: ArchiveStats, all jobs"]
    ratios = {
        "ours vs Python loop (speed-up, goal >= 100)": loop / mine,
        "ours / DuckDB alone, all jobs (goal <= 1.5)": mine / p50["(iv) DuckDB alone, all jobs"],
        f"ours / DuckDB alone, {CLUSTER} (goal <= 1.5)": p50[
            f"(iii) ours: ArchiveStats, {CLUSTER}, last 90 days"
        ]
        / p50[f"(iv) DuckDB alone, {CLUSTER}, last 90 days"],
        "upsert p95 ms (goal < 50)": p(rows["(v) upsert of one job"], 95),
    }
    parts = Table(title="p50 per statistic (ms)")
    for column in ("statistic", "ours", "DuckDB alone", "ratio"):
        parts.add_column(column, justify="left" if column == "statistic" else "right")
    for name, (mine, alone) in facts["breakdown"].items():
        parts.add_row(name, f"{mine:,.2f}", f"{alone:,.2f}", f"{mine / alone:.2f}")
    console.print(parts)
    for name, value in ratios.items():
        console.print(f"{name}: [bold]{value:,.2f}[/bold]")
    console.print(
        f"listing {facts['listing']:.1f} s, {facts['size'] / 2**20:,.0f} MiB of meta.json; "
        f"archive scan (iter_jobs, 4 workers) {facts['scan']:.1f} s; index build from the "
        f"scanned jobs {facts['build']:.2f} s; compaction after the upserts "
        f"{facts['compaction']:.2f} s; results equal: {facts['checks']}"
    )
    return {"p50": p50, "ratios": ratios, **facts}


if __name__ == "__main__":
    main()
