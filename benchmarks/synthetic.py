"""Drawing a synthetic job table with numpy: users, projects and the columns of every job.

Everything is drawn from one :class:`numpy.random.Generator`, so a seed fixes the result.
The shapes follow what HPC job logs show: a few users submit most jobs (Zipf), most jobs
are small and short (log-normal durations capped by the wall time, which yields the
timeouts), a heavy tail of large jobs on the big clusters, submissions follow a daily and
weekly cycle, and jobs still running at the end of the period are stored as ``running``.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.catalog import CLUSTERS, JOB_KINDS, SubCluster

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: One year of jobs ending here (Tuesday 2024-10-01T10:00:00Z, a working-day morning).
DEFAULT_END = 1_727_776_800
PERIOD = 365 * 86400

#: Job states as the database spells them, in the order of the codes in ``Jobs.state``.
STATES: tuple[str, ...] = (
    "completed",
    "failed",
    "cancelled",
    "out-of-memory",
    "node_fail",
    "timeout",
    "preempted",
    "running",
)
COMPLETED, FAILED, CANCELLED, OOM, NODE_FAIL, TIMEOUT, PREEMPTED, RUNNING = range(len(STATES))
SHARED = ("none", "single_user", "multi_user")

#: Every subcluster with the index of its cluster.
SUBCLUSTERS: tuple[tuple[int, SubCluster], ...] = tuple(
    (ci, sub) for ci, cluster in enumerate(CLUSTERS) for sub in cluster.subclusters
)
PARTITIONS: tuple[str, ...] = tuple(
    dict.fromkeys(
        name
        for _, sub in SUBCLUSTERS
        for name in [p for p, _ in sub.partitions] + [sub.multinode_partition or ""]
        if name
    )
)
WALLTIMES_H = np.array([0.5, 1, 2, 4, 6, 12, 24])
WALLTIME_P = np.array([0.1, 0.15, 0.15, 0.2, 0.1, 0.1, 0.2])


@dataclass(frozen=True)
class Population:
    """Users and projects, and each user's habits."""

    users: list[str]
    projects: list[str]
    #: Probability that a job belongs to each user (Zipf-like).
    user_weights: FloatArray
    primary_project: IntArray
    secondary_project: IntArray
    #: Probability that a job of the user is charged to the secondary project.
    secondary_share: FloatArray
    #: Cumulative cluster preference per user (users x clusters).
    cluster_cum: FloatArray
    #: The job kinds (indexes into JOB_KINDS) each user runs (users x 3).
    kinds: IntArray


@dataclass(frozen=True)
class Jobs:
    """The columns of the job table, one entry per job, ordered by start time."""

    sub: IntArray
    user: IntArray
    project: IntArray
    partition: IntArray
    job_id: IntArray
    array_job_id: IntArray
    submit: IntArray
    start: IntArray
    duration: IntArray
    walltime: IntArray
    state: IntArray
    num_nodes: IntArray
    first_node: IntArray
    threads: IntArray  # hardware threads per node
    thread_offset: IntArray
    gpus: IntArray  # accelerators per node
    gpu_offset: IntArray
    shared: IntArray
    monitoring: IntArray
    kind: IntArray
    load: FloatArray  # 0..1, how busy the job kept its nodes
    noise: FloatArray  # jobs x 4 uniform numbers for the footprint values

    def __len__(self) -> int:
        return len(self.start)

    def take(self, index: IntArray) -> Jobs:
        """The jobs at ``index``, in that order."""
        fields = self.__dataclass_fields__
        return Jobs(**{name: getattr(self, name)[index] for name in fields})


def _names(rng: np.random.Generator, count: int) -> list[str]:
    """Unique project names in the style of university accounts (``k106eb``, ``iwi5``)."""
    letters = np.array(list(string.ascii_lowercase))
    names: dict[str, None] = {}
    while len(names) < count:
        head = "".join(rng.choice(letters, size=int(rng.integers(1, 4))))
        digits = str(int(rng.integers(1, 1000)))
        tail = "".join(rng.choice(letters, size=int(rng.choice([0, 0, 2]))))
        names.setdefault(head + digits + tail, None)
    return list(names)


