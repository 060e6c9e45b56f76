"""How demo jobs behave: per-job levels and their course over time.

A job's :class:`Behaviour` and its application fix a handful of *levels* (how busy its
cores are, which share of the node's flop rate, memory bandwidth and memory it uses, how
busy its GPUs are, ...). :func:`draw_levels` draws them for all jobs at once; they are what
the meta-only mode turns into statistics directly. :func:`job_signals` unrolls one job's
levels into time series of fractions (ramp-up, phases, checkpoint dips, GPU epochs,
growing memory for leaks, I/O bursts) that :mod:`cc_backend.demo.metrics` turns into
metric values.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Self

import numpy as np
import numpy.typing as npt

__all__ = ["AppTraits", "Behaviour", "Levels", "Signals", "draw_levels", "job_signals"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class Behaviour(IntEnum):
    """What a job does with its resources."""

    COMPUTE = 0  # compute-bound: busy cores, high flop rate
    MEMORY = 1  # memory-bound: high bandwidth, low flop rate and IPC
    IDLE = 2  # allocated but doing (almost) nothing
    LEAK = 3  # memory use grows until the end (or the node runs out)
    IO = 4  # bursts of file-system traffic, cores partly idle
    GPU_IDLE = 5  # on a GPU node without using the GPUs


@dataclass(frozen=True, slots=True)
class Levels:
    """Per-job levels, one array entry per job (fractions of the node's peak unless noted)."""

    busy: FloatArray  # how busy the active cores are
    active: FloatArray  # share of the allocated cores that are active
    flops: FloatArray
    bandwidth: FloatArray
    mem_start: FloatArray
    mem_end: FloatArray
    net: FloatArray
    read: FloatArray
    write: FloatArray
    gpu: FloatArray
    gpu_mem: FloatArray
    ipc: FloatArray  # instructions per cycle of an active core
    vector: FloatArray  # vectorisation ratio of an active core, percent
    double: FloatArray  # double-precision share of the flop rate

    def take(self, index: int | IntArray) -> Self:
        """The levels of the jobs at ``index`` (of one job, as 0-d arrays, for an int)."""
        return type(self)(*(np.asarray(getattr(self, f.name)[index]) for f in fields(self)))


@dataclass(frozen=True, slots=True)
class AppTraits:
    """The application properties the levels depend on, one array entry per job."""

    flops: FloatArray
    bandwidth: FloatArray
    memory: FloatArray
    double: FloatArray
    vector: FloatArray
    cores_low: FloatArray
    cores_high: FloatArray
    gpu_load: FloatArray
    gpu_memory: FloatArray


def _lognormal(rng: np.random.Generator, n: int, sigma: float) -> FloatArray:
    return rng.lognormal(0.0, sigma, n)


def draw_levels(
    rng: np.random.Generator,
    behaviour: IntArray,
    traits: AppTraits,
    *,
    multinode: npt.NDArray[np.bool_],
    gpu_job: npt.NDArray[np.bool_],
    oom: npt.NDArray[np.bool_],
) -> Levels:
    """Levels of every job, from its behaviour and its application's traits."""
    n = len(behaviour)
    b = Behaviour
    uni = rng.random((8, n))
    is_ = {kind: behaviour == kind for kind in Behaviour}
    busy = np.select(
        [is_[b.IDLE], is_[b.IO]], [0.005 + 0.02 * uni[0], 0.2 + 0.4 * uni[0]], 0.85 + 0.15 * uni[0]
    )
    low, high = traits.cores_low, traits.cores_high
    active = np.where(gpu_job, 0.05 + 0.3 * uni[1], low + (high - low) * uni[1])
    active = np.where(is_[b.IDLE], np.minimum(active, 0.05), active)
    flops = traits.flops * _lognormal(rng, n, 0.3)
    flops *= np.select([is_[b.MEMORY], is_[b.IO], is_[b.IDLE]], [0.35, 0.15, 0.005], 1.0)
    flops = np.where(gpu_job, flops * 0.1, flops)
    bandwidth = traits.bandwidth * _lognormal(rng, n, 0.25)
    bandwidth *= np.select(
        [is_[b.MEMORY], is_[b.IO], is_[b.IDLE]], [1.1 + 0.5 * uni[2], 0.3, 0.01], 0.6
    )
    memory = traits.memory * _lognormal(rng, n, 0.4)
    memory = np.where(is_[b.MEMORY], memory * 1.3, memory)
    memory = np.where(is_[b.IDLE], 0.01 + 0.03 * uni[3], memory)
    mem_end = np.where(
        is_[b.LEAK], np.where(oom, 0.97 + 0.03 * uni[4], 0.55 + 0.3 * uni[4]), memory
    )
    mem_start = np.where(is_[b.LEAK], np.minimum(memory, mem_end) * 0.5, memory)
    net = np.where(multinode, 0.02 + 0.2 * uni[5], 0.002 * uni[5])
    net = np.where(is_[b.IDLE], 0.0, net)
    io = is_[b.IO]
    read = np.where(io, 0.05 + 0.45 * uni[6], 0.004 * uni[6])
    write = np.where(io, 0.03 + 0.35 * uni[7], 0.003 * uni[7])
    gpu_busy = gpu_job & ~is_[b.GPU_IDLE] & ~is_[b.IDLE]
    gpu = np.where(gpu_busy, traits.gpu_load * _lognormal(rng, n, 0.12), 0.01 * rng.random(n))
    gpu_mem = np.where(
        gpu_busy, traits.gpu_memory * _lognormal(rng, n, 0.25), 0.005 + 0.015 * rng.random(n)
    )
    ipc = np.select(
        [is_[b.MEMORY], is_[b.IDLE], is_[b.IO]],
        [0.35 + 0.45 * uni[2], 0.3 + 0.5 * uni[3], 0.5 + 0.6 * uni[4]],
        1.2 + 1.2 * rng.random(n),
    )
    vector = np.clip(traits.vector * _lognormal(rng, n, 0.15), 0.0, 99.0)
    return Levels(
        busy=busy,
        active=np.clip(active, 0.0, 1.0),
        flops=np.clip(flops, 0.0, 0.9),
        bandwidth=np.clip(bandwidth, 0.0, 0.93),
        mem_start=np.clip(mem_start, 0.0, 0.95),
        mem_end=np.clip(mem_end, 0.0, 1.0),
        net=net,
        read=read,
        write=write,
        gpu=np.clip(gpu, 0.0, 0.99),
        gpu_mem=np.clip(gpu_mem, 0.0, 0.97),
        ipc=ipc,
        vector=vector,
        double=traits.double.astype(np.float64),
    )


@dataclass(frozen=True, slots=True)
class Signals:
    """One job's levels over time: node arrays ``(nodes, 1, T)``, GPU ``(nodes, gpus, T)``."""

    busy: FloatArray
    flops: FloatArray
    bandwidth: FloatArray
    memory: FloatArray
    net: FloatArray
    read: FloatArray
    write: FloatArray
    gpu: FloatArray
    gpu_mem: FloatArray


def _phases(rng: np.random.Generator, points: int) -> FloatArray:
    """A piecewise-constant factor around 1 with one to four phases."""
    count = int(rng.integers(1, 5))
    cuts = np.sort(rng.integers(0, points, count - 1))
    levels = 0.75 + 0.3 * rng.random(count)
    return np.repeat(levels, np.diff(np.concatenate(([0], cuts, [points]))))


def job_signals(
    rng: np.random.Generator,
    levels: Levels,
    behaviour: Behaviour,
    points: int,
    shape: tuple[int, int],
) -> Signals:
    """The course over ``points`` time steps of one job's levels on ``shape = (nodes, gpus)``."""
    nodes, gpus = shape
    t = np.arange(points, dtype=np.float64)
    ramp = 1.0 - np.exp(-(t + 0.5) / (0.5 + 2.5 * rng.random()))
    course = ramp * _phases(rng, points)
    period = int(rng.integers(15, 90))
    checkpoint = (t % period == period - 1) & (t > 0)
    course = np.where(checkpoint, course * 0.4, course)
    course[-1] *= 0.3 + 0.7 * rng.random()  # winding down
    spread = rng.lognormal(0.0, 0.05, (nodes, 1, 1))
    work = spread * course
    steady = np.where(checkpoint, 0.85, ramp)  # cores stay busy through the phases
    share = t / max(points - 1, 1)
    start, end = float(levels.mem_start), float(levels.mem_end)
    memory = np.minimum(ramp * 4.0, 1.0) * (start + (end - start) * share)
    burst = checkpoint * 20.0 * rng.random()
    if behaviour is Behaviour.IO:  # alternating reading, computing and writing
        on = (t // int(rng.integers(3, 12))) % 2 == 0
        read, write = np.where(on, 1.0, 0.1), np.where(on, 0.15, 1.0)
        steady = steady * np.where(on, 0.5, 1.0)
    else:
        read, write = np.ones(points), 1.0 + burst
    epoch = int(rng.integers(5, 40))
    gpu_course = ramp * np.where(t % epoch == 0, 0.3, 1.0) * _phases(rng, points)
    gpu_spread = rng.lognormal(0.0, 0.06, (nodes, gpus, 1))
    return Signals(
        busy=np.clip(float(levels.busy) * spread * steady, 0.0, 1.0),
        flops=float(levels.flops) * work,
        bandwidth=float(levels.bandwidth) * work,
        memory=np.clip(memory * spread, 0.0, 1.0),
        net=float(levels.net) * work,
        read=float(levels.read) * spread * read,
        write=float(levels.write) * spread * write,
        gpu=np.clip(float(levels.gpu) * gpu_spread * gpu_course, 0.0, 1.0),
        gpu_mem=np.clip(float(levels.gpu_mem) * gpu_spread * np.minimum(ramp * 3, 1.0), 0.0, 1.0),
    )
