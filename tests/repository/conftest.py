"""Fixtures for the repository tests: databases on every backend and a way to put jobs into them.

The database fixtures (``empty_db``, ``reference_db``) are parametrized over the backends, so
a test using one of them runs once per backend, with ids such as ``test_x[sqlite]`` and
``test_x[postgresql]``.

PostgreSQL runs as a private server started once per test session on a free port of
127.0.0.1, in a temporary folder that is removed afterwards; every test gets a database of its
own. Without PostgreSQL's binaries (Debian package ``postgresql``) the PostgreSQL runs are
skipped, unless ``CC_REQUIRE_POSTGRES=1`` is set (as in CI): then they fail.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from cc_backend.repository import schema
from cc_backend.repository.database import Database, database_url, open_database
from tests.server_processes import free_port

_job_ids = itertools.count(1000)

InsertJob = Callable[..., int]

#: The database backends every database fixture runs on.
BACKENDS = ("sqlite", "postgresql")
#: Set to ``1`` to make a missing PostgreSQL an error instead of a reason to skip.
REQUIRE_POSTGRES_ENV = "CC_REQUIRE_POSTGRES"
#: Where Debian's ``postgresql-NN`` packages put initdb, pg_ctl and postgres.
POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin"
#: The OS user that runs the server when the tests run as root (initdb refuses root).
POSTGRES_OS_USER = "postgres"
#: A RAM-backed folder for the server's files: creating a database there takes milliseconds
#: instead of a quarter second. Used only when it has room to spare (containers often give
#: it 64 MB); otherwise the usual temporary folder is used.
RAM_DIR = Path("/dev/shm")
RAM_DIR_MIN_FREE = 1 << 30
#: Tables copied from the reference database, parents before children.
REFERENCE_TABLES = (
    schema.hpc_user,
    schema.configuration,
    schema.tag,
    schema.job,
    schema.jobtag,
    schema.node,
    schema.node_state,
)


def _insert_job(conn_or_db: Connection | Database, **fields: Any) -> int:
    """Insert a finished job row with sensible defaults overridden by ``fields``; return its id."""
    job_id = next(_job_ids)
    row: dict[str, Any] = {
        "job_id": job_id,
        "cluster": "fritz",
        "subcluster": "main",
        "submit_time": 1_700_000_000 + job_id,
        "start_time": 1_700_000_100 + job_id,
        "hpc_user": "alice",
        "project": "project-a",
        "duration": 600,
        "walltime": 3600,
        "job_state": "completed",
        "resources": '[{"hostname": "f0101"}]',
        "num_nodes": 1,
        "shared": "none",
        **fields,
    }
    statement = sa.insert(schema.job).values(row)
    if isinstance(conn_or_db, Database):
        with conn_or_db.engine.begin() as conn:
            key = conn.execute(statement).inserted_primary_key
    else:
        key = conn_or_db.execute(statement).inserted_primary_key
    assert key is not None
    return int(key[0])


@pytest.fixture
def insert_job() -> InsertJob:
    """``insert_job(conn_or_db, **fields) -> int``: add a job row, return its database id."""
    return _insert_job


# --- a private PostgreSQL server -----------------------------------------------------------


@dataclass(frozen=True)
class PostgresServer:
    """A running PostgreSQL server that accepts the superuser ``postgres`` without password."""

    port: int
    #: An AUTOCOMMIT engine on the ``postgres`` database, for CREATE/DROP DATABASE.
    admin: Engine

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of ``database`` on this server."""
        return database_url("postgres", f"postgresql://postgres@127.0.0.1:{self.port}/{database}")

    def create_database(self, template: str = "template1") -> str:
        """Create a database with a new unique name as a copy of ``template``; return the name."""
        name = f"cc_test_{uuid.uuid4().hex[:16]}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE {name} TEMPLATE "{template}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drop the database ``name``, closing any connection still open to it."""
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it when ``CC_REQUIRE_POSTGRES=1`` says PostgreSQL must be there."""
    if os.environ.get(REQUIRE_POSTGRES_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_POSTGRES_ENV}=1 requires PostgreSQL)", pytrace=False)
    pytest.skip(reason)


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    """Sort key for ``.../postgresql/<version>/bin``: the numeric version."""
    return tuple(int(part) for part in bin_dir.parent.name.split(".") if part.isdigit())


