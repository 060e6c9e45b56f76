"""What the systems and node views ask of a site, answered alike in process and over the
served API: pages of a node list by state, the nodes' latest reports, a node's history
of scheduler states and the jobs that ran on a node in a time window."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest

from cc_backend.domain.cluster import MetricScope
from cc_backend.domain.errors import InvalidInput, NotFound, PermissionDenied
from cc_backend.domain.job import Job
from cc_backend.repository.nodes import HealthState, NodeStateRow, SchedulerState
from cc_backend.server import Backends
from cc_backend.services.node_overview import NodeReport, StateChange
from tests.client.conftest import ClientFor
from tests.metric_lines import node_samples, recent_start, to_payload

STEPS = 10
#: When the scheduler's reports of the nodes were made (a little before the tests run).
NOW = int(time.time())
#: The configured fritz hosts whose names contain "f010": f0101 to f0109.
F010 = [f"f010{i}" for i in range(1, 10)]


@pytest.fixture
def reported(backends: Backends) -> int:
    """f0101 allocated (idle before), f0102 idle, f0103 down; the other hosts were never
    reported. f0101 and f0102 have ``STEPS`` samples of mem_used; the samples' start."""
    now = NOW
    rows = [
        NodeStateRow("f0101", "main", now - 600, SchedulerState.IDLE),
        NodeStateRow("f0102", "main", now - 600, SchedulerState.IDLE),
    ]
    backends.nodes.add_states("fritz", rows)
    latest = [
        NodeStateRow("f0101", "main", now - 60, SchedulerState.ALLOCATED, HealthState.FULL,
                     cpus_allocated=72, memory_allocated=4096, jobs_running=1),
        NodeStateRow("f0102", "main", now - 60, SchedulerState.IDLE),
        NodeStateRow("f0103", "main", now - 60, SchedulerState.DOWN, HealthState.FAILED),
    ]  # fmt: skip
    backends.nodes.add_states("fritz", latest)
    start = recent_start(STEPS)
    fritz = backends.clusters.get("fritz")
    samples = [
        s
        for host in ("f0101", "f0102")
        for s in node_samples(fritz, host, ["mem_used"], start, STEPS)
    ]
    assert backends.metric_store is not None
    assert backends.metric_store.ingest(to_payload(samples)).rejected == 0
    return start


async def test_a_node_list_pages_the_configured_hosts_with_their_states(
    client_for: ClientFor, reported: int
) -> None:
    client = client_for("root")
    now = int(time.time())

    first = await client.node_list(
        "fritz", start=reported, stop=now, host_filter="f010", metrics=["mem_used"],
        items_per_page=4,
    )  # fmt: skip
    last = await client.node_list(
        "fritz", start=reported, stop=now, host_filter="f010", metrics=["mem_used"],
        items_per_page=4, page=3,
    )  # fmt: skip

    assert [(n.host, n.state, n.subcluster) for n in first.items] == [
        ("f0101", "allocated", "main"),
        ("f0102", "idle", "main"),
        ("f0103", "down", "main"),
        ("f0104", "", "main"),
    ]
    assert (first.total, first.has_next_page) == (9, True)
    assert ([n.host for n in last.items], last.has_next_page) == (["f0109"], False)
    series = first.items[0].data["mem_used"][MetricScope.NODE].series
    assert [s.hostname for s in series] == ["f0101"]
    assert np.nanmax(series[0].data) == STEPS - 1  # the ramp's last value
    assert "mem_used" not in first.items[3].data


async def test_a_state_filter_keeps_the_nodes_whose_latest_report_is_in_it(
    client_for: ClientFor, reported: int
) -> None:
    client = client_for("root")
    now = int(time.time())

    idle = await client.node_list("fritz", start=reported, stop=now, state="idle", metrics=[])
    allocated = await client.node_list("fritz", start=reported, stop=now, state="ALLOCATED")

    assert [n.host for n in idle.items] == ["f0102"]
    assert [(n.host, n.state) for n in allocated.items] == [("f0101", "allocated")]
    assert allocated.total == 1


async def test_notindb_lists_the_configured_nodes_the_scheduler_never_reported(
    client_for: ClientFor, reported: int
) -> None:
    found = await client_for("root").node_list(
        "fritz", start=reported, stop=int(time.time()), state="notindb", host_filter="f010",
        items_per_page=50,
    )  # fmt: skip
    assert [n.host for n in found.items] == F010[3:]
    assert {n.state for n in found.items} == {""}


