"""The cc-archive subcommands: each opens the archive, does one thing and reports."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from contextlib import closing

from archive_tools import output
from cc_backend.archive import ArchiveEntry, JobArchive, JobRef
from cc_backend.domain.errors import InvalidInput

EXIT_OK = 0
EXIT_PROBLEMS = 1


def _open(
    args: argparse.Namespace, location: str | None = None, *, create: bool = False
) -> JobArchive:
    from archive_tools.cli import open_location  # noqa: PLC0415 - avoids an import cycle

    archive: JobArchive = open_location(args, location, create=create)
    return archive


def select_jobs(
    archive: JobArchive,
    *,
    before: int | None = None,
    after: int | None = None,
    clusters: list[str] | None = None,
    show_progress: bool = True,
) -> tuple[list[JobRef], list[ArchiveEntry]]:
    """References of the jobs that started before ``before`` / after ``after`` (any when
    unset) on ``clusters`` (all when unset), and the entries that could not be read."""
    selected: list[JobRef] = []
    broken: list[ArchiveEntry] = []
    total = archive.info().jobs if show_progress else None
    scan = archive.iter_jobs(clusters=clusters)
    for entry in output.tracked(scan, "scanning", total, enabled=show_progress):
        if entry.meta is None:
            broken.append(entry)
            continue
        start = entry.meta.start_time
        if before is not None and start >= before:
            continue
        if after is not None and start <= after:
            continue
        selected.append(JobRef.of(entry.meta))
    return selected, broken


def forget_in_index(archive: JobArchive, refs: Sequence[JobRef]) -> None:
    """Drop removed jobs from the Parquet index beside ``archive``, if there is one."""
    if not refs:
        return
    from cc_backend.stats import open_archive_index  # noqa: PLC0415

    index = open_archive_index(archive)
    if index.exists():
        index.remove(refs)


def _report_broken(broken: list[ArchiveEntry]) -> None:
    for entry in broken:
        output.err.print(f"[yellow]unreadable[/] {entry.location}: {entry.error}")


def cmd_info(args: argparse.Namespace) -> int:
    """Print jobs, first/last start and size per cluster."""
    with closing(_open(args)) as archive:
        info = archive.info()
        location = archive.location
    if args.json:
        output.print_json(
            {
                "location": location,
                "version": info.version,
                "jobs": info.jobs,
                "sizeBytes": info.size_bytes,
                "clusters": [
                    {
                        "name": c.name,
                        "jobs": c.jobs,
                        "firstStart": c.first_start,
                        "lastStart": c.last_start,
                        "sizeBytes": c.size_bytes,
                    }
                    for c in info.clusters
                ],
            }
        )
        return EXIT_OK
    rows = [
        (
            c.name,
            c.jobs,
            output.when(c.first_start),
            output.when(c.last_start),
            output.size(c.size_bytes),
        )
        for c in info.clusters
    ]
    starts = [c.first_start for c in info.clusters if c.first_start is not None]
    ends = [c.last_start for c in info.clusters if c.last_start is not None]
    rows.append(
        (
            "TOTAL",
            info.jobs,
            output.when(min(starts) if starts else None),
            output.when(max(ends) if ends else None),
            output.size(info.size_bytes),
        )
    )
    output.table(
        f"{location} (archive version {info.version})",
        ["cluster", "#jobs", "first start", "last start", "#size"],
        rows,
    )
    return EXIT_OK


def cmd_clean(args: argparse.Namespace) -> int:
    """Remove the jobs that started before --before or after --after."""
    if args.before is None and args.after is None:
        raise InvalidInput("clean needs --before and/or --after")
    with closing(_open(args)) as archive:
        if args.dry_run:
            refs, broken = select_jobs(
                archive, before=args.before, after=args.after, show_progress=not args.quiet
            )
            _report_broken(broken)
            output.out.print(f"{len(refs)} jobs would be removed from {archive.location}")
            return EXIT_PROBLEMS if broken else EXIT_OK
        result = archive.clean(before=args.before, after=args.after)
        output.out.print(f"removed {result.removed} jobs from {archive.location}")
        forget_in_index(archive, result.refs)
    return EXIT_OK


def cmd_move(args: argparse.Namespace) -> int:
    """Move the selected jobs to the TARGET archive."""
    with closing(_open(args)) as archive, closing(_open(args, args.target, create=True)) as target:
        refs, broken = select_jobs(
            archive, before=args.before, clusters=args.cluster, show_progress=not args.quiet
        )
        _report_broken(broken)
        moved = archive.move(
            output.tracked(refs, "moving", len(refs), enabled=not args.quiet), target
        )
        output.out.print(f"moved {moved} jobs from {archive.location} to {target.location}")
        forget_in_index(archive, refs)
    return EXIT_PROBLEMS if broken else EXIT_OK


def cmd_compress(args: argparse.Namespace) -> int:
    """Gzip the metric data of the selected jobs."""
    with closing(_open(args)) as archive:
        refs, broken = select_jobs(archive, before=args.before, show_progress=not args.quiet)
        _report_broken(broken)
        count = archive.compress(
            output.tracked(refs, "compressing", len(refs), enabled=not args.quiet)
        )
        output.out.print(f"compressed the data of {count} jobs in {archive.location}")
    return EXIT_PROBLEMS if broken else EXIT_OK


def cmd_migrate(args: argparse.Namespace) -> int:
    """Upgrade a version-2 archive (folder or s3:// URL) to version 3."""
    import fsspec  # noqa: PLC0415

    from archive_tools.cli import s3_options  # noqa: PLC0415
    from cc_backend.archive.migrate import migrate_archive  # noqa: PLC0415

    location: str = args.archive
    storage: dict[str, object] = {}
    if location.startswith("s3://"):
        options = s3_options(args)
        storage = {
            "key": options.get("access_key"),
            "secret": options.get("secret_key"),
            "client_kwargs": {"endpoint_url": options.get("endpoint"), "region_name": args.region},
        }
    fs, root = fsspec.core.url_to_fs(location, **storage)
    with output.progress("migrating", None, enabled=not args.quiet) as advance:
        report = migrate_archive(
            fs, root, dry_run=args.dry_run, workers=args.workers, on_progress=lambda d, t: advance()
        )
    for path, reason in report.failed:
        output.err.print(f"[red]failed[/] {path}: {reason}")
    verb = "would migrate" if args.dry_run else "migrated"
    output.out.print(
        f"{verb} {report.migrated} jobs ({report.unchanged} already current, "
        f"{len(report.failed)} failed)"
    )
    if report.version_updated:
        output.out.print(f"{location} is now at archive version 3")
    return EXIT_PROBLEMS if report.failed else EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    """Check every document of the archive; list the problems."""
    from cc_backend.archive.validate import validate_archive  # noqa: PLC0415

    with closing(_open(args)) as archive:
        report = validate_archive(archive, with_data=not args.meta_only, progress=not args.quiet)
    shown = report.problems if args.warnings else report.errors
    if args.json:
        output.print_json(
            {
                "clusters": report.clusters,
                "jobs": report.jobs,
                "brokenJobs": report.broken_jobs,
                "errors": len(report.errors),
                "warnings": len(report.warnings),
                "problems": [
                    {"location": p.location, "severity": p.severity.value, "message": p.message}
                    for p in shown
                ],
            }
        )
    else:
        for problem in shown:
            style = "red" if problem.severity == "error" else "yellow"
            output.out.print(
                f"[{style}]{problem.severity}[/] {problem.location}: {problem.message}"
            )
        output.out.print(
            f"checked {report.clusters} clusters and {report.jobs} jobs in {report.seconds:.1f} s: "
            f"{len(report.errors)} errors ({report.broken_jobs} jobs), "
            f"{len(report.warnings)} warnings"
        )
    return EXIT_OK if report.ok else EXIT_PROBLEMS


def cmd_import(args: argparse.Namespace) -> int:
    """Import the archive's jobs into a job database (skipping jobs already there)."""
    from cc_backend.repository.database import open_database  # noqa: PLC0415
    from cc_backend.repository.jobs import JobRepository  # noqa: PLC0415
    from cc_backend.repository.tags import TagRepository  # noqa: PLC0415
    from cc_backend.services.importer import ImportInterrupted, import_archive  # noqa: PLC0415

    url = args.db if "://" in args.db else f"sqlite:///{args.db}"
    with closing(_open(args)) as archive, closing(open_database(url)) as db:
        try:
            report = import_archive(
                archive,
                JobRepository(db),
                TagRepository(db),
                rebuild=args.rebuild,
                progress=not args.quiet,
            )
        except ImportInterrupted as exc:
            report = exc.report
            output.err.print(f"interrupted: {report.imported} jobs were imported in whole batches")
            return 130
    for problem in report.failed:
        output.err.print(f"[red]not imported[/] {problem}")
    output.out.print(
        f"imported {report.imported} jobs into {args.db} ({report.skipped} already there, "
        f"{len(report.failed)} failed) in {report.seconds:.1f} s "
        f"({report.jobs_per_second:,.0f} jobs/s)"
    )
    return EXIT_OK if not report.failed else EXIT_PROBLEMS


def cmd_demo(args: argparse.Namespace) -> int:
    """Write generated demo clusters and jobs into the archive (created if missing)."""
    from cc_backend.demo import generate_demo_archive  # noqa: PLC0415

    with closing(_open(args, create=True)) as archive:
        summary = generate_demo_archive(
            archive,
            jobs=args.jobs,
            seed=args.seed,
            end_time=args.end,
            with_data=not args.meta_only,
            progress=not args.quiet,
        )
        location = archive.location
    per_cluster = ", ".join(f"{name} {count}" for name, count in summary.jobs_per_cluster.items())
    output.out.print(
        f"wrote {summary.jobs} demo jobs ({per_cluster}) of {summary.users} users in "
        f"{summary.projects} projects to {location} in {summary.seconds:.1f} s"
    )
    return EXIT_OK
