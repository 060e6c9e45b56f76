"""Drawing the demo job table: who ran what, where, when, how big, how long, how it ended.

All columns are drawn with numpy from one generator, so a seed fixes the table. Shapes
follow what job logs show: a few users submit most jobs, most jobs use one node with a
heavy tail of large ones, run times are log-normal and capped by the requested wall time
(jobs that hit it time out), submissions follow the working day and week, and a few
submissions are job arrays. Every job ends by ``end``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cc_backend.demo.apps import APPS
from cc_backend.demo.population import Population
from cc_backend.demo.profiles import AppTraits, Behaviour, Levels, draw_levels
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.job import JobState

__all__ = ["STATES", "JobTable", "draw_jobs"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: Job states by their code in :attr:`JobTable.state`.
STATES = (
    JobState.COMPLETED,
    JobState.FAILED,
    JobState.CANCELLED,
    JobState.TIMEOUT,
    JobState.OUT_OF_MEMORY,
    JobState.NODE_FAIL,
)
COMPLETED, FAILED, CANCELLED, TIMEOUT, OOM, NODE_FAIL = range(len(STATES))
_WALLTIME_HOURS = np.array([1, 2, 4, 6, 8, 12, 24])
_GPU_COUNTS, _GPU_P = np.array([1, 2, 4, 8]), np.array([0.45, 0.22, 0.15, 0.18])
#: How much longer jobs run on GPU nodes than the same application's jobs on CPU nodes.
GPU_LONGER = 1.5
#: First job id per cluster (by position in the cluster list).
_FIRST_ID = (2_140_000, 1_310_000)


@dataclass(frozen=True, slots=True)
class JobTable:
    """One entry per job, in submission order. ``slots`` counts sockets (CPU nodes) or
    GPUs per node; a job with all slots of its nodes has them exclusively."""

    cluster: IntArray
    subcluster: IntArray
    user: IntArray
    app: IntArray
    name: IntArray
    behaviour: IntArray
    state: IntArray
    job_id: IntArray
    array_job_id: IntArray
    array_size: IntArray
    submit: IntArray
    start: IntArray
    duration: IntArray
    walltime: IntArray
    nodes: IntArray
    slots: IntArray
    levels: Levels

    def __len__(self) -> int:
        return len(self.job_id)


def _power_law(rng: np.random.Generator, high: IntArray, exponent: float) -> IntArray:
    """Integers in ``[2, high]`` with P(x) ~ x^-exponent."""
    a = 1.0 - exponent
    x = (2.0**a + rng.random(len(high)) * ((high + 1.0) ** a - 2.0**a)) ** (1.0 / a)
    result: IntArray = np.minimum(np.floor(x), high).astype(np.int64)
    return result


def _pick(rng: np.random.Generator, cumulative: FloatArray) -> IntArray:
    """One column per row of a matrix of cumulative probabilities."""
    picked: IntArray = (rng.random(len(cumulative))[:, None] >= cumulative).sum(axis=1)
    return picked.astype(np.int64)


def _attribute(name: str, index: IntArray) -> FloatArray:
    return np.array([float(getattr(app, name)) for app in APPS])[index]


def _submissions(
    rng: np.random.Generator, count: int, pop: Population, clusters: list[Cluster]
) -> dict[str, IntArray]:
    """``count`` submissions: who, which application, where, how many nodes and slots."""
    user = rng.choice(len(pop.users), count, p=pop.weight)
    app = pop.apps[user, _pick(rng, pop.app_cum[user])]
    on_gpu = rng.random(count) < pop.gpu_share[user]
    runs_on_gpu = np.array([bool(a.gpu_lines) for a in APPS])[app]
    runs_on_cpu = np.array([bool(a.cpu_lines) for a in APPS])[app]
    on_gpu = np.where(on_gpu, runs_on_gpu, ~runs_on_cpu)
    gpu_cluster = next(i for i, c in enumerate(clusters) if c.sub_clusters[0].topology.accelerators)
    cluster = np.where(on_gpu, gpu_cluster, 1 - gpu_cluster)
    big_memory = _attribute("memory", app) >= 0.3
    subcluster = np.where(
        on_gpu, rng.random(count) < 0.4, rng.random(count) < np.where(big_memory, 0.3, 0.08)
    ).astype(np.int64)
    arrays = np.array([a.arrays for a in APPS])[app] & (rng.random(count) < 0.06)
    array_size = np.where(arrays, np.minimum(2 + rng.geometric(1 / 10, count), 60), 1)
    multinode = (
        rng.random(count) < _attribute("multinode", app) * np.where(on_gpu, 0.3, 1)
    ) & ~arrays
    cap = np.where(on_gpu, 4, np.where(subcluster == 1, 16, 128))
    high = np.minimum(_attribute("max_nodes", app).astype(np.int64), cap)
    nodes = np.where(multinode & (high >= 2), _power_law(rng, np.maximum(high, 2), 1.5), 1)
    gpus = rng.choice(_GPU_COUNTS, count, p=_GPU_P)
    half = (
        (rng.random(count) < 0.15)
        & (nodes == 1)
        & (np.array([a.cores[1] for a in APPS])[app] <= 0.5)
    )
    slots = np.where(on_gpu, np.where(nodes > 1, 8, gpus), np.where(half, 1, 2))
    desired = (
        _attribute("hours", app) * np.where(on_gpu, GPU_LONGER, 1) * rng.lognormal(1.2, 0.5, count)
    )
    fits = _WALLTIME_HOURS[None, :] >= desired[:, None]
    walltime = _WALLTIME_HOURS[np.where(fits.any(axis=1), fits.argmax(axis=1), -1)] * 3600
    return {
        "user": user, "app": app, "cluster": cluster, "subcluster": subcluster,
        "array_size": array_size, "nodes": nodes, "slots": slots, "walltime": walltime,
        "name": rng.integers(0, 1 << 30, count) % np.array([len(a.names) for a in APPS])[app],
    }  # fmt: skip


def _behaviours(rng: np.random.Generator, app: IntArray, on_gpu: npt.NDArray[np.bool_]) -> IntArray:
    result = np.empty(len(app), dtype=np.int64)
    for index, spec in enumerate(APPS):
        mask = app == index
        kinds = np.array([int(b) for b, _ in spec.behaviours])
        weights = np.array([w for _, w in spec.behaviours])
        result[mask] = rng.choice(kinds, int(mask.sum()), p=weights / weights.sum())
    gpu_idle = on_gpu & (rng.random(len(app)) < 0.15)
    return np.where(gpu_idle, int(Behaviour.GPU_IDLE), result)


def _outcomes(
    rng: np.random.Generator, hours: FloatArray, walltime: IntArray, behaviour: IntArray
) -> tuple[IntArray, IntArray]:
    """Final state and run time of each job."""
    n = len(hours)
    duration = rng.lognormal(np.log(hours * 3600), 1.0)
    u, cut = rng.random(n), rng.random(n)
    state = np.select(
        [u < 0.06, u < 0.11, u < 0.113], [FAILED, CANCELLED, NODE_FAIL], COMPLETED
    ).astype(np.int64)
    duration = np.where(state == FAILED, duration * (0.001 + 0.3 * cut), duration)
    duration = np.where(state == CANCELLED, duration * (0.05 + 0.95 * cut), duration)
    leak, idle = behaviour == Behaviour.LEAK, behaviour == Behaviour.IDLE
    oom = (leak & (rng.random(n) < 0.55)) | ((behaviour == Behaviour.MEMORY) & (u > 0.99))
    state = np.where(oom, OOM, state)
    duration = np.where(oom, duration * (0.3 + 0.7 * cut), duration)
    hung = idle & (rng.random(n) < 0.25)
    duration = np.where(hung, walltime + 1.0, duration)
    late = duration > walltime
    state = np.where(late, TIMEOUT, state)
    duration = np.where(late, walltime + rng.integers(0, 90, n), duration)
    return state, np.maximum(duration, 20).astype(np.int64)


def _submit_times(rng: np.random.Generator, count: int, end: int, period: int) -> IntArray:
    """Submission times with a daily and weekly rhythm over ``[end - period, end)``."""
    first_day = (end - period) // 86400
    days = max(period // 86400, 1)
    day = first_day + rng.integers(0, days, count)
    weekend = (day + 3) % 7 >= 5  # 1970-01-01 was a Thursday
    day = np.where(
        weekend & (rng.random(count) < 0.5), first_day + rng.integers(0, days, count), day
    )
    busy = rng.random(count) < 0.7
    second = np.where(busy, rng.normal(13.5 * 3600, 3 * 3600, count), rng.random(count) * 86400)
    submit = (day * 86400 + np.mod(second, 86400)).astype(np.int64)
    begin = end - period  # whole days from ``end``: the wrap keeps the time of day
    return begin + np.mod(submit - begin, period)


def draw_jobs(
    rng: np.random.Generator,
    count: int,
    population: Population,
    clusters: list[Cluster],
    *,
    end: int,
    period: int,
) -> JobTable:
    """``count`` jobs that ran on ``clusters`` and ended within ``period`` seconds before
    ``end``.

    ``clusters`` are the demo's: a CPU and a GPU cluster (in any order) of two subclusters
    each, the second of which takes the jobs needing much memory (CPU) or the larger GPUs.
    """
    sub = _submissions(rng, count, population, clusters)
    take = np.repeat(np.arange(count), sub["array_size"])[:count]
    element = np.arange(len(take)) - np.searchsorted(take, take)
    col = {key: value[take] for key, value in sub.items()}
    app, walltime = col["app"], col["walltime"]
    gpu_job = np.array([bool(c.sub_clusters[0].topology.accelerators) for c in clusters])
    on_gpu = gpu_job[col["cluster"]]
    behaviour = _behaviours(rng, app, on_gpu)
    hours = _attribute("hours", app) * np.where(on_gpu, GPU_LONGER, 1.0)
    state, duration = _outcomes(rng, hours, walltime, behaviour)
    nodes = col["nodes"]
    submit = _submit_times(rng, count, end, period)[take]
    wait = np.minimum(rng.lognormal(np.log(300), 1.6, count) * np.sqrt(nodes), 2 * 86400)
    start = submit + wait.astype(np.int64) + element * rng.integers(30, 900, count)
    # Submissions that would end too late move back by a period, arrays as a whole.
    first = np.flatnonzero(np.r_[True, take[1:] != take[:-1]])
    shift = np.where(np.maximum.reduceat(start + duration, first)[take] > end, period, 0)
    submit, start = submit - shift, start - shift
    start = np.minimum(start, end - duration)  # only jobs longer than the period move here
    submit = np.minimum.reduceat(np.minimum(submit, start), first)[take]
    order = np.lexsort((element, take, submit))
    first_id = np.array(_FIRST_ID)[col["cluster"][order]]
    job_id = np.empty(count, dtype=np.int64)
    for c in np.unique(col["cluster"]):
        mask = col["cluster"][order] == c
        steps = np.where(element[order][mask] > 0, 1, 1 + rng.geometric(0.5, int(mask.sum())))
        job_id[mask] = first_id[mask] + np.cumsum(steps)
    array_job_id = np.where(col["array_size"][order] > 1, job_id - element[order], 0)
    traits = AppTraits(
        **{
            name: _attribute(name, app)
            for name in (
                "flops",
                "bandwidth",
                "memory",
                "double",
                "vector",
                "gpu_load",
                "gpu_memory",
            )
        },
        cores_low=np.array([a.cores[0] for a in APPS])[app],
        cores_high=np.array([a.cores[1] for a in APPS])[app],
    )
    levels = draw_levels(
        rng, behaviour, traits, multinode=nodes > 1, gpu_job=on_gpu, oom=state == OOM
    )
    return JobTable(
        cluster=col["cluster"][order],
        subcluster=col["subcluster"][order],
        user=col["user"][order],
        app=app[order],
        name=col["name"][order],
        behaviour=behaviour[order],
        state=state[order],
        job_id=job_id,
        array_job_id=array_job_id,
        array_size=col["array_size"][order],
        submit=submit[order],
        start=start[order],
        duration=duration[order],
        walltime=walltime[order],
        nodes=nodes[order],
        slots=col["slots"][order],
        levels=levels.take(order),
    )
