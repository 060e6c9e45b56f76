"""cc-archive index / export-parquet and stats: the archive's Parquet index and what DuckDB
answers over it."""

from __future__ import annotations

import argparse
import os
from contextlib import closing
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from archive_tools import output
from archive_tools.commands import EXIT_OK, EXIT_PROBLEMS, _open
from cc_backend.argtypes import positive_int
from cc_backend.domain.filters import JobFilter

if TYPE_CHECKING:
    from cc_backend.archive import JobArchive
    from cc_backend.stats import ArchiveIndex


def _index(args: argparse.Namespace, archive: JobArchive) -> ArchiveIndex:
    """The index named by --index, or the one beside ``archive`` (on its filesystem)."""
    from cc_backend.stats import open_archive_index  # noqa: PLC0415 - pyarrow/duckdb are heavy

    return open_archive_index(archive, args.index)


def _build(
    args: argparse.Namespace,
    archive: JobArchive,
    index: ArchiveIndex,
    *,
    workers: int,
    to_stderr: bool = False,
) -> int:
    """Build ``index`` from ``archive`` with ``workers`` processes reading metric data."""
    entries = output.tracked(
        archive.iter_jobs(), "indexing", archive.info().jobs, enabled=not args.quiet
    )
    report = index.build(entries, workers=workers)
    for error in report.errors:
        output.err.print(f"[yellow]unreadable[/] {error}")
    console = output.err if to_stderr else output.out
    console.print(
        f"indexed {report.jobs} jobs in {report.seconds:.1f} s into {index.location} "
        f"({report.broken} unreadable, {report.duplicates} duplicates)"
    )
    return EXIT_PROBLEMS if report.broken else EXIT_OK


def cmd_index(args: argparse.Namespace) -> int:
    """(Re)build the Parquet index of all job meta data."""
    with closing(_open(args)) as archive:
        return _build(args, archive, _index(args, archive), workers=args.workers)


def filters_of(args: argparse.Namespace) -> list[JobFilter]:
    """The job filter given by the --cluster/--user/--project/--state/--since options."""
    spec: dict[str, Any] = {}
    if args.cluster:
        spec["cluster"] = {"eq": args.cluster}
    if args.user:
        spec["user"] = {"eq": args.user}
    if args.project:
        spec["project"] = {"eq": args.project}
    if args.state:
        spec["state"] = args.state
    if args.since is not None:
        spec["startTime"] = {"from": args.since}
    return [JobFilter.model_validate(spec)] if spec else []


def cmd_stats(args: argparse.Namespace) -> int:
    """Totals, top groups and the duration histogram of the matching jobs."""
    from cc_backend.stats import ArchiveStats, GroupBy, SortBy  # noqa: PLC0415

    with closing(_open(args)) as archive:
        index = _index(args, archive)
        if not index.exists() or args.rebuild:
            _build(args, archive, index, workers=1, to_stderr=True)  # `stats` has no --workers
    filters = filters_of(args)
    stats = ArchiveStats(index)
    try:
        totals = stats.totals(filters)
        groups = stats.grouped(
            GroupBy(args.by.upper()), filters, sort_by=SortBy.TOTALNODEHOURS, limit=args.top
        )
        durations = stats.duration_histogram(filters, args.duration_bins)
    finally:
        stats.close()
    if args.json:
        output.print_json(
            {
                "totals": asdict(totals),
                "groups": [asdict(g) for g in groups],
                "durationHistogram": [asdict(p) for p in durations],
            }
        )
        return EXIT_OK
    output.table(
        "all matching jobs",
        ["#jobs", "#users", "#running", "#node hours", "#core hours", "#acc hours"],
        [
            (
                totals.jobs,
                totals.users,
                totals.running_jobs,
                f"{totals.node_hours:,.0f}",
                f"{totals.core_hours:,.0f}",
                f"{totals.acc_hours:,.0f}",
            )
        ],
    )
    output.table(
        f"top {args.top} by node hours, per {args.by}",
        [args.by, "#jobs", "#node hours", "#core hours", "#walltime hours"],
        [
            (
                g.id,
                g.jobs,
                f"{g.node_hours:,.0f}",
                f"{g.core_hours:,.0f}",
                f"{g.walltime_hours:,.0f}",
            )
            for g in groups
        ],
    )
    peak = max((p.count for p in durations), default=0) or 1
    output.table(
        "jobs per duration",
        ["up to", "#jobs", ""],
        [(_hours(p.value), p.count, "█" * round(40 * p.count / peak)) for p in durations],
    )
    return EXIT_OK


def _hours(seconds: int) -> str:
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def add_commands(add: Any, parse_time: Any) -> None:
    """Register the index and stats subcommands (``add`` as in archive_tools.cli)."""
    for name in ("index", "export-parquet"):
        index = add(name, cmd_index, "(re)build the Parquet index of all job meta data")
        index.add_argument("--index", help="index location (default: ARCHIVE-index)")
        index.add_argument(
            "--workers",
            type=positive_int,
            default=os.cpu_count() or 1,
            help="processes reading metric data for roofline counts (default: all CPUs)",
        )
    stats = add("stats", cmd_stats, "job totals, top users/projects and durations")
    stats.add_argument("--index", help="index location (default: ARCHIVE-index)")
    stats.add_argument("--rebuild", action="store_true", help="rebuild the index first")
    stats.add_argument("--by", default="user", choices=["user", "project", "cluster", "subcluster"])
    stats.add_argument("--top", type=int, default=10, help="number of groups listed (10)")
    stats.add_argument("--duration-bins", default=None, help="1m, 10m, 1h, 6h, 12h or 24h")
    stats.add_argument("--cluster", help="only jobs of this cluster")
    stats.add_argument("--user", help="only jobs of this user")
    stats.add_argument("--project", help="only jobs of this project")
    stats.add_argument("--state", action="append", help="only jobs in this state")
    stats.add_argument("--since", type=parse_time, help="only jobs started since")
    stats.add_argument("--json", action="store_true", help="print JSON")
