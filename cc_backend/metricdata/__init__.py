"""Metric data: scope selection, resampling and per-time-step statistics of job metrics.

- :mod:`~cc_backend.metricdata.scopes`: which metric-store queries load a job's metrics
  at the requested scopes (:func:`build_queries`).
- :mod:`~cc_backend.metricdata.resample`: LTTB and the other down-sampling algorithms
  (:func:`resample_metrics` for a job's metrics), and the ``main.resampling`` rules
  (:class:`ResamplingPolicy`).
- :mod:`~cc_backend.metricdata.statistics_series`: min/median/max and percentiles across
  the series of a metric (:func:`add_statistics_series`).
"""

from cc_backend.metricdata.resample import (
    ResamplingPolicy,
    compute_resolution,
    lttb,
    lttb_indices,
    resample,
    resample_metric,
    resample_metrics,
)
from cc_backend.metricdata.scopes import ScopeQuery, build_queries, delivered_scope
from cc_backend.metricdata.statistics_series import add_statistics_series, statistics_series

__all__ = [
    "ResamplingPolicy",
    "ScopeQuery",
    "add_statistics_series",
    "build_queries",
    "compute_resolution",
    "delivered_scope",
    "lttb",
    "lttb_indices",
    "resample",
    "resample_metric",
    "resample_metrics",
    "statistics_series",
]
