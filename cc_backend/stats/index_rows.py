"""Rows of the archive index: the Arrow schema and the conversion of jobs into columns.

One row per job. The scalar columns are fixed (:data:`SCALAR_SCHEMA`); every metric seen in
a job's ``statistics`` adds three ``float64`` columns ``stat_<metric>_avg``, ``_min`` and
``_max``, and every footprint key adds one ``fp_<key>`` column.

Why flat columns rather than a ``MAP(VARCHAR, STRUCT)``: a metric histogram or a footprint
filter then reads exactly one plain ``DOUBLE`` column, which DuckDB scans with projection
pushdown, Parquet min/max statistics and no per-row map decoding; the SQL stays a bare
column name (``stat_flops_any_avg``). Metrics a job lacks are ``NULL`` (the column is
sparse, which Parquet stores almost for free). The cost is a schema that grows with the
set of metrics; files with different metric sets are read together with DuckDB's
``union_by_name``. Names reaching a column must match ``^[a-zA-Z0-9_]+$`` and must not
differ from another column name by letter case only (DuckDB's identifiers ignore case);
values that break either rule are left out and reported.

The ``roofline`` column holds the job's node-level time steps per cell of the fine roofline
grid (:mod:`cc_backend.stats.roofline_cells`) as a list of ``{cell, n}`` (sorted by cell);
an empty list when the job has no usable time step, ``NULL`` when they were never counted
(a row written by an index of format 1, or a job whose metric data could not be read).
"""

from __future__ import annotations

import array
import contextlib
import gc
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]

from cc_backend.archive.base import ArchiveEntry
from cc_backend.archive.layout import JobRef
from cc_backend.domain.filters import METRIC_NAME_RE
from cc_backend.domain.job import Job
from cc_backend.stats.roofline_cells import JobCells

#: The columns identifying a job; a reader keeps the newest row of each key.
KEY_COLUMNS = ("cluster", "job_id", "start_time")
#: Row version (bigger is newer) and tombstone flag, present in every file.
VERSION_COLUMN = "_version"
DELETED_COLUMN = "_deleted"
STAT_PREFIX = "stat_"
FOOTPRINT_PREFIX = "fp_"
STATS = ("avg", "min", "max")
#: The column of a job's roofline time steps per fine cell.
ROOFLINE_COLUMN = "roofline"
ROOFLINE_CELL = pa.struct([("cell", pa.int32()), ("n", pa.int64())])
ROOFLINE_TYPE = pa.list_(ROOFLINE_CELL)
#: The column's type in DuckDB's SQL (for a NULL column over files without it).
ROOFLINE_SQL_TYPE = "STRUCT(cell INTEGER, n BIGINT)[]"

TAG_TYPE = pa.struct(
    [("id", pa.int64()), ("type", pa.string()), ("name", pa.string()), ("scope", pa.string())]
)
SCALAR_SCHEMA = pa.schema(
    [
        ("cluster", pa.string()),
        ("job_id", pa.int64()),
        ("start_time", pa.int64()),
        ("sub_cluster", pa.string()),
        ("partition", pa.string()),
        ("user", pa.string()),
        ("project", pa.string()),
        ("state", pa.string()),
        ("shared", pa.string()),
        ("monitoring_status", pa.int64()),
        ("array_job_id", pa.int64()),
        ("db_id", pa.int64()),
        ("job_name", pa.string()),
        ("duration", pa.int64()),
        ("walltime", pa.int64()),
        ("num_nodes", pa.int64()),
        ("num_hwthreads", pa.int64()),
        ("num_acc", pa.int64()),
        ("energy", pa.float64()),
        ("node_hours", pa.float64()),
        ("hostnames", pa.list_(pa.string())),
        ("tags", pa.list_(TAG_TYPE)),
        ("tag_ids", pa.list_(pa.int64())),
        (VERSION_COLUMN, pa.int64()),
        (DELETED_COLUMN, pa.bool_()),
    ]
)
SCALAR_COLUMNS = tuple(SCALAR_SCHEMA.names)
_DATA_COLUMNS = SCALAR_COLUMNS[:-2]
#: A tombstone's data columns after its key: all NULL.
_TOMBSTONE_TAIL = (None,) * (len(_DATA_COLUMNS) - len(KEY_COLUMNS))


def stat_column(metric: str, stat: str) -> str:
    """The column holding statistic ``stat`` (avg/min/max) of ``metric``."""
    return f"{STAT_PREFIX}{metric}_{stat}"


def footprint_column(key: str) -> str:
    """The column holding footprint value ``key`` (e.g. ``flops_any_avg``)."""
    return f"{FOOTPRINT_PREFIX}{key}"


