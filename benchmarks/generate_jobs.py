"""Generate a synthetic job database for benchmarks.

    python -m benchmarks.generate_jobs --jobs 1000000 --out benchmarks/data/jobs-1m.db --seed 1

The database is created by :func:`open_database`, so it has the project's schema and
indexes. The columns are drawn with numpy (:mod:`benchmarks.synthetic`), the JSON columns
are formatted from templates, and the rows go in with ``executemany`` in one transaction on
a plain ``sqlite3`` connection; the job indexes are dropped for the load and built again
afterwards (same SQL), which is much faster than maintaining them row by row. The same seed
gives the same database.
"""

from __future__ import annotations

import argparse
import gc
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from benchmarks.catalog import CLUSTERS, JOB_KINDS
from benchmarks.synthetic import (
    DEFAULT_END,
    PARTITIONS,
    SHARED,
    STATES,
    SUBCLUSTERS,
    Jobs,
    Population,
    draw_jobs,
    draw_population,
)
from cc_backend.repository.database import open_database

INSERT_JOB = (
    "INSERT INTO job (id, job_id, cluster, subcluster, submit_time, start_time, hpc_user, "
    "project, cluster_partition, array_job_id, duration, walltime, job_state, meta_data, "
    "resources, num_nodes, num_hwthreads, num_acc, smt, shared, monitoring_status, energy, "
    "energy_footprint, footprint) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
    "?, ?, ?, ?, ?, ?, ?)"
)
INSERT_USER = (
    "INSERT INTO hpc_user (username, ldap, name, roles, email, projects) VALUES (?, 0, ?, ?, ?, ?)"
)
#: PCI addresses of the eight GPUs of an accelerator node.
GPU_ADDRESSES = tuple(f"00000000:{bus:02X}:00.0" for bus in (1, 37, 65, 97, 129, 161, 193, 225))
SCRIPT = (
    '{{"jobName":"{name}","jobScript":"#!/bin/bash -l\\n#SBATCH --job-name={name}\\n'
    "#SBATCH --partition={partition}\\n#SBATCH --nodes={nodes}\\n#SBATCH --time={time}\\n"
    "#SBATCH --export=NONE\\n\\nunset SLURM_EXPORT_ENV\\nmodule load {module}\\n"
    'srun {program}\\n"}}'
)


@dataclass(frozen=True)
class Summary:
    """What :func:`generate` wrote."""

    path: Path
    jobs: int
    users: int
    seconds: float
    size_bytes: int


@cache
def _numbers(first: int, count: int) -> str:
    return "[" + ",".join(map(str, range(first, first + count))) + "]"


@cache
def _gpus(first: int, count: int) -> str:
    return "[" + ",".join(f'"{a}"' for a in GPU_ADDRESSES[first : first + count]) + "]"


@cache
def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:00"


@cache
def _node_slice(t_off: int, threads: int, g_off: int, gpus: int) -> str:
    """The JSON members after ``hostname`` for a job on part of a node."""
    acc = f',"accelerators":{_gpus(g_off, gpus)}' if gpus else ""
    return f'"hwthreads":{_numbers(t_off, threads)}{acc}'


def _resources(hosts: list[str], node_slice: str | None) -> str:
    """The ``resources`` JSON: one entry per node (only its name for a whole CPU node)."""
    if node_slice is None:
        return '[{"hostname":"' + '"},{"hostname":"'.join(hosts) + '"}]'
    return "[" + ",".join(f'{{"hostname":"{h}",{node_slice}}}' for h in hosts) + "]"


