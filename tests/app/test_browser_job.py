"""The job view in Debian's chromium, driven by Playwright (async API), against
``cc-backend serve`` on a site with a 64-node archived job (a day of data), a running job
whose metrics are pushed over the API as node agents send them, and another user's job.
A screenshot of each page is saved under ``tests/artifacts/``.

Skipped with the reason when chromium or playwright is missing, unless CC_REQUIRE_BROWSER=1.
The time from opening the archived job until its plots are drawn is printed (no limit is
asserted: timings belong to benchmarks).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cc_backend.archive import open_archive
from cc_backend.config import load_config
from cc_backend.demo import demo_clusters
from cc_backend.demo.large_job import node_scope_job
from tests.app.browser_site import (
    Tab,
    add_accounts,
    open_tab,
    post_api,
    require_browser,
    run_cli,
    serve_site,
    site_env,
)
from tests.app.test_job_store import sample
from tests.metric_lines import TIMESTEP, job_samples, to_payload

pytestmark = pytest.mark.slow

#: The site's resampling policy (cc-backend's example): 4-minute points first.
RESAMPLING = {"minimumPoints": 600, "trigger": 180, "resolutions": [240, 60]}
EMISSION = 317
DAY = 86_400


@dataclass(frozen=True)
class JobSite:
    """The served site and the database ids of its jobs."""

    base: str
    large: int
    running: int
    foreign: int


def _db_id(site: Path, env: dict[str, str], job_id: int) -> int:
    script = (
        "from cc_backend.config import load_config, load_secrets;"
        "from cc_backend.server import build_backends;"
        "b = build_backends(load_config('config.json'), load_secrets('config.json'));"
        f"print(b.jobs.find({job_id}, 'fritz', None, actor=None)[0].id); b.close()"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=site, env=env, capture_output=True,
                          text=True, check=True)  # fmt: skip
    return int(done.stdout.strip())


@contextlib.contextmanager
def serve_job_site(folder: Path) -> Iterator[JobSite]:
    """A site with the jobs of :class:`JobSite`, served by ``cc-backend serve``."""
    env = site_env()
    site = folder / "site"
    run_cli(folder, env, "init", str(site))
    config_path = site / "config.json"
    config = json.loads(config_path.read_text())
    config["main"].update({"resampling": RESAMPLING, "emission-constant": EMISSION})
    config_path.write_text(json.dumps(config))
    fritz = next(c for c in demo_clusters() if c.name == "fritz")
    archive = open_archive(load_config(config_path).archive)
    for cluster in demo_clusters():
        archive.store_cluster(cluster)
    now = int(time.time()) // TIMESTEP * TIMESTEP
    large_hosts = [f"f01{n:02d}" for n in range(1, 65)]
    for job_id, user, hosts in ((640, "bob", large_hosts), (641, "carol", ["f0301"])):
        job, data = node_scope_job(fritz, job_id=job_id, user=user, hosts=hosts,
                                 start=now - 2 * DAY, duration=DAY, timestep=TIMESTEP)  # fmt: skip
        archive.import_job(job, data)
    archive.close()
    run_cli(site, env, "init-db")
    add_accounts(site, env)
    token = run_cli(site, env, "jwt", "robot").strip()
    with serve_site(site, env) as base:
        running_hosts, start = ["f0201", "f0202"], now - 40 * TIMESTEP
        started = post_api(base, "/api/jobs/start_job/", token, json.dumps({
            "jobId": 700, "user": "bob", "project": "project-bob", "cluster": "fritz",
            "subCluster": "main", "partition": "multinode", "numNodes": 2, "numHwthreads": 144,
            "startTime": start, "walltime": 7200, "shared": "none", "jobState": "running",
            "resources": [{"hostname": h} for h in running_hosts],
            "metaData": {"jobName": "live", "jobScript": "#!/bin/bash\nsrun ./live"},
        }).encode())  # fmt: skip
        samples = job_samples(fritz, running_hosts, None, start, 40, value=sample)
        post_api(base, "/api/write?cluster=fritz", token, to_payload(samples))
        yield JobSite(base, _db_id(site, env, 640), int(started["id"]), _db_id(site, env, 641))


@pytest.fixture(scope="module")
def job_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobSite]:
    require_browser()
    with serve_job_site(tmp_path_factory.mktemp("browser-job")) as site:
        yield site


@pytest.fixture
async def tab(job_site: JobSite) -> AsyncIterator[Tab]:
    async with open_tab(job_site.base, viewport={"width": 1400, "height": 900}) as opened:
        yield opened


_PLOT_STATE = """
() => {
  const doc = window.Bokeh && window.Bokeh.documents[0];
  if (!doc) return null;
  const out = {};
  for (const model of doc.all_models) {
    const name = model.name || "";
    if (name.startsWith("metric-") && model.renderers) {
      const data = model.renderers[model.renderers.length - 1].data_source.data;
      const first = data.xs ? data.xs[0] : data.x;
      out[name.slice(7)] = {series: data.xs ? data.xs.length : 0, points: first.length};
    }
  }
  return out;
}
"""
#: The metrics of fritz's main subcluster, each one plot.
METRICS = 15
FIRST_PLOTS = 3  # the first row, drawn with the page


_TIME_AXIS = """
(name) => {
  for (const model of window.Bokeh.documents[0].all_models) {
    if (model.name === "metric-" + name) return [model.x_range.start, model.x_range.end];
  }
  return null;
}
"""
_CSS_CACHE = """
() => window.Bokeh.require("core/visuals/visual").VisualProperties.prototype._cc_cached === true
"""


async def _time_axis(tab: Tab, metric: str) -> list[float]:
    """The start and end (seconds) of ``metric``'s time axis as the browser shows it."""
    shown: list[float] = await tab.page.evaluate(_TIME_AXIS, metric)
    return shown


