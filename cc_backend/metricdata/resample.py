"""Down-sampling of metric series for plots, and cc-backend's rules for when to do it.

Three algorithms reduce a series sampled every ``timestep`` seconds to one point per
``resolution`` seconds (``step = resolution // timestep`` input points per output point,
``len // step`` output points):

- ``lttb``, largest-triangle-three-buckets (Steinarsson 2013): the first and last samples
  are kept; the samples between are split into ``n_out - 2`` buckets of consecutive
  samples, and from each bucket the sample is kept that spans the largest triangle with
  the sample kept from the previous bucket and the centroid of the next bucket. Peaks and
  dips survive; every output value is an input value.
- ``average``: the mean of each group of ``step`` samples (the remainder joins the last).
- ``simple``: every ``step``-th sample.

Gaps (NaN samples) are handled so that a gap is never filled and a value is never
invented: a bucket with no sample yields NaN; otherwise only samples are candidates, the
centroid of the next bucket is taken over its samples, and the previous anchor is the
last sample actually kept. When the next bucket holds no sample at all, the sample of
the current bucket farthest in value from the anchor is kept. A leading or trailing NaN
stays in place (first and last are kept as they are); ``average`` ignores NaN within a
group and yields NaN only for a group without samples.

:func:`resample` applies cc-backend's conditions for resampling at all, and
:class:`ResamplingPolicy` holds the ``main.resampling`` rules that pick a resolution
when a job's plots are first loaded and when the user zooms in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.jobdata import JobMetric, Series, StatsSeries

if TYPE_CHECKING:
    from cc_backend.config.main_section import ResamplingConfig

__all__ = [
    "ALGORITHMS",
    "DEFAULT_MINIMUM_POINTS",
    "TARGET_POINTS",
    "Algorithm",
    "ResamplingPolicy",
    "compute_resolution",
    "get_algorithm",
    "lttb",
    "lttb_indices",
    "prepare",
    "resample",
    "resample_metric",
    "resample_metrics",
    "resample_step",
]

Algorithm = Literal["lttb", "average", "simple"]
#: The algorithms by their ``defaultAlgo`` config name.
ALGORITHMS: tuple[Algorithm, ...] = ("lttb", "average", "simple")
#: Series shorter than this are never resampled unless ``minimumPoints`` says otherwise.
DEFAULT_MINIMUM_POINTS = 1000
#: Plot points aimed at by the ``defaultPolicy`` values (cc-backend 1.5).
TARGET_POINTS: dict[str, int] = {"low": 200, "medium": 500, "high": 1000}

_Floats = NDArray[np.float64]
_Indices = NDArray[np.intp]


def lttb_indices(values: ArrayLike, n_out: int) -> _Indices:
    """Positions of the samples LTTB keeps when reducing ``values`` to ``n_out`` points.

    ``values`` is one series (1-d) or several of equal length (2-d, one per row; they
    are reduced together, each on its own). The result has the same number of
    dimensions, ``min(n_out, len)`` positions per series, strictly increasing, the first
    0 and the last ``len - 1``. A bucket without a sample contributes its first position
    (whose value is NaN). InvalidInput if ``n_out < 2``.
    """
    series = _as_rows(values)
    positions = _lttb_rows(series, n_out)
    return positions[0] if np.ndim(values) == 1 else positions


def lttb(values: ArrayLike, n_out: int) -> _Floats:
    """``values`` reduced to ``n_out`` points by LTTB (see :func:`lttb_indices`)."""
    series = _as_rows(values)
    kept = np.take_along_axis(series, _lttb_rows(series, n_out), axis=1)
    return kept[0] if np.ndim(values) == 1 else kept


def prepare() -> None:
    """Load LTTB's compiled code now (compiling it on the first run after an install,
    about a second) rather than when the first plot is resampled."""
    _lttb_rows(np.zeros((1, 8)), 4)


def resample_step(length: int, timestep: int, resolution: int, minimum_points: int) -> int | None:
    """How many input points go into one output point, or None if a series of ``length``
    points at ``timestep`` seconds stays as it is for ``resolution``.

    It stays unchanged, as in cc-backend, when either interval is not positive, the
    resolution is not coarser than the timestep or not a multiple of it, the series has
    fewer than ``minimum_points`` points, or would not get shorter.
    """
    if timestep <= 0 or resolution <= timestep or resolution % timestep:
        return None
    step = resolution // timestep
    n_out = length // step
    if n_out == 0 or length < minimum_points or n_out >= length:
        return None
    return step


def get_algorithm(name: str | None) -> Algorithm:
    """The algorithm called ``name`` (None or empty: ``lttb``); InvalidInput if unknown."""
    if not name:
        return "lttb"
    for algorithm in ALGORITHMS:
        if algorithm == name.lower():
            return algorithm
    raise InvalidInput(f"unknown resampling algorithm {name!r} (known: {', '.join(ALGORITHMS)})")


def resample(
    values: ArrayLike,
    timestep: int,
    resolution: int,
    *,
    minimum_points: int = DEFAULT_MINIMUM_POINTS,
    algorithm: Algorithm = "lttb",
) -> tuple[_Floats, int]:
    """``values`` (one series, or equal-length series as rows) at ``resolution`` seconds.

    Returns the new samples and their timestep: ``(values, timestep)`` unchanged when
    :func:`resample_step` says so, else ``len // step`` points (LTTB: at least the first
    and the last) and ``resolution``. InvalidInput for an unknown algorithm.
    """
    algorithm = get_algorithm(algorithm)
    series = _as_rows(values)
    step = resample_step(series.shape[1], timestep, resolution, minimum_points)
    if step is None:
        return np.asarray(values, dtype=np.float64), timestep
    reduced = _downsample(series, step, algorithm)
    return (reduced[0] if np.ndim(values) == 1 else reduced), resolution


def resample_metric(
    metric: JobMetric,
    resolution: int,
    *,
    minimum_points: int = DEFAULT_MINIMUM_POINTS,
    algorithm: Algorithm = "lttb",
) -> JobMetric:
    """A copy of ``metric`` with all its series (and statistics series) at ``resolution``.

    The decision is taken once for the metric, on its longest series, so that all its
    series share one timestep. Shorter series are reduced with the same buckets and end
    where their data ends. Per-series statistics are kept: they describe the full data.
    Returns ``metric`` itself when nothing changes. InvalidInput for an unknown algorithm.
    """
    return resample_metrics(
        [metric], resolution, minimum_points=minimum_points, algorithm=algorithm
    )[0]


def resample_metrics(
    metrics: Sequence[JobMetric],
    resolution: int,
    *,
    minimum_points: int = DEFAULT_MINIMUM_POINTS,
    algorithm: Algorithm = "lttb",
) -> list[JobMetric]:
    """:func:`resample_metric` for each of ``metrics``, in order.

    Metrics with the same timestep and longest series are reduced in one batch, which
    is much faster than one at a time for the many metrics of a job.
    """
    algorithm = get_algorithm(algorithm)
    result = list(metrics)
    batches: dict[tuple[int, int], list[int]] = {}
    for index, metric in enumerate(metrics):
        longest = max((s.data.size for s in metric.series), default=0)
        if resample_step(longest, metric.timestep, resolution, minimum_points) is not None:
            batches.setdefault((metric.timestep, longest), []).append(index)
    for (timestep, longest), members in batches.items():
        step = resolution // timestep
        rows = [s.data for i in members for s in metrics[i].series]
        stacked = np.full((len(rows), longest), np.nan)
        for row, data in enumerate(rows):
            stacked[row, : data.size] = data
        reduced, positions = _downsample_with_positions(stacked, step, algorithm)
        row = 0
        for i in members:
            series = []
            for s in metrics[i].series:
                kept = reduced[row, : _kept(positions, row, s.data.size)]
                series.append(s.model_copy(update={"data": kept}))
                row += 1
            result[i] = _with_series(metrics[i], series, resolution, step, algorithm)
    return result


def _with_series(
    metric: JobMetric, series: list[Series], resolution: int, step: int, algorithm: Algorithm
) -> JobMetric:
    update: dict[str, object] = {"series": series, "timestep": resolution}
    if metric.statistics_series is not None:
        update["statistics_series"] = _resample_stats(metric.statistics_series, step, algorithm)
    return metric.model_copy(update=update)


def compute_resolution(duration: int, timestep: int, target_points: int) -> int:
    """The resolution (seconds, a multiple of ``timestep``) that shows a job of
    ``duration`` seconds in about ``target_points`` points; 0 (native) if it has no
    more points than that, or for non-positive input."""
    if timestep <= 0 or target_points <= 0 or duration <= 0:
        return 0
    if duration // timestep <= target_points:
        return 0
    per_point = math.ceil(duration / target_points)
    return math.ceil(per_point / timestep) * timestep


@dataclass(frozen=True)
class ResamplingPolicy:
    """The ``main.resampling`` rules: which resolution a job's plots are loaded at.

    With ``resolutions`` (cc-backend 1.4 keys) a job's plots load first at the coarsest
    one; zooming in until ``trigger`` or fewer points are visible asks for the
    configured resolution closest to what keeps about ``trigger`` points visible.
    Without them, a ``defaultPolicy`` (cc-backend 1.5) picks the resolution from the
    job's duration (:func:`compute_resolution`). ``minimum_points`` is the
    ``minimumPoints`` threshold handed to :func:`resample`.
    """

    resolutions: tuple[int, ...] = ()
    trigger: int | None = None
    minimum_points: int = DEFAULT_MINIMUM_POINTS
    target_points: int | None = None

    def __post_init__(self) -> None:
        if any(r <= 0 for r in self.resolutions):
            raise InvalidInput(f"resampling resolutions must be positive: {self.resolutions}")
        if self.trigger is not None and self.trigger <= 0:
            raise InvalidInput(f"resampling trigger must be positive, got {self.trigger}")

    @classmethod
    def from_config(cls, config: ResamplingConfig | None) -> ResamplingPolicy | None:
        """The policy of a ``main.resampling`` section; None when resampling is off."""
        if config is None:
            return None
        target = TARGET_POINTS[config.default_policy] if config.default_policy else None
        resolutions = tuple(config.resolutions or ())
        if not resolutions and target is None:
            target = TARGET_POINTS["medium"]
        minimum = config.minimum_points
        if not minimum or minimum <= 0:
            minimum = target if not resolutions and target else DEFAULT_MINIMUM_POINTS
        return cls(resolutions, config.trigger, minimum, target)

    def initial_resolution(self, duration: int, timestep: int) -> int:
        """The resolution a job's plots are first loaded at (0: native)."""
        if self.resolutions:
            return max(self.resolutions)
        if self.target_points:
            return compute_resolution(duration, timestep, self.target_points)
        return 0

    def zoom_resolution(self, timestep: int, visible_points: int) -> int | None:
        """The resolution to load after a zoom that leaves ``visible_points`` of data
        plotted at ``timestep``; None if the data shown is fine as it is.

        Only when no more than ``trigger`` points are visible and the plot is not yet at
        the finest resolution: the configured resolution nearest to
        ``visible_points * timestep / trigger`` (the first listed wins a tie).
        """
        if not self.resolutions or self.trigger is None:
            return None
        if visible_points > self.trigger or timestep == min(self.resolutions):
            return None
        target = visible_points * timestep / self.trigger
        closest = min(self.resolutions, key=lambda r: abs(r - target))
        return None if closest == timestep else closest


