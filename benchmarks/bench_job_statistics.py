"""Job statistics: JobStatistics (archive index + database) against cc-backend's SQL.

    python -m benchmarks.bench_job_statistics                  # 200,000 jobs (a few minutes)
    python -m benchmarks.bench_job_statistics --jobs 1000000   # benchmarks/data/jobs-1m.db

Uses the synthetic job table of :mod:`benchmarks.generate_jobs` (generated when missing)
and an archive index of it, built once from the table's finished jobs (``--index-of
archived``: only the jobs with monitoring status "archived"), as the archive would hold
them. Then, alternately in every round, each statistic is computed by
:class:`~cc_backend.services.job_statistics.JobStatistics` ("ours": DuckDB over the index
plus the database's jobs the index does not hold, through SQL) and by cc-backend's SQL
("cc-backend": the statements of its ``internal/repository/stats.go``, on a plain
``sqlite3`` connection to the same file, with its indexes):

* totals over all jobs (cc-backend: the statistics query plus its two count queries,
  running and short jobs);
* totals grouped by user, sorted by core hours, first page of 10, with the users' names;
* the duration histogram over all jobs (bins of an hour);
* the histogram of the ``flops_any`` footprint value over one cluster (10 bins up to the
  cluster's peak).

Before timing, the results of both sides are compared. Prints p50/p95 per statistic, the
ratios cc-backend / ours and whether the goal (at least 20x) holds.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from benchmarks.catalog import CLUSTERS
from benchmarks.generate_jobs import generate
from benchmarks.synthetic import DEFAULT_END
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.errors import NotFound
from cc_backend.domain.filters import JobFilter, PageRequest
from cc_backend.domain.job import Job
from cc_backend.repository.database import open_database
from cc_backend.repository.rows import jobs_from_rows
from cc_backend.repository.schema import job
from cc_backend.services.job_statistics import JobStatistics
from cc_backend.stats import ArchiveIndex, ArchiveStats

GOAL = 20.0
#: The cluster of the metric histogram, and the metric.
CLUSTER, METRIC, BINS = "fritz", "flops_any", 10
SHORT_SECONDS = 300
#: Rows read from the job table per batch while building the index.
BATCH = 20_000
console = Console(width=max(Console().width, 120))


# -- data ------------------------------------------------------------------------------


def database_for(data: Path, jobs: int, seed: int) -> Path:
    """The synthetic job database of ``jobs`` jobs (generated when missing)."""
    name = "jobs-1m.db" if jobs == 1_000_000 else f"jobs-{jobs}.db"
    path = data / name
    if not path.is_file():
        data.mkdir(parents=True, exist_ok=True)
        console.print(f"generating {jobs:,} jobs into {path} ...")
        generate(path, jobs, seed, console=console)
    return path


def _table_facts(db_path: Path) -> dict[str, Any]:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        count, last, starts = conn.execute(
            "SELECT count(*), max(id), sum(start_time) FROM job"
        ).fetchone()
    return {"jobs": count, "last_id": last, "start_sum": starts}


def _indexed_jobs(db_path: Path, which: str) -> Iterator[Job]:
    """The jobs the archive holds: every finished job, or only the archived ones."""
    db = open_database(f"sqlite:///{db_path}", migrate=False)
    condition = job.c.job_state != "running"
    if which == "archived":
        condition = job.c.monitoring_status == 3
    try:
        with db.engine.connect() as conn:
            result = conn.execute(sa.select(job).where(condition).order_by(job.c.id))
            for rows in result.mappings().partitions(BATCH):
                yield from jobs_from_rows(rows)
    finally:
        db.close()


def index_for(db_path: Path, which: str) -> tuple[ArchiveIndex, float | None]:
    """The archive index of the database's finished (or archived) jobs beside it, built
    when missing or made from other data; also the build time (None: reused)."""
    folder = db_path.with_name(f"{db_path.stem}-index-{which}")
    marker = folder / "built-from.json"
    wanted = _table_facts(db_path)
    index = ArchiveIndex(str(folder / "index"))
    if marker.is_file() and json.loads(marker.read_text()) == wanted and index.exists():
        return index, None
    console.print(f"building the archive index of the {which} jobs in {folder} ...")
    began = time.perf_counter()
    report = index.build(_indexed_jobs(db_path, which), rows_per_file=250_000)
    seconds = time.perf_counter() - began
    marker.write_text(json.dumps(wanted))
    console.print(f"indexed {report.jobs:,} jobs in {seconds:.1f} s")
    return index, seconds


class BenchClusters:
    """The synthetic site's clusters with their footprint metrics and peaks, as
    ``document(cluster)`` describes them (default: :func:`_cluster_document`)."""

    def __init__(self, document: Callable[[Any], dict[str, Any]] | None = None) -> None:
        describe = document or _cluster_document
        self._clusters = {c.name: Cluster.from_json(describe(c)) for c in CLUSTERS}

    def names(self) -> list[str]:
        return sorted(self._clusters)

    def get(self, name: str) -> Cluster:
        try:
            return self._clusters[name]
        except KeyError:
            raise NotFound(f"unknown cluster {name!r}") from None


def _cluster_document(cluster: Any) -> dict[str, Any]:
    def metric(name: str, base: str, prefix: str, peak: float) -> dict[str, Any]:
        unit = {"base": base, "prefix": prefix} if prefix else {"base": base}
        return {
            "name": name,
            "unit": unit,
            "scope": "node",
            "aggregation": "avg",
            "timestep": 60,
            "peak": peak,
            "normal": peak / 2,
            "caution": peak / 10,
            "alert": peak / 20,
            "footprint": "avg",
        }

    value = {"unit": {"base": "F/s", "prefix": "G"}, "value": cluster.peak_gflops}
    threads = max(s.hwthreads for s in cluster.subclusters)
    return {
        "name": cluster.name,
        "metricConfig": [
            metric("cpu_load", "", "", threads),
            metric("flops_any", "F/s", "G", cluster.peak_gflops),
            metric("mem_bw", "B/s", "G", cluster.peak_mem_bw),
            metric("mem_used", "B", "G", max(s.memory_gb for s in cluster.subclusters)),
        ],
        "subClusters": [
            {
                "name": s.name,
                "nodes": "*",
                "processorType": "synthetic",
                "socketsPerNode": 1,
                "coresPerSocket": s.hwthreads,
                "threadsPerCore": 1,
                "flopRateScalar": value,
                "flopRateSimd": value,
                "memoryBandwidth": {"unit": {"base": "B/s", "prefix": "G"}, "value": 1},
                "topology": {
                    "node": list(range(s.hwthreads)),
                    "socket": [list(range(s.hwthreads))],
                    "memoryDomain": [list(range(s.hwthreads))],
                },
            }
            for s in cluster.subclusters
        ],
    }


# -- cc-backend's SQL (internal/repository/stats.go), for SQLite -----------------------

_ELAPSED = "(CASE WHEN job.job_state = 'running' THEN {now} - job.start_time ELSE job.duration END)"
_HOURS = "CAST(ROUND(SUM({elapsed}{times}) / 3600) as int)"


def _stats_columns(now: int) -> str:
    elapsed = _ELAPSED.format(now=now)

    def hours(times: str = "") -> str:
        return _HOURS.format(elapsed=elapsed, times=times)

    return (
        "COUNT(job.id) as totalJobs, COUNT(DISTINCT job.hpc_user) AS totalUsers, "
        f"{hours()} as totalWalltime, CAST(SUM(job.num_nodes) as int) as totalNodes, "
        f"{hours(' * job.num_nodes')} as totalNodeHours, "
        "CAST(SUM(job.num_hwthreads) as int) as totalCores, "
        f"{hours(' * job.num_hwthreads')} as totalCoreHours, "
        "CAST(SUM(job.num_acc) as int) as totalAccs, "
        f"{hours(' * job.num_acc')} as totalAccHours"
    )


class CcBackendSql:
    """cc-backend's statistics statements on one ``sqlite3`` connection."""

    def __init__(self, db_path: Path, now: int, peak: float) -> None:
        self.conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False)
        self.now = now
        self.peak = peak

    def totals(self) -> tuple[Any, ...]:
        main = self.conn.execute(f"SELECT {_stats_columns(self.now)} FROM job").fetchone()
        running = self.conn.execute(
            "SELECT COUNT(job.id) FROM job WHERE job.job_state = ?", ("running",)
        ).fetchone()
        short = self.conn.execute(
            "SELECT COUNT(job.id) FROM job WHERE job.duration < ?", (SHORT_SECONDS,)
        ).fetchone()
        return (*main, running[0], short[0])

    def grouped_by_user(self, limit: int | None = 10) -> list[tuple[Any, ...]]:
        page = "" if limit is None else f" LIMIT {limit} OFFSET 0"
        sql = (
            f"SELECT job.hpc_user, name, {_stats_columns(self.now)} FROM job "
            "LEFT JOIN hpc_user ON hpc_user.username = job.hpc_user "
            f"GROUP BY job.hpc_user ORDER BY totalCoreHours DESC{page}"
        )
        return self.conn.execute(sql).fetchall()

    def duration_histogram(self, width: int = 3600, count: int = 48) -> list[int]:
        elapsed = _ELAPSED.format(now=self.now)
        sql = (
            f"SELECT CAST(ROUND(({elapsed} / {width}) + 1) as int) as value, "
            "COUNT(job.id) AS count FROM job GROUP BY value"
        )
        counts = dict(self.conn.execute(sql).fetchall())
        return [counts.get(i, 0) for i in range(1, count + 1)]

    def metric_histogram(self) -> list[int]:
        key, peak = f"$.{METRIC}_avg", f"{self.peak:f}"
        value = f"json_extract(footprint, '{key}')"
        binned = (
            f"CAST(((case when {value} = {peak} then {peak}*0.999999999 else {value} end) "
            f"/ {peak}) * {BINS} as INTEGER )"
        )
        sql = (
            f"SELECT {binned} + 1 as bin, count(*) as count FROM job WHERE JSON_VALID(footprint) "
            f"AND {value} is not null and {value} <= {peak} AND job.cluster = ? "
            "GROUP BY bin ORDER BY bin"
        )
        counts = dict(self.conn.execute(sql, (CLUSTER,)).fetchall())
        return [counts.get(i, 0) for i in range(1, BINS + 1)]


