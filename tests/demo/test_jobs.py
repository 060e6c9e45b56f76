"""Generated job meta data: valid, consistent with the clusters, plausibly distributed."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest
from jsonschema import Draft202012Validator

from cc_backend.demo import iter_demo_jobs
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.job import Job, JobState, SharedMode

SchemaValidator = Callable[[str], Draft202012Validator]
END = 1_727_776_800


def schema_violations(validator: Draft202012Validator, job: Job) -> list[str]:
    """Violations of ``job``'s meta.json, leaving out those of the unit base enum."""
    return [
        f"{list(e.absolute_path)}: {e.message}"
        for e in validator.iter_errors(job.to_json_dict())
        if list(e.absolute_path)[-1:] != ["base"]
    ]


def test_the_same_seed_gives_the_same_jobs() -> None:
    def first(seed: int) -> list[dict[str, object]]:
        jobs = iter_demo_jobs(jobs=400, seed=seed, end_time=END)
        return [job.to_json_dict() for job, _ in itertools.islice(jobs, 40)]

    assert first(3) == first(3)
    assert first(3) != first(4)


def test_meta_only_jobs_are_the_jobs_with_data_without_their_statistics() -> None:
    with_data = iter_demo_jobs(jobs=200, seed=5, end_time=END)
    without = iter_demo_jobs(jobs=200, seed=5, end_time=END, with_data=False)
    varying = {"statistics", "footprint", "energyFootprint", "energy"}
    for (a, data), (b, none) in itertools.islice(zip(with_data, without, strict=True), 30):
        assert data is not None
        assert none is None
        left = {k: v for k, v in a.to_json_dict().items() if k not in varying}
        right = {k: v for k, v in b.to_json_dict().items() if k not in varying}
        assert left == right
        assert set(a.statistics or {}) == set(b.statistics or {})
        assert set(a.footprint or {}) == set(b.footprint or {})


def test_every_job_round_trips_through_its_json(meta_jobs: list[Job]) -> None:
    for job in meta_jobs[::10]:
        assert Job.model_validate(job.to_json_dict()) == job


@pytest.mark.reference
def test_every_meta_json_is_valid_against_the_reference_schema(
    meta_jobs: list[Job], schema_validator: SchemaValidator
) -> None:
    validator = schema_validator("job-meta.schema.json")
    for job in meta_jobs[::5]:
        assert schema_violations(validator, job) == [], job.job_id


def test_resources_exist_in_the_topology(
    meta_jobs: list[Job], clusters: dict[str, Cluster]
) -> None:
    for job in meta_jobs:
        cluster = clusters[job.cluster]
        sc = cluster.subcluster(job.sub_cluster)
        topology = sc.topology
        assert len(job.resources) == job.num_nodes
        assert len(set(job.hostnames)) == job.num_nodes
        assert all(cluster.subcluster_of(h).name == sc.name for h in job.hostnames)
        threads = accelerators = 0
        for resource in job.resources:
            used = resource.hwthreads if resource.hwthreads is not None else topology.node
            assert set(used) <= set(topology.node)
            assert len(set(used)) == len(used)
            threads += len(used)
            gpus = resource.accelerators or []
            assert set(gpus) <= set(topology.accelerator_ids())
            accelerators += len(gpus)
        assert job.num_hwthreads == threads
        assert job.num_acc == accelerators
        exclusive = job.resources[0].hwthreads is None
        assert (job.shared is SharedMode.NONE) == exclusive


def test_gpu_jobs_use_the_threads_next_to_their_gpus(
    meta_jobs: list[Job], clusters: dict[str, Cluster]
) -> None:
    for job in meta_jobs:
        if job.cluster != "alex" or job.shared is SharedMode.NONE:
            continue
        topology = clusters["alex"].subcluster(job.sub_cluster).topology
        ids = topology.accelerator_ids()
        resource = job.resources[0]
        domains = [topology.memory_domain[ids.index(g)] for g in resource.accelerators or []]
        assert resource.hwthreads == sorted(t for d in domains for t in d)
        assert job.num_hwthreads == 16 * job.num_acc


def test_times_are_consistent_and_end_in_the_period(meta_jobs: list[Job]) -> None:
    for job in meta_jobs:
        assert 0 < job.submit_time <= job.start_time
        assert job.duration > 0
        assert job.walltime > 0
        assert job.stop_time == job.start_time + job.duration <= END
        assert job.job_state.is_final
        if job.job_state is JobState.TIMEOUT:
            assert job.walltime <= job.duration <= job.walltime + 90
        else:
            assert job.duration <= job.walltime
    starts = [job.start_time for job in meta_jobs]
    assert END - min(starts) > 10 * 86400  # the default period of 5,000 jobs


def test_job_ids_are_unique_per_cluster_and_grow_with_submission(meta_jobs: list[Job]) -> None:
    for cluster in ("fritz", "alex"):
        jobs = [job for job in meta_jobs if job.cluster == cluster]
        ids = [job.job_id for job in jobs]
        assert len(set(ids)) == len(ids)
        assert ids == sorted(ids)
        assert all(a.submit_time <= b.submit_time for a, b in itertools.pairwise(jobs))


def test_job_arrays_have_consecutive_ids_and_share_their_submission(
    meta_jobs: list[Job],
) -> None:
    arrays: dict[tuple[str, int], list[Job]] = {}
    for job in meta_jobs:
        if job.array_job_id:
            arrays.setdefault((job.cluster, job.array_job_id), []).append(job)
    assert len(arrays) >= 10
    for (_, first), members in arrays.items():
        assert len(members) >= 2
        assert [m.job_id for m in members] == list(range(first, first + len(members)))
        assert len({(m.user, m.submit_time, m.num_nodes) for m in members}) == 1
        names = {m.meta_data["jobName"] for m in members if m.meta_data}
        assert len(names) == 1


