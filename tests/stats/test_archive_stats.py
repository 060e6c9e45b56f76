"""ArchiveStats against independent computations in plain Python over the same jobs."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from cc_backend.domain.cluster import Cluster
from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.filters import FloatRange, IntRange, JobFilter, StringInput
from cc_backend.domain.job import Job
from cc_backend.stats import ArchiveIndex, ArchiveStats, GroupBy, JobTotals, SortBy

Built = tuple[ArchiveIndex, ArchiveStats]

# -- the reference: filters and statistics in plain Python ---------------------------------


def text_match(value: str | None, cond: StringInput) -> bool:
    if value is None:  # SQL NULL: no operator matches
        return False
    if cond.eq is not None:
        return value == cond.eq
    if cond.neq is not None:
        return value != cond.neq
    if cond.starts_with is not None:
        return value.lower().startswith(cond.starts_with.lower())
    if cond.ends_with is not None:
        return value.lower().endswith(cond.ends_with.lower())
    if cond.contains is not None:
        return cond.contains.lower() in value.lower()
    if cond.in_ is not None:
        return value in cond.in_
    return True


def in_range(value: float | None, rng: IntRange | FloatRange) -> bool:
    if value is None:
        return False
    if rng.to == 0 and rng.from_ > 0:
        return value >= rng.from_
    return rng.from_ <= value <= rng.to


def job_id_match(job_id: int, cond: StringInput) -> bool:
    if cond.eq is not None:
        return job_id == int(cond.eq)
    if cond.neq is not None:
        return job_id != int(cond.neq)
    if cond.in_ is not None:
        return job_id in [int(v) for v in cond.in_]
    return text_match(str(job_id), cond)


def matches(job: Job, f: JobFilter, now: float) -> bool:
    name = (job.meta_data or {}).get("jobName")
    texts = [
        (f.user, job.user),
        (f.project, job.project),
        (f.cluster, job.cluster),
        (f.sub_cluster, job.sub_cluster),
        (f.partition, job.partition),
        (f.job_name, name),
    ]
    if any(cond is not None and not text_match(value, cond) for cond, value in texts):
        return False
    ranges: list[tuple[Any, float]] = [
        (f.duration, job.duration),
        (f.energy, job.energy),
        (f.num_nodes, job.num_nodes),
        (f.num_hwthreads, job.num_hwthreads),
        (f.num_accelerators, job.num_acc),
    ]
    if any(rng is not None and not in_range(value, rng) for rng, value in ranges):
        return False
    if f.db_id is not None and job.id not in f.db_id:
        return False
    if f.job_id is not None and not job_id_match(job.job_id, f.job_id):
        return False
    if f.array_job_id is not None and job.array_job_id != f.array_job_id:
        return False
    if f.state is not None and job.job_state not in f.state:
        return False
    if f.shared is not None and job.shared.value != f.shared:
        return False
    if f.start_time is not None:
        lo, hi = f.start_time.bounds(now)
        if (lo is not None and job.start_time < lo) or (hi is not None and job.start_time > hi):
            return False
    if f.min_running_for is not None and not job.start_time < now - f.min_running_for:
        return False
    for item in f.metric_stats or ():
        if not in_range((job.footprint or {}).get(item.metric_name), item.range):
            return False
    if f.tags is not None and not {t.id for t in job.tags or ()} & set(f.tags):
        return False
    return f.node is None or any(text_match(h, f.node) for h in job.hostnames)


def select(jobs: list[Job], filters: Sequence[JobFilter], now: float = 0) -> list[Job]:
    return [j for j in jobs if all(matches(j, f, now) for f in filters)]


def totals(jobs: list[Job], ident: str | None = None) -> JobTotals:
    return JobTotals(
        id=ident,
        jobs=len(jobs),
        users=len({j.user for j in jobs}),
        running_jobs=sum(j.job_state == "running" for j in jobs),
        short_jobs=sum(j.duration < 300 for j in jobs),
        walltime_hours=sum(j.duration for j in jobs) / 3600,
        nodes=sum(j.num_nodes for j in jobs),
        node_hours=sum(j.duration * j.num_nodes for j in jobs) / 3600,
        cores=sum(j.num_hwthreads for j in jobs),
        core_hours=sum(j.duration * j.num_hwthreads for j in jobs) / 3600,
        accs=sum(j.num_acc for j in jobs),
        acc_hours=sum(j.duration * j.num_acc for j in jobs) / 3600,
    )


def assert_totals(got: JobTotals, want: JobTotals) -> None:
    for name in JobTotals.__slots__:
        expected = getattr(want, name)
        actual = getattr(got, name)
        assert actual == (pytest.approx(expected) if isinstance(expected, float) else expected)


# -- totals and groups ---------------------------------------------------------------------


def test_totals_over_everything(built: Built, jobs: list[Job]) -> None:
    assert_totals(built[1].totals(), totals(jobs))


@pytest.mark.parametrize(
    ("group", "attribute"),
    [
        ("USER", "user"),
        ("project", "project"),
        (GroupBy.CLUSTER, "cluster"),
        ("SUBCLUSTER", "sub_cluster"),
    ],
)
def test_grouped_totals(built: Built, jobs: list[Job], group: str, attribute: str) -> None:
    groups: dict[str, list[Job]] = defaultdict(list)
    for job in jobs:
        groups[getattr(job, attribute)].append(job)
    got = built[1].grouped(group)
    assert [g.id for g in got] == sorted(groups)
    for entry in got:
        assert entry.id is not None
        assert_totals(entry, totals(groups[entry.id], entry.id))


def test_job_counts(built: Built, jobs: list[Job], now: int) -> None:
    filters = [JobFilter.model_validate({"state": ["completed", "failed"]})]
    want: dict[str, int] = defaultdict(int)
    for job in select(jobs, filters, now):
        want[job.sub_cluster] += 1
    assert built[1].job_counts("SUBCLUSTER", filters) == want


@pytest.mark.parametrize("sort", list(SortBy))
def test_grouped_sorting_and_paging(built: Built, jobs: list[Job], sort: SortBy) -> None:
    field = {
        "TOTALWALLTIME": "walltime_hours",
        "TOTALJOBS": "jobs",
        "TOTALUSERS": "users",
        "TOTALNODES": "nodes",
        "TOTALNODEHOURS": "node_hours",
        "TOTALCORES": "cores",
        "TOTALCOREHOURS": "core_hours",
        "TOTALACCS": "accs",
        "TOTALACCHOURS": "acc_hours",
    }[sort.value]
    by_project: dict[str, list[Job]] = defaultdict(list)
    for job in jobs:
        by_project[job.project].append(job)
    expected = sorted(by_project, key=lambda p: (-getattr(totals(by_project[p]), field), p))
    stats = built[1]
    assert [g.id for g in stats.grouped("PROJECT", sort_by=sort)] == expected
    assert [g.id for g in stats.grouped("PROJECT", sort_by=sort, limit=2)] == expected[:2]
    paged = stats.grouped("PROJECT", sort_by=sort, limit=1, offset=1)
    assert [g.id for g in paged] == expected[1:2]


def test_grouped_rejects_unknown_names(built: Built) -> None:
    with pytest.raises(InvalidInput, match="GroupBy"):
        built[1].grouped("HOST")
    with pytest.raises(InvalidInput, match="SortBy"):
        built[1].grouped("USER", sort_by="TOTALFUN")
    with pytest.raises(InvalidInput):
        built[1].grouped("USER", limit=-1)


# -- histograms ----------------------------------------------------------------------------

DURATION_BINS = {
    None: (3600, 24),
    "1m": (60, 60),
    "10m": (600, 72),
    "1h": (3600, 48),
    "6h": (21600, 12),
    "12h": (43200, 14),
    "24h": (3600, 24),
}


@pytest.mark.parametrize("bins", list(DURATION_BINS))
def test_duration_histogram(built: Built, jobs: list[Job], bins: str | None) -> None:
    width, count = DURATION_BINS[bins]
    counts: dict[int, int] = defaultdict(int)
    for job in jobs:
        counts[job.duration // width + 1] += 1
    got = built[1].duration_histogram(num_duration_bins=bins)
    assert [(p.value, p.count) for p in got] == [
        (i * width, counts[i]) for i in range(1, count + 1)
    ]


def test_duration_histogram_rejects_unknown_binning(built: Built) -> None:
    with pytest.raises(InvalidInput, match="numDurationBins"):
        built[1].duration_histogram(num_duration_bins="2h")


@pytest.mark.parametrize("column", ["num_nodes", "num_hwthreads", "num_acc"])
def test_value_histograms(built: Built, jobs: list[Job], column: str) -> None:
    attribute = {"num_nodes": "num_nodes", "num_hwthreads": "num_hwthreads", "num_acc": "num_acc"}
    counts: dict[int, int] = defaultdict(int)
    for job in jobs:
        counts[getattr(job, attribute[column])] += 1
    got = built[1].value_histogram(column)  # type: ignore[arg-type]
    assert [(p.value, p.count) for p in got] == sorted(counts.items())
    if column == "num_nodes":
        assert built[1].num_nodes_histogram() == got


def metric_reference(
    jobs: list[Job], metric: str, stat: str, n: int, peak: float | None
) -> tuple[float | None, float | None, list[tuple[int, float]], int, int]:
    """(lo, hi, [(count, node hours) per bin], outside, missing), binned independently."""
    values = []
    missing = 0
    for job in jobs:
        stats = (job.statistics or {}).get(metric)
        if stats is None:
            missing += 1
        else:
            values.append((float(getattr(stats, stat)), job.duration * job.num_nodes / 3600))
    if peak is not None:
        lo, hi = 0.0, peak
    elif values:
        lo, hi = min(v for v, _ in values), max(v for v, _ in values)
    else:
        return None, None, [], 0, missing
    bins = [[0, 0.0] for _ in range(n)]
    outside = 0
    for value, weight in values:
        if value < lo or value > hi:
            outside += 1
            continue
        b = 1 if hi == lo else min(math.floor((value - lo) / (hi - lo) * n) + 1, n)
        bins[b - 1][0] += 1
        bins[b - 1][1] += weight
    return lo, hi, [(int(c), float(w)) for c, w in bins], outside, missing


def check_metric(got: Any, want: tuple[Any, ...], n: int) -> None:
    lo, hi, bins, outside, missing = want
    assert (got.min, got.max, got.outside, got.missing) == (lo, hi, outside, missing)
    if lo is None:
        assert got.bins == ()
        return
    assert [b.bin for b in got.bins] == list(range(1, n + 1))
    assert [b.count for b in got.bins] == [c for c, _ in bins]
    assert [b.node_hours for b in got.bins] == pytest.approx([w for _, w in bins])
    edges = [lo + (hi - lo) * i / n for i in range(n + 1)]
    assert [b.min for b in got.bins] == pytest.approx(edges[:-1])
    assert [b.max for b in got.bins] == pytest.approx(edges[1:])
    assert got.bins[-1].max == hi


@pytest.mark.parametrize(
    ("metric", "stat", "n"),
    [("flops_any", "avg", 10), ("mem_bw", "max", 7), ("cpu_load", "min", 1)],
)
def test_metric_histogram_over_data_range(
    built: Built, jobs: list[Job], metric: str, stat: Any, n: int
) -> None:
    got = built[1].metric_histogram(metric, num_metric_bins=n, stat=stat)
    check_metric(got, metric_reference(jobs, metric, stat, n, None), n)
    assert got.unit == {"flops_any": "GF/s", "mem_bw": "GB/s", "cpu_load": ""}[metric]


def cluster_with_peak(name: str, metric: str, peak: float) -> Cluster:
    topology = {"node": [0, 1], "socket": [[0, 1]], "memoryDomain": [[0, 1]], "core": [[0], [1]]}
    value = {"unit": {"base": "F/s", "prefix": "G"}, "value": 1.0}
    return Cluster.model_validate(
        {
            "name": name,
            "metricConfig": [
                {
                    "name": metric,
                    "unit": {"base": "F/s", "prefix": "G"},
                    "scope": "node",
                    "aggregation": "sum",
                    "timestep": 60,
                    "peak": peak,
                    "normal": peak / 2,
                    "caution": peak / 4,
                    "alert": peak / 8,
                }
            ],
            "subClusters": [
                {
                    "name": "main",
                    "nodes": "n[01-02]",
                    "processorType": "cpu",
                    "socketsPerNode": 1,
                    "coresPerSocket": 2,
                    "threadsPerCore": 1,
                    "flopRateScalar": value,
                    "flopRateSimd": value,
                    "memoryBandwidth": value,
                    "topology": topology,
                }
            ],
        }
    )


def test_metric_histogram_with_peak_and_filter(built: Built, jobs: list[Job]) -> None:
    filters = [JobFilter.model_validate({"cluster": {"eq": "fritz"}})]
    cluster = cluster_with_peak("fritz", "flops_any", 400.0)
    got = built[1].metric_histogram("flops_any", filters, num_metric_bins=8, cluster=cluster)
    want = metric_reference(select(jobs, filters), "flops_any", "avg", 8, 400.0)
    check_metric(got, want, 8)
    assert got.outside > 0
    several = [cluster, cluster_with_peak("alex", "flops_any", 600.0)]
    assert built[1].metric_histogram("flops_any", filters, cluster=several).max == 600.0


def test_metric_histogram_value_at_peak_is_in_last_bin(
    new_index: Callable[..., Built], jobs: list[Job]
) -> None:
    data = jobs[0].model_dump(by_alias=True, exclude_none=True)
    data["statistics"] = {"flops_any": {"unit": {}, "avg": 400.0, "min": 0, "max": 400}}
    job = Job.model_validate(data)
    _, stats = new_index([job])
    got = stats.metric_histogram("flops_any", cluster=cluster_with_peak("x", "flops_any", 400))
    assert [b.count for b in got.bins] == [0] * 9 + [1]
    same = stats.metric_histogram("flops_any", num_metric_bins=3)  # one value: min == max
    assert (same.min, same.max, [b.count for b in same.bins]) == (400.0, 400.0, [1, 0, 0])


def test_metric_histogram_errors(built: Built) -> None:
    stats = built[1]
    with pytest.raises(InvalidInput, match=r"unknown metric 'ipc'.*flops_any"):
        stats.metric_histogram("ipc")
    with pytest.raises(InvalidInput, match="invalid metric name"):
        stats.metric_histogram("flops; DROP TABLE x")
    with pytest.raises(InvalidInput, match="numMetricBins"):
        stats.metric_histogram("flops_any", num_metric_bins=0)
    with pytest.raises(InvalidInput, match="statistic"):
        stats.metric_histogram("flops_any", stat="median")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="not configured"):
        stats.metric_histogram("mem_bw", cluster=cluster_with_peak("c", "flops_any", 1.0))
    assert set(stats.metrics()) == {"flops_any", "mem_bw", "cpu_load"}


def test_metric_histogram_without_matching_jobs(built: Built) -> None:
    nobody = [JobFilter.model_validate({"user": {"eq": "nobody"}})]
    got = built[1].metric_histogram("flops_any", nobody)
    assert (got.min, got.max, got.bins, got.missing) == (None, None, (), 0)
    peaked = built[1].metric_histogram(
        "flops_any", nobody, cluster=cluster_with_peak("c", "flops_any", 10)
    )
    assert [b.count for b in peaked.bins] == [0] * 10


# -- every filter kind ---------------------------------------------------------------------

FILTERS: list[Any] = [
    {"user": {"eq": "alice"}},
    {"user": {"neq": "alice"}},
    {"user": {"startsWith": "AL"}},
    {"user": {"endsWith": "X"}},
    {"user": {"contains": "%"}},
    {"user": {"in": ["bob", "Erin", "nobody"]}},
    {"user": {"in": []}},
    {"project": {"contains": "proj_"}},
    {"project": {"startsWith": "proj-"}},
    {"jobName": {"contains": "RUN"}},
    {"jobName": {"neq": "sim"}},
    {"jobName": {"endsWith": "%JOB"}},
    {"cluster": {"eq": "alex"}},
    {"subCluster": {"in": ["main", "a100"]}},
    {"partition": {"startsWith": "a"}},
    {"jobId": {"eq": "10014"}},
    {"jobId": {"neq": " 10014 "}},
    {"jobId": {"in": ["10007", "10021"]}},
    {"jobId": {"contains": "00"}},
    {"jobId": {"endsWith": "7"}},
    {"arrayJobId": 4711},
    {"dbId": [1, 2, 3, 5, 7, 9]},
    {"duration": {"from": 600, "to": 7200}},
    {"duration": {"from": 7200, "to": 0}},
    {"duration": {"from": 0, "to": 0}},
    {"energy": {"from": 10.5, "to": 20.25}},
    {"numNodes": {"from": 2, "to": 8}},
    {"numHWThreads": {"from": 72, "to": 0}},
    {"numAccelerators": {"from": 1, "to": 16}},
    {"startTime": {"from": "2023-11-20T00:00:00Z", "to": "2023-12-01T00:00:00Z"}},
    {"startTime": {"from": "2023-12-10T00:00:00Z"}},
    {"startTime": {"to": "2023-11-20T00:00:00Z"}},
    {"startTime": {"range": "last7d"}},
    {"startTime": {"range": "last30d", "to": "2023-11-20T00:00:00Z"}},
    {"minRunningFor": 20 * 86400},
    {"state": ["COMPLETED", "timeout"]},
    {"state": ["running"]},
    {"shared": "multi_user"},
    {"metricStats": [{"metricName": "flops_any_avg", "range": {"from": 100, "to": 200}}]},
    {"metricStats": [{"metricName": "mem_bw_avg", "range": {"from": 250, "to": 0}}]},
    {"metricStats": [{"metricName": "ipc_avg", "range": {"from": 0, "to": 1e9}}]},
    {"tags": [1, 3]},
    {"tags": []},
    {"node": {"eq": "f0120"}},
    {"node": {"contains": "A012"}},
    {"node": {"startsWith": "W"}},
    {"node": {"neq": "f0120"}},
    {"node": {"in": ["a0101", "w0139"]}},
    {"node": {"in": []}},
    {"user": {"startsWith": "a"}, "cluster": {"eq": "fritz"}, "numNodes": {"from": 1, "to": 1}},
    {},
]


@pytest.mark.parametrize(
    "raw", FILTERS, ids=lambda raw: ",".join(f"{k}={v}" for k, v in raw.items()) or "none"
)
def test_every_filter_kind(built: Built, jobs: list[Job], now: int, raw: dict[str, Any]) -> None:
    filters = [JobFilter.model_validate(raw)]
    want = select(jobs, filters, now)
    stats = built[1]
    assert_totals(stats.totals(filters), totals(want))
    by_user = {g.id: g.jobs for g in stats.grouped("USER", filters)}
    assert by_user == {u: sum(j.user == u for j in want) for u in {j.user for j in want}}


def test_filters_of_a_list_are_anded(built: Built, jobs: list[Job], now: int) -> None:
    filters = [
        JobFilter.model_validate({"cluster": {"neq": "woody"}}),
        JobFilter.model_validate({"state": ["completed"]}),
        JobFilter.model_validate({"startTime": {"range": "last30d"}}),
    ]
    want = select(jobs, filters, now)
    assert 0 < len(want) < len(jobs)
    assert_totals(built[1].totals(filters), totals(want))
    hist = built[1].duration_histogram(filters, "1h")
    assert sum(p.count for p in hist) == sum(j.duration < 48 * 3600 for j in want)


@pytest.mark.parametrize(
    "raw",
    [
        {"duration": {"from": 10, "to": 5}},
        {"jobId": {"eq": "12a"}},
        {"energy": {"from": 2.5, "to": 1}},
    ],
)
def test_invalid_filters(built: Built, raw: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        built[1].totals([JobFilter.model_validate(raw)])


def test_filter_values_never_reach_the_sql(built: Built) -> None:
    nasty = "x' OR 1=1 --"
    filters = [JobFilter.model_validate({"user": {"eq": nasty}, "node": {"contains": nasty}})]
    assert built[1].totals(filters).jobs == 0
