"""The node repository: nodes created on first sight, state history kept, latest state read."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from cc_backend.domain.errors import InvalidInput
from cc_backend.repository import schema
from cc_backend.repository.database import Database
from cc_backend.repository.nodes import (
    HealthState,
    NodeRepository,
    NodeStateRow,
    SchedulerState,
)


def _row(host: str, ts: int, state: SchedulerState, **extra: int) -> NodeStateRow:
    return NodeStateRow(hostname=host, subcluster="main", time_stamp=ts, node_state=state, **extra)


def test_upsert_node_creates_once(empty_db: Database) -> None:
    repo = NodeRepository(empty_db)
    first = repo.upsert_node("fritz", "f0101", "main")
    again = repo.upsert_node("fritz", "f0101", "spr")
    other_cluster = repo.upsert_node("alex", "f0101", "a40")
    assert first == again
    assert other_cluster != first
    nodes = repo.list_nodes()
    assert [(n.cluster, n.hostname, n.subcluster) for n in nodes] == [
        ("alex", "f0101", "a40"),
        ("fritz", "f0101", "main"),  # an existing node keeps its subcluster
    ]
    assert [n.hostname for n in repo.list_nodes("alex")] == ["f0101"]


def test_add_states_keeps_history_and_reads_latest(empty_db: Database) -> None:
    repo = NodeRepository(empty_db)
    stored = repo.add_states(
        "fritz",
        [
            _row("f0101", 100, SchedulerState.IDLE),
            _row("f0102", 100, SchedulerState.ALLOCATED, cpus_allocated=72, jobs_running=1),
        ],
    )
    assert stored == 2
    assert repo.add_states("fritz", [_row("f0101", 200, SchedulerState.MIXED)]) == 1
    assert repo.add_states("fritz", []) == 0

    with empty_db.engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(schema.node_state)).scalar()
    assert count == 3
    assert repo.state_history("fritz", "f0101") == [
        (100, SchedulerState.IDLE),
        (200, SchedulerState.MIXED),
    ]
    latest = {s.hostname: s for s in repo.latest_states("fritz")}
    assert latest["f0101"].node_state is SchedulerState.MIXED
    assert latest["f0101"].time_stamp == 200
    assert latest["f0102"].node_state is SchedulerState.ALLOCATED
    assert latest["f0102"].cpus_allocated == 72
    assert latest["f0102"].jobs_running == 1
    assert latest["f0102"].health_state is HealthState.FULL
    assert repo.latest_states("alex") == []
    assert len(repo.latest_states()) == 2


def test_latest_state_of_equal_time_stamps_is_the_last_stored(empty_db: Database) -> None:
    repo = NodeRepository(empty_db)
    repo.add_states("fritz", [_row("f0101", 100, SchedulerState.IDLE)])
    repo.add_states("fritz", [_row("f0101", 100, SchedulerState.DOWN)])
    [status] = repo.latest_states("fritz")
    assert status.node_state is SchedulerState.DOWN


def test_every_state_passes_the_check_constraints(empty_db: Database) -> None:
    repo = NodeRepository(empty_db)
    rows = [
        NodeStateRow(
            hostname=f"f{i:04d}",
            subcluster="main",
            time_stamp=1,
            node_state=state,
            health_state=list(HealthState)[i % len(HealthState)],
        )
        for i, state in enumerate(SchedulerState)
    ]
    assert repo.add_states("fritz", rows) == len(SchedulerState)
    assert {s.node_state for s in repo.latest_states()} == set(SchedulerState)
    assert {s.health_state for s in repo.latest_states()} == set(HealthState)


def test_a_host_reported_twice_is_rejected(empty_db: Database) -> None:
    repo = NodeRepository(empty_db)
    with pytest.raises(InvalidInput, match="f0101"):
        repo.add_states(
            "fritz",
            [_row("f0101", 1, SchedulerState.IDLE), _row("f0101", 2, SchedulerState.DOWN)],
        )
    assert repo.list_nodes() == []
