"""What archive statistics return: small frozen dataclasses, and the enums that select them.

Plain dataclasses rather than data frames: every result is a handful of numbers per group
or bin, which the GraphQL and REST layers turn into JSON field by field.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class GroupBy(enum.StrEnum):
    """What totals are grouped by (GraphQL ``Aggregate``)."""

    USER = "USER"
    PROJECT = "PROJECT"
    CLUSTER = "CLUSTER"
    SUBCLUSTER = "SUBCLUSTER"


class SortBy(enum.StrEnum):
    """Which total groups are sorted by, largest first (GraphQL ``SortByAggregate``)."""

    TOTALWALLTIME = "TOTALWALLTIME"
    TOTALJOBS = "TOTALJOBS"
    TOTALUSERS = "TOTALUSERS"
    TOTALNODES = "TOTALNODES"
    TOTALNODEHOURS = "TOTALNODEHOURS"
    TOTALCORES = "TOTALCORES"
    TOTALCOREHOURS = "TOTALCOREHOURS"
    TOTALACCS = "TOTALACCS"
    TOTALACCHOURS = "TOTALACCHOURS"


@dataclass(frozen=True, slots=True)
class JobTotals:
    """Totals over a set of jobs; ``id`` names the group (``None`` for all jobs)."""

    id: str | None
    jobs: int
    users: int
    running_jobs: int
    short_jobs: int
    walltime_hours: float
    nodes: int
    node_hours: float
    cores: int
    core_hours: float
    accs: int
    acc_hours: float


@dataclass(frozen=True, slots=True)
class HistoPoint:
    """One bar of a histogram: ``count`` jobs at ``value``."""

    value: int
    count: int


@dataclass(frozen=True, slots=True)
class MetricBin:
    """Bin ``bin`` (1-based) holds values in ``[min, max)`` (the last one includes ``max``)."""

    bin: int
    min: float
    max: float
    count: int
    node_hours: float


@dataclass(frozen=True, slots=True)
class MetricHistogram:
    """Distribution of one per-job metric value, counted and weighted by node hours.

    ``min``/``max`` is the binned range (``None`` when there was nothing to bin),
    ``outside`` counts jobs whose value lies outside it (only with a peak-based range),
    ``missing`` the matching jobs without a value for the metric.
    """

    metric: str
    stat: str
    unit: str
    min: float | None
    max: float | None
    bins: tuple[MetricBin, ...]
    outside: int
    missing: int