def draw_population(rng: np.random.Generator, n_users: int, n_projects: int) -> Population:
    """Users grouped into projects; job counts per user follow a Zipf law (exponent 1.1)."""
    projects = _names(rng, n_projects)
    project_weight = 1.0 / np.arange(1, n_projects + 1) ** 0.8
    primary = rng.choice(n_projects, size=n_users, p=project_weight / project_weight.sum())
    members: dict[int, int] = {}
    users = []
    for p in primary.tolist():
        members[p] = members.get(p, 0) + 1
        users.append(f"{projects[p]}{members[p]:03d}h")
    weights = 1.0 / np.arange(1, n_users + 1) ** 1.1
    weights = rng.permutation(weights / weights.sum())
    secondary = rng.integers(0, n_projects, size=n_users)
    share = np.where(rng.random(n_users) < 0.1, 0.25, 0.0)
    base = np.array([c.weight for c in CLUSTERS])
    cum = np.cumsum(rng.dirichlet(base * 2.0, size=n_users), axis=1)
    cum[:, -1] = 1.0
    kinds = rng.integers(0, len(JOB_KINDS), size=(n_users, 3))
    return Population(
        users, projects, weights.astype(np.float64), primary, secondary, share, cum, kinds
    )


def _pick(rng: np.random.Generator, cum: FloatArray) -> IntArray:
    """One index per row of the cumulative probability matrix ``cum`` (rows x choices)."""
    picked: IntArray = (rng.random(len(cum))[:, None] >= cum).sum(axis=1).astype(np.int64)
    return picked


def _power_law(rng: np.random.Generator, low: int, high: IntArray, exponent: float) -> IntArray:
    """Integers in ``[low, high]`` with P(x) ~ x^-exponent (inverse transform sampling)."""
    a = 1.0 - exponent
    u = rng.random(len(high))
    x = (low**a + u * ((high + 1.0) ** a - low**a)) ** (1.0 / a)
    result: IntArray = np.minimum(np.floor(x).astype(np.int64), high)
    return result


def _submissions(rng: np.random.Generator, m: int, pop: Population, end: int) -> dict[str, Any]:
    """``m`` submissions (a job or a job array): who, where, how big, when."""
    user = rng.choice(len(pop.users), size=m, p=pop.user_weights)
    cluster = _pick(rng, pop.cluster_cum[user])
    sub = np.zeros(m, dtype=np.int64)
    offsets = np.cumsum([0] + [len(c.subclusters) for c in CLUSTERS])
    for ci, c in enumerate(CLUSTERS):
        mask = cluster == ci
        cum = np.cumsum([s.weight for s in c.subclusters])
        cum[-1] = 1.0
        sub[mask] = offsets[ci] + _pick(rng, np.tile(cum, (int(mask.sum()), 1)))
    array_size = np.where(rng.random(m) < 0.02, 1 + rng.geometric(1 / 9, size=m), 1)
    array_size = np.minimum(array_size, 200)
    max_nodes = np.array([s.max_nodes for _, s in SUBCLUSTERS])[sub]
    single = np.array([c.single_node for c in CLUSTERS])[cluster]
    multi = (rng.random(m) >= single) & (array_size == 1) & (max_nodes > 1)
    nodes = np.where(multi, _power_law(rng, 2, max_nodes, 1.8), 1)
    partition = np.zeros(m, dtype=np.int64)
    for si, (_, s) in enumerate(SUBCLUSTERS):
        mask = sub == si
        names = [PARTITIONS.index(p) for p, _ in s.partitions]
        weights = np.array([w for _, w in s.partitions])
        partition[mask] = rng.choice(names, size=int(mask.sum()), p=weights / weights.sum())
        if s.multinode_partition:
            partition[mask & (nodes > 1)] = PARTITIONS.index(s.multinode_partition)
    walltime = (rng.choice(WALLTIMES_H, size=m, p=WALLTIME_P) * 3600).astype(np.int64)
    walltime[partition == PARTITIONS.index("devel")] = 3600
    first_day = (end - PERIOD) // 86400  # in days since the epoch
    days = end // 86400 - first_day + 1
    day = first_day + rng.integers(0, days, size=m)
    weekend = (day + 3) % 7 >= 5  # the epoch's day 0 was a Thursday (3 with Monday = 0)
    day = np.where(weekend & (rng.random(m) < 0.45), first_day + rng.integers(0, days, m), day)
    busy = rng.random(m) < 0.7
    second = np.where(busy, rng.normal(13.5 * 3600, 3.2 * 3600, size=m), rng.random(m) * 86400)
    submit = day * 86400 + np.mod(second, 86400).astype(np.int64)
    submit = np.where(submit < end - PERIOD, submit + PERIOD, submit)
    wait = np.minimum(rng.lognormal(np.log(120), 1.8, size=m) * np.sqrt(nodes), 3 * 86400)
    project = np.where(
        rng.random(m) < pop.secondary_share[user],
        pop.secondary_project[user],
        pop.primary_project[user],
    )
    kind = pop.kinds[user, rng.integers(0, 3, size=m)]
    return {
        "user": user,
        "cluster": cluster,
        "sub": sub,
        "size": array_size,
        "nodes": nodes,
        "partition": partition,
        "walltime": walltime,
        "submit": submit,
        "wait": wait.astype(np.int64),
        "project": project,
        "kind": kind,
    }