def _as_rows(values: ArrayLike) -> _Floats:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim not in (1, 2):
        raise InvalidInput(f"expected one series or rows of series, got {array.ndim} dimensions")
    return np.atleast_2d(array)


def _downsample(series: _Floats, step: int, algorithm: Algorithm) -> _Floats:
    return _downsample_with_positions(series, step, algorithm)[0]


def _downsample_with_positions(
    series: _Floats, step: int, algorithm: Algorithm
) -> tuple[_Floats, _Indices]:
    """Reduced rows, and per output point the input position it stands for."""
    length = series.shape[1]
    n_out = length // step
    if algorithm == "lttb":
        positions = _lttb_rows(series, max(n_out, 2))
        return np.take_along_axis(series, positions, axis=1), positions
    if n_out == 0:  # shorter than one group: nothing to reduce
        return series, np.arange(length)
    starts = np.arange(n_out) * step
    if algorithm == "simple":
        return series[:, starts], starts
    if algorithm == "average":
        return _bucket_means(series, step, n_out), starts
    raise InvalidInput(f"unknown resampling algorithm {algorithm!r} (known: lttb, average, simple)")


def _kept(positions: _Indices, row: int, length: int) -> int:
    """How many output points of ``row`` stand for data before position ``length``."""
    row_positions = positions[row] if positions.ndim == 2 else positions
    return int(np.searchsorted(row_positions, length))


