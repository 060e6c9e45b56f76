"""The analysis page's data: its store (through the in-process client and the job statistics
service) against the same work in plain SQL and DuckDB.

    python -m benchmarks.bench_analysis                       # 1,000,000 jobs, 100,000-job archive
    python -m benchmarks.bench_analysis --jobs 200000 --archive-jobs 20000 --repeat 3

Two sites, each analysed for its busiest cluster as an admin sees it (no filters):

* **job table**: the synthetic job table of :mod:`benchmarks.generate_jobs`
  (``--jobs``, generated when missing) with the archive index of its finished jobs, as
  :mod:`benchmarks.bench_job_statistics` makes them; the running jobs come from the table;
* **archive index**: the demo job archive of :mod:`benchmarks.bench_archive_stats`
  (``--archive-jobs`` meta-only jobs, generated when missing) with an index of its own,
  and an empty job table (every job is counted from the index).

Both indexes carry roofline counts per job (the ``roofline`` column): the jobs have no
metric data here, so each job's node time steps are synthesised from its ``flops_any`` and
``mem_bw`` averages (:func:`synthetic_time_steps`: one step per 10 minutes of runtime, at
most 144, on up to 8 nodes, scattered log-normally around the averages) and counted on the
fine grid as archiving counts real ones. The indexes are built once into folders of their
own (``*-roofline``), so the indexes the other benchmarks share are left as they are.

In every round the page's data is loaded as the page loads it (``AnalysisStore.load``: the
parts at the same time, caches dropped) and part by part: the summary, the top users and
projects by node hours, the duration and node-count histograms, the per-job averages with
what the page derives from them (metric histograms weighted by node hours of
``flops_any``, ``mem_bw`` and ``mem_used`` and a binned scatter plot of ``flops_any`` over
``mem_bw``), and the roofline heatmap of every time step (the client's
``roofline_heatmap``). "Raw" does the same work without our layers: DuckDB SQL over the
index's Parquet files (binning included; for the heatmap the summed fine cells of the
cluster's jobs, put into tiles with NumPy) plus one ``sqlite3`` query for the table's
running jobs, one part after the other.
The results of both sides are compared first.

Goals: the page's data in under 1 s, and within 1.5x of the raw queries (the page's load
against the raw parts' sum).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from app.stores.analysis import (
    METRIC_BINS,
    SCATTER_BINS,
    AnalysisStore,
    roofline_grid,
)
from benchmarks.bench_archive_stats import ensure_archive
from benchmarks.bench_job_statistics import BenchClusters, _indexed_jobs, _table_facts, database_for
from benchmarks.synthetic import DEFAULT_END
from cc_backend.archive import open_archive_url
from cc_backend.archive.base import ArchiveEntry
from cc_backend.argtypes import positive_int
from cc_backend.client import LocalClient
from cc_backend.domain.job import Job, MonitoringStatus
from cc_backend.domain.user import User
from cc_backend.repository.database import open_database
from cc_backend.services.clusters import ClusterCatalog
from cc_backend.services.job_statistics import ClusterSource, JobStatistics
from cc_backend.stats import ArchiveIndex
from cc_backend.stats.index_manifest import FORMAT
from cc_backend.stats.roofline_cells import FINE, ROOFLINE_METRICS, JobCells, point_cells
from cc_backend.stats.statistics_results import RooflineGrid

#: The page's data must load in under this many seconds ...
GOAL_SECONDS = 1.0
#: ... and take at most this many times as long as the raw queries.
GOAL_RATIO = 1.5
HISTOGRAM_METRICS = ["flops_any", "mem_bw", "mem_used"]
SCATTER = ("flops_any", "mem_bw")
SHORT_SECONDS = 300
DURATION_WIDTH, DURATION_COUNT = 3600, 48
PARTS = (
    "summary",
    "top users and projects",
    "duration and node histograms",
    "footprints",
    "roofline heatmap",
)
#: Synthetic time steps: one per this many seconds of runtime, at most STEPS_MAX per node,
#: on at most NODES_MAX nodes, with this spread (decades, one standard deviation).
STEP_SECONDS, STEPS_MAX, NODES_MAX, SPREAD = 600, 144, 8, 0.15
#: The two plain ways of the footprint part; the faster one is the raw figure.
_BINNING = ("SQL", "NumPy")
_WITHOUT_DATA = (int(MonitoringStatus.DISABLED), int(MonitoringStatus.ARCHIVING_FAILED))
console = Console(width=max(Console().width, 120))


# -- the sites ---------------------------------------------------------------------------------


@dataclass
class Scenario:
    """One site: its statistics service, clusters, the analysed cluster, the index files
    the raw side reads, the database file with the jobs the index does not hold (None:
    none) and "now"."""

    label: str
    service: JobStatistics
    clusters: ClusterSource
    cluster: str
    files: list[str]
    database: Path | None
    now: int


def synthetic_time_steps(job: Job) -> JobCells | None:
    """Fine roofline cells of made-up node time steps around the job's ``flops_any`` and
    ``mem_bw`` averages (taken as GFlop/s and GB/s); the same for the same job."""
    fp = job.footprint or {}
    flops, bandwidth = fp.get("flops_any_avg"), fp.get("mem_bw_avg")
    if not flops or not bandwidth or flops <= 0 or bandwidth <= 0:
        return JobCells.empty()
    steps = min(max(job.duration // STEP_SECONDS, 1), STEPS_MAX) * min(job.num_nodes, NODES_MAX)
    rng = np.random.default_rng([job.job_id, job.start_time])
    noise = rng.normal(0.0, SPREAD, size=(2, steps))
    return point_cells(flops * 10.0 ** noise[0], bandwidth * 10.0 ** noise[1])


class SyntheticRooflineIndex(ArchiveIndex):
    """An index whose jobs' roofline counts come from :func:`synthetic_time_steps`."""

    def roofline_of(self, entry: Job | ArchiveEntry) -> JobCells | None:
        job = entry if isinstance(entry, Job) else entry.meta
        return None if job is None else synthetic_time_steps(job)


