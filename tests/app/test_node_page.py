"""The node view as objects: its store against a real site (series, state history, report
and jobs of one node), its views (state band, metric grid with job spans, job table) and
the page (404 content for unknown nodes, the window in the URL)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from bokeh.models import Plot

from app.context import PageContext
from app.pages import PAGES
from app.pages.node import NodePage, window_search
from app.routing import find_page
from app.site import build_content
from app.stores.node import DEFAULT_NODE_RANGE, NodeStore
from app.stores.systems import TimeWindow
from app.views.node_jobs import JOB_COLUMNS, NodeJobsTable, job_rows, summary_html
from app.views.node_metrics import NodeMetricGrid, job_spans
from app.views.node_states import StateHistory, StateSegment, state_segments
from cc_backend.client import LocalClient
from cc_backend.domain.cluster import MetricScope
from cc_backend.domain.job import Job
from cc_backend.server import Backends
from cc_backend.services.node_overview import StateChange
from tests.app.test_systems_store import METRICS, seed_nodes


@pytest.fixture
def seeded(backends: Backends, make_job: Callable[..., Job]) -> dict[str, int]:
    """The nodes of :func:`seed_nodes`, a job running on f0101 for 20 minutes, one that
    ran there earlier in the hour and one that ended two days ago."""
    seed_nodes(backends)
    now = int(time.time())
    on_f0101 = [{"hostname": "f0101"}]
    finished = {"jobState": "completed", "resources": on_f0101}
    return {
        "running": backends.jobs.add(make_job(startTime=now - 1200, resources=on_f0101)),
        "earlier": backends.jobs.add(make_job(startTime=now - 3000, duration=900, **finished)),
        "old": backends.jobs.add(make_job(startTime=now - 2 * 86400, duration=600, **finished)),
    }


def _store(
    backends: Backends, host: str = "f0101", cluster: str = "fritz", **params: Any
) -> NodeStore:
    client = LocalClient(backends, backends.users.get("root"))
    return NodeStore(client, cluster_name=cluster, host=host, **params)


async def until(condition: Callable[[], bool], attempts: int = 500) -> None:
    for _ in range(attempts):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


# -- the store ----------------------------------------------------------------------------


async def test_the_store_loads_series_history_report_and_jobs_of_the_node(
    backends: Backends, seeded: dict[str, int]
) -> None:
    store = _store(backends, window_choice=TimeWindow("1h"))

    await store.load()

    assert (store.missing, store.error) == (False, "")
    assert store.subcluster is not None
    assert store.subcluster.name == "main"
    assert set(store.data.metrics()) == set(METRICS)
    values = store.data["cpu_load"][MetricScope.NODE].series[0].data
    assert list(values[~np.isnan(values)]) == [float(i) for i in range(10)]
    assert [c.state for c in store.history] == ["idle", "allocated"]
    assert store.report is not None
    assert store.report.cpus_allocated == 72
    assert [j.id for j in store.jobs] == [seeded["earlier"], seeded["running"]]
    assert store.window[1] - store.window[0] == 3600


async def test_a_wider_window_finds_older_jobs(backends: Backends, seeded: dict[str, int]) -> None:
    store = _store(backends)
    await store.load()
    assert [j.id for j in store.jobs] == [seeded["running"]]  # the last 30 minutes

    await store.set_window(TimeWindow("24h"))
    assert [j.id for j in store.jobs] == [seeded["earlier"], seeded["running"]]

    now = int(time.time())
    await store.set_window(TimeWindow.fixed(now - 3 * 86400, now - 86400))
    assert [j.id for j in store.jobs] == [seeded["old"]]


@pytest.mark.parametrize(("cluster", "host"), [("fritz", "x9999"), ("atlantis", "f0101")])
async def test_an_unknown_cluster_or_host_is_missing(
    backends: Backends, cluster: str, host: str
) -> None:
    store = _store(backends, host, cluster)
    await store.load()
    assert store.missing
    assert store.revision == 0


async def test_a_node_never_reported_still_shows_its_metrics(
    backends: Backends, seeded: dict[str, int]
) -> None:
    store = _store(backends, "f0102")
    await store.load()
    assert store.report is not None
    never = _store(backends, "f0109")
    await never.load()
    assert (never.missing, never.report, never.history) == (False, None, [])


# -- the views ----------------------------------------------------------------------------


def test_state_segments_hold_each_state_until_the_next_report() -> None:
    history = [StateChange(50, "idle"), StateChange(150, "idle"), StateChange(200, "allocated"),
               StateChange(400, "down")]  # fmt: skip
    assert state_segments(history, 100, 300) == [
        StateSegment(100, 200, "idle"),
        StateSegment(200, 300, "allocated"),
    ]
    assert state_segments(history, 0, 60) == [StateSegment(50, 60, "idle")]
    assert state_segments([], 0, 100) == []


def test_job_spans_and_rows_name_the_jobs(make_job: Callable[..., Job]) -> None:
    running = make_job(id=5, jobId=55, startTime=1000)
    done = make_job(id=6, jobId=66, startTime=100, duration=400, jobState="completed")

    spans = job_spans([done, running], now=2000)
    rows = job_rows([done, running], now=2000)

    assert [(s.db_id, s.label, s.start, s.stop) for s in spans] == [
        (6, "66 (alice)", 100, 500),
        (5, "55 (alice)", 1000, 2000),
    ]
    assert list(rows[0]) == JOB_COLUMNS
    assert rows[0]["Job"] == '<a href="/monitoring/job/6">66</a>'
    assert (rows[1]["State"], rows[1]["Duration"]) == ("running", "00:16:40")


async def test_the_views_draw_the_loaded_node(backends: Backends, seeded: dict[str, int]) -> None:
    store = _store(backends, window_choice=TimeWindow("1h"))
    states, grid, table = StateHistory(store), NodeMetricGrid(store), NodeJobsTable(store)

    await store.load()

    assert [s.state for s in states.segments] == ["idle", "allocated"]
    assert "allocated" in states.legend.object
    assert list(grid.cells) == sorted(store.metric_configs)
    mem_used = grid.cells["mem_used"].children[1]
    assert isinstance(mem_used, Plot)
    jobs = next(r for r in mem_used.renderers if r.name == "jobs").data_source.data
    assert len(jobs["label"]) == 2
    assert "No data" in grid.cells["clock"].children[1].text
    assert len(table.table.value) == 2
    assert table.count.object == "2 jobs in the window"
    assert "state <b>allocated</b>" in summary_html(store)


# -- the page -----------------------------------------------------------------------------


def _open(backends: Backends, username: str, path: str, **query: str) -> Any:
    found = find_page(PAGES, path)
    assert found is not None
    user = backends.users.get(username)
    args = {key: [value] for key, value in query.items()}
    context = PageContext(user, LocalClient(backends, user), path, found[1], args)
    return build_content(found[0], context)


async def test_an_unknown_host_gets_the_404_content(backends: Backends) -> None:
    page = _open(backends, "root", "/monitoring/node/fritz/nowhere")
    assert isinstance(page, NodePage)
    await page.store.load()
    content = page.__panel__().objects
    assert [o.name for o in content] == ["not-found"]
    assert "nowhere" in content[0].objects[1].object


def test_the_window_comes_from_the_url_and_goes_back_to_it(backends: Backends) -> None:
    page = _open(backends, "root", "/monitoring/node/fritz/f0101", range="12h")
    assert page.store.window_choice == TimeWindow("12h")
    assert window_search(page.store.window_choice) == "?range=12h"
    assert window_search(TimeWindow(DEFAULT_NODE_RANGE)) == ""
    assert window_search(TimeWindow.fixed(10, 20)) == "?from=10&to=20"
    fixed = _open(backends, "root", "/monitoring/node/fritz/f0101", **{"from": "100", "to": "50"})
    assert fixed.store.window_choice == TimeWindow("", 50, 100)


async def test_choosing_a_window_reloads(backends: Backends, seeded: dict[str, int]) -> None:
    page = _open(backends, "root", "/monitoring/node/fritz/f0101")
    await page.store.load()
    page.time.choice.value = "24h"
    await until(lambda: len(page.store.jobs) == 2 and not page.store.loading)
    assert page.store.window_choice == TimeWindow("24h")
