"""Benchmark the job list: our query path against hand-written SQL on the same engine.

    python -m benchmarks.bench_job_list --db benchmarks/data/jobs-1m.db --repeat 30

For each query of :mod:`benchmarks.job_list_queries` it measures, alternately in the same
run, ``JobRepository.query(..., with_count=True)`` ("ours") and the equivalent raw SQL
("raw": ``SELECT * ... ORDER BY ... LIMIT 51`` plus ``SELECT COUNT(*)`` on the DBAPI
cursor of a connection from the same engine), then the page alone and the count alone.
It prints p50/p95 in milliseconds, the ratios ours/raw, the query plans SQLite chose for
both, and whether the goals hold: ours within 1.5x of raw (p50) and page+count p95 under
100 ms.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

from benchmarks.job_list_queries import ListQuery, check_same, job_list_queries
from cc_backend.repository.database import Database, open_database
from cc_backend.repository.jobs import JobRepository

RATIO_GOAL = 1.5
P95_GOAL_MS = 100.0
#: The measured variants: (name, include the page, include the count).
VARIANTS = (("both", True, True), ("page", True, False), ("count", False, True))


@dataclass
class Timings:
    """Milliseconds per variant ("both", "page", "count") and path ("ours", "raw")."""

    samples: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def add(self, variant: str, path: str, ms: float) -> None:
        self.samples.setdefault((variant, path), []).append(ms)

    def pct(self, variant: str, path: str, q: float) -> float:
        return float(np.percentile(self.samples[(variant, path)], q))

    def ratio(self, variant: str, q: float) -> float:
        return self.pct(variant, "ours", q) / self.pct(variant, "raw", q)


def _ms(call: Callable[[], Any]) -> float:
    began = time.perf_counter_ns()
    call()
    return (time.perf_counter_ns() - began) / 1e6


def measure(query: ListQuery, repo: JobRepository, db: Database, repeat: int) -> Timings:
    """Time ours and raw alternately (who goes first alternates too), ``repeat`` times each."""
    timings = Timings()
    for i in range(repeat):
        for variant, page, count in VARIANTS:
            calls = [
                ("ours", lambda p=page, c=count: query.ours(repo, page=p, count=c)),
                ("raw", lambda p=page, c=count: query.raw(db, page=p, count=c)),
            ]
            for path, call in calls if i % 2 == 0 else calls[::-1]:
                timings.add(variant, path, _ms(call))
    return timings


def captured_sql(query: ListQuery, repo: JobRepository, db: Database) -> list[tuple[str, Any]]:
    """The statements (with parameters) our path sends to the database for ``query``."""
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        query.ours(repo)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return statements


def query_plan(db: Database, sql: str, params: Any) -> str:
    """SQLite's ``EXPLAIN QUERY PLAN`` for ``sql``, as one line."""
    with db.engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        rows = cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params).fetchall()
        cursor.close()
    return "; ".join(str(row[-1]) for row in rows)


def _plan_style(plan: str) -> str:
    if "TEMP B-TREE" in plan or (plan.startswith("SCAN job") and "INDEX" not in plan):
        return f"[red]{plan}[/red]"
    return plan


def plans(query: ListQuery, repo: JobRepository, db: Database) -> dict[str, str]:
    """Plans of our page and count statements and of the raw ones."""
    statements = captured_sql(query, repo, db)
    ours = [query_plan(db, sql, params) for sql, params in statements]
    return {
        "ours page": ours[0] if ours else "?",
        "ours count": ours[1] if len(ours) > 1 else "?",
        "raw page": query_plan(db, query.page_sql, query.params),
        "raw count": query_plan(db, query.count_sql, query.params),
    }


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _f(value: float) -> str:
    return f"{value:,.2f}"


def _goal_table(results: list[tuple[ListQuery, int, Timings]]) -> tuple[Table, list[str]]:
    """Page + count per query, with the goals; also the list of missed goals."""
    table = Table(title="page of 50 + count (ms)", title_justify="left")
    table.add_column("query")
    for name in ("matches", "ours p50", "ours p95", "raw p50", "raw p95", "ratio p50"):
        table.add_column(name, justify="right")
    for name in ("ratio p95", "ours-raw p50", "goals"):
        table.add_column(name, justify="right")
    missed: list[str] = []
    for query, total, t in results:
        ratio_ok = t.ratio("both", 50) <= RATIO_GOAL
        p95_ok = t.pct("both", "ours", 95) < P95_GOAL_MS
        if not ratio_ok:
            missed.append(f"({query.key}) ratio {t.ratio('both', 50):.2f}")
        if not p95_ok:
            missed.append(f"({query.key}) p95 {t.pct('both', 'ours', 95):.1f} ms")
        marks = ("[green]ratio[/green]" if ratio_ok else "[red]RATIO[/red]") + (
            " [green]p95[/green]" if p95_ok else " [red]P95[/red]"
        )
        table.add_row(
            f"({query.key}) {query.title}",
            f"{total:,}",
            *(_f(t.pct("both", path, q)) for path in ("ours", "raw") for q in (50, 95)),
            _f(t.ratio("both", 50)),
            _f(t.ratio("both", 95)),
            _f(t.pct("both", "ours", 50) - t.pct("both", "raw", 50)),
            marks,
        )
    return table, missed


