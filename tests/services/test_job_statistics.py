"""JobStatistics against an independent computation in plain Python over the same jobs.

The jobs: cc-backend's reference database (544 archived jobs on alex and fritz, with
footprints) plus jobs only the database holds (running, waiting for archiving, archiving
failed, monitoring disabled). Every test runs on SQLite and PostgreSQL; most of them with
and without an archive index (built from the archived jobs, as the archive would hold
them), which must give the same numbers.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cc_backend.domain.cluster import Cluster
from cc_backend.domain.errors import InvalidInput, NotFound, PermissionDenied
from cc_backend.domain.filters import FloatRange, IntRange, JobFilter, PageRequest, StringInput
from cc_backend.domain.job import Job, JobState, MetricStatistics, MonitoringStatus
from cc_backend.domain.tag import Tag
from cc_backend.domain.user import Role, User
from cc_backend.repository.database import Database
from cc_backend.repository.jobs import JobRepository
from cc_backend.repository.tags import TagRepository
from cc_backend.repository.users import UserRepository
from cc_backend.services.job_statistics import JobStatistics
from cc_backend.stats import ArchiveIndex
from cc_backend.stats.archive_stats import DURATION_BINS
from cc_backend.stats.statistics_results import JobsStatistics, RooflineGrid

# The database fixtures of the repository tests, on every backend.
from tests.repository.conftest import (
    backend,  # noqa: F401
    postgres_database,  # noqa: F401
    postgres_reference_template,  # noqa: F401
    postgres_server,  # noqa: F401
    reference_db,  # noqa: F401
    reference_rows,  # noqa: F401
)

pytestmark = pytest.mark.reference

#: "Now": after every start time of the test jobs.
NOW = 1_700_100_000
SHORT = 300
ADMIN = User.build("admin", [Role.ADMIN])
#: The reference database's busiest user.
BUSY_USER = "k106eb10"
METRICS = ("flops_any", "mem_bw", "cpu_load")


# -- the clusters and the jobs ----------------------------------------------------------


class ReferenceClusters:
    """The reference archive's fritz and alex, read in place."""

    def __init__(self, reference_dir: Path) -> None:
        folder = reference_dir / "job-archive"
        self._clusters = {
            name: Cluster.from_json((folder / name / "cluster.json").read_bytes())
            for name in ("alex", "fritz")
        }

    def names(self) -> list[str]:
        return sorted(self._clusters)

    def get(self, name: str) -> Cluster:
        try:
            return self._clusters[name]
        except KeyError:
            raise NotFound(f"unknown cluster {name!r}") from None


def statistics_of(job: Job) -> dict[str, MetricStatistics] | None:
    """Metric statistics of an archived job, as the archive keeps them (averages equal to
    the footprint's)."""
    found = {
        m: MetricStatistics(unit={"base": ""}, avg=v, min=v / 2, max=v * 2)
        for m in METRICS
        if (v := (job.footprint or {}).get(f"{m}_avg")) is not None
    }
    return found or None


@dataclass
class Site:
    """The database, its jobs as the reference sees them, and the archive index."""

    db: Database
    index: ArchiveIndex
    clusters: ReferenceClusters
    #: Database id -> job (tags attached), and archived jobs only the index still holds.
    jobs: dict[int, Job] = field(default_factory=dict)
    archive_only: list[Job] = field(default_factory=list)
    extra: dict[str, int] = field(default_factory=dict)
    tag_id: int = 0

    @property
    def repo(self) -> JobRepository:
        return JobRepository(self.db)

    def reload(self) -> None:
        """Read every job of the database again (after a change)."""
        items = self.repo.query(actor=None).items
        ids = [j.id for j in items if j.id is not None]
        tags = TagRepository(self.db).tags_of_jobs(ids, ADMIN)
        self.jobs = {j.id: j.model_copy(update={"tags": tags[j.id] or None}) for j in items if j.id}

    def archived(self, job: Job) -> Job:
        """``job`` as the archive (and so the index) holds it."""
        return job.model_copy(update={"statistics": statistics_of(job)})

    def build_index(self) -> None:
        """(Re)build the index from the archived jobs of the database."""
        archived = [
            self.archived(j)
            for j in self.jobs.values()
            if j.monitoring_status is MonitoringStatus.ARCHIVING_SUCCESSFUL
        ]
        self.index.build([*archived, *self.archive_only])

    def all_jobs(self) -> list[Job]:
        """Every job statistics must count: the database's and the archive-only ones."""
        return [*self.jobs.values(), *self.archive_only]


