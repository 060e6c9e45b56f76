"""What the job statistics service returns: frozen dataclasses named after cc-backend's GraphQL.

Attribute names are the snake_case forms of the GraphQL fields (``totalCoreHours`` ->
``total_core_hours``, ``timeWeights`` -> ``time_weights``), so a GraphQL layer can resolve
them by name. Hours are whole hours, cut off as cc-backend's SQL on SQLite does (an integer
sum of seconds divided by 3600); the exact sums in seconds are there too. Per-job arrays are
NumPy arrays with ``NaN`` where a job has no value (GraphQL ``NullableFloat``: null).
"""

from __future__ import annotations

from dataclasses import dataclass

from cc_backend.stats.statistics_parts import FloatArray, GroupPart

SECONDS_PER_HOUR = 3600


@dataclass(frozen=True, slots=True)
class JobsStatistics:
    """Totals over a set of jobs (cc-backend's ``JobsStatistics`` without histograms).

    ``id`` names the group (user, project, cluster or subcluster; empty for the totals of
    all jobs), ``name`` is a user group's display name. ``total_users`` counts the distinct
    users (1 for a user group, where cc-backend leaves it 0).
    """

    id: str
    name: str
    total_jobs: int
    total_users: int
    running_jobs: int
    short_jobs: int
    total_nodes: int
    total_cores: int
    total_accs: int
    walltime_seconds: int
    node_seconds: int
    core_seconds: int
    acc_seconds: int

    @classmethod
    def empty(cls) -> JobsStatistics:
        """The statistics of no jobs."""
        return cls("", "", *(0,) * 11)

    @classmethod
    def of(cls, s: GroupPart, name: str = "") -> JobsStatistics:
        """The statistics of one added-up group."""
        return cls(
            id=s.group or "",
            name=name,
            total_jobs=s.jobs,
            total_users=len(s.users),
            running_jobs=s.running_jobs,
            short_jobs=s.short_jobs,
            total_nodes=s.nodes,
            total_cores=s.cores,
            total_accs=s.accs,
            walltime_seconds=s.walltime,
            node_seconds=s.node_seconds,
            core_seconds=s.core_seconds,
            acc_seconds=s.acc_seconds,
        )

    @property
    def total_walltime(self) -> int:
        """Sum of the jobs' durations in whole hours."""
        return self.walltime_seconds // SECONDS_PER_HOUR

    @property
    def total_node_hours(self) -> int:
        """Sum of duration times nodes, in whole hours."""
        return self.node_seconds // SECONDS_PER_HOUR

    @property
    def total_core_hours(self) -> int:
        """Sum of duration times hardware threads, in whole hours."""
        return self.core_seconds // SECONDS_PER_HOUR

    @property
    def total_acc_hours(self) -> int:
        """Sum of duration times accelerators, in whole hours."""
        return self.acc_seconds // SECONDS_PER_HOUR


@dataclass(frozen=True, slots=True)
class MetricHistoPoint:
    """Bin ``bin`` (1-based) of a metric histogram with its ``count`` of jobs; ``min`` and
    ``max`` are cc-backend's labels (whole multiples of ``int(peak) // bins``)."""

    bin: int
    count: int
    min: int
    max: int


@dataclass(frozen=True, slots=True)
class MetricHistoPoints:
    """The histogram of one footprint metric: ``stat`` is the footprint statistic binned
    (``avg``, ``min`` or ``max``), ``unit`` the metric's unit (prefix and base)."""

    metric: str
    unit: str
    stat: str
    data: tuple[MetricHistoPoint, ...]


@dataclass(frozen=True)
class TimeWeights:
    """Per-job weights as cc-backend computes them: duration in seconds / 60 times nodes,
    accelerators or hardware threads (1.0 for a job without accelerators or threads)."""

    node_hours: FloatArray
    acc_hours: FloatArray
    core_hours: FloatArray


@dataclass(frozen=True)
class MetricFootprints:
    """Each job's average of ``metric`` (aligned with the time weights)."""

    metric: str
    data: FloatArray


@dataclass(frozen=True)
class Footprints:
    """Per-job values of all matching jobs with metric data, for scatter plots and
    weighted histograms (cc-backend's ``jobsFootprints``)."""

    time_weights: TimeWeights
    metrics: tuple[MetricFootprints, ...]


@dataclass(frozen=True, slots=True)
class MetricStatistics:
    """A job's statistics of one metric."""

    avg: float
    min: float
    max: float


@dataclass(frozen=True, slots=True)
class NamedStats:
    """The statistics of metric ``name``."""

    name: str
    data: MetricStatistics


@dataclass(frozen=True, slots=True)
class JobStats:
    """One job with its metric statistics (cc-backend's ``JobStats``); ``stats`` is empty
    for a job without statistics: not yet in the archive index and, if running, without
    samples in its metric store."""

    id: int
    job_id: str
    start_time: int
    duration: int
    cluster: str
    sub_cluster: str
    num_nodes: int
    num_hwthreads: int
    num_accelerators: int
    stats: tuple[NamedStats, ...]


@dataclass(frozen=True, slots=True)
class RooflineGrid:
    """The tiles of a roofline heatmap: ``rows`` x ``cols`` tiles over arithmetic intensity
    ``min_x``..``max_x`` (flop per byte) and flop rate ``min_y``..``max_y``, both on a
    logarithmic scale (cc-backend's ``rooflineHeatmap`` arguments)."""

    rows: int
    cols: int
    min_x: float
    min_y: float
    max_x: float
    max_y: float


@dataclass(frozen=True, slots=True)
class RooflineHeatmap:
    """A roofline heatmap of time steps: ``tiles[row][col]`` (row 0: the lowest flop
    rates) over ``grid``; ``jobs`` is how many matching jobs with metric data had their
    time steps counted, ``uncounted`` how many did not (running jobs, jobs not yet in the
    statistics index, rows of an index that predates roofline counts)."""

    grid: RooflineGrid
    tiles: list[list[float]]
    jobs: int
    uncounted: int

    @property
    def time_steps(self) -> int:
        """The time steps inside the grid."""
        return int(sum(sum(row) for row in self.tiles))