def _split_table(results: list[tuple[ListQuery, int, Timings]]) -> Table:
    """The page alone and the count alone, ours and raw."""
    table = Table(title="page alone and count alone (ms)", title_justify="left")
    table.add_column("query")
    for variant in ("page", "count"):
        for name in ("ours p50", "ours p95", "raw p50", "raw p95", "ratio p50"):
            table.add_column(f"{variant} {name}", justify="right")
    for query, _, t in results:
        cells = [
            _f(value)
            for variant in ("page", "count")
            for value in (
                t.pct(variant, "ours", 50),
                t.pct(variant, "ours", 95),
                t.pct(variant, "raw", 50),
                t.pct(variant, "raw", 95),
                t.ratio(variant, 50),
            )
        ]
        table.add_row(f"({query.key})", *cells)
    return table


def report(console: Console, results: list[tuple[ListQuery, int, Timings]]) -> bool:
    """Print the timing tables and the goal line; return whether every goal holds."""
    table, missed = _goal_table(results)
    console.print(table)
    console.print(_split_table(results))
    for query, _, t in results:
        if t.ratio("both", 50) > RATIO_GOAL:
            page = t.pct("page", "ours", 50) - t.pct("page", "raw", 50)
            count = t.pct("count", "ours", 50) - t.pct("count", "raw", 50)
            console.print(
                f"  ({query.key}) ours - raw, p50: page {page:+.2f} ms, count {count:+.2f} ms"
            )
    goals = len(results) * 2
    verdict = "[green]all met[/green]" if not missed else "[red]missed: " + ", ".join(missed)
    console.print(
        f"goals (ours/raw p50 <= {RATIO_GOAL}, ours page+count p95 < {P95_GOAL_MS:.0f} ms): "
        f"{goals - len(missed)}/{goals} met; {verdict}"
    )
    return not missed


def print_plans(console: Console, query_plans: list[tuple[ListQuery, dict[str, str]]]) -> None:
    """The index SQLite uses per statement (red: a temporary b-tree or a full scan)."""
    table = Table(title="EXPLAIN QUERY PLAN", title_justify="left")
    table.add_column("query")
    table.add_column("statement")
    table.add_column("plan", overflow="fold")
    for query, found in query_plans:
        for kind in ("page", "count"):
            ours, raw = found[f"ours {kind}"], found[f"raw {kind}"]
            table.add_row(f"({query.key})", f"{kind}", _plan_style(ours))
            if raw != ours:
                table.add_row("", f"{kind} (raw)", f"[yellow]{_plan_style(raw)}[/yellow]")
    console.print(table)
    console.print("  (raw SQL gets its own row only where its plan differs from ours)")


def run(db_path: Path, repeat: int, console: Console) -> bool:
    """Benchmark the database at ``db_path``; return whether every goal holds."""
    if not db_path.is_file():
        raise SystemExit(f"{db_path} not found; create it with python -m benchmarks.generate_jobs")
    db = open_database(f"sqlite:///{db_path}")
    try:
        repo = JobRepository(db)
        queries = job_list_queries(db)
        with db.engine.connect() as conn:
            jobs = conn.exec_driver_sql("SELECT COUNT(*) FROM job").scalar()
            version = conn.exec_driver_sql("SELECT sqlite_version()").scalar()
        console.print(
            f"{db_path}: {jobs:,} jobs, SQLite {version}, {repeat} repetitions, "
            f"{os.cpu_count()} CPUs, load average {_load()}"
        )
        results = []
        query_plans = []
        for query in queries:
            total = check_same(query, repo, db)  # also warms the caches; not timed
            query_plans.append((query, plans(query, repo, db)))
            console.print(f"  measuring ({query.key}) {query.title} ...")
            results.append((query, total, measure(query, repo, db, repeat)))
        print_plans(console, query_plans)
        ok = report(console, results)
        console.print(f"load average after the run: {_load()} (other processes skew timings)")
        return ok
    finally:
        db.close()


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=Path("benchmarks/data/jobs-1m.db"))
    parser.add_argument("--repeat", type=int, default=30, help="measurements per query/path")
    parser.add_argument("--check", action="store_true", help="exit with 1 if a goal is missed")
    args = parser.parse_args(argv)
    ok = run(args.db, args.repeat, Console(width=max(Console().width, 140)))
    if args.check and not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