def _add_database_only_jobs(site: Site, make_job: Callable[..., Job]) -> None:
    repo = site.repo
    running = JobState.RUNNING.value
    footprint = {"flops_any_avg": 120.5, "mem_bw_avg": 40.0, "cpu_load_avg": 30.0}
    specs: dict[str, dict[str, Any]] = {
        "running": {"jobState": running, "startTime": NOW - 5000, "footprint": footprint},
        "running_gpu": {
            "jobState": running,
            "cluster": "alex",
            "subCluster": "a100",
            "user": "bob",
            "project": "project-b",
            "numAcc": 4,
            "startTime": NOW - 100,
        },
        "waiting": {  # stopped, archiving not done yet; its flop rate is the peak
            "jobState": "completed",
            "duration": 7200,
            "footprint": {"flops_any_avg": 5600.0, "mem_bw_avg": 350.0},
        },
        "failed": {
            "jobState": "failed",
            "duration": 200,
            "monitoringStatus": int(MonitoringStatus.ARCHIVING_FAILED),
            "footprint": {"flops_any_avg": 10.0},
        },
        "disabled": {
            "jobState": "completed",
            "user": BUSY_USER,
            "project": "project-a",
            "duration": 90_000,
            "numNodes": 2,
            "resources": [{"hostname": "f0101"}, {"hostname": "f0102"}],
            "monitoringStatus": int(MonitoringStatus.DISABLED),
        },
    }
    for name, spec in specs.items():
        site.extra[name] = repo.add(make_job(**spec))


@pytest.fixture
def site(
    reference_db: Database,  # noqa: F811 - the fixture imported above
    reference_dir: Path,
    tmp_path: Path,
    make_job: Callable[..., Job],
) -> Site:
    """The reference jobs plus database-only jobs, named users, one global tag, and an
    archive index of the archived jobs."""
    built = Site(
        reference_db, ArchiveIndex(str(tmp_path / "index")), ReferenceClusters(reference_dir)
    )
    _add_database_only_jobs(built, make_job)
    users = UserRepository(reference_db)
    users.add(User.build(BUSY_USER, [Role.USER], name="Kim Busy"))
    users.add(User.build("alice", [Role.USER], name="Alice Doe"))
    tags = TagRepository(reference_db)
    tag = tags.create(Tag(type="app", name="gromacs", scope="global"), ADMIN)
    assert tag.id is not None
    built.tag_id = tag.id
    for db_id in (1, 2, 3, 300, built.extra["running"]):
        tags.attach(db_id, tag.id, ADMIN)
    built.reload()
    built.build_index()
    return built


