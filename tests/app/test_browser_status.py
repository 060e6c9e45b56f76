"""The status dashboard and the public dashboard in Debian's chromium, driven by Playwright
(async API), against ``cc-backend serve`` with a demo site whose scheduler reported node
states and whose nodes sent metrics (over the site's own API). Screenshots go to
``tests/artifacts/``.

Skipped with the reason when chromium or playwright is missing, unless CC_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from cc_backend.config import load_config
from cc_backend.demo.clusters import demo_clusters
from cc_backend.repository.database import open_database
from cc_backend.repository.schema import job
from cc_backend.site import site_database_url
from tests.app.browser_site import (
    Tab,
    init_demo_site,
    open_tab,
    post_api,
    require_browser,
    run_cli,
    serve_site,
)
from tests.metric_lines import node_samples, recent_start, to_payload

pytestmark = pytest.mark.slow

WAIT = 30_000
STATUS, DASHBOARD = "/monitoring/status/fritz", "/monitoring/dashboard/fritz"
#: Nodes that report states.
HOSTS = ("f0101", "f0102", "f0103", "f2101")
#: Collects the markup of the page and of every shadow root in it.
DEEP_HTML = """() => {
  const parts = [];
  const walk = (root) => {
    parts.push(root.innerHTML || "");
    root.querySelectorAll("*").forEach((e) => { if (e.shadowRoot) walk(e.shadowRoot); });
  };
  walk(document.documentElement);
  return parts.join("\\n");
}"""


@dataclass(frozen=True)
class StatusSite:
    base: str
    #: User and project names of the cluster's running jobs.
    names: frozenset[str]


#: Running jobs started over the API: user, project, hosts.
JOBS = (("b999zz17", "b999zz", ("f0101", "f0102")), ("c888yy03", "c888yy", ("f2101",)))
#: Per native series of a node: GFlop/s per hardware thread, GB/s and W per socket.
VALUES = {"flops_any": 4.0, "mem_bw": 60.0, "cpu_power": 150.0, "mem_power": 20.0}


def _value(metric: str, host: str, position: int, step: int) -> float:
    return VALUES[metric] * (1.0 + 0.05 * ((position + step) % 3))


def _feed(base: str, token: str) -> None:
    """Running jobs, two node state reports of HOSTS (a second apart) and a few minutes
    of metrics of every node."""
    now = int(time.time())
    for number, (user, project, hosts) in enumerate(JOBS, start=1):
        job = {
            "jobId": 900_000 + number, "user": user, "project": project, "cluster": "fritz",
            "subCluster": "main" if hosts[0].startswith("f01") else "spr",
            "partition": "multinode", "numNodes": len(hosts), "numHwthreads": 72 * len(hosts),
            "startTime": now - 1800, "walltime": 86_400, "jobState": "running",
            "resources": [{"hostname": h} for h in hosts],
        }  # fmt: skip
        post_api(base, "/api/jobs/start_job/", token, json.dumps(job).encode())
    reports = (["ALLOCATED", "ALLOCATED", "IDLE", "MIXED"], ["ALLOCATED", "DOWN", "IDLE", "MIXED"])
    for states in reports:
        nodes = [{"hostname": h, "states": [s]} for h, s in zip(HOSTS, states, strict=True)]
        body = json.dumps({"cluster": "fritz", "nodes": nodes}).encode()
        post_api(base, "/api/nodestate/", token, body)
        time.sleep(1.1)
    fritz = next(c for c in demo_clusters() if c.name == "fritz")
    start = recent_start(5)
    every_node = [h for sub in fritz.sub_clusters for h in sub.hosts]
    samples = [
        s for h in every_node for s in node_samples(fritz, h, list(VALUES), start, 5, value=_value)
    ]
    post_api(base, "/api/write?cluster=fritz", token, to_payload(samples))


def _running_names(site: Path) -> frozenset[str]:
    db = open_database(site_database_url(load_config(site / "config.json")), migrate=False)
    query = sa.select(job.c.hpc_user, job.c.project).where(
        job.c.cluster == "fritz", job.c.job_state == "running"
    )
    try:
        with db.engine.connect() as conn:
            return frozenset(name for row in conn.execute(query) for name in row if name)
    finally:
        db.close()


@contextlib.contextmanager
def serve_status_site(folder: Path) -> Iterator[StatusSite]:
    site, env = init_demo_site(folder, jobs=40)
    token = run_cli(site, env, "jwt", "root").strip()
    with serve_site(site, env) as base:
        _feed(base, token)
        yield StatusSite(base, _running_names(site))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StatusSite]:
    require_browser()
    with serve_status_site(tmp_path_factory.mktemp("browser-status")) as site:
        yield site


@pytest.fixture
async def tab(demo: StatusSite) -> AsyncIterator[Tab]:
    async with open_tab(demo.base, viewport={"width": 1400, "height": 1000}) as opened:
        yield opened


async def _loaded(tab: Tab) -> None:
    await tab.page.locator("table.cluster-info").get_by_text("Cluster fritz").wait_for(timeout=WAIT)
    await tab.page.get_by_text("Updated ").wait_for(timeout=WAIT)
    await tab.page.locator("canvas").nth(3).wait_for(timeout=WAIT)


async def test_the_status_page_shows_the_cluster_and_can_stop_refreshing(
    tab: Tab, demo: StatusSite
) -> None:
    await tab.log_in("root", STATUS)
    await _loaded(tab)

    assert await tab.page.title() == "fritz Dashboard - ClusterCockpit"
    info = await tab.page.locator("table.cluster-info").inner_text()
    assert "Running jobs" in info
    assert "GFlop/s" in info
    await tab.page.locator(".top-users .tabulator-row").first.wait_for(timeout=WAIT)
    html: Any = await tab.page.evaluate(DEEP_HTML)
    assert any(name in html for name in demo.names)  # the internal page names people
    assert await tab.page.locator("nav.cc-nav .username").inner_text() == "root"
    await tab.screenshot("status-fritz")

    await tab.page.locator(".auto-refresh").click()
    await tab.page.wait_for_function("() => location.search === '?refresh=off'")
    await tab.page.get_by_role("button", name="Refresh").click()
    await tab.page.get_by_text("Updated ").wait_for(timeout=WAIT)
    assert tab.errors == []
    assert tab.foreign_requests() == []


async def test_the_public_dashboard_names_nobody(tab: Tab, demo: StatusSite) -> None:
    assert {"b999zz17", "b999zz", "c888yy03", "c888yy"} <= demo.names
    await tab.log_in("root", DASHBOARD)
    await _loaded(tab)

    html: str = await tab.page.evaluate(DEEP_HTML)
    shown = sorted(name for name in demo.names if name in html)
    assert shown == []
    assert await tab.page.locator(".top-users").count() == 0
    assert "cc-nav" not in html  # no navigation header: no links, no logged-in user name
    assert 'class="username"' not in html
    assert await tab.page.locator("a[href='/logout']").count() == 0
    await tab.screenshot("dashboard-fritz")
    assert tab.errors == []
    assert tab.foreign_requests() == []


async def test_a_plain_user_gets_403(tab: Tab) -> None:
    await tab.log_in("bob", "/")
    for path in (STATUS, DASHBOARD):
        response = await tab.page.goto(tab.base + path)
        assert response is not None
        assert response.status == 403


async def test_the_header_keeps_to_one_line_beside_the_longest_title(demo: StatusSite) -> None:
    """At 1,500 px the status page's title ("fritz Dashboard - ClusterCockpit") leaves the
    header less room than any other page's; the search box gives way before a link wraps."""
    async with open_tab(demo.base, viewport={"width": 1500, "height": 900}) as wide:
        await wide.log_in("root", STATUS)
        await _loaded(wide)
        nav = wide.page.locator("nav.cc-nav")
        parts = [
            nav.get_by_role("link", name="Jobs", exact=True),
            nav.locator("input[type=search]"),
            nav.get_by_role("link", name="Logout"),
        ]
        boxes = [await part.bounding_box() for part in parts]
        assert all(box is not None for box in boxes)
        middles = [box["y"] + box["height"] / 2 for box in boxes if box is not None]
        assert max(middles) - min(middles) < 4, middles
        assert wide.errors == []
