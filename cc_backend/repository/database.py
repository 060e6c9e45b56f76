"""Opening the job database: engine, connection settings, schema checks.

SQLite is the default (a file under ``var/``); PostgreSQL works through the same code with a
``postgresql+psycopg://`` URL. SQLite connections run in WAL mode with a busy timeout and
foreign keys on, so readers never block the single writer, and with a page cache large
enough for the indexes of a big job table (:data:`SQLITE_CACHE_KIB`).
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from cc_backend.domain.errors import BackendUnavailable, ConfigError
from cc_backend.repository import dialect

log = logging.getLogger(__name__)

#: Milliseconds a SQLite connection waits for a lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 5000
#: Page cache of each SQLite connection, in KiB (SQLite's default: 2 MiB). It fills only
#: as pages are read, up to this size: enough to keep the indexes a job list counts and
#: sorts by in memory for a million jobs. With 2 MiB, counting all of a million jobs read
#: their start-time index (~10 MiB) from the file again every time: 2.7 ms, against
#: 0.09 ms from the cache.
SQLITE_CACHE_KIB = 64 * 1024


def database_url(driver: str, location: str | Path) -> str:
    """Turn cc-backend's ``db-driver`` / ``db`` config pair into a SQLAlchemy URL."""
    if driver in ("sqlite3", "sqlite"):
        return f"sqlite:///{Path(location)}"
    if driver in ("postgres", "postgresql"):
        text = str(location)
        if text.startswith("postgres://"):
            text = "postgresql://" + text.removeprefix("postgres://")
        if text.startswith("postgresql://"):
            text = "postgresql+psycopg://" + text.removeprefix("postgresql://")
        return text
    raise ConfigError([f"main.db-driver: unknown database driver {driver!r} (sqlite3, postgres)"])


def _configure_sqlite(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


def create_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine with the project's connection settings for ``url``."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, echo=echo, connect_args={"check_same_thread": False})
        sa.event.listen(engine, "connect", _configure_sqlite)
        return engine
    return sa.create_engine(url, echo=echo, pool_pre_ping=True)


@dataclass
class WriteBatch:
    """The transaction a :class:`~cc_backend.repository.write_batches.WriteBatcher` runs
    on its thread: every repository call of that thread joins it (as a savepoint)."""

    conn: Connection
    #: Callbacks of the call running now, to run once the batch has committed.
    after_commit: list[Callable[[], None]] = field(default_factory=list)


@dataclass
class Database:
    """An open job database. Build one with :func:`open_database`.

    Repositories open transactions with :meth:`begin` (or :meth:`writing` for hot rows,
    :meth:`serialized` for read-then-write) and read with :meth:`connect`. On a thread that
    runs a write batch, all of these join the batch's transaction instead, so many requests
    share one commit (see :mod:`cc_backend.repository.write_batches`).
    """

    engine: Engine
    _writer: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _local: threading.local = field(default_factory=threading.local, repr=False, compare=False)

    # -- transactions ---------------------------------------------------------------------

    def begin(self) -> AbstractContextManager[Connection]:
        """A transaction of its own, committed when the block ends (rolled back if it
        raises); within a write batch a savepoint of the batch's transaction."""
        batch = self.current_batch
        if batch is None:
            return self.engine.begin()
        return _savepoint(batch.conn)

    def connect(self) -> AbstractContextManager[Connection]:
        """A connection to read from; within a write batch the batch's own connection, so
        reads see the batch's writes."""
        batch = self.current_batch
        if batch is None:
            return self.engine.connect()
        return nullcontext(batch.conn)

    def writing(self) -> AbstractContextManager[Connection]:
        """:meth:`begin` for writes of hot rows from many threads (see :meth:`single_writer`)."""
        if self.current_batch is not None:
            return self.begin()
        return _locked(self.single_writer(), self.engine.begin())

    def serialized(self, key: str) -> AbstractContextManager[Connection]:
        """A transaction in which a read-then-write about ``key`` cannot interleave with
        another (see :func:`dialect.serialized_transaction`); within a write batch a
        savepoint, since the batch holds the database's write lock already."""
        if self.current_batch is not None:
            return self.begin()
        return _locked(self.single_writer(), dialect.serialized_transaction(self.engine, key))

    def single_writer(self) -> AbstractContextManager[object]:
        """Hold this while writing hot rows from many threads.

        SQLite allows one writer at a time and makes the others sleep in growing steps
        until the lock is free; queueing writers of this process on a Python lock instead
        hands the database over at once. PostgreSQL needs no such lock.
        """
        return self._writer if self.dialect == "sqlite" else nullcontext()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the data written so far is committed: at once outside a
        write batch, after the batch's commit within one (never if the call fails)."""
        batch = self.current_batch
        if batch is None:
            callback()
        else:
            batch.after_commit.append(callback)

    @property
    def current_batch(self) -> WriteBatch | None:
        """The write batch this thread is running, if any."""
        found: WriteBatch | None = getattr(self._local, "batch", None)
        return found

    @contextmanager
    def running_batch(self, conn: Connection) -> Iterator[WriteBatch]:
        """Make ``conn`` (inside its transaction) the write batch of this thread."""
        batch = WriteBatch(conn)
        self._local.batch = batch
        try:
            yield batch
        finally:
            self._local.batch = None

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    def refresh_planner_statistics(self) -> None:
        """Recompute the planner statistics; call it after bulk imports."""
        dialect.refresh_planner_statistics(self.engine)

    def ensure_planner_statistics(self) -> bool:
        """Recompute the planner statistics if they are missing or stale; True if it did."""
        if dialect.planner_statistics_stale(self.engine):
            log.info("refreshing the job database's planner statistics")
            self.refresh_planner_statistics()
            return True
        return False

    def close(self) -> None:
        self.engine.dispose()


_savepoint_names = itertools.count()


@contextmanager
def _savepoint(conn: Connection) -> Iterator[Connection]:
    """A savepoint on ``conn``'s transaction, released at the end of the block and rolled
    back to if it raises (on the driver's cursor: cheaper than SQLAlchemy's nested
    transactions, whose bookkeeping a batch does not need)."""
    name = f"cc_{next(_savepoint_names)}"
    cursor = conn.connection.cursor()
    try:
        cursor.execute(f"SAVEPOINT {name}")
        try:
            yield conn
        except BaseException:
            cursor.execute(f"ROLLBACK TO SAVEPOINT {name}")
            cursor.execute(f"RELEASE SAVEPOINT {name}")
            raise
        cursor.execute(f"RELEASE SAVEPOINT {name}")
    finally:
        cursor.close()


@contextmanager
def _locked(
    lock: AbstractContextManager[object], transaction: AbstractContextManager[Connection]
) -> Iterator[Connection]:
    with lock, transaction as conn:
        yield conn


def open_database(url: str, *, migrate: bool = True) -> Database:
    """Open the database at ``url``, bringing its schema up to date when ``migrate`` is set.

    A new database gets the full schema; a cc-backend database at schema version 10 is
    adopted in place, keeping every row. Raises :class:`BackendUnavailable` when the
    database cannot be reached and ``ConfigError`` when its schema cannot be adopted.
    """
    from cc_backend.repository.migrate import upgrade  # noqa: PLC0415 - alembic is heavy

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except sa.exc.OperationalError as exc:
        engine.dispose()
        raise BackendUnavailable(f"cannot open job database: {exc.orig}") from exc
    if migrate:
        upgrade(engine)
    db = Database(engine)
    db.ensure_planner_statistics()
    return db
