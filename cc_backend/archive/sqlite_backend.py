"""A job archive in one SQLite file, in the table layout cc-backend's SQLite archive uses.

One row per job holds meta.json and data.json (gzip-compressed above 2,000 bytes, flagged by
``data_compressed``); cluster.json documents live in ``clusters``; ``metadata`` holds the
layout version. Each thread gets its own connection; the database runs in WAL mode, so
readers never wait for a writer, and writers wait up to the busy timeout for each other.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

from cc_backend.archive import codec
from cc_backend.archive.base import ArchiveEntry, ArchiveInfo, CleanResult, ClusterInfo, JobArchive
from cc_backend.archive.fsspec_store import bounded_map
from cc_backend.archive.layout import ARCHIVE_VERSION, COMPRESS_ABOVE_BYTES, JobRef
from cc_backend.domain.errors import BackendUnavailable, ConfigError, InvalidInput, NotFound

if TYPE_CHECKING:
    from cc_backend.archive.base import JobLike
    from cc_backend.config import ArchiveConfig, Secrets
    from cc_backend.domain.cluster import Cluster
    from cc_backend.domain.job import Job
    from cc_backend.domain.jobdata import JobData

__all__ = ["SCHEMA", "SqliteArchive"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id INTEGER NOT NULL,
    cluster TEXT NOT NULL,
    start_time INTEGER NOT NULL,
    meta_json BLOB NOT NULL,
    data_json BLOB,
    data_compressed BOOLEAN DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE(job_id, cluster, start_time)
);
CREATE INDEX IF NOT EXISTS idx_jobs_cluster ON jobs(cluster);
CREATE INDEX IF NOT EXISTS idx_jobs_start_time ON jobs(start_time);
CREATE INDEX IF NOT EXISTS idx_jobs_lookup ON jobs(cluster, job_id, start_time);
CREATE TABLE IF NOT EXISTS clusters (
    name TEXT PRIMARY KEY,
    config_json BLOB NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS metadata (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
_KEY = "cluster = ? AND job_id = ? AND start_time = ?"
_UPSERT_JOB = """
INSERT INTO jobs (job_id, cluster, start_time, meta_json, data_json, data_compressed,
                  created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (job_id, cluster, start_time) DO UPDATE SET
    meta_json = excluded.meta_json, data_json = excluded.data_json,
    data_compressed = excluded.data_compressed, updated_at = excluded.updated_at
"""
_UPSERT_META = """
INSERT INTO jobs (job_id, cluster, start_time, meta_json, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (job_id, cluster, start_time) DO UPDATE SET
    meta_json = excluded.meta_json, updated_at = excluded.updated_at
"""
#: Rows fetched (and decoded by one worker) at a time, without and with metric data.
_PAGE_META, _PAGE_DATA = 512, 16
#: A row of a scan: id, cluster, job id, start time, meta, data, compressed flag.
_Row = tuple[int, str, int, int, bytes, bytes | None, int]


class SqliteArchive(JobArchive):
    """A job archive in the SQLite database file ``path`` (kind ``sqlite``)."""

    kind: ClassVar[str] = "sqlite"

    def __init__(self, path: str | Path, *, busy_timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        """What a copy in another process needs: the file, not this process' connections."""
        return {"path": self.path, "busy_timeout": self.busy_timeout}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], busy_timeout=state["busy_timeout"])  # type: ignore[misc]

    @classmethod
    def from_config(cls, config: ArchiveConfig, secrets: Secrets | None = None) -> Self:
        """The archive in ``dbPath``."""
        if config.db_path is None:
            raise ConfigError(["archive.dbPath: required when kind is 'sqlite'"])
        return cls(config.db_path)

    @classmethod
    def from_location(cls, location: str, **options: Any) -> Self:
        """The archive in database file ``location``; option: ``busy_timeout`` (seconds)."""
        unknown = sorted(set(options) - {"busy_timeout"})
        if unknown:
            raise ConfigError([f"{location}: unknown archive option(s): {', '.join(unknown)}"])
        return cls(location.removeprefix("sqlite://"), **options)

    @property
    def location(self) -> str:
        return str(self.path)

    # -- connections ------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; :meth:`_write` opens transactions)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            with self._guard():
                db = sqlite3.connect(
                    self.path,
                    timeout=self.busy_timeout,
                    isolation_level=None,
                    check_same_thread=False,  # only close() touches it from another thread
                )
                db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
                db.execute("PRAGMA synchronous = NORMAL")
            self._local.db = db
            with self._lock:
                self._connections.append(db)
        return db

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Map database errors: a file that is no database -> InvalidInput, anything else
        (cannot create or open, locked too long, disk full) -> BackendUnavailable."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc) or "malformed" in str(exc):
                raise InvalidInput(f"{self.path}: not a usable SQLite database: {exc}") from None
            raise BackendUnavailable(f"{self.path}: {exc}") from exc
        except OSError as exc:
            raise BackendUnavailable(f"{self.path}: {exc}") from exc

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._guard():
            return self._db().execute(sql, params).fetchall()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, committed on success and rolled back on failure."""
        db = self._db()
        with self._guard():
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()

    # -- lifecycle --------------------------------------------------------------------

    def init(self) -> int:
        """Create the tables in a new or empty database; check the version of an existing
        one (without writing to it). A database with other tables but no ``metadata`` table
        is refused."""
        with self._guard():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        tables = {row[0] for row in self._query("SELECT name FROM sqlite_master")}
        if tables and "metadata" not in tables:
            raise InvalidInput(f"{self.path}: not a job archive (no 'metadata' table)")
        if not {"jobs", "clusters", "metadata"} <= tables:
            with self._guard():
                self._db().execute("PRAGMA journal_mode = WAL")
                self._db().executescript(SCHEMA)
        version = "SELECT value FROM metadata WHERE key = 'version'"
        if not self._query(version):
            with self._write() as db:
                db.execute(
                    "INSERT OR IGNORE INTO metadata (key, value) VALUES ('version', ?)",
                    (str(ARCHIVE_VERSION),),
                )
        found = self._query(version)[0][0]
        if str(found).strip() != str(ARCHIVE_VERSION):
            raise InvalidInput(
                f"{self.path}: the archive has layout version {found}, but version "
                f"{ARCHIVE_VERSION} is needed; `cc-archive migrate` upgrades version 2 to 3"
            )
        return ARCHIVE_VERSION

    def info(self) -> ArchiveInfo:
        rows = self._query(
            "SELECT cluster, COUNT(*), MIN(start_time), MAX(start_time),"
            " SUM(LENGTH(meta_json) + COALESCE(LENGTH(data_json), 0)) FROM jobs GROUP BY cluster"
        )
        found = {r[0]: ClusterInfo(r[0], r[1], r[2], r[3], r[4] or 0) for r in rows}
        for name in self.clusters():
            found.setdefault(name, ClusterInfo(name, 0, None, None, 0))
        return ArchiveInfo(ARCHIVE_VERSION, tuple(found[name] for name in sorted(found)))

    # -- clusters ---------------------------------------------------------------------

    def clusters(self) -> list[str]:
        return [row[0] for row in self._query("SELECT name FROM clusters ORDER BY name")]

    def load_cluster(self, name: str) -> Cluster:
        rows = self._query("SELECT config_json FROM clusters WHERE name = ?", (name,))
        if not rows:
            raise NotFound(f"{self.path}: cluster {name!r}: not found")
        return codec.decode_cluster(_bytes(rows[0][0]), f"{self.path}#clusters/{name}")

    def store_cluster(self, cluster: Cluster) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO clusters (name, config_json, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET config_json = excluded.config_json,"
                " updated_at = excluded.updated_at",
                (cluster.name, codec.encode_cluster(cluster), int(time.time())),
            )

    # -- single jobs ------------------------------------------------------------------

    def _row(self, job: JobLike, columns: str) -> tuple[JobRef, Any]:
        ref = JobRef.of(job)
        rows = self._query(f"SELECT {columns} FROM jobs WHERE {_KEY}", _key(ref))
        if not rows:
            raise NotFound(f"{self.path}: job {ref}: not found")
        return ref, rows[0]

    def exists(self, job: JobLike) -> bool:
        return bool(self._query(f"SELECT 1 FROM jobs WHERE {_KEY}", _key(JobRef.of(job))))

    def load_meta(self, job: JobLike) -> Job:
        ref, row = self._row(job, "meta_json")
        return codec.decode_meta(_bytes(row[0]), self._where(ref, "meta_json"))

    def load_data(self, job: JobLike, *, metrics: Collection[str] | None = None) -> JobData:
        ref, (data, compressed) = self._row(job, "data_json, data_compressed")
        if data is None:
            raise NotFound(f"{self.path}: job {ref}: no metric data")
        where = self._where(ref, "data_json")
        return codec.decode_data(_bytes(data), bool(compressed), where, metrics)

    def store_meta(self, job: Job) -> None:
        ref, now = JobRef.of(job), int(time.time())
        with self._write() as db:
            db.execute(
                _UPSERT_META,
                (ref.job_id, ref.cluster, ref.start_time, codec.encode_meta(job), now, now),
            )

    def import_job(self, meta: Job, data: JobData) -> None:
        """Meta and metric data go into one row in one statement: never one without the other."""
        ref, now = JobRef.of(meta), int(time.time())
        payload, compressed = codec.encode_data(data)
        row = (
            ref.job_id,
            ref.cluster,
            ref.start_time,
            codec.encode_meta(meta),
            payload,
            compressed,
            now,
            now,
        )
        with self._write() as db:
            db.execute(_UPSERT_JOB, row)

    # -- many jobs --------------------------------------------------------------------

    def iter_jobs(
        self,
        *,
        with_data: bool = False,
        clusters: Sequence[str] | None = None,
        workers: int = 4,
    ) -> Iterator[ArchiveEntry]:
        threads = max(1, workers)
        with ThreadPoolExecutor(threads, thread_name_prefix="archive-scan") as pool:
            decode = lambda rows: [self._entry(row, with_data) for row in rows]  # noqa: E731
            for entries in bounded_map(pool, decode, self._pages(with_data, clusters), threads):
                yield from entries

    def _pages(self, with_data: bool, clusters: Sequence[str] | None) -> Iterator[list[_Row]]:
        """Rows in pages by id, each page a query of its own: no statement stays open while
        the caller works, so it may change the archive during the scan."""
        data = "data_json, data_compressed" if with_data else "NULL, 0"
        where = ""
        params: list[Any] = []
        if clusters is not None:
            where = f"AND cluster IN ({', '.join('?' * len(clusters))})"
            params = list(clusters)
        size, last = (_PAGE_DATA if with_data else _PAGE_META), -1
        while True:
            rows: list[_Row] = self._query(
                f"SELECT id, cluster, job_id, start_time, meta_json, {data} FROM jobs"
                f" WHERE id > ? {where} ORDER BY id LIMIT ?",
                [last, *params, size],
            )
            if not rows:
                return
            last = rows[-1][0]
            yield rows

    def _entry(self, row: _Row, with_data: bool) -> ArchiveEntry:
        _, cluster, job_id, start_time, meta_raw, data_raw, compressed = row
        ref = JobRef(cluster, job_id, start_time)
        where = self._where(ref)
        try:
            meta = codec.decode_meta(_bytes(meta_raw), self._where(ref, "meta_json"))
        except InvalidInput as exc:
            return ArchiveEntry(where, error=exc.message)
        if not with_data:
            return ArchiveEntry(where, meta=meta)
        if data_raw is None:
            return ArchiveEntry(where, meta=meta, error=f"{where}: no metric data")
        try:
            data = codec.decode_data(
                _bytes(data_raw), bool(compressed), self._where(ref, "data_json")
            )
        except InvalidInput as exc:
            return ArchiveEntry(where, meta=meta, error=exc.message)
        return ArchiveEntry(where, meta=meta, data=data)

    def delete(self, jobs: Iterable[JobLike]) -> int:
        keys = [_key(JobRef.of(job)) for job in jobs]
        if not keys:
            return 0
        with self._write() as db:
            return db.executemany(f"DELETE FROM jobs WHERE {_KEY}", keys).rowcount

    def clean(self, *, before: int | None = None, after: int | None = None) -> CleanResult:
        if before is None and after is None:
            return CleanResult(removed=0)
        condition = "start_time < ? OR start_time > ?"
        bounds = (before if before is not None else -1, after if after is not None else 2**62)
        with self._write() as db:
            found = db.execute(
                f"SELECT cluster, job_id, start_time FROM jobs WHERE {condition}", bounds
            ).fetchall()
            db.execute(f"DELETE FROM jobs WHERE {condition}", bounds)
        refs = tuple(sorted(JobRef(*row) for row in found))
        return CleanResult(removed=len(refs), refs=refs)

    def compress(self, jobs: Iterable[JobLike]) -> int:
        compressed = 0
        for job in jobs:
            ref = JobRef.of(job)
            rows = self._query(
                f"SELECT data_json FROM jobs WHERE {_KEY} AND NOT data_compressed"
                " AND LENGTH(data_json) > ?",
                (*_key(ref), COMPRESS_ABOVE_BYTES),
            )
            if not rows:
                continue
            data = codec.decode_data(_bytes(rows[0][0]), False, self._where(ref, "data_json"))
            payload, gzipped = codec.encode_data(data)
            if not gzipped:
                continue
            with self._write() as db:
                db.execute(
                    "UPDATE jobs SET data_json = ?, data_compressed = 1, updated_at = ?"
                    f" WHERE {_KEY}",
                    (payload, int(time.time()), *_key(ref)),
                )
            compressed += 1
        return compressed

    def _where(self, ref: JobRef, column: str | None = None) -> str:
        """Where a job (or one of its documents) is, for messages."""
        return f"{self.path}#{ref}" + (f" {column}" if column else "")


def _key(ref: JobRef) -> tuple[str, int, int]:
    return (ref.cluster, ref.job_id, ref.start_time)


def _bytes(value: bytes | str) -> bytes:
    """A BLOB column's value; tolerate documents that another writer stored as TEXT."""
    return value.encode() if isinstance(value, str) else bytes(value)