async def _plot_state(tab: Tab) -> dict[str, dict[str, int]]:
    """Per metric plot drawn: how many series (0: a band) and points it shows."""
    state: dict[str, dict[str, int]] | None = await tab.page.evaluate(_PLOT_STATE)
    return state or {}


async def _wait_for_plots(tab: Tab, condition: str) -> None:
    """Wait until ``condition`` (JavaScript over ``s``, the plot state) holds."""
    await tab.page.wait_for_function(
        f"(() => {{ const s = ({_PLOT_STATE})(); return !!s && ({condition}); }})()",
        timeout=30_000,
    )


async def _open_job(tab: Tab, db_id: int, plots: int = FIRST_PLOTS) -> float:
    """Open job ``db_id``; seconds until ``plots`` plots have drawn their canvases."""
    began = time.perf_counter()
    await tab.page.goto(f"{tab.base}/monitoring/job/{db_id}")
    await _canvases(tab, plots, began)
    return time.perf_counter() - began


async def _canvases(tab: Tab, plots: int, began: float) -> int:
    """Wait until at least ``plots`` plots have drawn their canvases; how many have."""
    canvases = tab.page.locator(".cc-metric-plot .bk-Canvas")
    while (drawn := await canvases.count()) < plots:
        assert time.perf_counter() - began < 60, "the plots were not drawn"
        await tab.page.wait_for_timeout(20)
    return drawn


async def _scroll_through(tab: Tab) -> None:
    """Scroll down the metric grid until all its plots are drawn."""
    began = time.perf_counter()
    drawn = await _canvases(tab, 1, began)
    while drawn < METRICS:
        await tab.page.locator(".cc-metric-plot").last.scroll_into_view_if_needed()
        drawn = await _canvases(tab, drawn + 1, began)


async def _login(tab: Tab, username: str) -> None:
    response = await tab.log_in(username)
    assert response.status == 200


async def _drag(tab: Tab, plot: Any, start: float, end: float) -> None:
    """Drag across ``plot``'s canvas from ``start`` to ``end`` (fractions of its width)."""
    canvas = plot.locator(".bk-Canvas")
    await canvas.scroll_into_view_if_needed()
    box = await canvas.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    await tab.page.mouse.move(box["x"] + box["width"] * start, y)
    await tab.page.mouse.down()
    await tab.page.mouse.move(box["x"] + box["width"] * (start + end) / 2, y, steps=5)
    await tab.page.mouse.move(box["x"] + box["width"] * end, y, steps=5)
    await tab.page.mouse.up()


