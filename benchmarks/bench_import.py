"""Importing an archive into the job database, against the archive scan alone.

Uses (or generates once) the same meta-only archive of demo jobs as the archive statistics
benchmark and measures in one run: (i) scanning the archive (reading and decoding every
meta.json: the floor of any import), (ii) ``import_archive`` into a fresh SQLite job
database, and their ratio. Goal: 3,000 jobs/s or more for the import.

    python -m benchmarks.bench_import --jobs 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.bench_archive_stats import ensure_archive
from cc_backend.archive import open_archive_url
from cc_backend.repository.database import open_database
from cc_backend.repository.jobs import JobRepository
from cc_backend.repository.tags import TagRepository
from cc_backend.services.importer import import_archive

console = Console()
GOAL_JOBS_PER_SECOND = 3000


def scan_seconds(root: Path) -> tuple[float, int]:
    """Seconds to read and decode every job's meta data, and the number of jobs."""
    archive = open_archive_url(str(root))
    began = time.perf_counter()
    count = sum(1 for entry in archive.iter_jobs() if entry.ok)
    return time.perf_counter() - began, count


def import_seconds(root: Path) -> tuple[float, int]:
    """Seconds to import the archive into a new SQLite job database, and jobs imported."""
    archive = open_archive_url(str(root))
    with tempfile.TemporaryDirectory() as folder:
        db = open_database(f"sqlite:///{Path(folder) / 'job.db'}")
        began = time.perf_counter()
        report = import_archive(archive, JobRepository(db), TagRepository(db), rebuild=True)
        seconds = time.perf_counter() - began
        db.close()
    if report.failed:
        raise SystemExit(f"{len(report.failed)} jobs failed to import: {report.failed[:3]}")
    return seconds, report.imported


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path("benchmarks/data"))
    args = parser.parse_args(argv)
    root = ensure_archive(args.data / f"archive-stats-{args.jobs}", args.jobs, args.seed)
    scans, imports = [], []
    jobs = 0
    for _ in range(args.repeat):
        seconds, jobs = scan_seconds(root)
        scans.append(seconds)
        seconds, imported = import_seconds(root)
        imports.append(seconds)
        assert imported == jobs, (imported, jobs)
    scan, imp = statistics.median(scans), statistics.median(imports)
    table = Table(title=f"import of {jobs:,} archived jobs (median of {args.repeat})")
    for column in ("step", "seconds", "jobs/s"):
        table.add_column(column, justify="right" if column != "step" else "left")
    table.add_row("(i) scan the archive", f"{scan:.2f}", f"{jobs / scan:,.0f}")
    table.add_row("(ii) import into SQLite", f"{imp:.2f}", f"{jobs / imp:,.0f}")
    console.print(table)
    rate = jobs / imp
    verdict = "met" if rate >= GOAL_JOBS_PER_SECOND else "MISSED"
    console.print(
        f"import/scan time ratio {imp / scan:.2f}; {rate:,.0f} jobs/s, "
        f"goal {GOAL_JOBS_PER_SECOND:,} jobs/s: {verdict}"
    )


if __name__ == "__main__":
    main()
