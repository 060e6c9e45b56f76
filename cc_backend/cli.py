"""The ``cc-backend`` command.

Every subcommand reads ``./config.json`` and ``./.env`` unless ``--config`` names another
config file (its ``.env`` is then the one beside it). Errors are reported in one or a few
lines on stderr, never as a traceback: exit code 2 for invalid configuration or usage,
130 when interrupted (Ctrl-C), 1 for any other failure.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from cc_backend import __version__
from cc_backend.argtypes import positive_int
from cc_backend.domain.errors import CCError, ConfigError, InvalidInput

if TYPE_CHECKING:
    from cc_backend.archive import JobArchive, JobRef
    from cc_backend.config import Config
    from cc_backend.repository.database import Database
    from cc_backend.services.importer import ImportReport

log = logging.getLogger("cc_backend")

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
#: At most this many failed jobs are listed by ``init-db`` (all are counted).
MAX_LISTED_PROBLEMS = 1000

Command = Callable[[argparse.Namespace], int]


def _config_path(args: argparse.Namespace) -> Path:
    return Path(args.config) if args.config else Path("config.json")


def cmd_init(args: argparse.Namespace) -> int:
    from cc_backend.site import init_site  # noqa: PLC0415 - keep start-up of other commands fast

    result = init_site(Path(args.directory))
    print(f"Initialised a new site in {result.directory}")
    print(f"  config:   {result.config_path.name}")
    print(f"  secrets:  {result.env_path.name} (keep it private)")
    print(f"  database: {result.database}")
    print(f"  archive:  {result.archive}")
    print(
        "Next: add a user with `cc-backend add-user NAME:admin:PASSWORD`, then `cc-backend serve`."
    )
    return 0


def _open_site_database(args: argparse.Namespace) -> tuple[Config, Database]:
    from cc_backend.config import load_config  # noqa: PLC0415
    from cc_backend.repository.database import open_database  # noqa: PLC0415
    from cc_backend.site import site_database_url  # noqa: PLC0415

    config = load_config(_config_path(args))
    return config, open_database(site_database_url(config))


def parse_user_spec(spec: str) -> tuple[str, list[str], str]:
    """Split ``NAME:ROLES:PASSWORD`` (roles comma-separated; the password may contain ':')."""
    parts = spec.split(":", 2)
    if len(parts) != 3 or not parts[0] or not parts[2]:
        raise InvalidInput("expected NAME:ROLES:PASSWORD, e.g. alice:admin,api:secret")
    name, roles, password = parts
    return name, [r for r in roles.split(",") if r.strip()], password


def cmd_add_user(args: argparse.Namespace) -> int:
    from cc_backend.domain.user import User  # noqa: PLC0415
    from cc_backend.repository.users import UserRepository  # noqa: PLC0415

    name, roles, password = parse_user_spec(args.spec)
    try:
        user = User.build(name, roles)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    _config, db = _open_site_database(args)
    with closing(db):
        UserRepository(db).add(user, password)
    print(f"Added user {name!r} with roles {', '.join(sorted(r.value for r in user.roles)) or '-'}")
    return 0


def cmd_del_user(args: argparse.Namespace) -> int:
    from cc_backend.repository.users import UserRepository  # noqa: PLC0415

    _config, db = _open_site_database(args)
    with closing(db):
        UserRepository(db).delete(args.name)
    print(f"Deleted user {args.name!r}")
    return 0


def cmd_migrate_db(args: argparse.Namespace) -> int:
    from cc_backend.config import load_config  # noqa: PLC0415
    from cc_backend.repository.database import create_engine  # noqa: PLC0415
    from cc_backend.repository.migrate import upgrade  # noqa: PLC0415
    from cc_backend.site import site_database_url  # noqa: PLC0415

    engine = create_engine(site_database_url(load_config(_config_path(args))))
    try:
        before, head = upgrade(engine)
    finally:
        engine.dispose()
    found = before.revision or (
        f"cc-backend schema {before.cc_backend_version}"
        if before.cc_backend_version is not None
        else before.kind.value
    )
    print(f"Job database: {found} -> revision {head}")
    return 0


def cmd_jwt(args: argparse.Namespace) -> int:
    from cc_backend.auth.keys import load_private_key  # noqa: PLC0415
    from cc_backend.auth.tokens import issue_token  # noqa: PLC0415
    from cc_backend.config import load_secrets  # noqa: PLC0415
    from cc_backend.repository.users import UserRepository  # noqa: PLC0415

    config, db = _open_site_database(args)
    secrets = load_secrets(_config_path(args))
    if secrets.jwt_private_key is None:
        raise ConfigError(["JWT_PRIVATE_KEY: not set (environment or .env): cannot sign tokens"])
    key = load_private_key(secrets.jwt_private_key.get_secret_value())
    with closing(db):
        user = UserRepository(db).get(args.user)
    print(issue_token(user, key, max_age=config.auth.jwts.max_age if config.auth.jwts else None))
    return 0


def _open_site_archive(config: Config, args: argparse.Namespace) -> JobArchive:
    from cc_backend.archive import open_archive  # noqa: PLC0415
    from cc_backend.config import load_secrets  # noqa: PLC0415

    return open_archive(config.archive, load_secrets(_config_path(args)))


def _print_import_report(report: ImportReport, location: str) -> None:
    done = "Rebuilt the job table" if report.rebuilt else "Imported jobs"
    print(f"{done} from {location}")
    print(f"  imported: {report.imported} jobs")
    print(f"  skipped:  {report.skipped} (already in the database)")
    print(f"  failed:   {len(report.failed)}")
    print(f"  tags:     {report.tags_attached} attached")
    print(f"  time:     {report.seconds:.2f} s ({report.jobs_per_second:,.0f} jobs/s)")
    for title, problems in (("Jobs not imported", report.failed), ("Warnings", report.warnings)):
        if problems:
            print(f"{title}:")
            for problem in problems[:MAX_LISTED_PROBLEMS]:
                print(f"  {problem}")
            if len(problems) > MAX_LISTED_PROBLEMS:
                print(f"  ... and {len(problems) - MAX_LISTED_PROBLEMS} more")


def cmd_init_db(args: argparse.Namespace) -> int:
    from cc_backend.repository.jobs import JobRepository  # noqa: PLC0415
    from cc_backend.repository.tags import TagRepository  # noqa: PLC0415
    from cc_backend.services.importer import ImportInterrupted, import_archive  # noqa: PLC0415

    config, db = _open_site_database(args)
    with closing(db):
        archive = _open_site_archive(config, args)
        try:
            if not archive.clusters():
                raise InvalidInput(
                    f"the archive at {archive.location} holds no cluster.json: nothing to "
                    "import, the job table is left as it is"
                )
            report = import_archive(
                archive,
                JobRepository(db),
                TagRepository(db),
                rebuild=True,
                progress=sys.stderr.isatty(),
                batch_size=args.batch_size,
            )
            _print_import_report(report, archive.location)
            _rebuild_index(archive, progress=sys.stderr.isatty())
        except ImportInterrupted as exc:
            _print_import_report(exc.report, archive.location)
            print(f"error: {exc.message}", file=sys.stderr)
            return EXIT_INTERRUPTED
        finally:
            archive.close()
    if report.failed:
        print(f"error: {len(report.failed)} jobs could not be imported", file=sys.stderr)
        return EXIT_FAILURE
    return 0


def _rebuild_index(archive: JobArchive, *, progress: bool) -> None:
    """Rebuild the Parquet index beside the archive (archive-wide statistics read it),
    reading metric data for roofline counts on every CPU, with a progress bar on stderr
    if ``progress``."""
    from cc_backend.progress import job_progress, tracked  # noqa: PLC0415
    from cc_backend.stats import open_archive_index  # noqa: PLC0415

    index = open_archive_index(archive)
    with job_progress("indexing", enabled=progress) as advance:
        entries = tracked(archive.iter_jobs(), advance)
        report = index.build(entries, workers=os.cpu_count() or 1)
    print(f"Indexed {report.jobs} jobs for statistics in {index.location}")


def cmd_import_job(args: argparse.Namespace) -> int:
    from cc_backend.repository.jobs import JobRepository  # noqa: PLC0415
    from cc_backend.repository.tags import TagRepository  # noqa: PLC0415
    from cc_backend.services.importer import import_job_files  # noqa: PLC0415

    config, db = _open_site_database(args)
    with closing(db):
        archive = _open_site_archive(config, args)
        try:
            result = import_job_files(
                args.meta, args.data, archive, JobRepository(db), TagRepository(db)
            )
            _update_index(archive, result.ref)
        finally:
            archive.close()
    archived = "written to the archive" if result.archived else "already in the archive"
    if result.inserted:
        print(f"Imported job {result.ref} (database id {result.db_id}; {archived})")
    else:
        print(f"Job {result.ref} is already in the database (id {result.db_id}; {archived})")
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _update_index(archive: JobArchive, ref: JobRef) -> None:
    """Add a job to the Parquet index beside the archive, if the archive has one."""
    from cc_backend.stats import open_archive_index  # noqa: PLC0415

    index = open_archive_index(archive)
    if index.exists():
        index.upsert([archive.load_meta(ref)])


def cmd_serve(args: argparse.Namespace) -> int:
    from cc_backend.server import serve  # noqa: PLC0415 - imports the web stack

    return serve(_config_path(args), addr=args.addr, dev=args.dev)


def cmd_simulate(args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415

    from cc_backend.demo.simulator import SimulatorSettings, simulate  # noqa: PLC0415

    token = args.token or os.environ.get("CC_BACKEND_TOKEN", "")
    if not token:
        raise ConfigError(
            ["--token: an API token is needed (or CC_BACKEND_TOKEN), e.g. `cc-backend jwt USER`"]
        )
    settings = SimulatorSettings(
        jobs=args.jobs,
        min_minutes=args.min_minutes,
        max_minutes=args.max_minutes,
        clusters=tuple(args.cluster or ()),
        idle_nodes=not args.no_idle_nodes,
        seed=args.seed,
    )
    if args.log_level is None:
        logging.getLogger("cc_backend.demo").setLevel(logging.INFO)
    asyncio.run(simulate(args.url, token, settings))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cc-backend",
        description="Job-specific performance monitoring for HPC clusters.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--config", metavar="PATH", help="config file (default: ./config.json; .env beside it)"
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        help="default: info for serve, warning for the other commands",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Command, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    init = add("init", cmd_init, "create a new site (config.json, .env, var/)")
    init.add_argument("directory", nargs="?", default=".", help="site folder (default: .)")
    add_user = add("add-user", cmd_add_user, "add a local user")
    add_user.add_argument("spec", metavar="NAME:ROLES:PASSWORD", help="roles comma-separated")
    del_user = add("del-user", cmd_del_user, "delete a user")
    del_user.add_argument("name", metavar="NAME")
    add("migrate-db", cmd_migrate_db, "create, adopt or upgrade the job database schema")
    init_db = add(
        "init-db",
        cmd_init_db,
        "rebuild the job table from the job archive (exit code 0 when every job was "
        "imported, 1 when some could not be and are listed, 130 when interrupted)",
    )
    init_db.add_argument(
        "--batch-size",
        type=positive_int,
        default=1000,
        metavar="N",
        help="jobs written per transaction (default: 1000)",
    )
    import_job = add(
        "import-job",
        cmd_import_job,
        "import one finished job into the archive and the job table (again: no change)",
    )
    import_job.add_argument("meta", metavar="META", help="the job's meta.json")
    import_job.add_argument("data", metavar="DATA", help="its data.json or data.json.gz")
    jwt = add("jwt", cmd_jwt, "print an API token for an existing user")
    jwt.add_argument("user", metavar="USER")
    serve = add("serve", cmd_serve, "run the web server (API and web app)")
    serve.add_argument("--addr", metavar="HOST:PORT", help="listen address (default: main.addr)")
    serve.add_argument("--dev", action="store_true", help="development mode (autoreload, tools)")
    simulate = add(
        "simulate",
        cmd_simulate,
        "run live demo jobs on a server's demo clusters: start them over the REST API, push "
        "their metrics to the built-in metric store, stop them (until Ctrl-C; the jobs are "
        "left running then and taken over by the next run)",
    )
    simulate.add_argument(
        "--url", default="http://127.0.0.1:8080", help="the server (default: %(default)s)"
    )
    simulate.add_argument(
        "--token", help="API token of a user with the api role (default: $CC_BACKEND_TOKEN)"
    )
    simulate.add_argument(
        "--jobs", type=int, default=12, metavar="N", help="running jobs per cluster (12)"
    )
    simulate.add_argument(
        "--min-minutes", type=float, default=2.0, metavar="M", help="shortest run time (2)"
    )
    simulate.add_argument(
        "--max-minutes",
        type=float,
        default=20.0,
        metavar="M",
        help="longest run time, the jobs' wall time (20)",
    )
    simulate.add_argument(
        "--cluster", action="append", metavar="NAME", help="run jobs only here (repeatable)"
    )
    simulate.add_argument(
        "--no-idle-nodes", action="store_true", help="only nodes with a job report metrics"
    )
    simulate.add_argument("--seed", type=int, help="random seed (default: a new one each run)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cc-backend`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    level = args.log_level or ("info" if args.command == "serve" else "warning")
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    handler: Command = args.handler
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except CCError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        log.debug("unexpected failure", exc_info=True)
        print(
            f"error: unexpected failure: {type(exc).__name__}: {exc}"
            " (run with --log-level debug for details)",
            file=sys.stderr,
        )
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
