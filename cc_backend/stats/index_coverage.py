"""Which jobs of the database the archive index does not hold: the seam between the two.

Job statistics take every job of one state of the archive index (DuckDB) plus the jobs of
the database that this state does not hold (SQL): running jobs, jobs waiting for archiving,
jobs never archived (monitoring disabled, archiving failed), and archived jobs whose index
row has not been written (yet). To count every job exactly once, the service classifies the
database's jobs against the index state it reads:

* :class:`IndexCoverage` says, for one index state, up to which database id every job has
  been classified (``last_id``) and which of those ids the state does not hold
  (``pending``). The database answers for exactly the pending ids; the index for
  everything it holds. Jobs inserted after the classification (larger ids) belong to the
  next request.
* :class:`CoverageTracker` keeps the coverage of the newest index state. The first time, and
  after a rebuild or compaction of the index (a new generation), every job key of the
  database is compared with the index (about a second per million jobs). After that it
  moves forward by what changed: new delta files of the index (an upsert takes its job out
  of ``pending``, a removal puts it back) and new rows of the database (compared by key).

Jobs are matched by their key (cluster, job id, start time), which both sides have; the
index's ``db_id`` column is not used, as an index built from the archive has none. Ids
must grow (PostgreSQL sequences; SQLite row ids, where the row of ``last_id`` is checked
on every move: if it has gone or holds another job, ids may be reused and everything is
compared again).
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.csv as pcsv  # type: ignore[import-untyped]
import sqlalchemy as sa

from cc_backend.repository.database import Database
from cc_backend.repository.schema import job
from cc_backend.stats.archive_stats import ArchiveStats
from cc_backend.stats.index_filters import SqlFilter
from cc_backend.stats.index_manifest import IndexSnapshot

#: (cluster, job id, start time): what identifies a job in the database and in the index.
JobKey = tuple[str, int, int]

#: Database rows read per batch when comparing every key.
_BATCH = 100_000

_KEY_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("cluster", pa.string()),
        ("job_id", pa.int64()),
        ("start_time", pa.int64()),
    ]
)
_NOT_INDEXED = """SELECT k.id FROM db_keys AS k ANTI JOIN
    (SELECT cluster, job_id, start_time FROM {jobs}) AS i
    ON k.cluster = i.cluster AND k.job_id = i.job_id AND k.start_time = i.start_time"""


@dataclass(frozen=True)
class IndexCoverage:
    """The database jobs one index state does not hold (see the module documentation)."""

    generation: int
    #: The delta files of the state compared (the state's version, in files).
    deltas: tuple[str, ...]
    #: Every database id up to this one has been compared (0: none).
    last_id: int
    #: The key of the row with id ``last_id`` when it was compared (None: no rows).
    last_key: JobKey | None
    #: Database id -> key of the compared jobs the index state does not hold.
    pending: Mapping[int, JobKey]
    #: How many times every key had been compared when this coverage was made (1: only
    #: the first time; more after rebuilds, compactions and reused ids).
    full_comparisons: int = 1

    def holds_state(self, snapshot: IndexSnapshot) -> bool:
        """Whether this coverage was made for ``snapshot`` or an earlier state of the same
        generation (so that it can move forward to ``snapshot``)."""
        return (
            snapshot.generation == self.generation
            and snapshot.deltas[: len(self.deltas)] == self.deltas
        )


def _key_table(rows: Sequence[Sequence[Any]]) -> pa.Table:
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [[], [], [], []]
    return pa.Table.from_arrays(
        [pa.array(c, type=f.type) for c, f in zip(columns, _KEY_SCHEMA, strict=True)],
        schema=_KEY_SCHEMA,
    )


class CoverageTracker:
    """Keeps the :class:`IndexCoverage` of the newest index state (thread-safe)."""

    def __init__(self, db: Database, stats: ArchiveStats) -> None:
        self.db = db
        self.stats = stats
        self._lock = threading.Lock()
        self._coverage: IndexCoverage | None = None
        self._comparisons = 0

    def current(self) -> tuple[IndexSnapshot, IndexCoverage]:
        """The newest index state and its coverage, brought up to date with the database.

        NotFound if the index has not been built; BackendUnavailable if it cannot be read.
        """
        with self._lock:
            snapshot = self.stats.snapshot()
            coverage = self._coverage
            if coverage is None or not coverage.holds_state(snapshot):
                coverage = self._compare_all(snapshot)
            else:
                coverage = self._move(coverage, snapshot)
            self._coverage = coverage
            return snapshot, coverage

    # -- comparing every key ----------------------------------------------------------

    def _compare_all(self, snapshot: IndexSnapshot) -> IndexCoverage:
        keys = self._all_keys()
        self._comparisons += 1
        missing = self._not_indexed(snapshot, keys, SqlFilter())
        last_id, last_key = 0, None
        if keys.num_rows:
            last_id = int(pc.max(keys.column("id")).as_py())
            newest = keys.filter(pc.equal(keys.column("id"), last_id)).to_pylist()[0]
            last_key = (str(newest["cluster"]), int(newest["job_id"]), int(newest["start_time"]))
        pending = keys.filter(pc.is_in(keys.column("id"), pa.array(sorted(missing), pa.int64())))
        return IndexCoverage(
            snapshot.generation,
            snapshot.deltas,
            last_id,
            last_key,
            {int(r["id"]): _key(list(r.values())) for r in pending.to_pylist()},
            self._comparisons,
        )

    def _all_keys(self) -> pa.Table:
        """Id and key of every database job (no ORDER BY: SQLite reads them from the
        unique index of the keys)."""
        with self.db.engine.connect() as conn:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                if self.db.dialect == "sqlite":
                    return _sqlite_keys(cursor)
                cursor.execute("SELECT id, cluster, job_id, start_time FROM job")
                batches: list[pa.RecordBatch] = []
                while rows := cursor.fetchmany(_BATCH):
                    batches.extend(_key_table(rows).to_batches())
                return pa.Table.from_batches(batches, schema=_KEY_SCHEMA)
            finally:
                cursor.close()

    def _not_indexed(self, snapshot: IndexSnapshot, keys: pa.Table, where: SqlFilter) -> set[int]:
        """Ids of the rows of ``keys`` whose key the index state does not hold."""
        if keys.num_rows == 0:
            return set()
        rows = self.stats.fetch_at(snapshot, _NOT_INDEXED, where, tables={"db_keys": keys})
        return {int(i) for (i,) in rows}

    # -- moving forward -----------------------------------------------------------------

    def _move(self, coverage: IndexCoverage, snapshot: IndexSnapshot) -> IndexCoverage:
        """``coverage`` moved to ``snapshot`` (same generation, maybe more deltas) and to
        the rows added to the database since."""
        with self.db.engine.connect() as conn:
            tail = conn.execute(
                sa.select(job.c.id, job.c.cluster, job.c.job_id, job.c.start_time)
                .where(job.c.id >= coverage.last_id)
                .order_by(job.c.id)
            ).all()
        head = tail[0] if tail else None
        if coverage.last_key is not None and (
            head is None or int(head[0]) != coverage.last_id or _key(head) != coverage.last_key
        ):
            return self._compare_all(snapshot)  # the row of last_id went: ids may be reused
        new_rows = [r for r in tail if int(r[0]) > coverage.last_id]
        new_deltas = snapshot.deltas[len(coverage.deltas) :]
        if not new_rows and not new_deltas:
            return coverage
        pending = dict(coverage.pending)
        if new_deltas:
            self._apply_deltas(pending, coverage, new_deltas)
        last_id, last_key = coverage.last_id, coverage.last_key
        if new_rows:
            by_id = {int(r[0]): _key(r) for r in new_rows}
            for db_id in self._not_indexed(snapshot, _key_table(new_rows), _near(new_rows)):
                pending[db_id] = by_id[db_id]
            last_id, last_key = int(new_rows[-1][0]), _key(new_rows[-1])
        return IndexCoverage(
            snapshot.generation,
            snapshot.deltas,
            last_id,
            last_key,
            pending,
            coverage.full_comparisons,
        )

    def _apply_deltas(
        self, pending: dict[int, JobKey], coverage: IndexCoverage, names: Sequence[str]
    ) -> None:
        """Take the jobs the new delta files add out of ``pending``, and put the jobs they
        remove (of the compared ids) into it."""
        latest: dict[JobKey, bool] = {}
        for cluster, job_id, start_time, deleted, _version in self.stats.delta_rows(names):
            latest[(str(cluster), int(job_id), int(start_time))] = bool(deleted)
        by_key = {key: db_id for db_id, key in pending.items()}
        removed = []
        for key, deleted in latest.items():
            if not deleted:
                db_id = by_key.get(key)
                if db_id is not None:
                    del pending[db_id]
            else:
                removed.append(key)
        if removed:
            for db_id, key in self._ids_of(removed).items():
                if db_id <= coverage.last_id:
                    pending[db_id] = key

    def _ids_of(self, keys: Sequence[JobKey]) -> dict[int, JobKey]:
        """The database ids of the jobs with ``keys`` (those that exist)."""
        found: dict[int, JobKey] = {}
        with self.db.engine.connect() as conn:
            for cluster, job_id, start_time in keys:
                row = conn.execute(
                    sa.select(job.c.id).where(
                        job.c.cluster == cluster,
                        job.c.job_id == job_id,
                        job.c.start_time == start_time,
                    )
                ).first()
                if row is not None:
                    found[int(row[0])] = (cluster, job_id, start_time)
        return found


def _sqlite_keys(cursor: Any) -> pa.Table:
    """Every job's id and key from SQLite as one CSV text, parsed by Arrow: about three
    times faster than a million rows of Python tuples. Cluster names are SQL-quoted."""
    cursor.execute(
        "SELECT group_concat(id || ',' || quote(cluster) || ',' || job_id || ',' || start_time,"
        " char(10)) FROM job"
    )
    text = cursor.fetchone()[0]
    if not text:
        return _key_table([])
    return pcsv.read_csv(
        io.BytesIO(text.encode()),
        read_options=pcsv.ReadOptions(column_names=_KEY_SCHEMA.names),
        parse_options=pcsv.ParseOptions(quote_char="'", double_quote=True, newlines_in_values=True),
        convert_options=pcsv.ConvertOptions(
            column_types=dict(zip(_KEY_SCHEMA.names, _KEY_SCHEMA.types, strict=True)),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def _key(row: Sequence[Any]) -> JobKey:
    return (str(row[1]), int(row[2]), int(row[3]))


def _near(rows: Sequence[Sequence[Any]]) -> SqlFilter:
    """Conditions that let DuckDB skip the index's row groups far from ``rows`` (their
    clusters and start-time range); they never exclude a row that matches one of them."""
    where = SqlFilter()
    clusters = sorted({str(r[1]) for r in rows})
    starts = [int(r[3]) for r in rows]
    listed = ", ".join(where.bind(c) for c in clusters)
    where.conditions.append(f"cluster IN ({listed})")
    where.conditions.append(
        f"start_time BETWEEN {where.bind(min(starts))} AND {where.bind(max(starts))}"
    )
    return where