def _roofline_facts(facts: dict[str, Any]) -> str:
    synthetic = [STEP_SECONDS, STEPS_MAX, NODES_MAX, SPREAD, FORMAT, FINE.per_decade]
    return json.dumps({**facts, "synthetic time steps": synthetic}, sort_keys=True)


def roofline_index_for(db_path: Path) -> ArchiveIndex:
    """The index of the table's finished jobs with synthetic roofline counts (built once)."""
    folder = db_path.with_name(f"{db_path.stem}-index-finished-roofline")
    marker, index = folder / "built-from.json", SyntheticRooflineIndex(str(folder / "index"))
    wanted = _roofline_facts(_table_facts(db_path))
    if marker.is_file() and marker.read_text() == wanted and index.exists():
        return index
    console.print(f"indexing the finished jobs with synthetic time steps in {folder} ...")
    began = time.perf_counter()
    report = index.build(_indexed_jobs(db_path, "finished"), rows_per_file=250_000)
    console.print(f"indexed {report.jobs:,} jobs in {time.perf_counter() - began:.1f} s")
    marker.write_text(wanted)
    return index


class _NoTags:
    def list(self, _user: User) -> list[Any]:
        return []


class _NoSettings:
    def get_all(self, _username: str) -> dict[str, Any]:
        return {}


def page_store(scenario: Scenario) -> AnalysisStore:
    """The page's store for an admin, on the in-process client over the scenario's
    service (no other backends are asked)."""
    backends = SimpleNamespace(
        job_statistics=scenario.service,
        # the index's counts only: the synthetic sites have no metric store for running jobs
        roofline_heatmaps=scenario.service,
        clusters=scenario.clusters,
        tags=_NoTags(),
        user_config=_NoSettings(),
    )
    client = LocalClient(backends, User.build("analyst", ["admin"]))  # type: ignore[arg-type]
    return AnalysisStore(
        client,
        cluster=scenario.cluster,
        category="nodeHours",
        histogram_metrics=HISTOGRAM_METRICS,
        scatter_pairs=[SCATTER],
        cache_seconds=0,
    )


def _index_files(index: ArchiveIndex) -> list[str]:
    snapshot = index.snapshot()
    if snapshot.deltas:
        raise SystemExit(f"the index at {index.location} has delta files; rebuild it")
    return [index.url(name) for name in snapshot.base]