async def test_an_unknown_state_filter_is_refused(client_for: ClientFor, reported: int) -> None:
    with pytest.raises(InvalidInput, match="unknown node state filter"):
        await client_for("root").node_list("fritz", start=reported, stop=reported, state="busy")


async def test_a_node_list_of_an_unknown_cluster_is_not_found(
    client_for: ClientFor, reported: int
) -> None:
    with pytest.raises(NotFound):
        await client_for("root").node_list("nowhere", start=reported, stop=reported)


async def test_a_node_list_of_an_unknown_subcluster_is_not_found(
    client_for: ClientFor, reported: int
) -> None:
    with pytest.raises(NotFound):
        await client_for("root").node_list("fritz", start=reported, stop=reported, subcluster="gpu")


async def test_node_data_is_for_support_and_admins(client_for: ClientFor, reported: int) -> None:
    alice = client_for("alice")
    with pytest.raises(PermissionDenied):
        await alice.node_list("fritz", start=reported, stop=reported)
    with pytest.raises(PermissionDenied):
        await alice.node_reports("fritz")
    with pytest.raises(PermissionDenied):
        await alice.node_state_history("fritz", "f0101")


async def test_reports_are_the_latest_of_the_nodes_asked_for(
    client_for: ClientFor, reported: int
) -> None:
    client = client_for("root")

    some = await client.node_reports("fritz", ["f0101", "f0103", "f0104"])
    everything = await client.node_reports("fritz")

    assert some == [
        NodeReport("f0101", "fritz", "main", SchedulerState.ALLOCATED, HealthState.FULL,
                   cpus_allocated=72, memory_allocated=4096, jobs_running=1),
        NodeReport("f0103", "fritz", "main", SchedulerState.DOWN, HealthState.FAILED),
    ]  # fmt: skip
    assert [r.hostname for r in everything] == ["f0101", "f0102", "f0103"]
    assert await client.node_reports("fritz", []) == []


async def test_a_state_history_lists_every_report_of_the_node_oldest_first(
    client_for: ClientFor, reported: int
) -> None:
    client = client_for("root")
    now = NOW

    history = await client.node_state_history("fritz", "f0101")
    recent = await client.node_state_history("fritz", "f0101", since=now - 300)

    assert history == [StateChange(now - 600, "idle"), StateChange(now - 60, "allocated")]
    assert recent == [StateChange(now - 60, "allocated")]
    assert await client.node_state_history("fritz", "f0109") == []


@pytest.fixture
def node_jobs(backends: Backends, make_job: Callable[..., Job]) -> dict[str, int]:
    """Jobs of f0150 around the window 10:00..12:00 after ``BASE``, by what they are."""
    base = 1_700_000_000
    f0150 = [{"hostname": "f0150"}]

    def add(start: int, duration: int, state: str = "completed", **fields: object) -> int:
        job = make_job(startTime=base + start, duration=duration, jobState=state,
                       resources=fields.pop("resources", f0150), **fields)  # fmt: skip
        return backends.jobs.add(job)

    hour = 3600
    return {
        "before": add(7 * hour, 2 * hour),  # ended at 9:00
        "long": add(0, 11 * hour),  # ran 0:00..11:00
        "inside": add(10 * hour + 600, 1800),
        "at-end": add(12 * hour, 600),  # started the moment the window ends
        "after": add(12 * hour + 60, 600),
        "running": add(8 * hour, 0, state="running"),
        "elsewhere": add(10 * hour, hour, resources=[{"hostname": "f0151"}]),
        "bobs": add(10 * hour, hour, user="bob"),
    }


async def test_node_jobs_are_those_that_ran_in_the_window(
    client_for: ClientFor, node_jobs: dict[str, int]
) -> None:
    base = 1_700_000_000
    window = (base + 10 * 3600, base + 12 * 3600)

    as_root = await client_for("root").node_jobs("fritz", "f0150", *window)
    as_alice = await client_for("alice").node_jobs("fritz", "f0150", *window)

    by_id = {v: k for k, v in node_jobs.items()}
    assert [by_id[j.id or 0] for j in as_root] == ["long", "running", "bobs", "inside", "at-end"]
    assert [by_id[j.id or 0] for j in as_alice] == ["long", "running", "inside", "at-end"]


async def test_node_jobs_refuse_a_window_that_ends_before_it_starts(client_for: ClientFor) -> None:
    with pytest.raises(InvalidInput):
        await client_for("root").node_jobs("fritz", "f0150", 2000, 1000)