# -- the comparison --------------------------------------------------------------------

Pair = tuple[Callable[[], Any], Callable[[], Any]]


def statistics_pairs(ours: JobStatistics, theirs: CcBackendSql) -> dict[str, Pair]:
    """Each statistic as (ours, cc-backend), both returning comparable results."""
    top = PageRequest.model_validate({"itemsPerPage": 10, "page": 1})
    one_cluster = [JobFilter.model_validate({"cluster": {"eq": CLUSTER}})]

    def our_totals() -> tuple[Any, ...]:
        t = ours.totals(actor=None)
        return (
            t.total_jobs,
            t.total_users,
            t.total_walltime,
            t.total_nodes,
            t.total_node_hours,
            t.total_cores,
            t.total_core_hours,
            t.total_accs,
            t.total_acc_hours,
            t.running_jobs,
            t.short_jobs,
        )

    def our_users() -> list[tuple[Any, ...]]:
        rows = ours.grouped("USER", actor=None, sort_by="TOTALCOREHOURS", page=top)
        return [(r.id, r.name, r.total_jobs, r.total_core_hours) for r in rows]

    def their_users() -> list[tuple[Any, ...]]:
        return [(r[0], r[1], r[2], r[8]) for r in theirs.grouped_by_user()]

    def our_durations() -> list[int]:
        return [p.count for p in ours.duration_histogram(actor=None, num_duration_bins="1h")]

    def our_metric() -> list[int]:
        found = ours.metric_histograms([METRIC], one_cluster, actor=None, num_metric_bins=BINS)
        return [p.count for p in found[0].data]

    return {
        "totals, all jobs": (our_totals, theirs.totals),
        "grouped by user, by core hours (top 10)": (our_users, their_users),
        "duration histogram, all jobs": (our_durations, theirs.duration_histogram),
        f"{METRIC} footprint histogram, {CLUSTER}": (our_metric, theirs.metric_histogram),
    }


