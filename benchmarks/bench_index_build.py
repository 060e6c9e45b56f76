"""Building the statistics index of an archive with metric data (``cc-backend init-db``,
``cc-archive index``), against reading the archive's documents alone.

The index holds a job's roofline counts, which come from its ``flops_any`` and ``mem_bw``
series: building it reads every job's data.json. Measured in one run, the paths in turns
(who goes first rotating):

* **meta scan**: reading and decoding every meta.json (what the rest of the index needs);
* **all metrics**: reading and decoding every job's whole data.json (the floor of an
  index build before metrics could be chosen);
* **roofline metrics**: the same documents, only the two roofline metrics decoded;
* **index build**: ``ArchiveIndex.build`` as ``init-db`` runs it (roofline metrics only);
* **index build, all metrics**: the same with a loader that decodes whole documents;
* **index build, all CPUs**: the index build with a worker process per CPU reading the
  metric data (the first 1,000 jobs are counted in the benchmark's process).

    python -m benchmarks.bench_index_build --jobs 2000 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from cc_backend.archive import JobArchive, open_archive_url
from cc_backend.demo import generate_demo_archive
from cc_backend.domain.job import Job
from cc_backend.stats import ArchiveIndex
from cc_backend.stats.locations import RooflineData
from cc_backend.stats.roofline_cells import ROOFLINE_METRICS

console = Console()

#: Path names in the order of the table.
PATHS = (
    "meta scan",
    "all metrics",
    "roofline metrics",
    "index build",
    "index build, all metrics",
    "index build, all CPUs",
)


def ensure_archive(folder: Path, jobs: int, seed: int) -> Path:
    """A demo archive with metric data in ``folder``, generated when missing or made with
    other parameters."""
    marker, root = folder / "generated.json", folder / "archive"
    wanted = {"jobs": jobs, "seed": seed}
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        return root
    shutil.rmtree(folder, ignore_errors=True)
    root.mkdir(parents=True)
    began = time.perf_counter()
    generate_demo_archive(open_archive_url(str(root)), jobs=jobs, seed=seed, with_data=True)
    marker.write_text(json.dumps(wanted))
    seconds = time.perf_counter() - began
    console.print(f"generated {jobs:,} jobs with metric data in {seconds:.0f} s")
    return root


def _build(
    archive: JobArchive, folder: Path, loader: Callable[[Job], Any], workers: int = 1
) -> int:
    index = ArchiveIndex(str(folder), data_loader=loader)
    report = index.build(archive.iter_jobs(), workers=workers)
    if report.broken:
        raise SystemExit(f"{report.broken} broken jobs: {report.errors[:3]}")
    return report.jobs


def _load_each(archive: JobArchive, jobs: list[Job], metrics: Sequence[str] | None) -> None:
    """Read the metric data of every job, one after the other (none kept)."""
    for job in jobs:
        archive.load_data(job, metrics=metrics)


def measure(archive: JobArchive, jobs: list[Job], repeat: int) -> dict[str, list[float]]:
    """Seconds per path, ``repeat`` rounds."""
    with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
        calls: dict[str, Callable[[], object]] = {
            "meta scan": lambda: sum(1 for e in archive.iter_jobs() if e.ok),
            "all metrics": lambda: _load_each(archive, jobs, None),
            "roofline metrics": lambda: _load_each(archive, jobs, ROOFLINE_METRICS),
            "index build": lambda: _build(archive, Path(tmp) / "roofline", RooflineData(archive)),
            "index build, all metrics": lambda: _build(
                archive, Path(tmp) / "all", archive.load_data
            ),
            "index build, all CPUs": lambda: _build(
                archive, Path(tmp) / "cpus", RooflineData(archive), os.cpu_count() or 1
            ),
        }
        times: dict[str, list[float]] = {name: [] for name in PATHS}
        for i in range(repeat):
            order = PATHS[i % len(PATHS) :] + PATHS[: i % len(PATHS)]
            for name in order:
                began = time.perf_counter()
                calls[name]()
                times[name].append(time.perf_counter() - began)
        return times


def report(times: dict[str, list[float]], jobs: int) -> dict[str, float]:
    """Print the table; return the median seconds per path."""
    medians = {name: statistics.median(values) for name, values in times.items()}
    table = Table(title=f"statistics index of {jobs:,} jobs with metric data", title_justify="left")
    for column in ("path", "median s", "jobs/s", "/ all metrics"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for name in PATHS:
        seconds = medians[name]
        table.add_row(
            name,
            f"{seconds:.2f}",
            f"{jobs / seconds:,.0f}",
            f"{seconds / medians['all metrics']:.2f}",
        )
    console.print(table)
    before, after = medians["index build, all metrics"], medians["index build"]
    console.print(f"index build: {before / after:.2f}x faster reading the roofline metrics only")
    parallel = medians["index build, all CPUs"]
    console.print(f"index build on {os.cpu_count()} CPUs: {after / parallel:.2f}x faster again")
    return medians


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Command line entry point; returns the median seconds per path."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path("benchmarks/data"))
    args = parser.parse_args(argv)
    root = ensure_archive(args.data / f"demo-archive-{args.jobs}", args.jobs, args.seed)
    archive = open_archive_url(str(root))
    jobs = [entry.meta for entry in archive.iter_jobs() if entry.meta is not None]
    console.print(f"{root}: {len(jobs):,} jobs, {args.repeat} rounds")
    return report(measure(archive, jobs, args.repeat), len(jobs))


if __name__ == "__main__":
    main()
