"""The systems views and the node view in Debian's chromium, driven by Playwright (async
API), against ``cc-backend serve`` on a demo site whose scheduler adapter reported some
fritz nodes (``/api/nodestate/``), whose node agents sent samples of them
(``/api/write``) and where a job runs on f0101. Screenshots go to ``tests/artifacts/``.

Skipped with the reason when chromium or playwright is missing, unless CC_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cc_backend.demo import demo_clusters
from tests.app.browser_site import (
    Tab,
    init_demo_site,
    open_tab,
    post_api,
    require_browser,
    run_cli,
    serve_site,
)
from tests.metric_lines import TIMESTEP, node_samples, to_payload

pytestmark = pytest.mark.slow

WAIT = 30_000
SAMPLED = ("f0101", "f0102", "f0103")


@dataclass(frozen=True)
class SystemsSite:
    """The served site and the database id of the job running on f0101."""

    base: str
    running: int


@contextlib.contextmanager
def serve_systems_site(folder: Path) -> Iterator[SystemsSite]:
    """A demo site with reported nodes, node samples and a running job, served."""
    site, env = init_demo_site(folder, jobs=6)
    token = run_cli(site, env, "jwt", "robot").strip()
    fritz = next(c for c in demo_clusters() if c.name == "fritz")
    now = int(time.time()) // TIMESTEP * TIMESTEP
    with serve_site(site, env) as base:
        states = {"f0101": "ALLOCATED", "f0102": "IDLE", "f0103": "DOWN+DRAIN"}
        nodes = [{"hostname": h, "states": [s], "cpusAllocated": 72 if h == "f0101" else 0}
                 for h, s in states.items()]  # fmt: skip
        post_api(base, "/api/nodestate/", token,
              json.dumps({"cluster": "fritz", "nodes": nodes}).encode())  # fmt: skip
        start = now - 60 * TIMESTEP
        samples = [s for h in SAMPLED for s in node_samples(fritz, h, None, start, 60)]
        post_api(base, "/api/write?cluster=fritz", token, to_payload(samples))
        started = post_api(base, "/api/jobs/start_job/", token, json.dumps({
            "jobId": 900, "user": "bob", "project": "project-bob", "cluster": "fritz",
            "subCluster": "main", "partition": "singlenode", "numNodes": 1,
            "numHwthreads": 72, "startTime": now - 30 * TIMESTEP, "walltime": 7200,
            "shared": "none", "jobState": "running", "resources": [{"hostname": "f0101"}],
        }).encode())  # fmt: skip
        yield SystemsSite(base, int(started["id"]))


@pytest.fixture(scope="module")
def systems_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SystemsSite]:
    require_browser()
    with serve_systems_site(tmp_path_factory.mktemp("browser-systems")) as site:
        yield site


@pytest.fixture
async def tab(systems_site: SystemsSite) -> AsyncIterator[Tab]:
    async with open_tab(systems_site.base, viewport={"width": 1400, "height": 900}) as opened:
        yield opened


async def _canvases(tab: Tab, at_least: int) -> None:
    await tab.page.wait_for_function(
        f"document.querySelectorAll('*') && (() => {{"
        f"  const walk = (root) => [...root.querySelectorAll('*')].reduce("
        f"    (n, e) => n + (e.classList.contains('bk-Canvas') ? 1 : 0)"
        f"      + (e.shadowRoot ? walk(e.shadowRoot) : 0), 0);"
        f"  return walk(document) >= {at_least}; }})()",
        timeout=WAIT,
    )


async def test_the_overview_filters_by_state_and_links_to_nodes(tab: Tab) -> None:
    response = await tab.log_in("root", "/monitoring/systems/fritz?hostname=f010&metric=mem_used")
    assert response.status == 200
    page = tab.page
    await page.get_by_role("link", name="f0101").first.wait_for(timeout=WAIT)
    await _canvases(tab, 3)  # f0101 to f0103 have samples, the other six say "No data"
    assert await page.get_by_text("Nodes 1 to 9 of 9").count() == 1
    await tab.screenshot("systems-overview")

    await page.locator("select:has(option:text('Not in database'))").select_option(label="Down")
    await page.get_by_text("Nodes 1 to 1 of 1").wait_for(timeout=WAIT)
    assert tab.query()["state"] == ["down"]
    assert await page.get_by_role("link", name="f0102").count() == 0

    await page.get_by_role("link", name="f0103").first.click()
    await page.wait_for_url("**/monitoring/node/fritz/f0103", timeout=WAIT)
    await page.get_by_text("Scheduler state").first.wait_for(timeout=WAIT)
    assert tab.errors == []
    assert tab.foreign_requests() == []


async def test_the_node_list_and_the_node_view_show_the_running_job(
    tab: Tab, systems_site: SystemsSite
) -> None:
    await tab.log_in("root", "/monitoring/systems/list/fritz/main?hostname=f010")
    page = tab.page
    job_link = page.locator(f"a[href='/monitoring/job/{systems_site.running}']")
    await job_link.first.wait_for(timeout=WAIT)
    assert await page.get_by_text("never reported by the scheduler").count() == 6
    await _canvases(tab, 9)  # three metrics of f0101 to f0103
    await tab.screenshot("systems-node-list")

    await page.goto(f"{tab.base}/monitoring/node/fritz/f0101?range=1h")
    await page.get_by_text("1 job in the window").wait_for(timeout=WAIT)
    await _canvases(tab, 4)
    assert await job_link.count() >= 1
    assert await page.get_by_text("allocated").count() >= 1
    await tab.screenshot("node-view")
    await page.get_by_text("1 job in the window").scroll_into_view_if_needed()
    await tab.screenshot("node-view-jobs")
    assert tab.errors == []
    assert tab.foreign_requests() == []