async def test_an_archived_64_node_job_renders_and_zooms(tab: Tab, job_site: JobSite) -> None:
    await _login(tab, "bob")
    cold = await _open_job(tab, job_site.large)
    warm = await _open_job(tab, job_site.large)
    print(f"\n64-node archived job, first row of plots drawn: {cold:.2f} s, again {warm:.2f} s")
    assert len(await _plot_state(tab)) < METRICS  # the others follow while the page is idle

    await _canvases(tab, METRICS, time.perf_counter())  # without scrolling
    state = await _plot_state(tab)
    assert len(state) == METRICS
    assert await tab.page.evaluate(_CSS_CACHE)  # BokehJS reads its CSS variables once a task
    assert state["cpu_load"]["series"] == 0  # a min/median/max band of the 64 nodes
    assert 300 < state["cpu_load"]["points"] < DAY // TIMESTEP  # at the first resolution
    await tab.page.get_by_text(f"CO2 at {EMISSION} g/kWh").wait_for()
    await tab.page.locator(".statistics-table").get_by_text("f0101").first.wait_for()
    await tab.screenshot("job-archived-64-nodes")

    whole = await _time_axis(tab, "cpu_load")
    assert whole[0] == 0
    # Two hours out of 24: few enough points visible to load the finer resolution.
    await _drag(tab, tab.page.locator(".cc-metric-plot").filter(has_text="cpu_load"), 0.3, 0.38)
    await _wait_for_plots(tab, f"s.cpu_load.points > {DAY // 240 + 1}")
    assert (await _plot_state(tab))["mem_bw"] == state["mem_bw"]  # the others stay
    start, end = await _time_axis(tab, "cpu_load")
    assert 0 < start < end < whole[1]
    await tab.screenshot("job-archived-zoomed")
    canvas = tab.page.locator(".cc-metric-plot").filter(has_text="cpu_load").locator(".bk-Canvas")
    await canvas.dblclick()  # the whole job again
    await tab.page.wait_for_function(f"({_TIME_AXIS})('cpu_load')[0] === 0")
    assert await _time_axis(tab, "cpu_load") == whole
    assert tab.errors == []
    assert tab.foreign_requests() == []


async def test_a_running_job_shows_live_data_at_another_scope(tab: Tab, job_site: JobSite) -> None:
    await _login(tab, "bob")
    await _open_job(tab, job_site.running)
    await _scroll_through(tab)
    assert (await _plot_state(tab))["flops_any"]["series"] == 2

    plot = tab.page.locator(".cc-metric-plot").filter(has_text="flops_any")
    await plot.locator("select").select_option("core")
    # 72 cores on each node: too many lines, a band of them instead.
    await tab.page.get_by_text("flops_any [GF/s]: min, median and max of 144 series").wait_for()
    assert (await _plot_state(tab))["flops_any"]["series"] == 0
    await tab.page.get_by_role("button", name="Reload data").wait_for()
    await tab.screenshot("job-running-core-scope")
    assert tab.errors == []


async def test_tags_are_added_in_the_page(tab: Tab, job_site: JobSite) -> None:
    await _login(tab, "bob")
    await _open_job(tab, job_site.running)
    await tab.page.locator(".bk-tab", has_text="Tags").click()
    await tab.page.get_by_placeholder("type:name").fill("note:rerun")
    await tab.page.get_by_role("button", name="Add tag").click()
    await tab.page.locator(".cc-tags a", has_text="note: rerun").wait_for(timeout=15_000)
    await tab.screenshot("job-tags")
    assert tab.errors == []


async def test_another_users_job_is_refused(tab: Tab, job_site: JobSite) -> None:
    await _login(tab, "bob")
    await tab.page.goto(f"{job_site.base}/monitoring/job/{job_site.foreign}")

    await tab.page.get_by_role("heading", name="403 Forbidden").wait_for(timeout=30_000)
    await tab.page.get_by_text(f"You may not open job {job_site.foreign}").wait_for()
    await tab.screenshot("job-forbidden")
    assert tab.errors == []


async def test_support_staff_open_any_job(tab: Tab, job_site: JobSite) -> None:
    await _login(tab, "root")
    await _open_job(tab, job_site.foreign)
    await tab.page.get_by_text("sim-641").wait_for()
    assert tab.errors == []
