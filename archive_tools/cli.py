"""``cc-archive``: command-line tools for job archives.

``cc-archive SUBCOMMAND [OPTIONS] ARCHIVE`` where ARCHIVE is a folder, an
``s3://bucket/prefix`` URL or an SQLite archive file. Exit codes: 0 done, 1 done but some
jobs failed or problems were found, 2 unusable input (bad options, unreadable archive).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive_tools import commands, stats_commands
from cc_backend import __version__
from cc_backend.domain.errors import CCError, NotFound

EXIT_USAGE = 2

Handler = Callable[[argparse.Namespace], int]


def parse_time(text: str) -> int:
    """Unix seconds from ``2024-01-31``, ``2024-01-31T12:00:00`` (UTC unless an offset is
    given) or a plain number of seconds."""
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date or Unix time: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def s3_options(args: argparse.Namespace) -> dict[str, Any]:
    """Connection options for ``s3://`` locations from flags, then the environment."""
    env = os.environ
    options = {
        "endpoint": args.endpoint or env.get("ARCHIVE_S3_ENDPOINT"),
        "access_key": args.access_key or env.get("ARCHIVE_S3_ACCESS_KEY"),
        "secret_key": env.get("ARCHIVE_S3_SECRET_KEY"),
        "region": args.region,
        "use_path_style": args.path_style,
    }
    return {key: value for key, value in options.items() if value not in (None, False)}


def open_location(
    args: argparse.Namespace, location: str | None = None, *, create: bool = False
) -> Any:
    """Open the archive named by ``location`` (default: the ARCHIVE argument).

    A local folder or file that does not exist is an error unless ``create`` is set (a
    new archive is then bootstrapped there).
    """
    from cc_backend.archive import open_archive_url  # noqa: PLC0415 - heavy imports

    where = location or args.archive
    is_url = "://" in where
    if not create and not is_url and not Path(where).exists():
        raise NotFound(f"no archive at {where}")
    options = s3_options(args) if where.startswith("s3://") else {}
    return open_archive_url(where, **options)


def _add_archive_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("S3 archives")
    group.add_argument("--endpoint", help="S3 endpoint URL (or $ARCHIVE_S3_ENDPOINT)")
    group.add_argument("--access-key", help="S3 access key (or $ARCHIVE_S3_ACCESS_KEY)")
    group.add_argument("--region", help="S3 region")
    group.add_argument("--path-style", action="store_true", help="path-style S3 URLs (MinIO)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cc-archive",
        description="Tools for ClusterCockpit job archives (folder, s3:// URL or SQLite file).",
        epilog="The S3 secret key is read from $ARCHIVE_S3_SECRET_KEY only.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning"])
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(handler=handler)
        command.add_argument("archive", metavar="ARCHIVE", help="folder, s3:// URL or .db file")
        _add_archive_options(command)
        return command

    info = add("info", commands.cmd_info, "jobs, time range and size per cluster")
    info.add_argument("--json", action="store_true", help="print JSON")

    clean = add("clean", commands.cmd_clean, "remove jobs that started before/after a time")
    clean.add_argument("--before", type=parse_time, help="remove jobs started before this")
    clean.add_argument("--after", type=parse_time, help="remove jobs started after this")
    clean.add_argument("--dry-run", action="store_true", help="only count what would go")

    move = add("move", commands.cmd_move, "move jobs to another archive")
    move.add_argument("target", metavar="TARGET", help="archive to move the jobs to")
    move.add_argument("--before", type=parse_time, help="only jobs started before this")
    move.add_argument("--cluster", action="append", help="only jobs of this cluster")

    compress = add("compress", commands.cmd_compress, "gzip metric data larger than 2,000 B")
    compress.add_argument("--before", type=parse_time, help="only jobs started before this")

    validate = add("validate", commands.cmd_validate, "check every document of the archive")
    validate.add_argument("--meta-only", action="store_true", help="skip the metric data")
    validate.add_argument("--warnings", action="store_true", help="list warnings too")
    validate.add_argument("--json", action="store_true", help="print JSON")

    import_ = add("import", commands.cmd_import, "import the jobs into a job database")
    import_.add_argument(
        "--db", required=True, help="job database: an SQLite file or a SQLAlchemy URL"
    )
    import_.add_argument(
        "--rebuild", action="store_true", help="empty the job table first (like init-db)"
    )

    demo = add("demo", commands.cmd_demo, "write generated demo clusters and jobs")
    demo.add_argument("--jobs", type=int, default=3000, help="number of jobs (3000)")
    demo.add_argument("--seed", type=int, default=1, help="random seed (1)")
    demo.add_argument("--end", type=parse_time, help="end of the period (default: now)")
    demo.add_argument("--meta-only", action="store_true", help="no metric data (fast)")

    stats_commands.add_commands(add, parse_time)

    migrate = add("migrate", commands.cmd_migrate, "upgrade a version-2 archive to version 3")
    migrate.add_argument("--dry-run", action="store_true", help="count, change nothing")
    migrate.add_argument("--workers", type=int, default=4, help="parallel workers (4)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cc-archive`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    handler: Handler = args.handler
    try:
        return handler(args)
    except CCError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