@pytest.fixture(params=["database only", "with index"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def service(site: Site, mode: str) -> Iterator[JobStatistics]:
    """The service, with the archive index or without one."""
    index = site.index if mode == "with index" else None
    statistics = JobStatistics(
        site.db, site.clusters, index, short_seconds=SHORT, clock=lambda: NOW, threads=1
    )
    yield statistics
    statistics.close()


@pytest.fixture
def indexed(site: Site) -> Iterator[JobStatistics]:
    """The service with the archive index."""
    statistics = JobStatistics(
        site.db, site.clusters, site.index, short_seconds=SHORT, clock=lambda: NOW, threads=1
    )
    yield statistics
    statistics.close()


# -- the reference: filters, visibility and statistics in plain Python --------------------


def text_match(value: str, cond: StringInput) -> bool:
    if cond.eq is not None:
        return value == cond.eq
    if cond.contains is not None:
        return cond.contains.lower() in value.lower()
    if cond.starts_with is not None:
        return value.lower().startswith(cond.starts_with.lower())
    if cond.in_ is not None:
        return value in cond.in_
    raise AssertionError(f"operator not used by these tests: {cond}")


def in_range(value: float | None, rng: IntRange | FloatRange) -> bool:
    if value is None:
        return False
    if rng.to == 0 and rng.from_ > 0:
        return value >= rng.from_
    return rng.from_ <= value <= rng.to


def matches(job: Job, f: JobFilter) -> bool:
    texts = [(f.user, job.user), (f.project, job.project), (f.cluster, job.cluster)]
    if any(c is not None and not text_match(v, c) for c, v in texts):
        return False
    if f.state is not None and job.job_state not in f.state:
        return False
    ranges = [(f.duration, job.duration), (f.num_nodes, job.num_nodes)]
    if any(r is not None and not in_range(v, r) for r, v in ranges):
        return False
    if f.start_time is not None:
        start, stop = f.start_time.bounds(NOW)
        if (start is not None and job.start_time < start) or (
            stop is not None and job.start_time > stop
        ):
            return False
    for item in f.metric_stats or ():
        if not in_range((job.footprint or {}).get(item.metric_name), item.range):
            return False
    return f.tags is None or any(t.id in f.tags for t in job.tags or ())


def visible(job: Job, actor: User | None) -> bool:
    if actor is None or actor.sees_all_jobs:
        return True
    if actor.has_role(Role.MANAGER):
        return job.project in actor.projects or job.user == actor.username
    if actor.has_role(Role.USER):
        return job.user == actor.username
    raise AssertionError("no role that sees jobs")


def selected(site: Site, filters: Sequence[JobFilter], actor: User | None) -> list[Job]:
    return [j for j in site.all_jobs() if visible(j, actor) and all(matches(j, f) for f in filters)]


def elapsed(job: Job) -> int:
    return NOW - job.start_time if job.job_state is JobState.RUNNING else job.duration


def expected_totals(jobs: Sequence[Job], ident: str = "", name: str = "") -> JobsStatistics:
    return JobsStatistics(
        id=ident,
        name=name,
        total_jobs=len(jobs),
        total_users=len({j.user for j in jobs}),
        running_jobs=sum(j.job_state is JobState.RUNNING for j in jobs),
        short_jobs=sum(j.duration < SHORT for j in jobs),
        total_nodes=sum(j.num_nodes for j in jobs),
        total_cores=sum(j.num_hwthreads for j in jobs),
        total_accs=sum(j.num_acc for j in jobs),
        walltime_seconds=sum(elapsed(j) for j in jobs),
        node_seconds=sum(elapsed(j) * j.num_nodes for j in jobs),
        core_seconds=sum(elapsed(j) * j.num_hwthreads for j in jobs),
        acc_seconds=sum(elapsed(j) * j.num_acc for j in jobs),
    )


def has_data(job: Job) -> bool:
    return job.monitoring_status not in (
        MonitoringStatus.DISABLED,
        MonitoringStatus.ARCHIVING_FAILED,
    )


FILTERS: dict[str, list[dict[str, Any]]] = {
    "all jobs": [],
    "one cluster": [{"cluster": {"eq": "fritz"}}],
    "user pattern and duration": [
        {"user": {"contains": "IWI"}},
        {"duration": {"from": 60, "to": 3600}},
    ],
    "running": [{"state": ["running"]}],
    "time window, single node": [
        {"startTime": {"from": datetime.fromtimestamp(1_675_800_000, UTC).isoformat()}},
        {"numNodes": {"from": 1, "to": 1}},
    ],
    "footprint range": [
        {"metricStats": [{"metricName": "flops_any_avg", "range": {"from": 1, "to": 600}}]}
    ],
    "tag": [],  # filled in by the test (the tag id is made per test)
    "projects": [{"project": {"in": ["project-a", "iwi5"]}}],
}


def job_filters(site: Site, name: str) -> list[JobFilter]:
    raw = [{"tags": [site.tag_id]}] if name == "tag" else FILTERS[name]
    return [JobFilter.model_validate(f) for f in raw]


# -- totals -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FILTERS))
def test_totals_equal_a_count_over_every_matching_job(
    site: Site, service: JobStatistics, name: str
) -> None:
    filters = job_filters(site, name)
    assert service.totals(filters, actor=None) == expected_totals(selected(site, filters, None))


def test_hours_are_whole_hours_cut_off_as_cc_backend_does(
    site: Site, service: JobStatistics
) -> None:
    totals = service.totals(actor=None)
    assert totals.total_walltime == totals.walltime_seconds // 3600
    assert totals.total_core_hours == totals.core_seconds // 3600
    assert totals.total_node_hours == totals.node_seconds // 3600
    assert totals.total_acc_hours == totals.acc_seconds // 3600


def test_totals_of_nothing_are_zero(service: JobStatistics) -> None:
    nobody = [JobFilter.model_validate({"user": {"eq": "nobody"}})]
    assert service.totals(nobody, actor=None) == JobsStatistics.empty()
    assert service.totals(nobody, actor=None).total_jobs == 0


GROUP_KEYS: dict[str, Callable[[Job], str]] = {
    "USER": lambda j: j.user,
    "PROJECT": lambda j: j.project,
    "CLUSTER": lambda j: j.cluster,
    "SUBCLUSTER": lambda j: j.sub_cluster,
}
NAMES = {BUSY_USER: "Kim Busy", "alice": "Alice Doe"}


def expected_groups(jobs: Sequence[Job], group_by: str) -> list[JobsStatistics]:
    groups: dict[str, list[Job]] = defaultdict(list)
    for job in jobs:
        groups[GROUP_KEYS[group_by](job)].append(job)
    return [
        expected_totals(members, ident, NAMES.get(ident, "") if group_by == "USER" else "")
        for ident, members in sorted(groups.items())
    ]


@pytest.mark.parametrize("group_by", list(GROUP_KEYS))
def test_grouped_totals_equal_counts_per_group(
    site: Site, service: JobStatistics, group_by: str
) -> None:
    filters = job_filters(site, "one cluster") if group_by == "PROJECT" else []
    expected = expected_groups(selected(site, filters, None), group_by)
    assert service.grouped(group_by, filters, actor=None) == expected


@pytest.mark.parametrize(
    ("sort_by", "key"),
    [
        ("TOTALCOREHOURS", lambda s: s.core_seconds),
        ("TOTALJOBS", lambda s: s.total_jobs),
        ("TOTALACCHOURS", lambda s: s.acc_seconds),
        ("totalUsers", lambda s: s.total_users),
    ],
)
def test_groups_are_sorted_largest_first_then_by_name(
    site: Site, service: JobStatistics, sort_by: str, key: Callable[[JobsStatistics], int]
) -> None:
    expected = sorted(expected_groups(site.all_jobs(), "PROJECT"), key=lambda s: (-key(s), s.id))
    assert service.grouped("PROJECT", actor=None, sort_by=sort_by) == expected


def test_a_page_of_users_sorted_by_core_hours(site: Site, service: JobStatistics) -> None:
    everyone = sorted(
        expected_groups(site.all_jobs(), "USER"), key=lambda s: (-s.core_seconds, s.id)
    )
    page = PageRequest.model_validate({"itemsPerPage": 5, "page": 2})
    found = service.grouped("USER", actor=None, sort_by="TOTALCOREHOURS", page=page)
    assert found == everyone[5:10]
    first = service.grouped(
        "USER", actor=None, sort_by="TOTALCOREHOURS", page=PageRequest(itemsPerPage=1)
    )
    assert (first[0].id, first[0].name) == (BUSY_USER, "Kim Busy")
    everything = service.grouped("USER", actor=None, page=PageRequest(itemsPerPage=-1))
    assert len(everything) == len(everyone)


# -- visibility ---------------------------------------------------------------------------

ACTORS = {
    "user": User.build(BUSY_USER, [Role.USER]),
    "manager": User.build("alice", [Role.MANAGER], projects=["iwi5", "project-b"]),
    "manager without projects": User.build("alice", [Role.MANAGER]),
    "support": User.build("sam", [Role.SUPPORT]),
    "pure api client": User.build("adapter", [Role.API]),
}


@pytest.mark.parametrize("who", list(ACTORS))
def test_everyone_sees_the_statistics_of_the_jobs_they_may_see(
    site: Site, service: JobStatistics, who: str
) -> None:
    actor = ACTORS[who]
    jobs = selected(site, [], actor)
    assert service.totals(actor=actor) == expected_totals(jobs)
    assert service.grouped("USER", actor=actor) == expected_groups(jobs, "USER")
    counts = Counter(elapsed(j) // 3600 + 1 for j in jobs)
    assert [p.count for p in service.duration_histogram(actor=actor)] == [
        counts[i] for i in range(1, 25)
    ]
    assert len(service.footprints(["flops_any"], actor=actor).metrics[0].data) == sum(
        map(has_data, jobs)
    )


@pytest.mark.parametrize("roles", [[], [Role.ANONYMOUS], [Role.API, Role.ANONYMOUS]])
def test_a_user_without_a_role_that_sees_jobs_is_refused(
    service: JobStatistics, roles: list[Role]
) -> None:
    nobody = User.build("mallory", roles)
    with pytest.raises(PermissionDenied):
        service.totals(actor=nobody)
    with pytest.raises(PermissionDenied):
        service.duration_histogram(actor=nobody)
    with pytest.raises(PermissionDenied):
        service.job_metric_stats(actor=nobody)


# -- histograms ---------------------------------------------------------------------------


@pytest.mark.parametrize("bins", list(DURATION_BINS))
def test_duration_histogram_bins_every_job_by_its_duration(
    site: Site, service: JobStatistics, bins: str
) -> None:
    width, count = DURATION_BINS[bins]
    counts = Counter(elapsed(j) // width + 1 for j in site.all_jobs())
    found = service.duration_histogram(actor=None, num_duration_bins=bins)
    assert [(p.value, p.count) for p in found] == [
        (i * width, counts[i]) for i in range(1, count + 1)
    ]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("num_nodes", lambda j: j.num_nodes),
        ("num_hwthreads", lambda j: j.num_hwthreads),
        ("num_acc", lambda j: j.num_acc),
    ],
)
def test_value_histograms_count_jobs_per_value(
    site: Site, service: JobStatistics, column: Any, value: Callable[[Job], int]
) -> None:
    filters = job_filters(site, "user pattern and duration")
    counts = Counter(value(j) for j in selected(site, filters, None))
    found = service.value_histogram(column, filters, actor=None)
    assert [(p.value, p.count) for p in found] == sorted(counts.items())


def expected_metric_bins(jobs: Sequence[Job], key: str, peak: float, bins: int) -> list[int]:
    counts = [0] * bins
    for job in jobs:
        value = (job.footprint or {}).get(key)
        if value is None or value > peak:
            continue
        b = int((peak * 0.999999999 if value == peak else value) / peak * bins) + 1
        if 1 <= b <= bins:
            counts[b - 1] += 1
    return counts


@pytest.mark.parametrize(
    ("name", "bins"), [("all jobs", 10), ("one cluster", 7), ("running", 10), ("tag", 3)]
)
def test_metric_histograms_bin_footprint_values_up_to_the_peak(
    site: Site, service: JobStatistics, name: str, bins: int
) -> None:
    filters = job_filters(site, name)
    jobs = selected(site, filters, None)
    # fritz's peaks when the filter names fritz, else the largest peaks (alex's flops).
    flops_peak = 5600.0 if name == "one cluster" else 9216.0
    found = service.metric_histograms(
        ["flops_any", "mem_bw", "cpu_load"], filters, actor=None, num_metric_bins=bins
    )
    assert [(h.metric, h.unit, h.stat) for h in found] == [
        ("flops_any", "GFlops/s", "avg"),
        ("mem_bw", "GB/s", "avg"),
        ("cpu_load", "", "avg"),
    ]
    peaks = {
        "flops_any": flops_peak,
        "mem_bw": 350.0,
        "cpu_load": 72.0 if name == "one cluster" else 128.0,
    }
    for histogram in found:
        peak = peaks[histogram.metric]
        assert [p.count for p in histogram.data] == expected_metric_bins(
            jobs, f"{histogram.metric}_avg", peak, bins
        )
        step = int(peak) // bins
        assert [(p.bin, p.min, p.max) for p in histogram.data] == [
            (i, step * (i - 1), step * i) for i in range(1, bins + 1)
        ]


def test_a_value_at_the_peak_falls_into_the_last_bin(site: Site, service: JobStatistics) -> None:
    waiting = [JobFilter.model_validate({"dbId": [site.extra["waiting"]]})]
    flops = service.metric_histograms(
        ["flops_any"], waiting + job_filters(site, "one cluster"), actor=None
    )
    assert [p.count for p in flops[0].data] == [0] * 9 + [1]


def test_a_footprint_metric_without_values_has_empty_bins(service: JobStatistics) -> None:
    # fritz's mem_used footprint is its maximum; the reference jobs only have averages.
    found = service.metric_histograms(["mem_used"], actor=None)
    assert found[0].stat == "max"
    assert [p.count for p in found[0].data] == [0] * 10


# -- per-job values -----------------------------------------------------------------------


def footprint_rows(jobs: Sequence[Job], metrics: Sequence[str]) -> list[tuple[float, ...]]:
    rows = []
    for job in jobs:
        if not has_data(job):
            continue
        minutes = job.duration / 60.0
        rows.append(
            (
                minutes * job.num_nodes,
                minutes * job.num_acc if job.num_acc > 0 else 1.0,
                minutes * job.num_hwthreads if job.num_hwthreads > 0 else 1.0,
                *((job.footprint or {}).get(f"{m}_avg", math.nan) for m in metrics),
            )
        )
    return sorted(rows, key=lambda r: tuple(-1.0 if math.isnan(v) else v for v in r))


@pytest.mark.parametrize("name", ["all jobs", "one cluster", "running"])
def test_footprints_of_every_matching_job_with_metric_data(
    site: Site, service: JobStatistics, name: str
) -> None:
    filters = job_filters(site, name)
    found = service.footprints(["flops_any", "mem_bw", "ipc"], filters, actor=None)
    weights = found.time_weights
    assert [m.metric for m in found.metrics] == ["flops_any", "mem_bw", "ipc"]
    columns = [weights.node_hours, weights.acc_hours, weights.core_hours]
    columns += [m.data for m in found.metrics]
    rows = sorted(
        zip(*(c.tolist() for c in columns), strict=True),
        key=lambda r: tuple(-1.0 if math.isnan(v) else v for v in r),
    )
    expected = footprint_rows(selected(site, filters, None), ["flops_any", "mem_bw", "ipc"])
    assert np.array_equal(np.array(rows), np.array(expected), equal_nan=True)


def test_roofline_heatmap_leaves_out_jobs_without_counted_time_steps(
    site: Site, service: JobStatistics
) -> None:
    # the index here is built without metric data, so no job has roofline counts (see
    # test_job_statistics_roofline.py for jobs that have): every job with metric data is
    # reported as not counted, from whichever source holds it
    grid = RooflineGrid(rows=12, cols=9, min_x=0.01, min_y=1.0, max_x=1000.0, max_y=10000.0)
    found = service.roofline_time_steps(grid, actor=None)
    assert found.tiles == service.roofline_heatmap(grid, actor=None)
    assert (found.time_steps, found.jobs) == (0, 0)
    assert found.uncounted == sum(1 for j in site.all_jobs() if has_data(j)) > 100


def test_job_metric_stats_lists_every_job_with_its_archived_statistics(
    site: Site, service: JobStatistics, mode: str
) -> None:
    actor = ACTORS["manager"]
    found = service.job_metric_stats(actor=actor, metrics=["flops_any", "mem_bw"])
    jobs = sorted(selected(site, [], actor), key=lambda j: (j.start_time, j.id or 0))
    assert [(s.id, s.job_id, s.start_time, s.cluster, s.num_nodes) for s in found] == [
        (j.id, str(j.job_id), j.start_time, j.cluster, j.num_nodes) for j in jobs
    ]
    for stats, job in zip(found, jobs, strict=True):
        archived = (
            mode == "with index" and job.monitoring_status is MonitoringStatus.ARCHIVING_SUCCESSFUL
        )
        expected = {
            m: (v.avg, v.min, v.max)
            for m, v in (statistics_of(job) or {}).items()
            if archived and m in ("flops_any", "mem_bw")
        }
        assert {s.name: (s.data.avg, s.data.min, s.data.max) for s in stats.stats} == expected


# -- the seam between index and database -----------------------------------------------


def assert_exact(site: Site, service: JobStatistics) -> None:
    """Totals and grouped totals equal the reference over every job, counted once."""
    site.reload()
    assert service.totals(actor=None) == expected_totals(site.all_jobs())
    assert service.grouped("USER", actor=None) == expected_groups(site.all_jobs(), "USER")


def comparisons(service: JobStatistics) -> int:
    """How many times the service compared every database job with the index."""
    coverage = service.index_coverage()
    assert coverage is not None
    return coverage.full_comparisons


def test_a_job_archived_after_the_index_was_built_counts_once(
    site: Site, indexed: JobStatistics
) -> None:
    assert_exact(site, indexed)
    waiting = site.extra["waiting"]
    site.repo.mark_archived(waiting, MonitoringStatus.ARCHIVING_SUCCESSFUL)
    assert_exact(site, indexed)  # archived, the index not updated yet: from the database
    site.index.upsert([site.archived(site.repo.get(waiting))])
    assert_exact(site, indexed)  # now from the index, and only from there
    assert comparisons(indexed) == 1  # moved forward, never compared everything again


def test_a_running_job_that_finished_and_was_indexed_counts_once_as_finished(
    site: Site, indexed: JobStatistics
) -> None:
    assert_exact(site, indexed)
    running = site.repo.get(site.extra["running"])
    finished = running.model_copy(
        update={"job_state": JobState.COMPLETED, "duration": 4000, "monitoring_status": 3}
    )
    site.index.upsert([site.archived(finished)])  # the index learns first
    site.repo.update(running.id or 0, job_state="completed", duration=4000)
    site.repo.mark_archived(running.id or 0, MonitoringStatus.ARCHIVING_SUCCESSFUL)
    assert_exact(site, indexed)
    assert indexed.totals(actor=None).running_jobs == 1


def test_new_deleted_and_removed_jobs(
    site: Site, indexed: JobStatistics, make_job: Callable[..., Job]
) -> None:
    assert_exact(site, indexed)
    site.repo.add(make_job(jobState="completed", duration=600, user="carol"))
    assert_exact(site, indexed)  # a new database job
    gone = site.jobs[5]
    site.repo.delete([5])
    site.archive_only.append(site.archived(gone))
    assert_exact(site, indexed)  # deleted from the database, still in the archive
    site.index.remove([site.jobs[6]])
    assert_exact(site, indexed)  # removed from the index, still in the database
    assert comparisons(indexed) == 1


def test_running_jobs_the_index_holds_count_with_the_time_since_their_start(
    site: Site, indexed: JobStatistics, make_job: Callable[..., Job]
) -> None:
    # Jobs only the archive holds, still running there (e.g. imported from another site).
    for start, nodes in ((NOW - 7300, 3), (NOW - 100_000, 1), (NOW + 50, 2)):
        running = make_job(startTime=start, numNodes=nodes, numAcc=2, user="erin")
        site.archive_only.append(
            running.model_copy(update={"resources": running.resources * nodes})
        )
    site.index.upsert(site.archive_only)
    assert_exact(site, indexed)
    for bins, (width, count) in DURATION_BINS.items():
        counts = Counter(
            int(elapsed(j) / width) + 1 for j in site.all_jobs()
        )  # SQL's integer division rounds towards zero
        found = indexed.duration_histogram(actor=None, num_duration_bins=bins)
        assert [p.count for p in found] == [counts[i] for i in range(1, count + 1)]


def test_jobs_are_matched_by_their_key_whatever_their_cluster_is_called(
    site: Site, indexed: JobStatistics, make_job: Callable[..., Job]
) -> None:
    odd = make_job(cluster="it's,\nodd", jobState="completed", duration=100, monitoringStatus=3)
    db_id = site.repo.add(odd)
    site.reload()
    site.build_index()
    assert_exact(site, indexed)
    coverage = indexed.index_coverage()
    assert coverage is not None
    assert db_id not in coverage.pending
    assert sorted(coverage.pending) == sorted(
        i for i, j in site.jobs.items() if j.monitoring_status != 3
    )


def test_a_rebuilt_index_is_compared_again(site: Site, indexed: JobStatistics) -> None:
    assert_exact(site, indexed)
    site.repo.mark_archived(site.extra["waiting"], MonitoringStatus.ARCHIVING_SUCCESSFUL)
    site.reload()
    site.build_index()
    assert_exact(site, indexed)
    site.index.compact()
    assert_exact(site, indexed)
    assert comparisons(indexed) == 3


def test_a_deleted_newest_job_makes_it_compare_everything_again(
    site: Site, indexed: JobStatistics, make_job: Callable[..., Job]
) -> None:
    # SQLite may give the next job the row id of the deleted one.
    assert_exact(site, indexed)
    newest = max(site.jobs)
    site.repo.delete([newest])
    site.repo.add(make_job(jobState="completed", duration=60, user="dave"))
    assert_exact(site, indexed)
    assert comparisons(indexed) == 2


def test_an_index_built_later_is_picked_up(site: Site, tmp_path: Path) -> None:
    later = ArchiveIndex(str(tmp_path / "later"))
    statistics = JobStatistics(
        site.db, site.clusters, later, clock=lambda: NOW, short_seconds=SHORT
    )
    try:
        assert statistics.totals(actor=None) == expected_totals(site.all_jobs())
        assert statistics.index_coverage() is None  # no index yet: the database alone
        later.build([site.archived(j) for j in site.jobs.values() if j.monitoring_status == 3])
        assert statistics.totals(actor=None) == expected_totals(site.all_jobs())
        coverage = statistics.index_coverage()
        assert coverage is not None
        assert sorted(coverage.pending) == sorted(
            i for i, j in site.jobs.items() if j.monitoring_status != 3
        )
    finally:
        statistics.close()


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.duration_histogram(actor=None, num_duration_bins="2h"), "numDurationBins"),
        (lambda s: s.metric_histograms(["flops_any"], actor=None, num_metric_bins=0), "between"),
        (lambda s: s.metric_histograms(["nope"], actor=None), "unknown metric"),
        (lambda s: s.metric_histograms(["clock"], actor=None), "not a footprint metric"),
        (lambda s: s.metric_histograms(["flops'--"], actor=None), "invalid metric name"),
        (lambda s: s.grouped("NODE", actor=None), "unknown GroupBy"),
        (lambda s: s.grouped("USER", actor=None, sort_by="TOTALFUN"), "unknown SortBy"),
        (lambda s: s.value_histogram("energy", actor=None), "no histogram"),
        (
            lambda s: s.roofline_heatmap(RooflineGrid(0, 5, 0.01, 1, 100, 1000), actor=None),
            "rows and cols",
        ),
        (
            lambda s: s.roofline_heatmap(RooflineGrid(5, 5, 0, 1, 100, 1000), actor=None),
            "positive",
        ),
        (
            lambda s: s.roofline_heatmap(RooflineGrid(5, 5, 10, 1, 1, 1000), actor=None),
            "above",
        ),
        (
            lambda s: s.totals(
                [JobFilter.model_validate({"duration": {"from": 9, "to": 3}})], actor=None
            ),
            "empty",
        ),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(
    site: Site, indexed: JobStatistics, call: Callable[[JobStatistics], Any], message: str
) -> None:
    before = indexed.totals(actor=None)
    with pytest.raises(InvalidInput, match=message):
        call(indexed)
    assert indexed.totals(actor=None) == before == expected_totals(site.all_jobs())


# -- the benchmark --------------------------------------------------------------------------


@pytest.mark.slow
def test_the_benchmark_runs_and_both_sides_agree(tmp_path: Path) -> None:
    from benchmarks.bench_job_statistics import main

    result = main(["--jobs", "2000", "--repeat", "1", "--data", str(tmp_path)])
    assert result["checks"] == dict.fromkeys(result["ratios"], True)
    assert result["indexed"] + result["pending"] == result["jobs"]