def full_schema(metrics: Iterable[str], footprints: Iterable[str]) -> pa.Schema:
    """The scalar schema and the roofline column, followed by the columns of ``metrics``
    and ``footprints``."""
    extra = [pa.field(ROOFLINE_COLUMN, ROOFLINE_TYPE)]
    extra += [pa.field(stat_column(m, s), pa.float64()) for m in metrics for s in STATS]
    extra += [pa.field(footprint_column(k), pa.float64()) for k in footprints]
    return pa.schema(list(SCALAR_SCHEMA) + extra)


def _unit_text(unit: Mapping[str, str]) -> str:
    return f"{unit.get('prefix', '')}{unit.get('base', '')}"


Ints: TypeAlias = "array.array[int]"
Floats: TypeAlias = "array.array[float]"


def _sparse(n: int, rows: Ints, values: Floats) -> pa.Array:
    """A float column of ``n`` rows holding ``values`` at ``rows``; NULL elsewhere and
    where a value is not finite."""
    data = np.zeros(n, dtype=np.float64)
    mask = np.ones(n, dtype=bool)
    if rows:
        index = np.frombuffer(rows, dtype=np.int64)
        given = np.frombuffer(values, dtype=np.float64)
        finite = np.isfinite(given)
        data[index] = np.where(finite, given, 0.0)
        mask[index] = ~finite
    return pa.array(data, mask=mask)


def _roofline_array(rows: list[JobCells | None]) -> pa.Array:
    """The roofline column of ``rows`` (NULL where a row has no counts)."""
    lengths = np.array([0 if r is None else len(r.cells) for r in rows], dtype=np.int32)
    offsets = np.zeros(len(rows) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    present = [r for r in rows if r is not None]
    cells = np.concatenate([r.cells for r in present]) if present else np.zeros(0, np.int32)
    counts = np.concatenate([r.counts for r in present]) if present else np.zeros(0, np.int64)
    values = pa.StructArray.from_arrays(
        [pa.array(cells, pa.int32()), pa.array(counts, pa.int64())], fields=list(ROOFLINE_CELL)
    )
    mask = pa.array([r is None for r in rows], type=pa.bool_())
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values, mask=mask)


class RowBuffer:
    """Collects jobs (and tombstones) column by column and turns them into an Arrow table.

    ``known`` are column names already used by the index, so that a name differing only by
    letter case from an existing one is rejected here too.
    """

    def __init__(self, known: Iterable[str] = ()) -> None:
        #: One tuple of the scalar data columns per row; a flag per row for tombstones.
        self._rows: list[tuple[object, ...]] = []
        self._deleted: list[bool] = []
        self._roofline: list[JobCells | None] = []
        #: Metric -> (rows, avg, min, max) and footprint key -> (rows, values).
        self._stats: dict[str, tuple[Ints, Floats, Floats, Floats]] = {}
        self._footprint: dict[str, tuple[Ints, Floats]] = {}
        self._lower = {name.lower(): name for name in (*SCALAR_COLUMNS, *known)}
        #: Metric -> unit (prefix + base) of the metrics met, in order of appearance.
        self.units: dict[str, str] = {}
        #: Footprint keys met, in order of appearance.
        self.footprints: dict[str, None] = {}
        #: Metric or footprint names that could not become columns.
        self.skipped: dict[str, None] = {}

    def __len__(self) -> int:
        return len(self._deleted)

    def _usable(self, column: str, name: str) -> bool:
        if name in self.skipped:
            return False
        taken = self._lower.setdefault(column.lower(), column)
        if not METRIC_NAME_RE.fullmatch(name) or taken != column:
            self.skipped[name] = None
            return False
        return True

    def add(self, job: Job, roofline: JobCells | None = None) -> None:
        """Append one job, with its roofline time steps per fine cell if counted."""
        row = len(self._deleted)
        tags = job.tags or ()
        meta = job.meta_data
        values = (
            job.cluster,
            job.job_id,
            job.start_time,
            job.sub_cluster,
            job.partition,
            job.user,
            job.project,
            job.job_state.value,
            job.shared.value,
            int(job.monitoring_status),
            job.array_job_id,
            job.id,
            meta.get("jobName") if meta else None,
            job.duration,
            job.walltime,
            job.num_nodes,
            job.num_hwthreads,
            job.num_acc,
            job.energy,
            job.duration * job.num_nodes / 3600.0,
            [r.hostname for r in job.resources],
            [{"id": t.id, "type": t.type, "name": t.name, "scope": t.scope} for t in tags],
            [t.id for t in tags if t.id is not None],
        )
        self._rows.append(values)
        self._deleted.append(False)
        self._roofline.append(roofline)
        for metric, stats in (job.statistics or {}).items():
            entry = self._stats.get(metric)
            if entry is None:
                if not self._usable(stat_column(metric, "avg"), metric):
                    continue
                self.units[metric] = _unit_text(stats.unit)
                entry = self._stats[metric] = (
                    array.array("q"),
                    array.array("d"),
                    array.array("d"),
                    array.array("d"),
                )
            entry[0].append(row)
            entry[1].append(stats.avg)
            entry[2].append(stats.min)
            entry[3].append(stats.max)
        for key, value in (job.footprint or {}).items():
            found = self._footprint.get(key)
            if found is None:
                if not self._usable(footprint_column(key), key):
                    continue
                self.footprints[key] = None
                found = self._footprint[key] = (array.array("q"), array.array("d"))
            found[0].append(row)
            found[1].append(value)

    def successor(self) -> RowBuffer:
        """An empty buffer that knows every column name this one has used."""
        return RowBuffer(self._lower.values())

    def add_tombstone(self, ref: JobRef) -> None:
        """Append a row that hides ``ref`` from readers."""
        self._rows.append((ref.cluster, ref.job_id, ref.start_time, *_TOMBSTONE_TAIL))
        self._deleted.append(True)
        self._roofline.append(None)

    def to_table(self, version: int) -> pa.Table:
        """The collected rows as a table; every row gets row version ``version``."""
        n = len(self._deleted)
        columns = list(zip(*self._rows, strict=True)) or [()] * len(_DATA_COLUMNS)
        arrays: list[pa.Array] = [
            pa.array(values, type=SCALAR_SCHEMA.field(name).type)
            for name, values in zip(_DATA_COLUMNS, columns, strict=True)
        ]
        arrays.append(pa.array(np.full(n, version, dtype=np.int64)))
        arrays.append(pa.array(self._deleted, type=pa.bool_()))
        arrays.append(_roofline_array(self._roofline))
        for rows, *stats in self._stats.values():
            arrays += [_sparse(n, rows, values) for values in stats]
        arrays += [_sparse(n, rows, values) for rows, values in self._footprint.values()]
        schema = full_schema(self.units, self.footprints)
        return pa.Table.from_arrays(arrays, schema=schema)