def _bucket_means(series: _Floats, step: int, n_out: int) -> _Floats:
    """NaN-ignoring means of groups of ``step`` samples; the remainder joins the last."""
    valid = ~np.isnan(series)
    filled = np.where(valid, series, 0.0)
    cut = (n_out - 1) * step
    rows = series.shape[0]
    sums = np.empty((rows, n_out))
    counts = np.empty((rows, n_out))
    sums[:, :-1] = filled[:, :cut].reshape(rows, n_out - 1, step).sum(axis=2)
    counts[:, :-1] = valid[:, :cut].reshape(rows, n_out - 1, step).sum(axis=2)
    sums[:, -1] = filled[:, cut:].sum(axis=1)
    counts[:, -1] = valid[:, cut:].sum(axis=1)
    means = np.full((rows, n_out), np.nan)
    np.divide(sums, counts, out=means, where=counts > 0)
    return means


def _resample_stats(stats: StatsSeries, step: int, algorithm: Algorithm) -> StatsSeries:
    """Each line of a statistics series reduced on its own."""

    def reduce(line: _Floats | None) -> _Floats | None:
        if line is None or line.size < 2:
            return line
        reduced: _Floats = _downsample(np.atleast_2d(line), step, algorithm)[0]
        return reduced

    percentiles = (
        {p: reduce(line) for p, line in stats.percentiles.items()} if stats.percentiles else None
    )
    return StatsSeries(
        mean=reduce(stats.mean),
        median=reduce(stats.median),
        min=reduce(stats.min),
        max=reduce(stats.max),
        percentiles=percentiles,
    )


