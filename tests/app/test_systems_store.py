"""The systems views' data as objects: the URL query of a view, and the store of the node
overview and the node list against a real site (in-process client) whose scheduler
reported some nodes and whose metric store holds samples of them."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest

from app.stores.systems import (
    DEFAULT_RANGE,
    LIST_KEY,
    OVERVIEW_KEY,
    SystemsQuery,
    SystemsStore,
    TimeWindow,
    parse_systems_query,
    parse_window,
)
from cc_backend.client import LocalClient
from cc_backend.domain.cluster import MetricScope
from cc_backend.domain.job import Job
from cc_backend.repository.nodes import HealthState, NodeStateRow, SchedulerState
from cc_backend.server import Backends
from tests.metric_lines import node_samples, recent_start, to_payload

STEPS = 10
#: Hosts with samples of these metrics.
SAMPLED = ("f0101", "f0102")
METRICS = ["cpu_load", "mem_used"]


def seed_nodes(backends: Backends) -> int:
    """f0101 allocated (idle before), f0102 idle, f0103 down (the rest of fritz never
    reported); samples of :data:`METRICS` for :data:`SAMPLED`. Returns the samples' start."""
    now = int(time.time())
    backends.nodes.add_states(
        "fritz", [NodeStateRow("f0101", "main", now - 900, SchedulerState.IDLE)]
    )
    backends.nodes.add_states("fritz", [
        NodeStateRow("f0101", "main", now - 120, SchedulerState.ALLOCATED, HealthState.FULL,
                     cpus_allocated=72, memory_allocated=8192, jobs_running=1),
        NodeStateRow("f0102", "main", now - 120, SchedulerState.IDLE),
        NodeStateRow("f0103", "main", now - 120, SchedulerState.DOWN, HealthState.FAILED),
    ])  # fmt: skip
    start = recent_start(STEPS)
    fritz = backends.clusters.get("fritz")
    samples = [s for h in SAMPLED for s in node_samples(fritz, h, METRICS, start, STEPS)]
    assert backends.metric_store is not None
    assert backends.metric_store.ingest(to_payload(samples)).rejected == 0
    return start


@pytest.fixture
def seeded(backends: Backends) -> int:
    return seed_nodes(backends)


def _store(backends: Backends, username: str = "root", **params: object) -> SystemsStore:
    client = LocalClient(backends, backends.users.get(username))
    return SystemsStore(client, cluster_name="fritz", **params)


# -- the URL query ------------------------------------------------------------------------


def test_a_view_without_query_shows_all_nodes_of_the_last_hours() -> None:
    query, problems = parse_systems_query({})
    assert query == SystemsQuery()
    assert query.window == TimeWindow(DEFAULT_RANGE)
    assert query.to_pairs() == []
    assert problems == []


def test_a_query_round_trips_through_the_url() -> None:
    query = SystemsQuery(TimeWindow("1h"), "f01", "notindb", "spr", ("mem_used", "clock"), 3)
    pairs = query.to_pairs()
    parsed, problems = parse_systems_query({k: [v for n, v in pairs if n == k] for k, _ in pairs})
    assert parsed == query
    assert problems == []


@pytest.mark.parametrize(
    ("args", "window"),
    [
        ({"from": ["1700000000"], "to": ["1700003600"]}, TimeWindow("", 1700000000, 1700003600)),
        ({"from": ["2023-11-14T22:13:20Z"], "to": ["1700000600"]},
         TimeWindow("", 1700000000, 1700000600)),
        ({"from": ["1700003600"], "to": ["1700000000"]}, TimeWindow("", 1700000000, 1700003600)),
        ({"range": ["12h"]}, TimeWindow("12h")),
    ],
)  # fmt: skip
def test_the_window_comes_from_cc_backends_from_and_to_or_a_range(
    args: dict[str, list[str]], window: TimeWindow
) -> None:
    problems: list[str] = []
    assert parse_window(args, problems) == window
    assert problems == []


def test_what_cannot_be_read_is_reported_and_left_out() -> None:
    query, problems = parse_systems_query(
        {"from": ["yesterday"], "to": ["1"], "state": ["busy"], "page": ["-2"], "range": ["2w"]}
    )
    assert query == SystemsQuery()
    assert len(problems) == 4
    assert any("busy" in p for p in problems)


def test_a_subcluster_of_the_path_is_the_default_of_the_query() -> None:
    assert parse_systems_query({}, "spr")[0].subcluster == "spr"
    assert parse_systems_query({"subCluster": ["main"]}, "spr")[0].subcluster == "main"


def test_a_named_window_ends_now() -> None:
    start, stop = TimeWindow("30m").bounds(now=10_000)
    assert (start, stop) == (10_000 - 1800, 10_000)


# -- the overview -------------------------------------------------------------------------


