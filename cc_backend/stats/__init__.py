"""Archive-wide job statistics over a consolidated Parquet index of the job archive.

:class:`ArchiveIndex` keeps one row per archived job (meta data, per-metric statistics,
footprint values) in Parquet files at a location the caller chooses, and updates it
incrementally; :class:`ArchiveStats` answers counts, totals and histograms over it with
DuckDB, for any list of job filters.
"""

from cc_backend.stats.archive_index import ArchiveIndex
from cc_backend.stats.archive_stats import ArchiveStats
from cc_backend.stats.index_manifest import BuildReport, IndexSnapshot
from cc_backend.stats.locations import index_location_for, open_archive_index
from cc_backend.stats.stats_results import (
    GroupBy,
    HistoPoint,
    JobTotals,
    MetricBin,
    MetricHistogram,
    SortBy,
)

__all__ = [
    "ArchiveIndex",
    "ArchiveStats",
    "BuildReport",
    "GroupBy",
    "HistoPoint",
    "IndexSnapshot",
    "JobTotals",
    "MetricBin",
    "MetricHistogram",
    "SortBy",
    "index_location_for",
    "open_archive_index",
]
