"""The systems view's rules: state filters (with cc-backend's ``notindb``), the hosts a
cluster's configuration names, a node's history from per-state report times, and node
lists over a real site's node table and metric store."""

from __future__ import annotations

import time

import pytest

from cc_backend.demo import demo_clusters
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.errors import InvalidInput, NotFound, PermissionDenied
from cc_backend.repository.nodes import NodeStateRow, SchedulerState, StatesOverTime
from cc_backend.server import Backends
from cc_backend.services.node_overview import (
    STATE_FILTERS,
    NodeOverview,
    StateChange,
    check_state_filter,
    configured_hosts,
    history_from_counts,
    hosts_in_state,
)


@pytest.fixture(scope="module")
def fritz() -> Cluster:
    return next(c for c in demo_clusters() if c.name == "fritz")


def test_the_state_filters_are_cc_backends() -> None:
    assert STATE_FILTERS == (
        "all", "allocated", "idle", "reserved", "mixed", "down", "unknown", "notindb",
    )  # fmt: skip
    assert check_state_filter(" IDLE ") == "idle"
    assert check_state_filter("") == "all"
    with pytest.raises(InvalidInput, match="unknown node state filter 'drained'"):
        check_state_filter("drained")


def test_configured_hosts_are_sorted_per_cluster_or_subcluster(fritz: Cluster) -> None:
    everything = configured_hosts(fritz)
    spr = configured_hosts(fritz, "spr")
    assert len(everything) == 224
    assert everything == sorted(everything)
    assert (len(spr), spr[0], spr[-1]) == (32, "f2101", "f2216")
    with pytest.raises(NotFound):
        configured_hosts(fritz, "gpu")


def test_hosts_in_state_follow_the_latest_reports(fritz: Cluster) -> None:
    states = {"f0101": SchedulerState.IDLE, "f0102": SchedulerState.DOWN,
              "f2101": SchedulerState.IDLE}  # fmt: skip
    assert hosts_in_state(fritz, states, "all") is None
    assert hosts_in_state(fritz, states, "idle") == {"f0101", "f2101"}
    assert hosts_in_state(fritz, states, "mixed") == set()
    missing = hosts_in_state(fritz, states, "notindb")
    assert missing is not None
    assert len(missing) == 221
    assert "f0101" not in missing
    in_spr = hosts_in_state(fritz, states, "notindb", "spr")
    assert in_spr is not None
    assert len(in_spr) == 31


def test_a_history_merges_the_report_times_of_each_state() -> None:
    counts = [
        StatesOverTime("allocated", [200, 400], [1, 1]),
        StatesOverTime("idle", [100, 300], [1, 1]),
    ]
    assert history_from_counts(counts) == [
        StateChange(100, "idle"),
        StateChange(200, "allocated"),
        StateChange(300, "idle"),
        StateChange(400, "allocated"),
    ]


def _overview(backends: Backends) -> NodeOverview:
    return NodeOverview(backends.clusters.get, backends.nodes, backends.metric_data)


def test_a_node_list_can_hold_every_node_on_one_page(backends: Backends) -> None:
    now = int(time.time())
    backends.nodes.add_states("fritz", [NodeStateRow("f2102", "spr", now, SchedulerState.MIXED)])
    root = backends.users.get("root")

    everything = _overview(backends).node_list(
        "fritz", actor=root, start=now - 60, stop=now, subcluster="spr", items_per_page=0,
        metrics=[],
    )  # fmt: skip

    assert (everything.total, len(everything.items), everything.has_next_page) == (32, 32, False)
    assert [(n.host, n.state) for n in everything.items[:2]] == [("f2101", ""), ("f2102", "mixed")]


@pytest.mark.parametrize(
    ("changes", "error"),
    [({"page": 0}, InvalidInput), ({"start": 10, "stop": 5}, InvalidInput),
     ({"state": "busy"}, InvalidInput), ({"subcluster": "gpu"}, NotFound)],
)  # fmt: skip
def test_a_node_list_refuses_bad_input(
    backends: Backends, changes: dict[str, object], error: type[Exception]
) -> None:
    arguments: dict[str, object] = {"start": 0, "stop": 10, **changes}
    with pytest.raises(error):
        _overview(backends).node_list("fritz", actor=backends.users.get("root"), **arguments)  # type: ignore[arg-type]


def test_node_data_is_refused_to_plain_users(backends: Backends) -> None:
    alice = backends.users.get("alice")
    overview = _overview(backends)
    with pytest.raises(PermissionDenied):
        overview.node_list("fritz", actor=alice, start=0, stop=10)
    with pytest.raises(PermissionDenied):
        overview.reports("fritz", actor=alice)
    with pytest.raises(PermissionDenied):
        overview.state_history("fritz", "f0101", actor=alice)