def _bucket_edges(length: int, n_buckets: int) -> _Indices:
    """Start positions of the middle buckets, and the end of the last (``length - 1``)."""
    k = np.arange(n_buckets + 1)
    return 1 + (k * (length - 2)) // n_buckets


def _lttb_rows(series: _Floats, n_out: int) -> _Indices:
    """LTTB positions for each row of ``series`` (see the module docstring for gaps).

    Each bucket's anchor is what the previous bucket kept, so the walk over the buckets
    is sequential; it runs compiled, row by row (:func:`_walk_buckets`).
    """
    if n_out < 2:
        raise InvalidInput(f"LTTB needs at least 2 output points, got {n_out}")
    rows, length = series.shape
    if n_out >= length:
        return np.broadcast_to(np.arange(length), (rows, length)).copy()
    out = np.empty((rows, n_out), dtype=np.intp)
    out[:, 0], out[:, -1] = 0, length - 1
    if n_out > 2:
        edges = _bucket_edges(length, n_out - 2)
        _walk_buckets(np.ascontiguousarray(series), edges, out)
    return out


@numba.njit(cache=True, nogil=True)
def _walk_buckets(
    series: _Floats, edges: _Indices, out: _Indices
) -> None:  # pragma: no cover - compiled; covered through _lttb_rows
    """Fill ``out[:, 1:-1]`` with the position kept from each middle bucket.

    Middle bucket ``b`` holds positions ``edges[b]`` to ``edges[b + 1] - 1``; the bucket
    after the last middle one is the last point. The first anchor is a row's first
    sample. Twice the area of the triangle (anchor, sample, centroid of the next
    bucket's samples) is ``|x * dy - y * dx + (dx * ay - dy * ax)|`` with
    ``(dx, dy) = centroid - anchor``; the first sample of the largest area is kept (a
    NaN area, which only infinite samples give, counts as the largest). A bucket
    without samples keeps its first position and leaves the anchor where it was. When
    the next bucket has no samples, the centroid is its middle at the anchor's height,
    which keeps the sample farthest in value from the anchor.
    """
    rows, length = series.shape
    n_buckets = edges.size - 1
    for row in range(rows):
        ax = 0.0
        ay = np.nan
        for position in range(length):
            if not np.isnan(series[row, position]):
                ax = float(position)
                ay = series[row, position]
                break
        for bucket in range(n_buckets):
            low = edges[bucket + 1]
            high = edges[bucket + 2] if bucket + 2 <= n_buckets else length
            count = 0
            sum_x = 0.0
            sum_y = 0.0
            for position in range(low, high):
                y = series[row, position]
                if not np.isnan(y):
                    count += 1
                    sum_x += position
                    sum_y += y
            if count:
                cx = sum_x / count
                cy = sum_y / count
            else:
                cx = (low + high - 1) / 2.0
                cy = ay
            dx = cx - ax
            dy = cy - ay
            offset = dx * ay - dy * ax
            pick = edges[bucket]
            best = -1.0
            for position in range(edges[bucket], low):
                y = series[row, position]
                if np.isnan(y):
                    continue
                area = abs(position * dy - y * dx + offset)
                if np.isnan(area):
                    pick = position
                    best = area
                    break
                if area > best:
                    pick = position
                    best = area
            out[row, bucket + 1] = pick
            if not best < 0.0:  # a sample was kept (NaN included)
                ax = float(pick)
                ay = series[row, pick]