def _job_ids(
    rng: np.random.Generator, cluster: IntArray, submit: IntArray, group: IntArray, task: IntArray
) -> tuple[IntArray, IntArray]:
    """Scheduler ids (per cluster, in submit order, with gaps) and array job ids."""
    order = np.lexsort((task, group, submit, cluster))
    steps = rng.geometric(0.7, size=len(order)).astype(np.int64)
    ids_sorted = np.cumsum(steps)
    sorted_cluster = cluster[order]
    first = np.searchsorted(sorted_cluster, np.arange(len(CLUSTERS)))
    for ci, c in enumerate(CLUSTERS):
        mask = sorted_cluster == ci
        if mask.any():
            ids_sorted[mask] += c.job_id_base - ids_sorted[first[ci]] + 1
    heads = ids_sorted[np.arange(len(order)) - task[order]]
    job_id = np.empty_like(ids_sorted)
    array_id = np.empty_like(ids_sorted)
    job_id[order] = ids_sorted
    array_id[order] = heads
    return job_id, array_id


def _allocation(rng: np.random.Generator, col: dict[str, IntArray]) -> dict[str, IntArray]:
    """Which nodes, hardware threads and accelerators each job got, and its shared mode."""
    n = len(col["sub"])
    subs = [sc for _, sc in SUBCLUSTERS]
    hw = np.array([sc.hwthreads for sc in subs])[col["sub"]]
    gpn = np.array([sc.gpus for sc in subs])[col["sub"]]
    hosts = np.array([len(sc.hostnames) for sc in subs])[col["sub"]]
    shared_nodes = np.array([c.shared_nodes for c in CLUSTERS])[col["cluster"]]
    nodes = col["nodes"]
    first_node = (rng.random(n) * (hosts - nodes + 1)).astype(np.int64)
    # accelerators: 1-8 of a node's GPUs for single-node jobs, whole nodes otherwise
    gpus = np.where(gpn > 0, rng.choice([1, 2, 4, 8], size=n, p=[0.55, 0.15, 0.1, 0.2]), 0)
    gpus = np.where(nodes > 1, gpn, gpus)
    gpu_offset = (rng.random(n) * (gpn // np.maximum(gpus, 1))).astype(np.int64) * gpus
    per_gpu = hw // np.maximum(gpn, 1)
    # hardware threads: a slice of a shared node, or the whole node
    share = rng.choice([1, 2, 4, 8, 16, 32], size=n, p=[0.3, 0.15, 0.2, 0.15, 0.1, 0.1])
    threads = np.where(shared_nodes, np.minimum(share, hw), hw)
    threads = np.where(gpus > 0, gpus * per_gpu, threads)
    slot = (rng.random(n) * (hw // threads)).astype(np.int64) * threads
    thread_offset = np.where(gpus > 0, gpu_offset * per_gpu, np.where(shared_nodes, slot, 0))
    shared = np.where(shared_nodes & (threads < hw), np.where(rng.random(n) < 0.3, 1, 2), 0)
    return {
        "first_node": first_node,
        "gpus": gpus,
        "gpu_offset": gpu_offset,
        "threads": threads,
        "thread_offset": thread_offset,
        "shared": shared,
    }


def _outcome(
    rng: np.random.Generator, col: dict[str, IntArray], start: IntArray, end: int
) -> dict[str, IntArray]:
    """Duration, final state and monitoring status; jobs not finished at ``end`` run."""
    n = len(start)
    walltime = col["walltime"]
    # a log-normal fraction of the wall time; reaching the wall time is a timeout
    raw = walltime * rng.lognormal(-2.0, 1.2, size=n)
    duration = np.clip(raw, 10, walltime).astype(np.int64)
    u = rng.random(n)
    state = np.select(
        [u < 0.06, u < 0.10, u < 0.112, u < 0.113, raw >= walltime],
        [FAILED, CANCELLED, OOM, NODE_FAIL, TIMEOUT],
        COMPLETED,
    )
    preempt = (col["partition"] == PARTITIONS.index("preempt")) & (rng.random(n) < 0.25)
    state = np.where(preempt & (state == COMPLETED), PREEMPTED, state)
    cut = np.isin(state, [FAILED, CANCELLED, OOM, NODE_FAIL, PREEMPTED])
    duration = np.where(cut, np.maximum(10, duration * rng.uniform(0.02, 1, n)), duration)
    running = start + duration > end
    return {
        "state": np.where(running, RUNNING, state),
        "duration": np.where(running, 0, duration).astype(np.int64),
        "monitoring": np.select([running, u < 0.01, u < 0.03], [1, 0, 2], 3),
    }


def draw_jobs(rng: np.random.Generator, n_jobs: int, pop: Population, end: int) -> Jobs:
    """``n_jobs`` jobs that started within the year before ``end``, ordered by start time."""
    factor = 0.9  # submissions per job: arrays add tasks, jobs starting after ``end`` drop out
    while True:
        m = int(n_jobs * factor) + 64
        s = _submissions(rng, m, pop, end)
        size = s["size"]
        group = np.repeat(np.arange(m), size)
        heads = np.repeat(np.cumsum(size) - size, size)
        task = np.arange(len(group)) - heads
        gaps = np.where(task > 0, rng.exponential(90.0, size=len(group)), 0.0)
        stagger = (np.cumsum(gaps) - np.cumsum(gaps)[heads]).astype(np.int64)
        start = s["submit"][group] + s["wait"][group] + stagger
        valid = np.flatnonzero(start <= end)
        if len(valid) >= n_jobs:
            break
        factor *= 1.3
    job_id, array_id = _job_ids(rng, s["cluster"][group], s["submit"][group], group, task)
    keep = np.sort(rng.choice(valid, size=n_jobs, replace=False))
    col = {k: v[group[keep]] for k, v in s.items()}
    start, job_id = start[keep], job_id[keep]
    array_id = np.where(col["size"] > 1, array_id[keep], 0)
    allocation = _allocation(rng, col)
    outcome = _outcome(rng, col, start, end)
    load = np.where(rng.random(n_jobs) < 0.85, rng.beta(6, 2, n_jobs), rng.beta(1, 6, n_jobs))
    jobs = Jobs(
        sub=col["sub"],
        user=col["user"],
        project=col["project"],
        partition=col["partition"],
        job_id=job_id,
        array_job_id=array_id,
        submit=col["submit"],
        start=start,
        walltime=col["walltime"],
        num_nodes=col["nodes"],
        kind=col["kind"],
        load=load,
        noise=rng.random((n_jobs, 4)),
        **allocation,
        **outcome,
    )
    return jobs.take(np.lexsort((job_id, start)))