def _postgres_bin_dir() -> Path | None:
    """The folder holding initdb and pg_ctl of the newest installed PostgreSQL, if any."""
    found = [Path(p) for p in glob.glob(POSTGRES_BIN_GLOB) if (Path(p) / "pg_ctl").is_file()]
    if found:
        return max(found, key=_version_key)
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def _scratch_parent() -> Path:
    """Where the server's temporary folder goes: RAM when there is room, else the temp dir."""
    try:
        usage = os.statvfs(RAM_DIR)
    except OSError:
        return Path(tempfile.gettempdir())
    if os.access(RAM_DIR, os.W_OK) and usage.f_bavail * usage.f_frsize >= RAM_DIR_MIN_FREE:
        return RAM_DIR
    return Path(tempfile.gettempdir())


class _PostgresProcess:
    """initdb, start and stop of a server in ``workdir``, run as ``as_user`` when given."""

    def __init__(self, bin_dir: Path, workdir: Path, as_user: pwd.struct_passwd | None) -> None:
        self.bin_dir = bin_dir
        self.workdir = workdir
        self.data = workdir / "data"
        self.log = workdir / "server.log"
        self.as_user = as_user

    def run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``program`` of the PostgreSQL installation; return the finished process."""
        user: dict[str, Any] = {}
        if self.as_user is not None:
            user = {"user": self.as_user.pw_uid, "group": self.as_user.pw_gid, "extra_groups": []}
        return subprocess.run(  # noqa: PLW1510 - callers check the return code
            [str(self.bin_dir / program), *args],
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "LC_ALL": "C"},
            **user,
        )

    def init(self) -> None:
        """Create the data folder: superuser ``postgres``, no passwords, C collation."""
        options = ["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"]
        done = self.run("initdb", "-D", str(self.data), *options)
        if done.returncode != 0:
            pytest.fail(f"initdb failed:\n{done.stdout}\n{done.stderr}", pytrace=False)

    def start(self, port: int) -> bool:
        """Start the server on 127.0.0.1:``port``; return whether it came up.

        Durability is switched off: the data lives only as long as the test session.
        """
        options = (
            f"-h 127.0.0.1 -p {port} -k {self.workdir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c min_wal_size=32MB -c max_wal_size=64MB"
        )
        log = str(self.log)
        done = self.run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")
        return done.returncode == 0

    def stop(self) -> None:
        """Stop the server (fast shutdown: open connections are closed)."""
        self.run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def log_tail(self, lines: int = 20) -> str:
        """The last ``lines`` lines of the server's log."""
        if not self.log.is_file():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL server for the whole session, stopped and removed at its end.

    Skips (or fails, with ``CC_REQUIRE_POSTGRES=1``) when PostgreSQL is not installed.
    """
    bin_dir = _postgres_bin_dir()
    if bin_dir is None or not (bin_dir / "initdb").is_file():
        _unavailable(
            f"PostgreSQL not found (no {POSTGRES_BIN_GLOB}/pg_ctl, none on PATH): "
            "install the postgresql package to run the PostgreSQL tests"
        )
    as_user = None
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        try:
            as_user = pwd.getpwnam(POSTGRES_OS_USER)
        except KeyError:
            _unavailable(f"as root, PostgreSQL must run as the OS user {POSTGRES_OS_USER!r}")
    workdir = Path(tempfile.mkdtemp(prefix="cc-pg-", dir=_scratch_parent()))
    if as_user is not None:
        os.chown(workdir, as_user.pw_uid, as_user.pw_gid)
    process = _PostgresProcess(bin_dir, workdir, as_user)
    try:
        process.init()
        for _attempt in range(3):  # another process may take the free port first
            port = free_port()
            if process.start(port):
                break
        else:
            pytest.fail(f"PostgreSQL did not start:\n{process.log_tail()}", pytrace=False)
        admin = sa.create_engine(
            database_url("postgres", f"postgresql://postgres@127.0.0.1:{port}/postgres"),
            isolation_level="AUTOCOMMIT",
            poolclass=NullPool,
        )
        try:
            yield PostgresServer(port, admin)
        finally:
            admin.dispose()
    finally:
        process.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> Iterator[Callable[[str], str]]:
    """``postgres_database(template="template1") -> url``: a new database for this test.

    Each call creates a database with a unique name as a copy of ``template``; all of them
    are dropped when the test ends.
    """
    created: list[str] = []

    def create(template: str = "template1") -> str:
        created.append(postgres_server.create_database(template))
        return postgres_server.url(created[-1])

    yield create
    for name in created:
        postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def postgres_empty_template(postgres_server: PostgresServer) -> str:
    """A PostgreSQL database given the full schema by ``open_database``, to copy per test.

    Copying it is much faster than running the migrations again for every test.
    """
    name = postgres_server.create_database()
    open_database(postgres_server.url(name)).close()
    return name


@pytest.fixture(scope="session")
def reference_rows(
    reference_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, list[dict[str, Any]]]:
    """Every row of the reference database's tables, by table, with BLOB JSON as text."""
    path = tmp_path_factory.mktemp("reference") / "job.db"
    shutil.copyfile(reference_dir / "db" / "job.db", path)
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=NullPool)
    rows: dict[str, list[dict[str, Any]]] = {}
    try:
        with engine.connect() as conn:
            for table in REFERENCE_TABLES:
                rows[table.name] = [
                    {k: v.decode() if isinstance(v, bytes) else v for k, v in row.items()}
                    for row in conn.execute(sa.select(table)).mappings()
                ]
    finally:
        engine.dispose()
    return rows