async def test_the_overview_loads_a_page_of_nodes_with_the_chosen_metric(
    backends: Backends, seeded: int
) -> None:
    store = _store(backends, query=SystemsQuery(host_filter="f010", metrics=("mem_used",)))

    await store.load()

    assert store.error == ""
    assert [n.host for n in store.nodes] == [f"f010{i}" for i in range(1, 10)]
    assert [n.state for n in store.nodes[:4]] == ["allocated", "idle", "down", ""]
    assert (store.total, store.has_next_page) == (9, False)
    f0101 = store.nodes[0].data["mem_used"][MetricScope.NODE].series[0].data
    assert list(f0101[~np.isnan(f0101)]) == [float(step) for step in range(STEPS)]
    assert store.window[1] - store.window[0] == 4 * 3600
    assert store.reports == {}  # the overview does not ask for them


async def test_the_overview_shows_the_saved_metric_else_the_first(
    backends: Backends, seeded: int
) -> None:
    backends.user_config.set("root", f"{OVERVIEW_KEY}:fritz", "mem_used")
    saved = _store(backends)
    first = _store(backends, "root")
    await saved.load()
    first.settings = {}
    first.cluster = saved.cluster

    assert saved.shown_metrics() == ["mem_used"]
    assert first.shown_metrics() == [saved.metric_names[0]]


async def test_filters_reload_from_the_first_page(backends: Backends, seeded: int) -> None:
    store = _store(backends, query=SystemsQuery(page=2))
    await store.load()
    assert store.query.page == 2
    assert len(store.nodes) == 48

    await store.update(state="notindb", host_filter="f010")

    assert store.query.page == 1
    assert [n.host for n in store.nodes] == [f"f010{i}" for i in range(4, 10)]
    await store.update(state="down")
    assert [n.host for n in store.nodes] == ["f0103"]


async def test_pages_follow_each_other(backends: Backends, seeded: int) -> None:
    store = _store(backends, query=SystemsQuery(subcluster="spr"))
    await store.load()
    assert (store.total, store.has_next_page, store.nodes[0].host) == (32, False, "f2101")

    await store.update(subcluster="")
    await store.go_to_page(2)

    assert store.query.page == 2
    assert store.nodes[0].host == "f0149"  # 48 per page
    assert store.total == 224


async def test_the_metric_choice_is_kept_as_the_users_setting(
    backends: Backends, seeded: int
) -> None:
    store = _store(backends)
    await store.load()

    await store.choose_metrics(["mem_used", "cpu_load"])

    assert store.query.metrics == ("mem_used",)
    assert backends.user_config.get_all("root")[f"{OVERVIEW_KEY}:fritz"] == "mem_used"


async def test_refresh_asks_the_site_again(backends: Backends, seeded: int) -> None:
    store = _store(backends, query=SystemsQuery(state="down"))
    await store.load()
    assert [n.host for n in store.nodes] == ["f0103"]
    now = int(time.time())
    backends.nodes.add_states("fritz", [NodeStateRow("f0104", "main", now, SchedulerState.DOWN)])

    await store.refresh()

    assert [n.host for n in store.nodes] == ["f0103", "f0104"]


async def test_an_unknown_cluster_is_missing(backends: Backends) -> None:
    store = SystemsStore(LocalClient(backends, backends.users.get("root")), cluster_name="nope")
    await store.load()
    assert store.missing
    assert store.nodes == []


async def test_an_unknown_subcluster_is_reported_and_dropped(
    backends: Backends, seeded: int
) -> None:
    store = _store(backends, query=SystemsQuery(subcluster="gpu", host_filter="f0101"))
    await store.load()
    assert "gpu" in store.error
    assert store.query.subcluster == ""


async def test_a_user_without_staff_roles_gets_an_error_not_nodes(
    backends: Backends, seeded: int
) -> None:
    store = _store(backends, "alice")
    await store.load()
    assert "support and admins" in store.error
    assert store.nodes == []


# -- the node list ------------------------------------------------------------------------


async def test_the_node_list_brings_reports_and_running_jobs(
    backends: Backends, seeded: int, make_job: Callable[..., Job]
) -> None:
    running = backends.jobs.add(make_job(resources=[{"hostname": "f0101"}]))
    elsewhere = backends.jobs.add(make_job(resources=[{"hostname": "f0199"}]))
    store = _store(backends, list_view=True, query=SystemsQuery(host_filter="f010"))

    await store.load()

    assert len(store.nodes) == 9  # ten a page
    assert store.shown_metrics() == store.metric_names[:3]
    assert set(store.reports) == {"f0101", "f0102", "f0103"}
    assert store.reports["f0101"].cpus_allocated == 72
    assert [j.id for j in store.running["f0101"]] == [running]
    assert store.running["f0102"] == []
    assert elsewhere not in [j.id for jobs in store.running.values() for j in jobs]


async def test_the_node_list_keeps_its_own_metric_choice(backends: Backends, seeded: int) -> None:
    store = _store(backends, list_view=True, query=SystemsQuery(host_filter="f0101"))
    await store.load()

    await store.choose_metrics(["mem_used", "cpu_load", "no_such_metric"])

    assert store.shown_metrics() == ["mem_used", "cpu_load"]
    assert backends.user_config.get_all("root")[f"{LIST_KEY}:fritz"] == ["mem_used", "cpu_load"]
    assert set(store.nodes[0].data.metrics()) == {"mem_used", "cpu_load"}
