"""Statistics across the series of a metric, per time step (cc-backend's statisticsSeries).

A job on many nodes has too many lines to plot one per node; the plot shows the minimum,
median and maximum across the nodes at each time step instead (optionally percentiles).

Rules, as cc-backend computes them (``AddStatisticsSeries``), with NaN treated as a gap:

- only for metrics with at least :data:`MIN_SERIES` series;
- series of different lengths count as NaN past their end; the result is as long as the
  longest series;
- a time step with fewer than three samples across the series gives NaN in every line;
- the median is that of the samples (the mean of the two middle ones for an even count);
- percentile ``p`` (an integer, 1 to 99) is the sample at position ``count * p // 100``
  of the sorted samples (nearest rank, rounded down);
- ``mean`` is left unset, as cc-backend does, so plots label the result min/median/max.

cc-backend adds the series when it loads a job's data: to job data with more than 15
series (:data:`JOB_MIN_SERIES`) and to node-list data with 8 or more
(:data:`NODE_LIST_MIN_SERIES`). A statistics series already present (e.g. from the
archive, possibly min/mean/max) is kept as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.jobdata import JobMetric, StatsSeries

__all__ = [
    "JOB_MIN_SERIES",
    "MIN_SAMPLES",
    "MIN_SERIES",
    "NODE_LIST_MIN_SERIES",
    "SCHEMA_PERCENTILES",
    "add_statistics_series",
    "statistics_series",
]

#: Fewer series than this never get a statistics series.
MIN_SERIES = 4
#: A time step needs this many samples across the series, else its statistics are NaN.
MIN_SAMPLES = 3
#: Job data gets a statistics series from this many series on (more than 15).
JOB_MIN_SERIES = 16
#: Node-list data gets a statistics series from this many series on.
NODE_LIST_MIN_SERIES = 8
#: The percentiles the job-archive schema names in ``statisticsSeries.percentiles``.
SCHEMA_PERCENTILES = (10, 20, 25, 30, 40, 50, 60, 70, 75, 80, 90)

_Floats = NDArray[np.float64]


def statistics_series(
    series: Sequence[ArrayLike], percentiles: Iterable[int] = ()
) -> StatsSeries | None:
    """Min, median, max (and ``percentiles``) across ``series`` at each time step.

    None if there are fewer than :data:`MIN_SERIES` series. InvalidInput for a
    percentile outside 1..99 or a series that is not flat.
    """
    wanted = _check_percentiles(percentiles)
    if len(series) < MIN_SERIES:
        return None
    ordered, counts = _sorted_columns(series)
    enough = counts >= MIN_SAMPLES
    last = np.maximum(counts - 1, 0)

    def pick(rank: NDArray[np.intp]) -> _Floats:
        values = np.take_along_axis(ordered, rank[None, :], axis=0)[0]
        return np.where(enough, values, np.nan)

    median = (pick(last // 2) + pick(counts // 2)) / 2
    return StatsSeries(
        min=pick(np.zeros_like(counts)),
        median=median,
        max=pick(last),
        percentiles={p: pick(np.minimum(counts * p // 100, last)) for p in wanted} or None,
    )


def add_statistics_series(
    metric: JobMetric, *, min_series: int = JOB_MIN_SERIES, percentiles: Iterable[int] = ()
) -> JobMetric:
    """``metric`` with a statistics series if it has ``min_series`` series or more.

    Returns ``metric`` itself when it already has one or has fewer series; otherwise a
    copy carrying the new statistics series.
    """
    wanted = _check_percentiles(percentiles)
    if metric.statistics_series is not None or len(metric.series) < max(min_series, MIN_SERIES):
        return metric
    stats = statistics_series([s.data for s in metric.series], wanted)
    return metric.model_copy(update={"statistics_series": stats})


def _check_percentiles(percentiles: Iterable[int]) -> list[int]:
    wanted = list(dict.fromkeys(percentiles))
    for p in wanted:
        if isinstance(p, bool) or not isinstance(p, int | np.integer) or not 1 <= p <= 99:
            raise InvalidInput(f"a percentile must be an integer from 1 to 99, got {p!r}")
    return [int(p) for p in wanted]


def _sorted_columns(series: Sequence[ArrayLike]) -> tuple[_Floats, NDArray[np.intp]]:
    """The series as rows padded with NaN, each column sorted (NaN last), and the number
    of samples per column."""
    arrays = [np.asarray(s, dtype=np.float64) for s in series]
    if any(a.ndim != 1 for a in arrays):
        raise InvalidInput("every series must be a flat list of samples")
    length = max(a.size for a in arrays)
    table = np.full((len(arrays), length), np.nan)
    for row, samples in enumerate(arrays):
        table[row, : samples.size] = samples
    counts = (~np.isnan(table)).sum(axis=0)
    return np.sort(table, axis=0), counts
