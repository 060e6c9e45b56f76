"""Answering one :class:`~cc_backend.metricstore.models.ApiQuery` from a host's table.

Selecting follows cc-metric-store. A query names levels below the host: none (the node),
a type level (``hwthread0``, ``hwthread1``, ...) and optionally a subtype level. At each
selected level the series found there is taken; a level without the metric is replaced by
its children, recursively, so that a node query of a hwthread metric combines all hwthreads.
Several series combine cell by cell by the metric's aggregation (sum or average); a cell is
NaN unless every combined series has a value there.

Reading happens in two steps so that the host lock is held only for copying:
:func:`read_selection` (under the lock) and :func:`finish` (outside).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cc_backend.domain.cluster import Aggregation, MetricScope
from cc_backend.metricstore.buffers import SeriesTable
from cc_backend.metricstore.catalog import MetricInfo
from cc_backend.metricstore.models import ApiMetricData, ApiQuery, ApiQueryRequest
from cc_backend.metricstore.resample import Resampler, step_for

__all__ = ["NOT_FOUND", "Levels", "Selected", "finish", "levels_of", "read_selection"]

#: The error of a result whose host or metric has no series (cc-metric-store's wording).
NOT_FOUND = "metric or host not found"

#: The names allowed at each level below the host (empty: the node itself).
Levels = tuple[frozenset[str], ...]


@dataclass(frozen=True, slots=True)
class Selected:
    """Cells copied out of a table for one result."""

    #: Shape (series, cells); empty when there is no value in the time range.
    values: npt.NDArray[np.float64]
    #: Timestamp of the first cell (meaningful only when there are cells).
    start: int
    frequency: int


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
    """Rows of the series selected by ``levels`` among the series of one metric."""
    if all(len(names) == 1 for names in levels):
        exact = paths.get(tuple(next(iter(names)) for names in levels))
        if exact is not None:
            return [exact]
    depth = len(levels)
    prefixes = {
        path[:depth]
        for path in paths
        if len(path) >= depth and all(path[i] in levels[i] for i in range(depth))
    }
    rows: list[int] = []
    for prefix in sorted(prefixes):
        rows.extend(_rows_under(paths, prefix))
    return rows


def _rows_under(paths: Mapping[tuple[str, ...], int], prefix: tuple[str, ...]) -> list[int]:
    row = paths.get(prefix)
    if row is not None:
        return [row]
    size = len(prefix)
    children = {path[: size + 1] for path in paths if len(path) > size and path[:size] == prefix}
    return [r for child in sorted(children) for r in _rows_under(paths, child)]


def read_selection(
    table: SeriesTable | None, metric: str, levels: Levels, start: int, stop: int
) -> Selected | None:
    """Copy the cells of the selected series in ``[start, stop)`` (None: nothing selected).

    The range covers as many cells as cc-metric-store returns for it (one per time step from
    ``start``), trimmed to where the selected series have values.
    """
    if table is None or table.origin is None:
        return None
    rows = np.array(pick_rows(table.paths(metric), levels), dtype=np.int64)
    if len(rows) == 0:
        return None
    frequency = table.frequency
    extent = table.extent(rows)
    first = table.cell(start)
    last = first + -(-(stop - start) // frequency) - 1
    if extent is not None:
        first, last = max(first, extent[0]), min(last, extent[1])
    if extent is None or first > last:
        return Selected(np.empty((len(rows), 0)), start, frequency)
    return Selected(table.read(rows, first, last), table.time(first), frequency)


def finish(
    selected: Selected | None,
    info: MetricInfo,
    query: ApiQuery,
    request: ApiQueryRequest,
    resampler: Resampler,
) -> ApiMetricData:
    """The result for one selection: combined, with statistics, scaled, resampled, padded."""
    if selected is None:
        return ApiMetricData(error=NOT_FOUND)
    values = _combine(selected.values, info.aggregation)
    frequency = selected.frequency
    if len(values) == 0:
        return ApiMetricData(
            data=values if request.with_data else None,
            from_=request.from_,
            to=request.from_,
            resolution=frequency,
        )
    result = ApiMetricData(from_=selected.start, resolution=frequency)
    if request.with_stats:
        result.avg, result.min, result.max = _stats(values)
    if query.scale_by not in (None, 0.0, 1.0):
        factor = float(query.scale_by or 1.0)
        values = values * factor
        result.avg, result.min, result.max = (
            x * factor for x in (result.avg, result.min, result.max)
        )
    step = step_for(frequency, query.resolution)
    if step > 1:
        values = resampler(values, step)
        result.resolution = frequency * step
    result.to = result.from_ + len(values) * result.resolution
    if request.with_padding and result.from_ > request.from_:
        missing = (result.from_ - request.from_) // result.resolution
        if missing:
            values = np.concatenate([np.full(missing, np.nan), values])
            result.from_ -= missing * result.resolution
    result.data = values if request.with_data else None
    return result


def _combine(values: npt.NDArray[np.float64], aggregation: Aggregation) -> npt.NDArray[np.float64]:
    combined: npt.NDArray[np.float64]
    if values.shape[0] == 1:
        combined = values[0]
    elif aggregation is Aggregation.SUM:
        combined = values.sum(axis=0)
    else:
        combined = values.mean(axis=0)
    return combined


def _stats(values: npt.NDArray[np.float64]) -> tuple[float, float, float]:
    present = values[~np.isnan(values)]
    if len(present) == 0:
        return float("nan"), float("nan"), float("nan")
    return float(present.mean()), float(present.min()), float(present.max())