@dataclass
class ScanTally:
    """What a scan of archive entries met (see :func:`scan`)."""

    entries: int = 0
    jobs: int = 0
    broken: int = 0
    duplicates: int = 0
    #: ``location: error`` of the first ``max_errors`` broken entries.
    errors: list[str] = field(default_factory=list)
    max_errors: int = 50


def scan(
    entries: Iterable[tuple[Job | ArchiveEntry, JobCells | None]],
    tally: ScanTally,
    rows: int,
    progress: Callable[[int], None] | None = None,
) -> Iterator[RowBuffer]:
    """Buffers of at most ``rows`` jobs from ``entries`` (at least one, maybe empty), each
    entry given with its roofline time steps per fine cell (None: not counted).

    Entries with an error are counted in ``tally`` (and indexed if they carry meta data);
    a job whose key was met before is counted as a duplicate and skipped. ``progress``
    gets the number of entries seen every 5,000 entries and at the end.
    """
    seen: set[tuple[str, int]] = set()
    buffer = RowBuffer()
    yielded = False
    for entry, cells in entries:
        tally.entries += 1
        if progress is not None and tally.entries % 5000 == 0:
            progress(tally.entries)
        job = entry if isinstance(entry, Job) else entry.meta
        if isinstance(entry, ArchiveEntry) and entry.error is not None:
            tally.broken += 1
            if len(tally.errors) < tally.max_errors:
                tally.errors.append(f"{entry.location}: {entry.error}")
        if job is None:
            continue
        key = (job.cluster, job.job_id * 10_000_000_000 + job.start_time)
        if key in seen:
            tally.duplicates += 1
            continue
        seen.add(key)
        buffer.add(job, cells)
        tally.jobs += 1
        if len(buffer) >= rows:
            yield buffer
            buffer, yielded = buffer.successor(), True
    if len(buffer) or not yielded:
        yield buffer
    if progress is not None:
        progress(tally.entries)


def regroup(reader: pa.RecordBatchReader, rows: int) -> Iterator[list[pa.RecordBatch]]:
    """The batches of ``reader`` regrouped into lists of ``rows`` rows (the last: fewer)."""
    part: list[pa.RecordBatch] = []
    count = 0
    for batch in reader:
        start = 0
        while start < batch.num_rows:
            piece = batch.slice(start, rows - count)
            part.append(piece)
            count += piece.num_rows
            start += piece.num_rows
            if count == rows:
                yield part
                part, count = [], 0
    if part:
        yield part


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: a bulk load makes millions of objects, and each
    collection walks all of them (a third of the build time otherwise)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