def _busiest(files: list[str], database: Path | None) -> str:
    sql = "SELECT cluster, count(*) n FROM read_parquet($f, union_by_name = true) GROUP BY 1"
    counts = dict(duckdb.execute(sql, {"f": files}).fetchall())
    if database is not None:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
            for name, n in conn.execute("SELECT cluster, count(*) FROM job GROUP BY 1"):
                counts[name] = max(counts.get(name, 0), n)
    return str(max(counts, key=lambda c: counts[c]))


@contextmanager
def job_table_site(data: Path, jobs: int, seed: int, cluster: str | None) -> Iterator[Scenario]:
    """The synthetic job table with the index of its finished jobs."""
    path = database_for(data, jobs, seed)
    index = roofline_index_for(path)
    db = open_database(f"sqlite:///{path}")
    clusters = BenchClusters()
    service = JobStatistics(
        db, clusters, index, short_seconds=SHORT_SECONDS, clock=lambda: DEFAULT_END
    )
    try:
        files = _index_files(index)
        chosen = cluster or _busiest(files, path)
        yield Scenario(
            f"job table, {jobs:,} jobs", service, clusters, chosen, files, path, DEFAULT_END
        )
    finally:
        service.close()
        db.close()


def archive_index_for(folder: Path, root: Path) -> ArchiveIndex:
    """An index of the archive at ``root`` with synthetic roofline counts (built when
    missing or made from other data)."""
    marker = folder / "analysis-index-roofline-of.json"
    index = SyntheticRooflineIndex(str(folder / "analysis-index-roofline"))
    wanted = _roofline_facts(json.loads((folder / "generated.json").read_text()))
    if marker.is_file() and marker.read_text() == wanted and index.exists():
        return index
    console.print(f"indexing the archive at {root} with synthetic time steps ...")
    entries = list(open_archive_url(str(root)).iter_jobs(workers=4))
    index.build(entries)
    marker.write_text(wanted)
    return index


@contextmanager
def archive_site(data: Path, jobs: int, seed: int) -> Iterator[Scenario]:
    """The demo archive's index, with an empty job table."""
    folder = data / f"archive-stats-{jobs}"
    root = ensure_archive(folder, jobs, seed)
    index = archive_index_for(folder, root)
    files = _index_files(index)
    now = int(json.loads((folder / "generated.json").read_text())["end"])
    clusters = ClusterCatalog(open_archive_url(str(root)))
    with tempfile.TemporaryDirectory() as empty:
        db = open_database(f"sqlite:///{Path(empty) / 'jobs.db'}")
        service = JobStatistics(db, clusters, index, short_seconds=SHORT_SECONDS, clock=lambda: now)
        try:
            label = f"archive index, {jobs:,} jobs"
            yield Scenario(label, service, clusters, _busiest(files, None), files, None, now)
        finally:
            service.close()
            db.close()


# -- the raw side ------------------------------------------------------------------------------


