"""Turning a row of the demo job table into a :class:`~cc_backend.domain.job.Job`.

The job gets its resources (host names, hardware threads and GPUs of its placement),
``metaData`` (``jobScript``, ``jobName``, ``slurmInfo``), some tags and, once its
statistics are known, its footprint and energy.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from cc_backend.demo.allocation import Placement
from cc_backend.demo.apps import APPS, ScriptRequest, job_script
from cc_backend.demo.jobs import STATES, JobTable
from cc_backend.demo.population import Population
from cc_backend.demo.profiles import Behaviour
from cc_backend.domain.cluster import Cluster, SubCluster
from cc_backend.domain.footprint import FootprintPlan
from cc_backend.domain.hostlist import compress
from cc_backend.domain.job import Job, MonitoringStatus, SharedMode
from cc_backend.domain.tag import GLOBAL_SCOPE

__all__ = ["Pool", "job_fields", "with_footprint"]

#: Share of jobs of a known application that carry its ``app`` tag.
APP_TAGGED = 0.5
#: Share of idle jobs on exclusive nodes that carry a ``lowload`` job-class tag.
LOWLOAD_TAGGED = 0.5


@dataclass(frozen=True, slots=True)
class Pool:
    """One subcluster as jobs see it: its hosts and what a slot of a node is."""

    cluster: Cluster
    subcluster: SubCluster
    hosts: list[str]
    footprint: FootprintPlan

    @classmethod
    def of(cls, cluster: Cluster, subcluster: SubCluster) -> Pool:
        """The pool of ``subcluster`` of ``cluster``."""
        return cls(
            cluster, subcluster, list(subcluster.hosts), FootprintPlan.of(cluster, subcluster.name)
        )

    @property
    def gpus(self) -> bool:
        return bool(self.subcluster.topology.accelerators)

    @property
    def slots(self) -> int:
        """Sockets per node on CPU nodes, GPUs per node on GPU nodes."""
        topology = self.subcluster.topology
        return len(topology.accelerators or []) if self.gpus else len(topology.socket)

    def partition(self, nodes: int) -> str:
        """The Slurm partition of a job with ``nodes`` nodes."""
        if self.gpus or self.subcluster.name != "main":
            return self.subcluster.name
        return "singlenode" if nodes == 1 else "multinode"


def _resources(pool: Pool, placement: Placement) -> list[dict[str, Any]]:
    """One resource per node; like the scheduler, hardware threads are listed only for
    jobs that share their nodes (an exclusive job has all of them)."""
    topology = pool.subcluster.topology
    # A slot is a GPU with the threads of its memory domain, or a socket.
    groups = topology.memory_domain if pool.gpus else topology.socket
    threads: list[int] | None = None
    if len(placement.slots) < pool.slots:
        threads = sorted(t for s in placement.slots for t in groups[s])
    resources: list[dict[str, Any]] = []
    for node in placement.nodes:
        resource: dict[str, Any] = {"hostname": pool.hosts[node]}
        if threads is not None:
            resource["hwthreads"] = threads
        if pool.gpus:
            resource["accelerators"] = [topology.accelerator_id(s) for s in placement.slots]
        resources.append(resource)
    return resources


def _slurm_info(fields: dict[str, Any], request: ScriptRequest) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(fields["submitTime"]))
    nodes, cores = fields["numNodes"], fields["numHwthreads"]
    hosts = [r["hostname"] for r in fields["resources"]]
    tres = f"cpu={cores},node={nodes},billing={cores}"
    if fields["numAcc"]:
        tres += f",gres/gpu={fields['numAcc']}"
    project = fields["project"]
    return "\n".join(
        [
            f"JobId={fields['jobId']} JobName={request.name}",
            f"UserId={fields['user']} GroupId={project} Account={project}",
            f"Partition={request.partition} QOS=normal Restarts=0 BatchFlag=1",
            f"SubmitTime={stamp} TimeLimit={request.walltime // 60}",
            f"NodeList={hosts[0] if nodes == 1 else compress(hosts)}",
            f"NumNodes={nodes} NumCPUs={cores} NumTasks={request.tasks_per_node * nodes}",
            f"TRES={tres}",
            f"WorkDir=$WORK/runs/{request.name}",
        ]
    )


def job_fields(
    table: JobTable,
    index: int,
    pool: Pool,
    placement: Placement,
    *,
    population: Population,
    draw: float,
) -> dict[str, Any]:
    """The meta.json document of the job at ``index`` of ``table``, without statistics,
    footprint and energy; ``draw`` in ``[0, 1)`` decides its tags."""
    app = APPS[int(table.app[index])]
    resources = _resources(pool, placement)
    threads = len(resources[0].get("hwthreads") or pool.subcluster.topology.node)
    gpus = len(resources[0].get("accelerators", ()))
    nodes = len(resources)
    whole = len(placement.slots) == pool.slots
    shared = SharedMode.NONE if whole else SharedMode.SINGLE_USER
    if not whole and pool.gpus:
        shared = SharedMode.MULTI_USER
    tasks = gpus or (1 if app.cores[1] <= 0.5 else threads)
    request = ScriptRequest(
        name=app.names[int(table.name[index])],
        partition=pool.partition(nodes),
        nodes=nodes,
        tasks_per_node=tasks,
        threads=threads // tasks,
        walltime=int(table.walltime[index]),
        gpus=gpus,
        gpu_model=pool.subcluster.name if gpus else "",
        array_size=int(table.array_size[index]) if table.array_size[index] > 1 else 0,
    )
    user = int(table.user[index])
    tags = []
    if app.tag and draw < APP_TAGGED:
        tags.append({"type": "app", "name": app.tag, "scope": GLOBAL_SCOPE})
    if table.behaviour[index] == Behaviour.IDLE and whole and draw < LOWLOAD_TAGGED:
        tags.append({"type": "jobClass", "name": "lowload", "scope": GLOBAL_SCOPE})
    start, duration = int(table.start[index]), int(table.duration[index])
    fields: dict[str, Any] = {
        "jobId": int(table.job_id[index]),
        "user": population.users[user],
        "project": population.projects[int(population.project[user])],
        "cluster": pool.cluster.name,
        "subCluster": pool.subcluster.name,
        "partition": request.partition,
        "arrayJobId": int(table.array_job_id[index]),
        "numNodes": nodes,
        "numHwthreads": threads * nodes,
        "numAcc": gpus * nodes,
        "shared": shared.value,
        "monitoringStatus": int(MonitoringStatus.ARCHIVING_SUCCESSFUL),
        "smt": 1,
        "jobState": STATES[int(table.state[index])].value,
        "startTime": start,
        "submitTime": int(table.submit[index]),
        "duration": duration,
        "walltime": request.walltime,
        "resources": resources,
        "tags": tags or None,
        "stopTime": start + duration,
    }
    fields["metaData"] = {
        "jobScript": job_script(app, request),
        "jobName": request.name,
        "slurmInfo": _slurm_info(fields, request),
    }
    return fields


def with_footprint(job: Job, plan: FootprintPlan) -> Job:
    """``job`` with the footprint and energy its statistics give."""
    computed = plan.compute(job)
    return job.model_copy(
        update={
            "footprint": computed.footprint,
            "energy": computed.energy,
            "energy_footprint": computed.energy_footprint,
        }
    )
