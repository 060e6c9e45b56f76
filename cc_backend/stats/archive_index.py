"""A consolidated, columnar index of the archived jobs' meta data, kept as Parquet files.

Layout at the index location (a folder, ``s3://bucket/prefix`` or any fsspec URL)::

    manifest.json                 what a reader must read (the only file ever replaced)
    base-<gen>-<part>-<id>.parquet  the jobs as of the last build or compaction
    delta-<version>-<id>.parquet    later upserts and removals, one file per call

Every row has a row version (``_version``: 0 in base files, the manifest's version counter
in a delta) and a tombstone flag (``_deleted``). Readers see, per (cluster, job id, start
time), the row with the highest version, and nothing when that row is a tombstone.

Writes never modify a file a reader may be reading: data files are written under new names
first, then the manifest is replaced in one step (rename on a local disk, a single PUT on
an object store). :meth:`ArchiveIndex.compact` and :meth:`ArchiveIndex.build` keep the files
they replace until the next compaction, and readers reload the manifest and retry when a
file has gone, so a query never fails because of a concurrent compaction. One process
writes an index at a time; within a process, writes are serialised by a lock.

Roofline counts (the ``roofline`` column, :mod:`cc_backend.stats.roofline_cells`) need a
job's metric data: an entry that carries it (``iter_jobs(with_data=True)``) is counted from
it, any other job through ``data_loader`` (the archive's ``load_data``). An upsert of a job
the index already holds counts (a change of tags or meta data) keeps them without loading
anything. Without data and loader, a row gets no counts (NULL).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

import duckdb
import fsspec
import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]
from fsspec.implementations.local import LocalFileSystem

from cc_backend.archive.base import ArchiveEntry
from cc_backend.archive.layout import JobRef
from cc_backend.domain.errors import InvalidInput, NotFound
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData
from cc_backend.stats.index_manifest import MANIFEST, BuildReport, IndexSnapshot
from cc_backend.stats.index_rows import (
    DELETED_COLUMN,
    KEY_COLUMNS,
    ROOFLINE_COLUMN,
    ROOFLINE_SQL_TYPE,
    RowBuffer,
    ScanTally,
    footprint_column,
    full_schema,
    regroup,
    scan,
    stat_column,
)
from cc_backend.stats.roofline_cells import JobCells
from cc_backend.stats.roofline_counting import cells_of, counted

log = logging.getLogger(__name__)

#: Rows per base file; a base file is written from one in-memory chunk of this size.
ROWS_PER_FILE = 500_000
ROW_GROUP_SIZE = 65_536
#: How many broken entries ``build`` describes in its report (all are counted).
MAX_REPORTED_ERRORS = 50


_BASE_ORDER = [("cluster", "ascending"), ("start_time", "ascending")]


def _has_data(item: Job | ArchiveEntry) -> bool:
    return isinstance(item, ArchiveEntry) and item.data is not None


def _base_name(generation: int, part: int) -> str:
    return f"base-{generation:06d}-{part:04d}-{secrets.token_hex(4)}.parquet"


class ArchiveIndex:
    """The index at ``location``; ``storage_options`` go to fsspec (e.g. S3 credentials).

    Pass ``filesystem`` to use an existing fsspec filesystem; ``location`` is then a path on it.
    The location must not contain glob characters (DuckDB would expand them).
    ``data_loader`` loads an archived job's metric data, for its roofline counts.
    """

    def __init__(
        self,
        location: str,
        *,
        filesystem: fsspec.AbstractFileSystem | None = None,
        data_loader: Callable[[Job], JobData] | None = None,
        **storage_options: Any,
    ) -> None:
        if filesystem is None:
            filesystem, path = fsspec.core.url_to_fs(location, **storage_options)
        else:
            path = filesystem._strip_protocol(location)
        self.fs: fsspec.AbstractFileSystem = filesystem
        self.path: str = str(path).rstrip("/")
        if any(c in self.path for c in "*?[{"):
            raise InvalidInput(f"archive index location {location!r}: no *, ?, [ or {{ allowed")
        self.local = isinstance(self.fs, LocalFileSystem)
        self._write_lock = threading.RLock()
        self._rebuild_lock = threading.Lock()
        self._last: tuple[bytes, IndexSnapshot] | None = None
        self.data_loader = data_loader

    @property
    def location(self) -> str:
        """The index location as a URL (a plain path on a local disk), for messages."""
        return self.path if self.local else self.fs.unstrip_protocol(self.path)

    def __repr__(self) -> str:
        return f"ArchiveIndex({self.location!r})"

    # -- reading ----------------------------------------------------------------------

    def _file(self, name: str) -> str:
        return f"{self.path}/{name}"

    def exists(self) -> bool:
        """Whether an index has been written at the location."""
        return bool(self.fs.exists(self._file(MANIFEST)))

    def snapshot(self) -> IndexSnapshot:
        """The current state; NotFound if no index has been built at the location."""
        where = self._file(MANIFEST)
        try:
            if self.local:
                with open(where, "rb") as handle:
                    raw = handle.read()
            else:
                raw = self.fs.cat_file(where)
        except FileNotFoundError:
            raise NotFound(f"no archive index at {self.location} (build it first)") from None
        last = self._last
        if last is not None and last[0] == raw:
            return last[1]
        snapshot = IndexSnapshot.from_json(raw, where)
        self._last = (raw, snapshot)
        return snapshot

    def url(self, name: str) -> str:
        """The address DuckDB reads data file ``name`` at (see :meth:`register`)."""
        return self._file(name) if self.local else self.fs.unstrip_protocol(self._file(name))

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        """Make the index's filesystem readable by ``con`` (nothing to do on a local disk)."""
        if not self.local:
            con.register_filesystem(self.fs)

    def relation(
        self, snapshot: IndexSnapshot, deltas_table: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """SQL of a ``FROM`` item yielding the live jobs of ``snapshot`` and the parameters
        it binds (``$_base``, ``$_deltas``); row versions and tombstones are resolved.

        Without deltas this is the base files themselves (their ``_version`` and
        ``_deleted`` columns are constant then), which keeps planning cheap.
        ``deltas_table`` names a table already holding :meth:`resolved_deltas` of
        ``snapshot``, to be used instead of reading the delta files.
        """
        params: dict[str, Any] = {"_base": [self.url(n) for n in snapshot.base]}
        many = ", union_by_name = true" if len(snapshot.base) > 1 else ""
        base = f"read_parquet($_base{many})"
        if not snapshot.roofline_in_base:  # a base of format 1: no roofline column
            base = f"(SELECT *, NULL::{ROOFLINE_SQL_TYPE} AS {ROOFLINE_COLUMN} FROM {base})"
        if not snapshot.deltas:
            return base, params
        deltas = deltas_table
        if deltas is None:
            deltas, more = self.resolved_deltas(snapshot.deltas)
            params |= more
        match = " AND ".join(f"d.{c} = b.{c}" for c in KEY_COLUMNS)
        sql = f"""(SELECT * FROM {base} AS b WHERE NOT EXISTS (
                SELECT 1 FROM {deltas} AS d WHERE {match})
            UNION ALL BY NAME
            SELECT * FROM {deltas} WHERE NOT {DELETED_COLUMN})"""
        return sql, params

    def resolved_deltas(
        self, names: Sequence[str], previous: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """SQL of a subquery with the newest row of each job in the delta files ``names``
        (tombstones included), and its parameters. ``previous`` names a table with the
        resolved rows of older deltas, to be merged with ``names``."""
        source = "read_parquet($_deltas, union_by_name = true)"
        if previous is not None:
            source = f"(SELECT * FROM {previous} UNION ALL BY NAME SELECT * FROM {source})"
        key = ", ".join(KEY_COLUMNS)
        sql = f"""(SELECT * FROM {source}
            QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _version DESC) = 1)"""
        return sql, {"_deltas": [self.url(n) for n in names]}

    # -- writing ----------------------------------------------------------------------

    def _write_table(self, name: str, table: pa.Table) -> None:
        with self.fs.open(self._file(name), "wb") as handle:
            pq.write_table(table, handle, compression="zstd", row_group_size=ROW_GROUP_SIZE)

    def _write_manifest(self, snapshot: IndexSnapshot) -> None:
        data = snapshot.to_json()
        target = self._file(MANIFEST)
        if self.local:  # write aside, then rename over the old one (atomic on POSIX)
            temp = f"{target}.{secrets.token_hex(4)}.tmp"
            with open(temp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        else:  # an object store replaces an object in one step
            self.fs.pipe_file(target, data)

    def _delete(self, names: Iterable[str]) -> None:
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(self._file(name))

    def build(
        self,
        entries: Iterable[Job | ArchiveEntry],
        *,
        progress: Callable[[int], None] | None = None,
        rows_per_file: int = ROWS_PER_FILE,
        workers: int = 1,
    ) -> BuildReport:
        """(Re)build the index from every job of an archive, replacing what was there.

        ``entries`` is any iterable of jobs or archive scan entries (``archive.iter_jobs()``).
        A broken entry (one without meta data) is counted, described in the report and
        skipped; a job met twice (same cluster, job id and start time) is indexed once.
        ``progress`` is called with the number of entries seen every 5,000 entries and at
        the end. The new state becomes visible at once when the build finishes; upserts
        and removals made while it ran stay in effect. ``workers`` > 1 reads the metric
        data for roofline counts in that many processes when the data loader can be sent
        to them (:mod:`cc_backend.stats.roofline_counting`).
        """
        with self._rebuild_lock:
            return self._build(entries, progress, rows_per_file, workers)

    def _build(
        self,
        entries: Iterable[Job | ArchiveEntry],
        progress: Callable[[int], None] | None,
        rows_per_file: int,
        workers: int,
    ) -> BuildReport:
        started = time.perf_counter()
        self.fs.makedirs(self.path, exist_ok=True)
        try:
            before: IndexSnapshot | None = self.snapshot()
        except NotFound:
            before = None
        generation = before.generation + 1 if before else 1
        tally = ScanTally(max_errors=MAX_REPORTED_ERRORS)
        files: list[str] = []
        metrics: dict[str, str] = {}
        footprints: dict[str, None] = {}
        skipped: dict[str, None] = {}
        counts = counted(entries, self.roofline_of, loader=self.data_loader, workers=workers)
        for buffer in scan(counts, tally, rows_per_file, progress):
            table = buffer.to_table(0).sort_by(
                [("cluster", "ascending"), ("start_time", "ascending")]
            )
            files.append(_base_name(generation, len(files)))
            self._write_table(files[-1], table)
            metrics.update(buffer.units)
            footprints.update(buffer.footprints)
            skipped.update(buffer.skipped)
        with self._write_lock:
            self._swap(files, metrics, footprints, generation, carry_from=before, complete=True)
        return BuildReport(
            jobs=tally.jobs,
            broken=tally.broken,
            duplicates=tally.duplicates,
            seconds=time.perf_counter() - started,
            files=tuple(files),
            errors=tuple(tally.errors),
            skipped_names=tuple(skipped),
        )

    def _swap(
        self,
        base: list[str],
        metrics: dict[str, str],
        footprints: Iterable[str],
        generation: int,
        *,
        carry_from: IndexSnapshot | None,
        complete: bool,
    ) -> None:
        """Publish ``base`` as the new base files (write lock held); ``complete``: whether
        they were built with roofline counts (see :attr:`IndexSnapshot.outdated`).

        Deltas written after ``carry_from`` was taken stay in effect (their rows are newer
        than any base row); the others are folded into ``base`` or dropped. The files no
        longer referenced are kept until the next swap, for readers still using them.
        """
        try:
            old: IndexSnapshot | None = self.snapshot()
        except NotFound:
            old = None
        metrics = dict(metrics)
        kept = dict.fromkeys(footprints)
        deltas: tuple[str, ...] = ()
        if old is not None and carry_from is not None:
            deltas = old.deltas[len(carry_from.deltas) :]
            carried = {c for name in deltas for c in self._schema(name).names}
            metrics.update(
                (m, u) for m, u in old.metrics.items() if stat_column(m, "avg") in carried
            )
            kept.update((k, None) for k in old.footprints if footprint_column(k) in carried)
        new = IndexSnapshot(
            generation=generation,
            version=old.version if old else 0,
            base=tuple(base),
            deltas=deltas,
            metrics=metrics,
            footprints=tuple(kept),
            retired=tuple(n for n in old.files if n not in deltas) if old else (),
            built_at=time.time(),
            roofline_in_base=True,
            roofline_complete=complete,
        )
        self._write_manifest(new)
        if old is not None:
            self._delete(old.retired)

    def _append(self, buffer: RowBuffer) -> int:
        """Write ``buffer`` as a new delta file and publish it; returns its row count."""
        if not len(buffer):
            return 0
        if not self.exists():
            self.build(())
        with self._write_lock:
            current = self.snapshot()
            version = current.version + 1
            name = f"delta-{version:09d}-{secrets.token_hex(4)}.parquet"
            self._write_table(name, buffer.to_table(version))
            metrics = {**current.metrics, **buffer.units}
            footprints = tuple(dict.fromkeys(current.footprints + tuple(buffer.footprints)))
            self._write_manifest(
                replace(
                    current,
                    version=version,
                    deltas=(*current.deltas, name),
                    metrics=metrics,
                    footprints=footprints,
                )
            )
        return len(buffer)

    def _schema(self, name: str) -> pa.Schema:
        with self.fs.open(self._file(name), "rb") as handle:
            return pq.read_schema(handle)

    def upsert(self, jobs: Iterable[Job | ArchiveEntry]) -> int:
        """Add or replace jobs (newest call wins); returns how many rows were written.

        Entries without meta data are ignored. Within one call, a job given twice counts
        once (the last one). The base files are not touched. A job given without metric
        data keeps the roofline counts the index holds of it (one query for all of them);
        a job the index has no counts of gets them through :meth:`roofline_of` (to count
        a job's replaced metric data again, give it as an entry with its data).
        """
        latest: dict[JobRef, Job | ArchiveEntry] = {}
        for item in jobs:
            job = item if isinstance(item, Job) else item.meta
            if job is not None:
                latest[JobRef.of(job)] = item
        exists = self.exists()
        without_data = [r for r, i in latest.items() if not _has_data(i)]
        known = self._known_roofline(without_data) if exists else {}
        buffer = RowBuffer(self.snapshot().columns if exists else ())
        for ref, item in latest.items():
            job = item if isinstance(item, Job) else item.meta
            assert job is not None
            cells = known.get(ref)
            buffer.add(job, cells if cells is not None else self.roofline_of(item))
        return self._append(buffer)

    def roofline_of(self, entry: Job | ArchiveEntry) -> JobCells | None:
        """The roofline counts of a job: from the entry's metric data, else from the data
        the loader gives; None when there is neither (or the data cannot be read)."""
        return cells_of(entry, self.data_loader)

    def _known_roofline(self, refs: Sequence[JobRef]) -> dict[JobRef, JobCells]:
        """The roofline counts the current state holds for ``refs`` (jobs without counts
        are left out)."""
        if not refs:
            return {}
        snap = self.snapshot()
        keys = pa.table(
            {
                "cluster": pa.array([r.cluster for r in refs], pa.string()),
                "job_id": pa.array([r.job_id for r in refs], pa.int64()),
                "start_time": pa.array([r.start_time for r in refs], pa.int64()),
            }
        )
        relation, params = self.relation(snap)
        match = " AND ".join(f"k.{c} = i.{c}" for c in KEY_COLUMNS)
        sql = f"""SELECT i.cluster, i.job_id, i.start_time, i.{ROOFLINE_COLUMN}
            FROM {relation} AS i SEMI JOIN upsert_keys AS k ON {match}
            WHERE i.{ROOFLINE_COLUMN} IS NOT NULL"""
        con = duckdb.connect()
        try:
            self.register(con)
            con.register("upsert_keys", keys)
            rows = con.execute(sql, params).fetchall()
        finally:
            con.close()
        return {
            JobRef(str(c), int(j), int(t)): JobCells(
                np.array([e["cell"] for e in cells], dtype=np.int32),
                np.array([e["n"] for e in cells], dtype=np.int64),
            )
            for c, j, t, cells in rows
        }

    def remove(self, refs: Iterable[JobRef | Job]) -> int:
        """Hide jobs from readers by writing tombstones; returns how many were written
        (a job that is not in the index costs one tombstone row and changes nothing)."""
        buffer = RowBuffer()
        for ref in dict.fromkeys(JobRef.of(r) for r in refs):
            buffer.add_tombstone(ref)
        return self._append(buffer)

    def compact(self, *, rows_per_file: int = ROWS_PER_FILE) -> IndexSnapshot:
        """Merge the delta files into a new base and publish it in one step.

        Readers keep working throughout. Upserts may run meanwhile; the ones that land
        after compaction started stay deltas of the new state. Metric and footprint
        columns that no live job has any more are dropped.
        """
        with self._rebuild_lock:
            start = self.snapshot()
            generation = start.generation + 1
            con = duckdb.connect(config={"preserve_insertion_order": False})
            try:
                self.register(con)
                files, units, footprints = self._rewrite(con, start, generation, rows_per_file)
            finally:
                con.close()
            with self._write_lock:
                self._swap(
                    files,
                    units,
                    footprints,
                    generation,
                    carry_from=start,
                    complete=start.roofline_complete,
                )
        return self.snapshot()

    def _rewrite(
        self,
        con: duckdb.DuckDBPyConnection,
        snap: IndexSnapshot,
        generation: int,
        rows_per_file: int,
    ) -> tuple[list[str], dict[str, str], list[str]]:
        relation, params = self.relation(snap)
        columns = list(snap.columns)
        counts: tuple[Any, ...] = ()
        if columns:
            counted = ", ".join(f"count({c})" for c in columns)
            counts = con.execute(f"SELECT {counted} FROM {relation}", params).fetchall()[0]
        used = {c for c, n in zip(columns, counts, strict=True) if n}
        units = {m: u for m, u in snap.metrics.items() if stat_column(m, "avg") in used}
        footprints = [k for k in snap.footprints if footprint_column(k) in used]
        schema = full_schema(units, footprints)
        constants = {"_version": "0::BIGINT AS _version", "_deleted": "false AS _deleted"}
        select = ", ".join(constants.get(n, n) for n in schema.names)
        query = f"SELECT {select} FROM {relation} ORDER BY cluster, start_time"
        reader = con.sql(query, params=params).to_arrow_reader(ROW_GROUP_SIZE)
        files: list[str] = []
        for part in regroup(reader, rows_per_file):  # one part in memory at a time
            files.append(_base_name(generation, len(files)))
            self._write_table(files[-1], pa.Table.from_batches(part).cast(schema))
        if not files:
            files.append(_base_name(generation, 0))
            self._write_table(files[-1], schema.empty_table())
        return files, units, footprints