class Raw:
    """The page's data in plain DuckDB SQL over the index files (plus the database's
    running jobs through ``sqlite3``), one part after the other."""

    def __init__(self, scenario: Scenario) -> None:
        self.s = scenario
        self.con = duckdb.connect(config={"preserve_insertion_order": False})
        self.con.execute("SET GLOBAL parquet_metadata_cache = true")
        self.sqlite = (
            sqlite3.connect(f"file:{scenario.database}?mode=ro", uri=True)
            if scenario.database is not None
            else None
        )
        cluster = scenario.clusters.get(scenario.cluster)
        self.grid = roofline_grid(cluster)
        columns = {
            str(r[0])
            for r in self.con.execute(
                "DESCRIBE SELECT * FROM read_parquet($f, union_by_name = true)",
                {"f": scenario.files},
            ).fetchall()
        }
        metrics = sorted({*HISTOGRAM_METRICS, *SCATTER, *ROOFLINE_METRICS})
        averages = ", ".join(f"{_average(m, columns)} AS a_{m}" for m in metrics)
        self.metrics = metrics
        self.con.execute(
            f"""CREATE VIEW indexed AS SELECT user, project, state, start_time, duration,
                num_nodes, coalesce(num_hwthreads, 0) AS threads, coalesce(num_acc, 0) AS accs,
                monitoring_status, {averages}
            FROM read_parquet({_list(scenario.files)}, union_by_name = true)
            WHERE cluster = '{scenario.cluster}'"""
        )

    def close(self) -> None:
        self.con.close()
        if self.sqlite is not None:
            self.sqlite.close()

    def _pending(self) -> None:
        """The table's running jobs of the cluster, visible to the queries as ``jobs``
        together with the index rows."""
        names = ["user", "project", "state", "start_time", "duration", "num_nodes", "threads"]
        names += ["accs", "monitoring_status", *(f"a_{m}" for m in self.metrics)]
        rows: list[tuple[Any, ...]] = []
        if self.sqlite is not None:
            values = ", ".join(f"json_extract(footprint, '$.{m}_avg')" for m in self.metrics)
            rows = self.sqlite.execute(
                f"""SELECT hpc_user, project, job_state, start_time, duration, num_nodes,
                    coalesce(num_hwthreads, 0), coalesce(num_acc, 0), monitoring_status, {values}
                FROM job WHERE job_state = 'running' AND cluster = ?""",
                (self.s.cluster,),
            ).fetchall()
        columns = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
        types = [pa.string()] * 3 + [pa.int64()] * 6 + [pa.float64()] * len(self.metrics)
        table = pa.table(
            {n: pa.array(list(c), t) for n, c, t in zip(names, columns, types, strict=True)}
        )
        self.con.register("pending", table)
        elapsed = f"CASE WHEN state = 'running' THEN {self.s.now} - start_time ELSE duration END"
        self.con.execute(
            f"""CREATE OR REPLACE TEMP VIEW jobs AS SELECT *, {elapsed} AS elapsed FROM
                (SELECT * FROM indexed UNION ALL BY NAME SELECT * FROM pending)"""
        )

    def summary(self) -> tuple[int, ...]:
        self._pending()
        row = self.con.execute(
            f"""SELECT count(*), count(*) FILTER (WHERE duration < {SHORT_SECONDS}),
                sum(elapsed) // 3600, sum(elapsed * num_nodes) // 3600,
                sum(elapsed * threads) // 3600, sum(elapsed * accs) // 3600 FROM jobs"""
        ).fetchall()[0]
        return tuple(int(v or 0) for v in row or ())

    def top(self) -> tuple[list[str], list[str]]:
        found = []
        for column in ("user", "project"):
            rows = self.con.execute(
                f"""SELECT {column}, sum(elapsed * num_nodes) AS s FROM jobs GROUP BY 1
                ORDER BY s DESC, 1 LIMIT 10"""
            ).fetchall()
            found.append([str(r[0]) for r in rows])
        if self.sqlite is not None and found[0]:
            marks = ", ".join("?" * len(found[0]))
            self.sqlite.execute(
                f"SELECT username, name FROM hpc_user WHERE username IN ({marks})", found[0]
            ).fetchall()
        return found[0], found[1]

    def histograms(self) -> tuple[list[int], list[tuple[int, int]]]:
        bins = dict(
            self.con.execute(
                f"SELECT elapsed // {DURATION_WIDTH} + 1 AS b, count(*) FROM jobs GROUP BY b"
            ).fetchall()
        )
        nodes = self.con.execute(
            "SELECT num_nodes, count(*) FROM jobs GROUP BY 1 ORDER BY 1"
        ).fetchall()
        durations = [int(bins.get(i, 0)) for i in range(1, DURATION_COUNT + 1)]
        return durations, [(int(v), int(n)) for v, n in nodes]

    def footprints_numpy(self) -> dict[str, Any]:
        """The same as :meth:`footprints_sql`, from one query of the per-job values
        binned with NumPy."""
        names = sorted({*HISTOGRAM_METRICS, *SCATTER, *ROOFLINE_METRICS})
        values = ", ".join(f"a_{m}" for m in names)
        arrays = self.con.execute(
            f"""SELECT duration * num_nodes / 3600.0 AS w, {values} FROM jobs
            WHERE monitoring_status NOT IN {_WITHOUT_DATA}"""
        ).fetchnumpy()
        columns = {
            k: np.asarray(np.ma.filled(np.ma.asarray(v, dtype=np.float64), np.nan))
            for k, v in arrays.items()
        }
        result: dict[str, Any] = {}
        for m in HISTOGRAM_METRICS:
            x = columns[f"a_{m}"]
            keep = np.isfinite(x)
            bins = _bins(x[keep], METRIC_BINS)
            weights = np.bincount(bins, weights=columns["w"][keep], minlength=METRIC_BINS)
            result[m] = (int(keep.sum()), float(weights.sum()))
        x, y = (columns[f"a_{m}"] for m in SCATTER)
        keep = np.isfinite(x) & np.isfinite(y)
        cells = _bins(x[keep], SCATTER_BINS) * SCATTER_BINS + _bins(y[keep], SCATTER_BINS)
        result["scatter"] = int(np.bincount(cells, minlength=SCATTER_BINS**2).sum())
        return result

    def footprints_sql(self) -> dict[str, Any]:
        """Weighted metric histograms (jobs, node hours) and the scatter plot's grid,
        binned in SQL."""
        with_data = f"monitoring_status NOT IN {_WITHOUT_DATA}"
        result: dict[str, Any] = {}
        for m in HISTOGRAM_METRICS:
            row = self.con.execute(
                f"""WITH v AS (SELECT a_{m} AS x, duration * num_nodes / 3600.0 AS w FROM jobs
                    WHERE {with_data} AND isfinite(a_{m})),
                r AS (SELECT min(x) AS lo, max(x) AS hi FROM v),
                b AS (SELECT least(CAST(floor((x - lo) / greatest(hi - lo, 1e-300) * {METRIC_BINS})
                        AS BIGINT), {METRIC_BINS - 1}) AS bin, count(*) AS n, sum(w) AS w
                    FROM v, r GROUP BY bin)
                SELECT coalesce(sum(n), 0), coalesce(sum(w), 0.0) FROM b"""
            ).fetchall()[0]
            result[m] = (int(row[0]), float(row[1])) if row else (0, 0.0)
        x, y = SCATTER
        row = self.con.execute(
            f"""WITH v AS (SELECT a_{x} AS x, a_{y} AS y FROM jobs
                WHERE {with_data} AND isfinite(a_{x}) AND isfinite(a_{y})),
            r AS (SELECT min(x) lx, max(x) hx, min(y) ly, max(y) hy FROM v),
            b AS (SELECT least(CAST(floor((x - lx) / greatest(hx - lx, 1e-300) * {SCATTER_BINS})
                    AS BIGINT), {SCATTER_BINS - 1}) AS i,
                least(CAST(floor((y - ly) / greatest(hy - ly, 1e-300) * {SCATTER_BINS})
                    AS BIGINT), {SCATTER_BINS - 1}) AS j, count(*) AS n FROM v, r GROUP BY i, j)
            SELECT coalesce(sum(n), 0), count(*) FROM b"""
        ).fetchall()[0]
        result["scatter"] = int(row[0]) if row else 0
        return result

    def heatmap(self) -> np.ndarray:
        """The roofline heatmap: the fine cells of the cluster's jobs with metric data
        summed in SQL, each put into the tile holding its centre (NumPy)."""
        rows = self.con.execute(
            f"""SELECT c.cell, sum(c.n) FROM (SELECT unnest(roofline) AS c
                FROM read_parquet({_list(self.s.files)}, union_by_name = true)
                WHERE cluster = '{self.s.cluster}'
                    AND monitoring_status NOT IN {_WITHOUT_DATA}) GROUP BY 1"""
        ).fetchnumpy()
        g: RooflineGrid = self.grid
        cells = np.asarray(rows["cell"], dtype=np.int64)
        x = FINE.lo_x + (cells % FINE.cols + 0.5) / FINE.per_decade
        y = FINE.lo_y + (cells // FINE.cols + 0.5) / FINE.per_decade
        counts = np.asarray(rows["sum(c.n)"], dtype=np.float64)
        lx, hx, ly, hy = (math.log10(v) for v in (g.min_x, g.max_x, g.min_y, g.max_y))
        col = np.floor((x - lx) / (hx - lx) * g.cols)
        row = np.floor((y - ly) / (hy - ly) * g.rows)
        keep = (x >= lx) & (x < hx) & (y >= ly) & (y <= hy)
        keep &= (col >= 0) & (col < g.cols) & (row >= 0) & (row < g.rows)
        flat = row[keep].astype(np.int64) * g.cols + col[keep].astype(np.int64)
        tiles = np.bincount(flat, weights=counts[keep], minlength=g.rows * g.cols)
        return tiles.reshape(g.rows, g.cols)


def _bins(x: np.ndarray, bins: int) -> np.ndarray:
    low, high = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    if high <= low:
        return np.zeros(x.size, dtype=np.int64)
    return np.minimum(((x - low) / (high - low) * bins).astype(np.int64), bins - 1)


def _list(files: list[str]) -> str:
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"


def _average(metric: str, columns: set[str]) -> str:
    """A job's average of ``metric``: its statistics average, else its footprint value."""
    found = [c for c in (f"stat_{metric}_avg", f"fp_{metric}_avg") if c in columns]
    if not found:
        return "NULL::DOUBLE"
    return f"coalesce({', '.join(found)})::DOUBLE"


# -- ours --------------------------------------------------------------------------------------


def ours_parts(store: AnalysisStore) -> dict[str, Callable[[], Any]]:
    """Each part of the page's load on its own, and the whole load (caches dropped)."""

    def run(step: Callable[[], Any]) -> Callable[[], Any]:
        def call() -> Any:
            store.forget()
            return asyncio.run(step())

        return call

    return {
        "summary": run(store.load_summary),
        "top users and projects": run(store.load_top),
        "duration and node histograms": run(store.load_histograms),
        "footprints": run(store.load_footprints),
        "roofline heatmap": run(store.load_heatmap),
        "page": run(store.load_analysis),
    }


def raw_parts(raw: Raw) -> dict[str, Callable[[], Any]]:
    return {
        "summary": raw.summary,
        "top users and projects": raw.top,
        "duration and node histograms": raw.histograms,
        "footprints (SQL binning)": raw.footprints_sql,
        "footprints (NumPy binning)": raw.footprints_numpy,
        "roofline heatmap": raw.heatmap,
    }


def compare(store: AnalysisStore, raw: Raw) -> dict[str, bool]:
    """Whether the page's data and the raw results agree, part by part (after a load)."""
    s = store.summary
    summary = s is not None and raw.summary() == (
        s.total_jobs,
        s.short_jobs,
        s.total_walltime,
        s.total_node_hours,
        s.total_core_hours,
        s.total_acc_hours,
    )
    users, projects = raw.top()
    top = [r.id for r in store.top_users] == users and [
        r.id for r in store.top_projects
    ] == projects
    durations, nodes = raw.histograms()
    h = store.histograms
    histograms = h is not None and [p.count for p in h.duration] == durations
    histograms = histograms and [(p.value, p.count) for p in h.num_nodes] == nodes
    found = raw.footprints_sql()
    again = raw.footprints_numpy()
    same_raw = found["scatter"] == again["scatter"] and all(
        found[m][0] == again[m][0] and math.isclose(found[m][1], again[m][1], rel_tol=1e-9)
        for m in HISTOGRAM_METRICS
    )
    by_metric = {m.metric: m for m in store.metric_histograms}
    metrics = all(
        by_metric[m].total_jobs == found[m][0]
        and math.isclose(
            float(by_metric[m].node_hours.sum()), found[m][1], rel_tol=1e-9, abs_tol=1e-6
        )
        for m in HISTOGRAM_METRICS
    )
    heatmap = store.heatmap is not None and np.array_equal(store.heatmap.tiles, raw.heatmap())
    scatter = bool(store.scatters) and store.scatters[0].jobs == found["scatter"]
    return {
        "summary": summary,
        "top users and projects": top,
        "duration and node histograms": histograms,
        "footprints": metrics and scatter and same_raw,
        "roofline heatmap": heatmap,
    }


# -- measuring and reporting ---------------------------------------------------------------------


def _seconds(call: Callable[[], Any]) -> float:
    began = time.perf_counter()
    call()
    return time.perf_counter() - began


def _p50(times: list[float]) -> float:
    return statistics.median(times)


def measure(scenario: Scenario, repeat: int, progress: Progress) -> dict[str, Any]:
    """Check, then time both sides ``repeat`` rounds (alternating who goes first)."""
    store = page_store(scenario)
    raw = Raw(scenario)
    task = progress.add_task(f"{scenario.label}: first load", total=repeat + 1)
    try:
        first = _seconds(lambda: asyncio.run(store.load()))
        if store.error:
            raise SystemExit(f"{scenario.label}: the page's store failed: {store.error}")
        checks = compare(store, raw)
        progress.update(task, advance=1, description=f"{scenario.label}: timing")
        mine, theirs = ours_parts(store), raw_parts(raw)
        times: dict[str, list[float]] = {f"ours {n}": [] for n in mine}
        times |= {f"raw {n}": [] for n in theirs}
        for i in range(repeat):
            sides = [("ours", mine), ("raw", theirs)]
            for side, calls in sides if i % 2 == 0 else sides[::-1]:
                for name, call in calls.items():
                    times[f"{side} {name}"].append(_seconds(call))
            progress.update(task, advance=1)
        jobs = store.summary.total_jobs if store.summary is not None else 0
        return {"times": times, "checks": checks, "first": first, "jobs": jobs}
    finally:
        raw.close()


def report(label: str, cluster: str, found: dict[str, Any]) -> dict[str, Any]:
    """Print the times of one site with ratios and goals; the figures as a dict."""
    times, checks = found["times"], found["checks"]
    table = Table(
        title=f"Analysis page, {label}: cluster {cluster}, {found['jobs']:,} jobs (p50, ms)"
    )
    for column in ("part", "ours", "raw", "ours / raw", "same results"):
        table.add_column(column, justify="left" if column == "part" else "right")
    raw_parts = {p: _p50(times[f"raw {p}"]) for p in PARTS if p != "footprints"}
    raw_parts["footprints"] = min(_p50(times[f"raw footprints ({k} binning)"]) for k in _BINNING)
    for part in PARTS:
        ours, raw = _p50(times[f"ours {part}"]), raw_parts[part]
        same = "yes" if checks[part] else "[red]NO[/red]"
        table.add_row(part, f"{ours * 1000:,.1f}", f"{raw * 1000:,.1f}", f"{ours / raw:.2f}x", same)
    for kind in _BINNING:
        raw = _p50(times[f"raw footprints ({kind} binning)"])
        table.add_row(f"  raw footprints, {kind} binning", "", f"{raw * 1000:,.1f}", "", "")
    page = _p50(times["ours page"])
    raw_total = sum(raw_parts.values())
    parts_total = sum(_p50(times[f"ours {p}"]) for p in PARTS)
    ratio = page / raw_total
    raw_ms = f"{raw_total * 1000:,.1f}"
    sequential = f"{parts_total / raw_total:.2f}x"
    table.add_row("parts one after the other", f"{parts_total * 1000:,.1f}", raw_ms, sequential, "")
    table.add_row(
        "[b]the page's load[/b] (parts at once)",
        f"[b]{page * 1000:,.1f}[/b]",
        raw_ms,
        f"[b]{ratio:.2f}x[/b]",
        "",
    )
    console.print(table)
    fast, close = page < GOAL_SECONDS, ratio <= GOAL_RATIO
    same = all(checks.values())

    def verdict(ok: bool) -> str:
        return "[green]met[/green]" if ok else "[red]missed[/red]"

    console.print(
        f"goals: under {GOAL_SECONDS:.0f} s {verdict(fast)}; within {GOAL_RATIO}x of the raw "
        f"queries {verdict(close)}; same results {verdict(same)}; first load (opens the "
        f"index, compares the table's jobs with it) {found['first']:.2f} s"
    )
    return {
        "cluster": cluster,
        "jobs": found["jobs"],
        "page_seconds": page,
        "raw_seconds": raw_total,
        "ratio": ratio,
        "checks": checks,
        "met": fast and close and same,
        "times": times,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=positive_int, default=1_000_000, help="job table size")
    parser.add_argument("--archive-jobs", type=positive_int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=positive_int, default=5, help="timed rounds")
    parser.add_argument("--cluster", default=None, help="job table: the cluster analysed")
    parser.add_argument("--data", type=Path, default=Path("benchmarks/data"))
    args = parser.parse_args(argv)

    console.print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    results: dict[str, Any] = {}
    with Progress(console=console, transient=True) as progress:
        sites = [
            lambda: job_table_site(args.data, args.jobs, args.seed, args.cluster),
            lambda: archive_site(args.data, args.archive_jobs, args.seed),
        ]
        found = []
        for site in sites:
            with ExitStack() as stack:
                scenario = stack.enter_context(site())
                found.append(
                    (scenario.label, scenario.cluster, measure(scenario, args.repeat, progress))
                )
    for label, cluster, measured in found:
        results[label] = report(label, cluster, measured)
    return {"scenarios": results, "met": all(r["met"] for r in results.values())}


if __name__ == "__main__":
    main()
