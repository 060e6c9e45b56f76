"""Starting and stopping jobs and recording node states, on every database backend."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cc_backend.archive import JobArchive
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.errors import (
    AlreadyExists,
    CCError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
)
from cc_backend.domain.job import Job, JobState, MonitoringStatus
from cc_backend.domain.user import User
from cc_backend.repository.database import Database
from cc_backend.repository.jobs import JobRepository
from cc_backend.repository.nodes import NodeRepository, SchedulerState
from cc_backend.repository.tags import TagRepository
from cc_backend.services.clusters import ClusterCatalog
from cc_backend.services.job_lifecycle import JobLifecycle, PendingArchiving, scheduler_state
from cc_backend.services.requests import NodeStatesRequest, StopJobRequest

API = User.build("adapter", ["api"])
NOW = 1_700_000_000.0
DAY = 24 * 60 * 60


class Setup:
    """A lifecycle service over a fresh database and the demo archive."""

    def __init__(self, db: Database, archive: JobArchive) -> None:
        self.db = db
        self.jobs = JobRepository(db)
        self.tags = TagRepository(db)
        self.nodes = NodeRepository(db)
        self.archiving = PendingArchiving()
        self.now = NOW
        self.service = JobLifecycle(
            self.jobs,
            self.tags,
            self.nodes,
            ClusterCatalog(archive),
            self.archiving,
            clock=lambda: self.now,
        )


@pytest.fixture
def setup(empty_db: Database, demo_archive: JobArchive) -> Setup:
    return Setup(empty_db, demo_archive)


@pytest.fixture
def job(make_job: Callable[..., Job]) -> Callable[..., Job]:
    """``job(**overrides)``: a running one-node fritz job on a host of the demo cluster."""

    def build(**overrides: Any) -> Job:
        fields: dict[str, Any] = {"subCluster": "", "resources": [{"hostname": "f0101"}]}
        fields.update(overrides)
        return make_job(**fields)

    return build


def stop(job_id: int, stop_time: int, **fields: Any) -> StopJobRequest:
    payload: dict[str, Any] = {
        "jobId": job_id,
        "cluster": "fritz",
        "jobState": "completed",
        "stopTime": stop_time,
    }
    payload.update(fields)
    return StopJobRequest.model_validate(payload)


# -- start ----------------------------------------------------------------------------------


def test_start_stores_a_running_job(setup: Setup, job: Callable[..., Job]) -> None:
    new = job(jobState="completed", monitoringStatus=3)
    started = setup.service.start_job(new, API)
    assert started.id is not None
    assert started.job_state is JobState.RUNNING
    assert started.monitoring_status is MonitoringStatus.RUNNING_OR_ARCHIVING
    stored = setup.jobs.get(started.id)
    assert stored.job_id == new.job_id
    assert stored.job_state is JobState.RUNNING
    assert [j.id for j in setup.jobs.find(new.job_id, "fritz")] == [started.id]


def test_the_started_job_is_what_a_read_returns(setup: Setup, job: Callable[..., Job]) -> None:
    started = setup.service.start_job(job(metaData={"jobName": "x"}), API)
    assert started.id is not None
    stored = setup.jobs.get(started.id)
    assert started.to_json_dict() == stored.to_json_dict()


def test_start_assigns_the_subcluster_of_the_first_host(
    setup: Setup, job: Callable[..., Job]
) -> None:
    started = setup.service.start_job(job(resources=[{"hostname": "f2201"}]), API)
    assert started.sub_cluster == "spr"
    alex = job(cluster="alex", resources=[{"hostname": "a0401"}, {"hostname": "a0101"}], numNodes=2)
    assert setup.service.start_job(alex, API).sub_cluster == "a100"


def test_start_keeps_a_given_known_subcluster(setup: Setup, job: Callable[..., Job]) -> None:
    assert setup.service.start_job(job(subCluster="main"), API).sub_cluster == "main"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cluster": "nope"}, "unknown cluster 'nope'"),
        ({"subCluster": "gpu"}, "unknown subcluster 'gpu'"),
        ({"resources": [{"hostname": "x0001"}]}, "no subcluster"),
        ({"numNodes": 2}, "numNodes"),
        ({"id": 17}, "database id"),
    ],
)
def test_start_rejects_bad_jobs(
    setup: Setup, job: Callable[..., Job], overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        setup.service.start_job(job(**overrides), API)
    assert setup.jobs.count(actor=None) == 0


def test_a_start_within_24_hours_is_a_duplicate(setup: Setup, job: Callable[..., Job]) -> None:
    first = job(jobId=4711, startTime=1_700_000_000)
    setup.service.start_job(first, API)
    for start in (1_700_000_000, 1_700_000_000 + DAY - 1, 1_700_000_000 - 3600):
        with pytest.raises(AlreadyExists, match="4711"):
            setup.service.start_job(job(jobId=4711, startTime=start), API)
    assert setup.jobs.count(actor=None) == 1


def test_the_same_job_id_25_hours_later_is_a_new_job(setup: Setup, job: Callable[..., Job]) -> None:
    setup.service.start_job(job(jobId=4711, startTime=1_700_000_000), API)
    later = setup.service.start_job(job(jobId=4711, startTime=1_700_000_000 + 25 * 3600), API)
    other_cluster = job(jobId=4711, cluster="alex", resources=[{"hostname": "a0101"}])
    setup.service.start_job(other_cluster, API)
    assert later.id is not None
    assert len(setup.jobs.find(4711, "fritz")) == 2
    assert setup.jobs.count(actor=None) == 3


def test_start_attaches_tags(setup: Setup, job: Callable[..., Job]) -> None:
    tags = [{"type": "app", "name": "gromacs"}, {"type": "queue", "name": "big", "scope": "admin"}]
    started = setup.service.start_job(job(tags=tags), API)
    assert started.id is not None
    attached = setup.tags.all_tags_of_job(started.id)
    assert {(t.type, t.name, t.scope) for t in attached} == {
        ("app", "gromacs", "global"),
        ("queue", "big", "admin"),
    }
    # the returned job carries the tags the actor may read (admin scope: admins, support)
    assert {t.name for t in started.tags or []} == {"gromacs"}
    # the same tag on a second job is reused, not created again
    second = setup.service.start_job(job(tags=tags[:1]), API)
    assert second.id is not None
    assert [t.id for t in setup.tags.all_tags_of_job(second.id)] == [
        t.id for t in attached if t.name == "gromacs"
    ]


def test_start_with_a_tag_the_actor_may_not_write_stores_nothing(
    setup: Setup, job: Callable[..., Job]
) -> None:
    user = User.build("alice", ["user"])
    with pytest.raises(PermissionDenied):
        setup.service.start_job(job(tags=[{"type": "app", "name": "x"}]), user)
    assert setup.jobs.count(actor=None) == 0


def test_start_with_a_tag_taken_in_another_scope_keeps_no_job(
    setup: Setup, job: Callable[..., Job]
) -> None:
    setup.service.start_job(job(tags=[{"type": "app", "name": "x", "scope": "admin"}]), API)
    with pytest.raises(Conflict, match="cannot tag"):
        setup.service.start_job(job(tags=[{"type": "app", "name": "x"}]), API)
    assert setup.jobs.count(actor=None) == 1


def test_twenty_concurrent_starts_store_the_job_once(setup: Setup, job: Callable[..., Job]) -> None:
    # Start times differ by seconds, so only the 24-hour rule (not the unique key of
    # jobId, cluster and startTime) can keep the copies out.
    copies = [job(jobId=9999, startTime=1_700_000_000 + i) for i in range(20)]
    barrier = threading.Barrier(20)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(same: Job) -> None:
        barrier.wait()
        try:
            setup.service.start_job(same, API)
            result = "ok"
        except AlreadyExists:
            result = "duplicate"
        except Exception as exc:  # reported by the assertion below
            result = repr(exc)
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(copy,)) for copy in copies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["duplicate"] * 19 + ["ok"]
    assert len(setup.jobs.find(9999, "fritz")) == 1


@pytest.mark.reference
def test_reference_start_payload(
    empty_db: Database, demo_archive: JobArchive, reference_dir: Path
) -> None:
    """cc-backend's example payload starts on the real fritz (its host f0726 is not in the
    demo fritz, whose node lists are smaller)."""
    fritz = Cluster.from_json((reference_dir / "job-archive/fritz/cluster.json").read_bytes())
    demo_archive.store_cluster(fritz)
    setup = Setup(empty_db, demo_archive)
    payload = json.loads((reference_dir / "configs/startJobPayload.json").read_text())
    started = setup.service.start_job(Job.model_validate(payload), API)
    assert started.id is not None
    assert (started.job_id, started.cluster, started.sub_cluster) == (123000, "fritz", "main")
    assert started.meta_data is not None
    assert started.meta_data["jobName"] == "ams_pipeline"

    stop_payload = json.loads((reference_dir / "configs/stopJobPayload.json").read_text())
    stopped = setup.service.stop_job(StopJobRequest.model_validate(stop_payload), API)
    assert stopped.job_state is JobState.COMPLETED
    assert stopped.duration == 1649763839 - 1649723812


# -- stop -----------------------------------------------------------------------------------


def test_stop_sets_state_and_duration_and_queues_archiving(
    setup: Setup, job: Callable[..., Job]
) -> None:
    started = setup.service.start_job(job(jobId=77, startTime=1_700_000_000), API)
    stopped = setup.service.stop_job(stop(77, 1_700_003_600, jobState="timeout"), API)
    assert stopped.id == started.id
    assert stopped.job_state is JobState.TIMEOUT
    assert stopped.duration == 3600
    assert stopped.stop_time == 1_700_003_600
    assert stopped.monitoring_status is MonitoringStatus.RUNNING_OR_ARCHIVING
    assert started.id is not None
    stored = setup.jobs.get(started.id)
    assert (stored.job_state, stored.duration) == (JobState.TIMEOUT, 3600)
    queued = setup.archiving.drain()
    assert [(j.id, j.job_state, j.duration) for j in queued] == [
        (started.id, JobState.TIMEOUT, 3600)
    ]
    assert setup.archiving.drain() == []


def test_stop_of_a_job_without_monitoring_is_not_archived(
    setup: Setup, job: Callable[..., Job]
) -> None:
    setup.service.start_job(job(jobId=78, startTime=1_700_000_000, monitoringStatus=0), API)
    stopped = setup.service.stop_job(stop(78, 1_700_000_060), API)
    assert stopped.monitoring_status is MonitoringStatus.DISABLED
    assert setup.archiving.drain() == []


def test_stop_of_an_unknown_job_is_not_found(setup: Setup, job: Callable[..., Job]) -> None:
    setup.service.start_job(job(jobId=79), API)
    with pytest.raises(NotFound, match="no running job"):
        setup.service.stop_job(stop(80, 1_800_000_000), API)
    with pytest.raises(NotFound):
        setup.service.stop_job(stop(79, 1_800_000_000, cluster="alex"), API)
    with pytest.raises(NotFound):
        setup.service.stop_job(stop(79, 1_800_000_000, startTime=1), API)


def test_a_second_stop_conflicts(setup: Setup, job: Callable[..., Job]) -> None:
    setup.service.start_job(job(jobId=81, startTime=1_700_000_000), API)
    setup.service.stop_job(stop(81, 1_700_000_100), API)
    with pytest.raises(Conflict, match="already been stopped"):
        setup.service.stop_job(stop(81, 1_700_000_200), API)
    assert len(setup.archiving.drain()) == 1


def test_stop_before_start_conflicts(setup: Setup, job: Callable[..., Job]) -> None:
    started = setup.service.start_job(job(jobId=82, startTime=1_700_000_000), API)
    with pytest.raises(Conflict, match="stopTime"):
        setup.service.stop_job(stop(82, 1_699_999_999), API)
    assert started.id is not None
    assert setup.jobs.get(started.id).job_state is JobState.RUNNING


@pytest.mark.parametrize("state", ["running", "pending", "suspended"])
def test_stop_needs_a_final_state(setup: Setup, job: Callable[..., Job], state: str) -> None:
    setup.service.start_job(job(jobId=83, startTime=1_700_000_000), API)
    with pytest.raises(InvalidInput, match="final"):
        setup.service.stop_job(stop(83, 1_700_000_100, jobState=state), API)


def test_stop_needs_a_job_id(setup: Setup) -> None:
    request = StopJobRequest(job_state=JobState.COMPLETED, stop_time=1)
    with pytest.raises(InvalidInput, match="jobId"):
        setup.service.stop_job(request, API)


def test_stop_picks_the_running_job_that_started_last(
    setup: Setup, job: Callable[..., Job]
) -> None:
    old = setup.service.start_job(job(jobId=84, startTime=1_700_000_000), API)
    new = setup.service.start_job(job(jobId=84, startTime=1_700_000_000 + 2 * DAY), API)
    stopped = setup.service.stop_job(stop(84, 1_700_000_000 + 3 * DAY), API)
    assert stopped.id == new.id
    assert stopped.duration == DAY
    # the older one is still running and is the one a second stop finds
    again = setup.service.stop_job(stop(84, 1_700_000_000 + 3 * DAY), API)
    assert again.id == old.id
    assert again.duration == 3 * DAY
    with pytest.raises(Conflict):
        setup.service.stop_job(stop(84, 1_700_000_000 + 3 * DAY), API)


def test_stop_with_start_time_picks_that_job(setup: Setup, job: Callable[..., Job]) -> None:
    old = setup.service.start_job(job(jobId=85, startTime=1_700_000_000), API)
    setup.service.start_job(job(jobId=85, startTime=1_700_000_000 + 2 * DAY), API)
    stopped = setup.service.stop_job(stop(85, 1_700_000_600, startTime=1_700_000_000), API)
    assert stopped.id == old.id


def test_concurrent_stops_stop_once(setup: Setup, job: Callable[..., Job]) -> None:
    setup.service.start_job(job(jobId=86, startTime=1_700_000_000), API)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        try:
            setup.service.stop_job(stop(86, 1_700_000_100), API)
            result = "ok"
        except CCError as exc:
            result = type(exc).__name__
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["Conflict"] * 7 + ["ok"]
    assert len(setup.archiving.drain()) == 1


# -- node states ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (["IDLE"], SchedulerState.IDLE),
        (["allocated"], SchedulerState.ALLOCATED),
        (["MIXED"], SchedulerState.MIXED),
        (["DOWN", "NOT_RESPONDING"], SchedulerState.DOWN),
        (["RESERVED"], SchedulerState.RESERVED),
        (["IDLE", "DRAIN"], SchedulerState.IDLE),
        (["DRAIN", "IDLE"], SchedulerState.IDLE),
        (["IDLE+DRAIN"], SchedulerState.IDLE),
        (["MIXED+POWERED_DOWN"], SchedulerState.MIXED),
        (["DRAIN"], SchedulerState.UNKNOWN),
        (["COMPLETING"], SchedulerState.UNKNOWN),
        ([], SchedulerState.UNKNOWN),
    ],
)
def test_scheduler_state_words(states: list[str], expected: SchedulerState) -> None:
    assert scheduler_state(states) is expected


def _node_request(**states: list[str]) -> NodeStatesRequest:
    return NodeStatesRequest.model_validate(
        {
            "cluster": "fritz",
            "nodes": [
                {"hostname": host, "states": words, "cpusAllocated": 8, "jobsRunning": 1}
                for host, words in states.items()
            ],
        }
    )


def test_node_states_are_mapped_and_history_kept(setup: Setup) -> None:
    request = _node_request(f0101=["ALLOCATED"], f2201=["IDLE", "DRAIN"], f0102=["DRAIN"])
    assert setup.service.update_node_states(request, API) == 3
    nodes = {n.hostname: n.subcluster for n in setup.nodes.list_nodes("fritz")}
    assert nodes == {"f0101": "main", "f0102": "main", "f2201": "spr"}
    latest = {s.hostname: s for s in setup.nodes.latest_states("fritz")}
    assert latest["f0101"].node_state is SchedulerState.ALLOCATED
    assert latest["f0101"].cpus_allocated == 8
    assert latest["f0101"].jobs_running == 1
    assert latest["f0101"].time_stamp == int(NOW)
    assert latest["f2201"].node_state is SchedulerState.IDLE
    assert latest["f0102"].node_state is SchedulerState.UNKNOWN

    setup.now = NOW + 60
    assert setup.service.update_node_states(_node_request(f0101=["mixed"]), API) == 1
    assert setup.nodes.state_history("fritz", "f0101") == [
        (int(NOW), SchedulerState.ALLOCATED),
        (int(NOW) + 60, SchedulerState.MIXED),
    ]
    assert len(setup.nodes.list_nodes("fritz")) == 3


def test_node_states_skip_hosts_of_no_subcluster(setup: Setup) -> None:
    request = _node_request(f0101=["IDLE"], x0001=["IDLE"])
    assert setup.service.update_node_states(request, API) == 1
    assert [n.hostname for n in setup.nodes.list_nodes()] == ["f0101"]


def test_node_states_of_an_unknown_cluster(setup: Setup) -> None:
    request = NodeStatesRequest(cluster="nope", nodes=[])
    with pytest.raises(InvalidInput, match="unknown cluster 'nope'"):
        setup.service.update_node_states(request, API)


def test_node_payload_accepts_the_adapter_fields() -> None:
    payload = {
        "hostname": "f0101",
        "states": ["IDLE"],
        "cpusAllocated": 1,
        "cpusTotal": 72,
        "memoryAllocated": 2,
        "memoryTotal": 256000,
        "gpusAllocated": 0,
        "gpusTotal": 0,
        "jobsRunning": 1,
    }
    request = NodeStatesRequest.model_validate({"cluster": "fritz", "nodes": [payload]})
    assert request.nodes[0].cpus_total == 72
    assert request.nodes[0].model_dump(by_alias=True) == payload
