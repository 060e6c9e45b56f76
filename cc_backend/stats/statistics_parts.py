"""Partial job statistics from one source of jobs, and how the parts of sources add up.

Job statistics are answered from two sources at once: the archive index (DuckDB) for the
archived jobs and the job table (SQL) for the jobs the index does not hold. Every source
answers the same questions over its own jobs (:class:`StatisticsSource`); the parts are
made so that adding them is exact:

* totals come per group with the group's set of users: sums add, and sets of users
  unite (a user with jobs in both sources counts once);
* histograms come as counts per bin (or per value): counts add;
* per-job values come as aligned columns: the columns of the sources are concatenated.

Durations are seconds. A running job counts with the time since its start (``now -
start_time``) in walltime and hours, as cc-backend does; ``short_jobs`` compares the stored
duration, as cc-backend does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Literal, Protocol, TypeAlias

import numpy as np
import numpy.typing as npt

from cc_backend.stats.stats_results import GroupBy

#: The job columns with a histogram of their values.
HistColumn = Literal["num_nodes", "num_hwthreads", "num_acc"]
HIST_COLUMNS: tuple[HistColumn, ...] = ("num_nodes", "num_hwthreads", "num_acc")

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class GroupPart:
    """Sums over the jobs of one group (``group`` is ``None`` when the totals are not
    grouped) and the set of their users; times in seconds."""

    group: str | None
    users: frozenset[str]
    jobs: int = 0
    running_jobs: int = 0
    short_jobs: int = 0
    walltime: int = 0
    nodes: int = 0
    node_seconds: int = 0
    cores: int = 0
    core_seconds: int = 0
    accs: int = 0
    acc_seconds: int = 0

    def plus(self, other: GroupPart) -> GroupPart:
        """Both parts (of the same group) together: their users, and their sums added."""
        return GroupPart(self.group, self.users | other.users, *_sums_added(self, other))


def _sums_added(a: GroupPart, b: GroupPart) -> list[int]:
    return [getattr(a, f.name) + getattr(b, f.name) for f in fields(a)[2:]]


def add_group_parts(parts: Iterable[GroupPart]) -> list[GroupPart]:
    """Parts of any sources added up per group (in order of first appearance)."""
    groups: dict[str | None, GroupPart] = {}
    for part in parts:
        seen = groups.get(part.group)
        groups[part.group] = part if seen is None else seen.plus(part)
    return list(groups.values())


def add_counts(parts: Iterable[Mapping[int, int]]) -> dict[int, int]:
    """Counts per bin (or value) of several sources, added."""
    total: dict[int, int] = defaultdict(int)
    for part in parts:
        for key, count in part.items():
            total[key] += count
    return dict(total)


@dataclass(frozen=True)
class JobColumns:
    """Per-job values of the jobs of one or more sources, one array per column, aligned.

    ``averages`` holds, per metric, each job's average of that metric (``NaN`` when the
    job has none).
    """

    duration: IntArray
    num_nodes: IntArray
    num_hwthreads: IntArray
    num_acc: IntArray
    averages: dict[str, FloatArray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.duration)

    @classmethod
    def empty(cls, metrics: Sequence[str]) -> JobColumns:
        """No jobs."""
        none = np.zeros(0, dtype=np.int64)
        return cls(none, none, none, none, {m: np.zeros(0, dtype=np.float64) for m in metrics})

    @classmethod
    def concat(cls, parts: Sequence[JobColumns], metrics: Sequence[str]) -> JobColumns:
        """The jobs of ``parts``, one part after the other."""
        if not parts:
            return cls.empty(metrics)

        def ints(name: str) -> IntArray:
            return np.concatenate([getattr(p, name) for p in parts]).astype(np.int64)

        return cls(
            ints("duration"),
            ints("num_nodes"),
            ints("num_hwthreads"),
            ints("num_acc"),
            {m: np.concatenate([p.averages[m] for p in parts]).astype(np.float64) for m in metrics},
        )


@dataclass(frozen=True, slots=True)
class RooflineCounts:
    """Roofline time steps of the jobs of one or more sources that have metric data:
    ``counts[i]`` time steps in fine roofline cell ``cells[i]``
    (:mod:`cc_backend.stats.roofline_cells`; a cell may appear more than once, the counts
    then add); ``jobs`` counts the jobs whose time steps are in it, ``uncounted`` those
    whose time steps are not known to the source (running jobs, jobs still being archived,
    rows written before roofline counts existed)."""

    cells: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    counts: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    jobs: int = 0
    uncounted: int = 0

    def plus(self, other: RooflineCounts) -> RooflineCounts:
        """Both together (of disjoint sets of jobs)."""
        return RooflineCounts(
            np.concatenate([self.cells, other.cells]).astype(np.int64),
            np.concatenate([self.counts, other.counts]).astype(np.int64),
            self.jobs + other.jobs,
            self.uncounted + other.uncounted,
        )


class StatisticsSource(Protocol):
    """Statistics over the jobs of one source that match a request's filters and that
    the acting user may see. Every method answers over exactly the same set of jobs."""

    def group_parts(self, group_by: GroupBy | None, short_seconds: int) -> list[GroupPart]:
        """Sums and users per group (one part for all jobs without ``group_by``, none when
        no job matches); ``short_seconds``: a job with a stored duration below it is
        short."""
        ...

    def duration_counts(self, width: int) -> dict[int, int]:
        """Jobs per duration bin: a job of ``d`` seconds (running: since its start) is in
        bin ``d // width + 1``; every bin that has jobs, however large."""
        ...

    def value_counts(self, column: HistColumn) -> dict[int, int]:
        """Jobs per value of ``column`` (a missing value counts as 0)."""
        ...

    def metric_bin_counts(self, key: str, peak: float, bins: int) -> dict[int, int]:
        """Jobs per bin of footprint value ``key``: values from 0 to ``peak`` in ``bins``
        equal bins, as cc-backend bins them (see :class:`~cc_backend.stats.binning.MetricBinning`);
        jobs without the value or above ``peak`` are not counted."""
        ...

    def job_columns(self, metrics: Sequence[str]) -> JobColumns:
        """Per-job values of the jobs that have metric data (monitoring neither disabled
        nor failed), with each job's average of ``metrics``."""
        ...

    def roofline_counts(self) -> RooflineCounts:
        """Time steps per fine roofline cell of the jobs that have metric data, as far as
        the source knows them (see :class:`RooflineCounts`)."""
        ...