def _metrics(jobs: Jobs, sl: slice) -> tuple[list[list[float]], list[list[float]], list[float]]:
    """Footprint values, energy per power metric (Wh) and total energy of the jobs ``sl``."""
    subs = [sub for _, sub in SUBCLUSTERS]
    cluster_of = [CLUSTERS[ci] for ci, _ in SUBCLUSTERS]
    sub = jobs.sub[sl]
    hours = jobs.duration[sl] / 3600.0 * jobs.num_nodes[sl]
    load, noise = jobs.load[sl], jobs.noise[sl]
    frac = jobs.threads[sl] / np.array([s.hwthreads for s in subs])[sub]
    peak = np.array([c.peak_gflops for c in cluster_of])[sub]
    bandwidth = np.array([c.peak_mem_bw for c in cluster_of])[sub]
    memory = np.array([s.memory_gb for s in subs])[sub]
    values = np.column_stack(
        [
            jobs.threads[sl] * load,  # cpu_load_avg
            peak * frac * load * noise[:, 0] ** 3,  # flops_any_avg
            bandwidth * frac * load * noise[:, 1],  # mem_bw_avg
            memory * frac * noise[:, 2] ** 2,  # mem_used_avg
            100 * load * noise[:, 3] ** 0.3,  # acc_utilization_avg
            40960 * noise[:, 2],  # acc_mem_used_avg
        ]
    ).round(3)
    power = np.column_stack(
        [
            (60 + 280 * load) * frac * hours,  # cpu_power
            (8 + 25 * load * noise[:, 1]) * frac * hours,  # mem_power
            300 * jobs.gpus[sl] * load * noise[:, 3] ** 0.3 * hours,  # acc_power
        ]
    ).round(2)
    return values.tolist(), power.tolist(), power.sum(axis=1).round(2).tolist()


def _footprint(gpu: bool, v: list[float], p: list[float]) -> tuple[str, str]:
    """``footprint`` and ``energy_footprint`` JSON of a finished job."""
    cpu = f'"cpu_load_avg":{v[0]},"flops_any_avg":{v[1]},"mem_bw_avg":{v[2]},"mem_used_avg":{v[3]}'
    if gpu:
        return (
            f'{{"acc_mem_used_avg":{v[5]},"acc_utilization_avg":{v[4]},{cpu}}}',
            f'{{"acc_power":{p[2]},"cpu_power":{p[0]},"mem_power":{p[1]}}}',
        )
    return f"{{{cpu}}}", f'{{"cpu_power":{p[0]},"mem_power":{p[1]}}}'


def rows(jobs: Jobs, pop: Population, lo: int, hi: int) -> list[tuple[Any, ...]]:
    """The ``job`` rows ``lo`` to ``hi`` (ids ``lo + 1`` ...), as tuples for INSERT_JOB."""
    sl = slice(lo, hi)
    c = {name: getattr(jobs, name)[sl].tolist() for name in Jobs.__dataclass_fields__}
    subs = [sub for _, sub in SUBCLUSTERS]
    hosts = [sub.hostnames for sub in subs]
    nodes = c["num_nodes"]
    meta = [
        SCRIPT.format(
            name=JOB_KINDS[kind][0],
            partition=PARTITIONS[part],
            nodes=n,
            time=_clock(walltime),
            module=JOB_KINDS[kind][1],
            program=JOB_KINDS[kind][2],
        )
        for kind, part, n, walltime in zip(
            c["kind"], c["partition"], nodes, c["walltime"], strict=True
        )
    ]
    resources = [
        _resources(
            hosts[si][first : first + n],
            None if shared == 0 and gpus == 0 else _node_slice(t_off, threads, g_off, gpus),
        )
        for si, first, n, shared, threads, t_off, gpus, g_off in zip(
            c["sub"],
            c["first_node"],
            nodes,
            c["shared"],
            c["threads"],
            c["thread_offset"],
            c["gpus"],
            c["gpu_offset"],
            strict=True,
        )
    ]
    values, power, energy = _metrics(jobs, sl)
    running = STATES.index("running")
    footprints = [
        (None, None) if state == running else _footprint(subs[si].gpus > 0, v, p)
        for state, si, v, p in zip(c["state"], c["sub"], values, power, strict=True)
    ]
    columns: list[Sequence[Any]] = [
        range(lo + 1, hi + 1),
        c["job_id"],
        [CLUSTERS[SUBCLUSTERS[i][0]].name for i in c["sub"]],
        [subs[i].name for i in c["sub"]],
        c["submit"],
        c["start"],
        [pop.users[i] for i in c["user"]],
        [pop.projects[i] for i in c["project"]],
        [PARTITIONS[i] for i in c["partition"]],
        c["array_job_id"],
        c["duration"],
        c["walltime"],
        [STATES[i] for i in c["state"]],
        meta,
        resources,
        nodes,
        [t * n for t, n in zip(c["threads"], nodes, strict=True)],
        [g * n for g, n in zip(c["gpus"], nodes, strict=True)],
        [1] * len(nodes),
        [SHARED[i] for i in c["shared"]],
        c["monitoring"],
        [0.0 if s == running else e for s, e in zip(c["state"], energy, strict=True)],
        [f[1] for f in footprints],
        [f[0] for f in footprints],
    ]
    return list(zip(*columns, strict=True))


