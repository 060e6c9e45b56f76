"""The samples of one host: a table with one row per series and one column per time step.

All series of a host that share a frequency live in one :class:`SeriesTable`, so that a
payload of many series is stored with a few NumPy assignments instead of a Python call per
sample, and so that the series of a node (a hwthread and its core, a socket and its memory
domains) share one time grid and aggregate without realignment.

Time is cut into cells of ``frequency`` seconds. Cell ``k`` is centred on
``origin + k * frequency``, where ``origin`` is the first timestamp the table received; a
sample lands in the cell its timestamp falls into, so samples that arrive with a little
jitter keep their place, a gap stays NaN, and a late or repeated sample overwrites the value
of its cell. Cells are kept in chunks of :data:`CHUNK` columns that are allocated when first
written and dropped whole when :meth:`SeriesTable.free` passes them.

A table does no locking: its owner serialises access (the store holds one lock per host).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["CHUNK", "SeriesName", "SeriesTable", "describe_tables"]

#: Cells per chunk (about two hours at a 60 s time step).
CHUNK = 128

#: A series within its host: the path below the host and the metric.
SeriesName = tuple[tuple[str, ...], str]

_NO_FIRST = np.iinfo(np.int64).max
_NO_LAST = np.iinfo(np.int64).min

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class SeriesTable:
    """Samples of the series of one host that share one frequency."""

    def __init__(self, frequency: int) -> None:
        if frequency < 1:
            raise ValueError(f"frequency must be positive, not {frequency}")
        self.frequency = frequency
        #: Time of cell 0 (None until the first write).
        self.origin: int | None = None
        self._half = frequency // 2
        self._rows: dict[SeriesName, int] = {}
        self._by_metric: dict[str, dict[tuple[str, ...], int]] = {}
        self._names: list[SeriesName | None] = []
        self._spare: list[int] = []
        #: First and last cell holding a value, per row.
        self.first: IntArray = np.empty(0, np.int64)
        self.last: IntArray = np.empty(0, np.int64)
        self._chunks: dict[int, FloatArray] = {}
        #: Smallest cell written since :meth:`mark_clean` (None if nothing was).
        self.dirty_from: int | None = None

    # -- series --------------------------------------------------------------------------

    def chunk(self, number: int) -> FloatArray | None:
        """Chunk ``number`` (rows x ``CHUNK`` cells) as stored, None if never written;
        read only (the query path combines rows over views of it)."""
        return self._chunks.get(number)

    def __len__(self) -> int:
        return len(self._rows)

    def row(self, name: SeriesName) -> int:
        """The row of series ``name``, added if new."""
        row = self._rows.get(name)
        if row is not None:
            return row
        if not self._spare:
            self._grow()
        row = self._spare.pop()
        self._rows[name] = row
        self._names[row] = name
        self._by_metric.setdefault(name[1], {})[name[0]] = row
        return row

    def find(self, name: SeriesName) -> int | None:
        """The row of series ``name`` (None if absent)."""
        return self._rows.get(name)

    def paths(self, metric: str) -> Mapping[tuple[str, ...], int]:
        """The series of ``metric``: row by path below the host."""
        return self._by_metric.get(metric, {})

    def series(self) -> Iterator[tuple[SeriesName, int]]:
        """Every series with its row, in the order they were added."""
        return iter(sorted(self._rows.items(), key=lambda item: item[1]))

    def _grow(self) -> None:
        old = len(self._names)
        new = max(8, old * 2)
        self._names.extend([None] * (new - old))
        self._spare.extend(range(new - 1, old - 1, -1))
        self.first = np.concatenate([self.first, np.full(new - old, _NO_FIRST, np.int64)])
        self.last = np.concatenate([self.last, np.full(new - old, _NO_LAST, np.int64)])

    # -- time ----------------------------------------------------------------------------

    def cell(self, timestamp: int) -> int:
        """The cell ``timestamp`` falls into (the table must have an origin)."""
        assert self.origin is not None
        return (timestamp - self.origin + self._half) // self.frequency

    def time(self, cell: int) -> int:
        """The timestamp at the centre of ``cell``."""
        assert self.origin is not None
        return self.origin + cell * self.frequency

    # -- writing -------------------------------------------------------------------------

    def write(self, rows: IntArray, timestamps: IntArray, values: FloatArray) -> None:
        """Store ``values[i]`` at ``timestamps[i]`` in row ``rows[i]``.

        Of several samples for the same cell, the one listed last wins.
        """
        if len(rows) == 0:
            return
        if self.origin is None:
            self.origin = int(timestamps[0])
        cells = (timestamps - self.origin + self._half) // self.frequency
        low, high = int(cells.min()), int(cells.max())
        if low == high:
            self._write_step(rows, low, values)
        else:
            self._write_steps(rows, cells, values)
        if self.dirty_from is None or low < self.dirty_from:
            self.dirty_from = low

    def _write_step(self, rows: IntArray, cell: int, values: FloatArray) -> None:
        """All samples in one cell: the usual payload of a node at one point in time."""
        if len(rows) > 1 and int(np.bincount(rows).max()) > 1:
            rows, values = _last_per_row(rows, values)
        number = cell // CHUNK
        self._chunk(number)[rows, cell - number * CHUNK] = values
        self.first[rows] = np.minimum(self.first[rows], cell)
        self.last[rows] = np.maximum(self.last[rows], cell)

    def _write_steps(self, rows: IntArray, cells: IntArray, values: FloatArray) -> None:
        rows, cells, values = _last_of_each_cell(rows, cells, values)
        chunk_of = cells // CHUNK
        for number in np.unique(chunk_of).tolist():
            mine = chunk_of == number
            self._chunk(number)[rows[mine], cells[mine] - number * CHUNK] = values[mine]
        np.minimum.at(self.first, rows, cells)
        np.maximum.at(self.last, rows, cells)

    def _chunk(self, number: int) -> FloatArray:
        chunk = self._chunks.get(number)
        capacity = len(self._names)
        if chunk is None:
            chunk = self._chunks[number] = np.full((capacity, CHUNK), np.nan)
        elif chunk.shape[0] < capacity:
            extra = np.full((capacity - chunk.shape[0], CHUNK), np.nan)
            chunk = self._chunks[number] = np.concatenate([chunk, extra])
        return chunk

    def mark_clean(self) -> None:
        """Forget which cells were written (after they were saved)."""
        self.dirty_from = None

    # -- reading -------------------------------------------------------------------------

    def read(self, rows: IntArray, first: int, last: int) -> FloatArray:
        """Cells ``first`` to ``last`` (inclusive) of ``rows``: shape (rows, cells), NaN gaps."""
        out = np.full((len(rows), max(0, last - first + 1)), np.nan)
        if last < first:
            return out
        for number in range(first // CHUNK, last // CHUNK + 1):
            chunk = self._chunks.get(number)
            if chunk is None:
                continue
            start = number * CHUNK
            low, high = max(first, start), min(last, start + CHUNK - 1)
            present = rows < chunk.shape[0]
            block = chunk[rows[present], low - start : high - start + 1]
            out[present, low - first : high - first + 1] = block
        return out

    def extent(self, rows: IntArray) -> tuple[int, int] | None:
        """The first and last cell holding a value in any of ``rows`` (None if none)."""
        if len(rows) == 0:
            return None
        first, last = int(self.first[rows].min()), int(self.last[rows].max())
        return (first, last) if first <= last else None

    def nbytes(self) -> int:
        """Memory held by the samples."""
        return sum(chunk.nbytes for chunk in self._chunks.values())

    # -- freeing -------------------------------------------------------------------------

    def free(self, before: int) -> list[SeriesName]:
        """Drop every value in a cell before ``before``; remove series left without values.

        Returns the names of the removed series.
        """
        for number in [n for n in self._chunks if (n + 1) * CHUNK <= before]:
            del self._chunks[number]
        partial = self._chunks.get(before // CHUNK)
        if partial is not None:
            partial[:, : before - (before // CHUNK) * CHUNK] = np.nan
        live = self.last >= self.first
        np.maximum(self.first, np.where(live, before, _NO_FIRST), out=self.first)
        removed: list[SeriesName] = []
        for name, row in list(self._rows.items()):
            if self.last[row] < before:
                del self._rows[name]
                paths = self._by_metric[name[1]]
                del paths[name[0]]
                if not paths:
                    del self._by_metric[name[1]]
                self._names[row] = None
                self._spare.append(row)
                self.first[row], self.last[row] = _NO_FIRST, _NO_LAST
                removed.append(name)
        return removed


def describe_tables(tables: Iterable[SeriesTable]) -> dict[str, Any]:
    """What the tables of a host hold, as nested levels: ``{"metrics": {name: {frequency,
    from, to, values}}, "children": {element: level}}`` (times of the first and last value,
    number of values)."""
    root: dict[str, Any] = {"metrics": {}, "children": {}}
    for table in tables:
        for (path, metric), row in table.series():
            level = root
            for name in path:
                level = level["children"].setdefault(name, {"metrics": {}, "children": {}})
            first, last = int(table.first[row]), int(table.last[row])
            count = 0
            if first <= last:
                values = table.read(np.array([row], dtype=np.int64), first, last)
                count = int(np.count_nonzero(~np.isnan(values)))
            level["metrics"][metric] = {
                "frequency": table.frequency,
                "from": table.time(first) if count else None,
                "to": table.time(last) if count else None,
                "values": count,
            }
    return root


def _last_per_row(rows: IntArray, values: FloatArray) -> tuple[IntArray, FloatArray]:
    """Keep only the last sample of each row, in the order given."""
    reverse_unique = np.unique(rows[::-1], return_index=True)[1]
    chosen = np.sort(len(rows) - 1 - reverse_unique)
    return rows[chosen], values[chosen]


def _last_of_each_cell(
    rows: IntArray, cells: IntArray, values: FloatArray
) -> tuple[IntArray, IntArray, FloatArray]:
    """Keep only the last sample of each (row, cell) pair, in the order given."""
    order = np.lexsort((cells, rows))  # stable: equal pairs keep their payload order
    same = (rows[order][1:] == rows[order][:-1]) & (cells[order][1:] == cells[order][:-1])
    if not bool(same.any()):
        return rows, cells, values
    keep = np.ones(len(order), dtype=np.bool_)
    keep[:-1] = ~same
    chosen = np.sort(order[keep])
    return rows[chosen], cells[chosen], values[chosen]
