"""Answering one :class:`~cc_backend.metricstore.models.ApiQuery` from a host's table.

Selecting follows cc-metric-store. A query names levels below the host: none (the node),
a type level (``hwthread0``, ``hwthread1``, ...) and optionally a subtype level. At each
selected level the series found there is taken; a level without the metric is replaced by
its children, recursively, so that a node query of a hwthread metric combines all hwthreads.
Several series combine cell by cell by the metric's aggregation (sum or average); a cell is
NaN unless every combined series has a value there.

Reading happens in two steps so that the host lock is held only while cells are read:
:func:`read_query` (under the lock) reads and combines the selected series chunk by chunk
of the table, without an intermediate (series x cells) copy, and reads the single series
of a query with many ids in one go; :func:`finish` (outside the lock) adds statistics,
scaling, resampling and padding.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cc_backend.domain.cluster import Aggregation, MetricScope
from cc_backend.metricstore.buffers import CHUNK, SeriesTable
from cc_backend.metricstore.catalog import MetricInfo
from cc_backend.metricstore.models import ApiMetricData, ApiQuery, ApiQueryRequest
from cc_backend.metricstore.resample import Resampler, step_for

__all__ = [
    "NOT_FOUND",
    "Levels",
    "Selected",
    "finish",
    "levels_of",
    "read_query",
]

#: The error of a result whose host or metric has no series (cc-metric-store's wording).
NOT_FOUND = "metric or host not found"

#: The names allowed at each level below the host (empty: the node itself).
Levels = tuple[frozenset[str], ...]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Selected:
    """The cells of one result, read out of a table (the selected series combined)."""

    #: One value per cell, NaN for gaps; empty when there is no value in the time range.
    values: npt.NDArray[np.float64]
    #: Timestamp of the first cell (meaningful only when there are cells).
    start: int
    frequency: int
    #: avg, min and max of ``values`` when they were computed while reading.
    stats: tuple[float, float, float] | None = None


def levels_of(query: ApiQuery) -> list[Levels]:
    """One entry per result of ``query``: the levels selected for it."""
    scope = query.type if query.type and query.type != MetricScope.NODE else None
    if scope is None:
        return [()]
    first = [scope + ident for ident in query.type_ids or ()]
    second = [query.subtype + ident for ident in query.subtype_ids or ()] if query.subtype else None
    if query.aggregate:
        if second is None:
            return [(frozenset(first),)]
        return [(frozenset(first), frozenset(second))]
    if second is None:
        return [(frozenset([name]),) for name in first]
    return [(frozenset([name]), frozenset([sub])) for name in first for sub in second]


def pick_rows(paths: Mapping[tuple[str, ...], int], levels: Levels) -> list[int]:
    """Rows of the series selected by ``levels`` among the series of one metric, in the
    order of their paths.

    A series is selected when its path matches ``levels`` and no shorter path below the
    selected levels is itself a series (that one is selected instead of its children).
    """
    if all(len(names) == 1 for names in levels):
        exact = paths.get(tuple(next(iter(names)) for names in levels))
        if exact is not None:
            return [exact]
    depth = len(levels)
    picked: list[tuple[tuple[str, ...], int]] = []
    for path, row in paths.items():
        size = len(path)
        if size < depth or (depth and not all(path[i] in levels[i] for i in range(depth))):
            continue
        if size > depth and any(path[:k] in paths for k in range(depth, size)):
            continue
        picked.append((path, row))
    picked.sort()
    return [row for _, row in picked]


def read_query(
    table: SeriesTable | None,
    metric: str,
    selections: Sequence[Levels],
    start: int,
    stop: int,
    *,
    aggregation: Aggregation,
) -> list[Selected | None]:
    """The cells of each result of a query in ``[start, stop)``: per entry of
    ``selections``, its series combined by ``aggregation``, or None if it selects none.

    The range covers as many cells as cc-metric-store returns for it (one per time step from
    ``start``), trimmed to where the selected series have values. When every selection is
    a single series (a query listing ids without aggregating), the series are read
    together: one copy of their cells, statistics computed for all at once (equal to
    those of single reads up to rounding).
    """
    if table is None or table.origin is None:
        return [None] * len(selections)
    paths = table.paths(metric)
    picked = [pick_rows(paths, levels) for levels in selections]
    if len(picked) > 1 and all(len(rows) == 1 for rows in picked):
        return list(_read_single_rows(table, [rows[0] for rows in picked], start, stop))
    return [
        _read_rows(table, np.array(rows, dtype=np.int64), start, stop, aggregation)
        for rows in picked
    ]


def _window(table: SeriesTable, start: int, stop: int) -> tuple[int, int]:
    """The first and last cell of ``[start, stop)``: one per time step from ``start``."""
    first = table.cell(start)
    return first, first + -(-(stop - start) // table.frequency) - 1


def _read_rows(
    table: SeriesTable, rows: IntArray, start: int, stop: int, aggregation: Aggregation
) -> Selected | None:
    """``rows`` combined over ``[start, stop)``, trimmed to where they have values."""
    if len(rows) == 0:
        return None
    frequency = table.frequency
    extent = table.extent(rows)
    first, last = _window(table, start, stop)
    if extent is not None:
        first, last = max(first, extent[0]), min(last, extent[1])
    if extent is None or first > last:
        return Selected(np.empty(0), start, frequency)
    values = _combine_rows(table, rows, first, last, aggregation=aggregation)
    return Selected(values, table.time(first), frequency)


def _read_single_rows(
    table: SeriesTable, rows: list[int], start: int, stop: int
) -> Iterator[Selected]:
    """A result per row, each trimmed to where its row has values, from one copy of the
    cells of all of them; statistics computed over that copy (NaN outside a row's values)."""
    index = np.array(rows, dtype=np.int64)
    firsts, lasts = table.first[index], table.last[index]
    window_first, window_last = _window(table, start, stop)
    first, last = max(window_first, int(firsts.min())), min(window_last, int(lasts.max()))
    if first > last:
        for _ in rows:
            yield Selected(np.empty(0), start, table.frequency)
        return
    block = table.read(index, first, last)
    averages, lows, highs = _row_stats(block)
    for i, (low, high) in enumerate(zip(firsts.tolist(), lasts.tolist(), strict=True)):
        begin, end = max(first, low), min(last, high)
        if begin > end:
            yield Selected(np.empty(0), start, table.frequency)
            continue
        values = block[i, begin - first : end - first + 1]
        stats = (averages[i], lows[i], highs[i])
        yield Selected(values, table.time(begin), table.frequency, stats)


def _combine_rows(
    table: SeriesTable, rows: IntArray, first: int, last: int, *, aggregation: Aggregation
) -> FloatArray:
    """Cells ``first`` to ``last`` (inclusive) of ``rows`` combined cell by cell: their
    sum, or for :attr:`Aggregation.AVG` their mean; NaN where any of them has no value.

    Works chunk by chunk of the table. Rows at regular distances (consecutive rows, as the
    series of a node's hardware threads are when they arrive metric by metric, or every
    k-th row) are summed over a view of the chunk; other selections over a copy of the
    chunk's selected rows, which is small. Rows are added in ascending order either way.
    """
    ordered = np.sort(rows)
    index: slice | IntArray = ordered
    if len(ordered) > 1:
        steps = np.diff(ordered)
        if steps[0] > 0 and bool((steps == steps[0]).all()):
            index = slice(int(ordered[0]), int(ordered[-1]) + 1, int(steps[0]))
    elif len(ordered) == 1:
        index = slice(int(ordered[0]), int(ordered[0]) + 1)
    highest = int(ordered[-1])
    out = np.full(last - first + 1, np.nan)
    for number in range(first // CHUNK, last // CHUNK + 1):
        chunk = _chunk(table, number)
        if chunk is None or chunk.shape[0] <= highest:
            continue  # a row without cells in this chunk makes every combined cell NaN
        begin = number * CHUNK
        low, high = max(first, begin), min(last, begin + CHUNK - 1)
        block = chunk[index, low - begin : high - begin + 1]
        np.add.reduce(block, axis=0, out=out[low - first : high - first + 1])
    if aggregation is not Aggregation.SUM and len(ordered) > 1:
        out /= len(ordered)
    return out


def _chunk(table: SeriesTable, number: int) -> FloatArray | None:
    """Chunk ``number`` of ``table`` (rows x :data:`CHUNK` cells), None if never written.

    Read in place for :func:`_combine_rows`; the table's layout is described in
    :mod:`cc_backend.metricstore.buffers`.
    """
    return table.chunk(number)


def finish(
    selected: Selected | None,
    info: MetricInfo,
    query: ApiQuery,
    request: ApiQueryRequest,
    resampler: Resampler,
) -> ApiMetricData:
    """The result for one selection: with statistics, scaled, resampled, padded."""
    if selected is None:
        return ApiMetricData(error=NOT_FOUND)
    values = selected.values
    frequency = selected.frequency
    if len(values) == 0:
        return ApiMetricData(
            data=values if request.with_data else None,
            from_=request.from_,
            to=request.from_,
            resolution=frequency,
        )
    nan = float("nan")
    avg, low, high = nan, nan, nan
    if request.with_stats:
        avg, low, high = selected.stats if selected.stats is not None else _stats(values)
    if query.scale_by not in (None, 0.0, 1.0):
        factor = float(query.scale_by or 1.0)
        values = values * factor
        avg, low, high = avg * factor, low * factor, high * factor
    first, resolution = selected.start, frequency
    step = step_for(frequency, query.resolution)
    if step > 1:
        values = resampler(values, step)
        resolution = frequency * step
    to = first + len(values) * resolution
    if request.with_padding and first > request.from_:
        missing = (first - request.from_) // resolution
        if missing:
            values = np.concatenate([np.full(missing, np.nan), values])
            first -= missing * resolution
    return ApiMetricData(
        data=values if request.with_data else None,
        from_=first,
        to=to,
        resolution=resolution,
        avg=avg,
        min=low,
        max=high,
    )


def _stats(values: FloatArray) -> tuple[float, float, float]:
    """avg, min and max of the values that are not NaN (NaN if there are none)."""
    averages, lows, highs = _row_stats(values.reshape(1, -1))
    return averages[0], lows[0], highs[0]


def _row_stats(block: FloatArray) -> tuple[list[float], list[float], list[float]]:
    """avg, min and max of the values of each row that are not NaN (NaN for a row without)."""
    present = ~np.isnan(block)
    counts = present.sum(axis=1)
    sums = np.where(present, block, 0.0).sum(axis=1)
    averages = np.full(len(block), np.nan)
    np.divide(sums, counts, out=averages, where=counts > 0)
    lows, highs = np.fmin.reduce(block, axis=1), np.fmax.reduce(block, axis=1)
    return averages.tolist(), lows.tolist(), highs.tolist()