def _ms(call: Callable[[], Any]) -> float:
    began = time.perf_counter()
    call()
    return (time.perf_counter() - began) * 1000


def _p(times: list[float], q: int) -> float:
    if len(times) == 1:
        return times[0]
    return statistics.quantiles(times, n=100, method="inclusive")[q - 1]


def measure(pairs: dict[str, Pair], repeat: int) -> dict[str, tuple[list[float], list[float]]]:
    """Times (ms) of ours and cc-backend per statistic, alternating who goes first."""
    times: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in pairs}
    for i in range(repeat):
        for name, (mine, theirs) in pairs.items():
            order = [(0, mine), (1, theirs)] if i % 2 == 0 else [(1, theirs), (0, mine)]
            for side, call in order:
                times[name][side].append(_ms(call))
    return times


def check(pairs: dict[str, Pair]) -> dict[str, bool]:
    """Whether both sides give the same result, per statistic (also warms both up)."""
    return {name: mine() == theirs() for name, (mine, theirs) in pairs.items()}


def report(
    times: dict[str, tuple[list[float], list[float]]],
    checks: dict[str, bool],
    facts: dict[str, Any],
) -> dict[str, Any]:
    table = Table(title=f"Job statistics, {facts['jobs']:,} jobs (times in ms)")
    for column in ("statistic", "ours p50", "ours p95", "cc-backend p50", "cc-backend p95"):
        table.add_column(column, justify="left" if column == "statistic" else "right")
    table.add_column("speed-up p50", justify="right")
    table.add_column("equal", justify="center")
    ratios = {}
    for name, (mine, theirs) in times.items():
        ratios[name] = _p(theirs, 50) / _p(mine, 50)
        table.add_row(
            name,
            f"{_p(mine, 50):,.2f}",
            f"{_p(mine, 95):,.2f}",
            f"{_p(theirs, 50):,.2f}",
            f"{_p(theirs, 95):,.2f}",
            f"{ratios[name]:,.1f}x",
            "yes" if checks[name] else "[red]NO[/red]",
        )
    console.print(table)
    met = all(r >= GOAL for r in ratios.values()) and all(checks.values())
    verdict = "[green]met[/green]" if met else "[red]missed[/red]"
    console.print(f"goal: every statistic at least {GOAL:.0f}x faster, same results: {verdict}")
    built = facts["index_build"]
    console.print(
        f"index of the {facts['index_of']} jobs: {facts['indexed']:,} jobs"
        + (f", built in {built:.1f} s" if built is not None else " (reused)")
        + f"; the database answers for {facts['pending']:,} jobs; first request (compares "
        f"every job key with the index) {facts['first_request']:.2f} s"
    )
    return {"ratios": ratios, "checks": checks, "met": met, **facts}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds per statistic")
    parser.add_argument("--index-of", choices=("finished", "archived"), default="finished")
    parser.add_argument("--data", type=Path, default=Path("benchmarks/data"))
    args = parser.parse_args(argv)

    db_path = database_for(args.data, args.jobs, args.seed)
    index, built = index_for(db_path, args.index_of)
    clusters = BenchClusters()
    now = DEFAULT_END
    db = open_database(f"sqlite:///{db_path}")
    ours = JobStatistics(db, clusters, index, short_seconds=SHORT_SECONDS, clock=lambda: now)
    theirs = CcBackendSql(db_path, now, clusters.get(CLUSTER).metric(METRIC).peak)
    try:
        began = time.perf_counter()
        coverage = ours.index_coverage()
        first = time.perf_counter() - began
        pairs = statistics_pairs(ours, theirs)
        checks = check(pairs)
        console.print(
            f"{db_path}: {_table_facts(db_path)['jobs']:,} jobs; {args.repeat} rounds; "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
        )
        times = measure(pairs, args.repeat)
        facts = {
            "jobs": _table_facts(db_path)["jobs"],
            "index_of": args.index_of,
            "indexed": _indexed_count(index),
            "index_build": built,
            "pending": len(coverage.pending) if coverage is not None else 0,
            "first_request": first,
        }
        return report(times, checks, facts)
    finally:
        ours.close()
        theirs.conn.close()
        db.close()


def _indexed_count(index: ArchiveIndex) -> int:
    """How many jobs the index holds."""
    stats = ArchiveStats(index)
    try:
        return stats.totals().jobs
    finally:
        stats.close()


if __name__ == "__main__":
    main()