def user_rows(pop: Population) -> list[tuple[Any, ...]]:
    """``hpc_user`` rows: every user; the first member of each project also manages it."""
    managed: dict[int, str] = {}
    result = []
    for index, username in enumerate(pop.users):
        project = int(pop.primary_project[index])
        manager = project not in managed
        managed.setdefault(project, username)
        roles = '["user","manager"]' if manager else '["user"]'
        projects = f'["{pop.projects[project]}"]' if manager else "[]"
        email = f"{username}@example.org"
        result.append((username, f"User {username}", roles, email, projects))
    return result


def generate(
    out: Path,
    jobs: int = 1_000_000,
    seed: int = 1,
    *,
    users: int = 300,
    projects: int = 100,
    end: int = DEFAULT_END,
    batch: int = 50_000,
    console: Console | None = None,
) -> Summary:
    """Write a new database of ``jobs`` synthetic jobs to ``out`` (replacing any file there)."""
    console = console or Console(stderr=True)
    began = time.perf_counter()
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{out}{suffix}").unlink(missing_ok=True)
    db = open_database(f"sqlite:///{out}")
    db.engine.dispose()
    conn = sqlite3.connect(out, isolation_level=None)
    for pragma in (
        "journal_mode=OFF",
        "synchronous=OFF",
        "cache_size=-524288",
        "temp_store=MEMORY",
        "locking_mode=EXCLUSIVE",
        "threads=2",
        "mmap_size=4294967296",
    ):
        conn.execute(f"PRAGMA {pragma}")
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'job' "
        "AND sql IS NOT NULL ORDER BY name"
    ).fetchall()
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    progress = Progress(
        TextColumn("{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    gc.disable()
    try:
        with progress:
            drawing = progress.add_task("drawing columns", total=1)
            rng = np.random.default_rng(seed)
            pop = draw_population(rng, users, projects)
            table = draw_jobs(rng, jobs, pop, end)
            progress.advance(drawing)
            loading = progress.add_task("inserting jobs", total=jobs)
            conn.execute("BEGIN")
            for lo in range(0, jobs, batch):
                hi = min(lo + batch, jobs)
                conn.executemany(INSERT_JOB, rows(table, pop, lo, hi))
                progress.advance(loading, hi - lo)
            conn.executemany(INSERT_USER, user_rows(pop))
            conn.execute("COMMIT")
            building = progress.add_task("building indexes", total=len(indexes))
            for _, sql in indexes:
                conn.execute(sql)
                progress.advance(building)
    finally:
        gc.enable()
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    db.refresh_planner_statistics()
    db.close()
    seconds = time.perf_counter() - began
    return Summary(out, jobs, len(pop.users), seconds, out.stat().st_size)


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000, help="number of jobs")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/data/jobs-1m.db"))
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same data)")
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--projects", type=int, default=100)
    args = parser.parse_args(argv)
    console = Console()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary = generate(
        args.out, args.jobs, args.seed, users=args.users, projects=args.projects, console=console
    )
    console.print(
        f"{summary.jobs:,} jobs of {summary.users} users written to {summary.path} "
        f"in {summary.seconds:.1f} s ({summary.size_bytes / 2**20:,.0f} MiB)"
    )


if __name__ == "__main__":
    main()