def test_most_jobs_use_one_node_and_a_heavy_tail_uses_many(meta_jobs: list[Job]) -> None:
    nodes = np.array([job.num_nodes for job in meta_jobs])
    assert (nodes == 1).mean() > 0.7
    assert (nodes >= 8).sum() >= 20
    assert nodes.max() >= 48
    durations = np.array([job.duration for job in meta_jobs])
    assert durations.mean() > 1.3 * np.median(durations)  # heavy-tailed
    assert durations.max() >= 12 * 3600


def test_many_users_with_zipf_like_activity(meta_jobs: list[Job]) -> None:
    per_user = Counter(job.user for job in meta_jobs)
    projects = {job.project for job in meta_jobs}
    assert len(per_user) >= 200
    assert 50 <= len(projects) <= 100
    counts = sorted(per_user.values(), reverse=True)
    top_tenth = sum(counts[: len(counts) // 10])
    assert top_tenth > 0.4 * len(meta_jobs)
    assert counts[-1] <= 3  # and a long tail of occasional users
    assert all(job.user.startswith(job.project) for job in meta_jobs)


def test_states_and_sharing_modes(meta_jobs: list[Job]) -> None:
    states = Counter(job.job_state for job in meta_jobs)
    assert states[JobState.COMPLETED] > 0.6 * len(meta_jobs)
    for state in (JobState.FAILED, JobState.TIMEOUT, JobState.CANCELLED, JobState.OUT_OF_MEMORY):
        assert states[state] >= 20, state
    shared = Counter((job.cluster, job.shared) for job in meta_jobs)
    assert shared[("fritz", SharedMode.NONE)] > shared[("fritz", SharedMode.SINGLE_USER)] > 0
    assert shared[("alex", SharedMode.MULTI_USER)] > shared[("alex", SharedMode.NONE)] > 0


def test_partitions_follow_the_subclusters(meta_jobs: list[Job]) -> None:
    for job in meta_jobs:
        if job.sub_cluster == "main":
            assert job.partition == ("singlenode" if job.num_nodes == 1 else "multinode")
        else:
            assert job.partition == job.sub_cluster
        assert (job.num_acc > 0) == (job.cluster == "alex")


def test_statistics_footprint_and_energy(
    meta_jobs: list[Job], clusters: dict[str, Cluster]
) -> None:
    for job in meta_jobs[::7]:
        cluster = clusters[job.cluster]
        metrics = {m.name: m for m in cluster.metrics_for(job.sub_cluster)}
        stats = job.statistics or {}
        assert set(stats) == set(metrics)
        for name, stat in stats.items():
            assert 0 <= stat.min <= stat.avg <= stat.max, (job.job_id, name)
            assert stat.unit == metrics[name].unit.model_dump(exclude_none=True)
        assert set(job.footprint or {}) == set(cluster.footprint_metrics(job.sub_cluster))
        assert set(job.energy_footprint or {}) == set(cluster.energy_metrics(job.sub_cluster))
        assert job.energy == pytest.approx(sum((job.energy_footprint or {}).values()), abs=0.011)


def test_some_jobs_are_tagged(meta_jobs: list[Job]) -> None:
    tags = Counter((t.type, t.name) for job in meta_jobs for t in job.tags or [])
    assert sum(n for (kind, _), n in tags.items() if kind == "app") > 0.2 * len(meta_jobs)
    assert tags[("jobClass", "lowload")] > 0
    assert {t.scope for job in meta_jobs for t in job.tags or []} == {"global"}


def test_behaviours_show_in_the_statistics(meta_jobs: list[Job]) -> None:
    def stat(job: Job, metric: str, which: str = "avg") -> float:
        value: float = getattr((job.statistics or {})[metric], which)
        return value

    fritz = [job for job in meta_jobs if job.cluster == "fritz" and job.num_nodes == 1]
    load = np.array([stat(job, "cpu_load") / job.num_hwthreads for job in fritz])
    assert (load < 0.05).sum() > 20  # idle jobs
    assert (load > 0.8).sum() > 0.3 * len(fritz)  # busy ones
    oom = [job for job in meta_jobs if job.job_state is JobState.OUT_OF_MEMORY]
    near_full = [stat(job, "mem_used", "max") / _memory(job) for job in oom]
    assert np.median(near_full) > 0.8
    alex = [job for job in meta_jobs if job.cluster == "alex"]
    gpu = np.array([stat(job, "acc_utilization") for job in alex])
    assert (gpu < 5).sum() > 0.05 * len(alex)  # GPU-idle jobs
    assert (gpu > 50).sum() > 0.5 * len(alex)


def _memory(job: Job) -> float:
    """Node memory of the job's subcluster in GB."""
    return {"main": 256, "spr": 1024, "a40": 512, "a100": 1024}[job.sub_cluster]


def test_jobs_end_within_a_short_period_and_arrays_stay_together() -> None:
    drawn = iter_demo_jobs(jobs=1500, seed=9, end_time=END, period_days=2, with_data=False)
    jobs = [job for job, _ in drawn]
    arrays: dict[int, set[int]] = {}
    for job in jobs:
        assert job.end_time <= END
        assert job.submit_time <= job.start_time
        if not job.array_job_id:  # an array moves as a whole, some of it before the period
            assert job.end_time > END - 2 * 86400
        if job.array_job_id:
            arrays.setdefault(job.array_job_id, set()).add(job.submit_time)
    assert arrays
    assert all(len(submits) == 1 for submits in arrays.values())