def _reset_id_sequences(conn: Connection, tables: tuple[sa.Table, ...]) -> None:
    """Let PostgreSQL's ``id`` sequences continue after ids that were inserted explicitly."""
    for table in tables:
        if "id" not in table.c or not table.c.id.primary_key:
            continue
        conn.execute(
            sa.text(
                "SELECT setval(pg_get_serial_sequence(:table, 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            ),
            {"table": table.name},
        )


@pytest.fixture(scope="session")
def postgres_reference_template(
    postgres_server: PostgresServer, reference_rows: dict[str, list[dict[str, Any]]]
) -> str:
    """A PostgreSQL database holding every reference row (same ids), to copy per test.

    The schema comes from ``open_database``; the rows are copied through SQLAlchemy.
    """
    name = postgres_server.create_database()
    db = open_database(postgres_server.url(name))
    with contextlib.closing(db):
        with db.engine.begin() as conn:
            for table in REFERENCE_TABLES:
                if reference_rows[table.name]:
                    conn.execute(sa.insert(table), reference_rows[table.name])
            _reset_id_sequences(conn, REFERENCE_TABLES)
        db.refresh_planner_statistics()
    return name


# --- databases on every backend ------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend this run of the test uses: ``"sqlite"`` or ``"postgresql"``."""
    return str(request.param)


@pytest.fixture
def sqlite_only(backend: str) -> None:
    """Skips the PostgreSQL run of a test about how cc-backend stores values in SQLite.

    cc-backend writes some JSON as BLOBs into SQLite's text columns; PostgreSQL's text columns
    cannot hold bytes, so there is nothing to read back there.
    """
    if backend != "sqlite":
        pytest.skip("SQLite only: cc-backend stores bytes in text columns of SQLite databases")


def _postgres_copy(request: pytest.FixtureRequest, template_fixture: str) -> str:
    """The URL of a new PostgreSQL database for this test, copied from a template fixture."""
    create: Callable[[str], str] = request.getfixturevalue("postgres_database")
    return create(request.getfixturevalue(template_fixture))


@pytest.fixture
def empty_db(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Database]:
    """A new, empty job database with the full schema, on each backend.

    SQLite: a file in ``tmp_path``; PostgreSQL: a database of its own on the session's server.
    """
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'job.db'}"
    else:
        url = _postgres_copy(request, "postgres_empty_template")
    db = open_database(url)
    with contextlib.closing(db):
        yield db


@pytest.fixture
def reference_db(
    backend: str, tmp_path: Path, reference_dir: Path, request: pytest.FixtureRequest
) -> Iterator[Database]:
    """cc-backend's reference job database, writable, on each backend.

    SQLite: a copy of the file, adopted and opened. PostgreSQL: a database of its own with
    the full schema and every row of the reference tables (same ids).
    """
    if backend == "sqlite":
        path = tmp_path / "reference-job.db"
        shutil.copyfile(reference_dir / "db" / "job.db", path)
        path.chmod(path.stat().st_mode | stat.S_IWUSR)
        url = f"sqlite:///{path}"
    else:
        url = _postgres_copy(request, "postgres_reference_template")
    db = open_database(url)
    with contextlib.closing(db):
        yield db
