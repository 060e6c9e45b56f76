"""The web app in a browser: first render of the job list and of a 64-node job's view, and
the server's memory per open session.

    python -m benchmarks.bench_web_app                    # 10 rounds, 50 sessions
    python -m benchmarks.bench_web_app --rounds 5 --sessions 20 --nodes 32

One run on one fresh site (``cc-backend init`` in a temporary folder; the demo archive's
jobs without data for the job list, and one archived job of ``--nodes`` nodes with a day of
node-scope data of every metric, :func:`cc_backend.demo.large_job.node_scope_job`). The
site is served by :func:`cc_backend.server.make_web_server` in a thread of this process, as
``cc-backend serve`` serves it; Debian's chromium, driven by Playwright, logs in as the
job's owner and opens, alternately in every round:

* **home**: ``/``, until the notice card is shown (the baseline: a page that reads next to
  nothing);
* **job list**: ``/monitoring/jobs/``, until its table shows rows;
* **job view, cold**: ``/monitoring/job/{id}`` with the server's cache of archived data
  emptied first, until the plots of the page's first screen (the grid's first row) have
  drawn their canvases;
* **job view, warm**: the same page again (archived data cached);
* **job view, all plots**: cold again, scrolling down the grid as soon as the first row is
  drawn (the other rows are drawn as they come near), until every metric plot has drawn
  its canvas.

Each time is from the navigation to the condition in the browser (Playwright's clock).
For every page, Panel's session records give the server side: from the request to the
page built (``launched`` to ``started``) and to the browser's document-ready message
(``rendered``). The data floor is the server loading the same series the view asks for
(``JobMetricData.load`` of every metric at node scope and the first resolution) with the
cache emptied, in this process.

Memory: after the rounds, ``--sessions`` tabs open the job view and stay open; the server
process's resident memory (``VmRSS``) before and after, divided by the sessions, is the
memory per open session.

Goals (issue 7): the 64-node job view ready in under 1.5 s in the browser (p50 of the cold
rounds), and under 10 MB of server memory per open session. ``--check`` exits with 1 when
one is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import io
import logging
import os
import statistics
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from tornado.netutil import bind_sockets
from tornado.websocket import WebSocketClosedError

from app.stores.job import DEFAULT_PLOTS_PER_ROW
from app.views.job_metric_grid import FIRST_ROWS
from cc_backend.archive import open_archive
from cc_backend.argtypes import positive_int
from cc_backend.cli import main as cli_main
from cc_backend.config import load_config, load_secrets
from cc_backend.demo import demo_clusters, generate_demo_archive
from cc_backend.demo.large_job import node_scope_job
from cc_backend.domain.cluster import MetricScope
from cc_backend.server import (
    Backends,
    build_backends,
    freeze_startup_objects,
    make_web_server,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
USER, PASSWORD = "bench", "bench-Secret-1"
JOB_ID = 640_064
NOTICE = "Benchmark site"
DAY = 86_400
VIEW_GOAL_S = 1.5
MEMORY_GOAL_MB = 10.0
#: The plots a job view draws with the page: its first rows, at the default row width.
FIRST_SCREEN_PLOTS = FIRST_ROWS * DEFAULT_PLOTS_PER_ROW
console = Console(width=max(Console().width, 120))


# -- the site ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchSite:
    """The site's folder, its backends and the database id of the large job."""

    folder: Path
    backends: Backends
    job_db_id: int
    metrics: int


def _cli(*args: str) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        if cli_main(list(args)) != 0:
            raise SystemExit(f"cc-backend {' '.join(args)} failed")


@contextlib.contextmanager
def bench_site(nodes: int, list_jobs: int) -> Iterator[BenchSite]:
    """A fresh site in a temporary folder (the working directory meanwhile)."""
    previous = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        folder = Path(tmp) / "site"
        _cli("init", str(folder))
        os.chdir(folder)
        try:
            config = load_config(folder / "config.json")
            archive = open_archive(config.archive)
            generate_demo_archive(archive, jobs=list_jobs, seed=5, with_data=False)
            fritz = next(c for c in demo_clusters() if c.name == "fritz")
            hosts = [f"f{1 + n // 99:02d}{1 + n % 99:02d}" for n in range(nodes)]
            now = int(time.time()) // 60 * 60
            job, data = node_scope_job(
                fritz, job_id=JOB_ID, user=USER, hosts=hosts, start=now - 2 * DAY, duration=DAY
            )
            archive.import_job(job, data)
            archive.close()
            _cli("init-db")
            _cli("add-user", f"{USER}:user:{PASSWORD}")
            (folder / "var").mkdir(exist_ok=True)
            (folder / "var" / "notice.txt").write_text(NOTICE)
            backends = build_backends(config, load_secrets(folder / "config.json"))
            try:
                found = backends.jobs.find(JOB_ID, "fritz", None, actor=None)
                if not found or found[0].id is None:
                    raise SystemExit("the large job was not imported")
                metrics = len(fritz.metrics_for("main"))
                yield BenchSite(folder, backends, found[0].id, metrics)
            finally:
                backends.close()
        finally:
            os.chdir(previous)


class WebServer:
    """:func:`make_web_server` for the site, served in a thread of this process."""

    def __init__(self, site: BenchSite) -> None:
        self.site = site
        self.port = 0
        self._loop: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Serve on a free loopback port; the base URL."""
        import panel as pn

        pn.config.session_history = -1  # keep every session's record
        sockets = bind_sockets(0, "127.0.0.1")
        self.port = sockets[0].getsockname()[1]
        for sock in sockets:
            sock.close()
        ready = threading.Event()
        secrets = load_secrets(self.site.folder / "config.json")

        def serve() -> None:
            asyncio.set_event_loop(asyncio.new_event_loop())
            server = make_web_server(self.site.backends, secrets, "127.0.0.1", self.port)
            server.start()
            freeze_startup_objects()  # as ``serve`` does
            self._loop = server.io_loop
            self._loop.add_callback(ready.set)
            self._loop.start()
            server.stop()

        self._thread = threading.Thread(target=serve, name="web-server", daemon=True)
        self._thread.start()
        if not ready.wait(60):
            raise SystemExit("the web server did not start")
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.add_callback(self._loop.stop)
            self._thread.join(30)


def sessions_record() -> list[dict[str, Any]]:
    """Panel's record of every session so far, oldest first (times in seconds)."""
    import panel as pn

    records = list(pn.state.session_info["sessions"].values())
    return sorted(records, key=lambda r: r.get("launched") or 0)


def rss_mb() -> float:
    """Resident memory of this process (the server's), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


# -- the browser ------------------------------------------------------------------------


@dataclass
class Samples:
    """Browser seconds per page, and Panel's server-side seconds per page."""

    browser: dict[str, list[float]] = field(default_factory=dict)
    built: dict[str, list[float]] = field(default_factory=dict)
    ready: dict[str, list[float]] = field(default_factory=dict)

    def add(self, page: str, seconds: float, record: dict[str, Any] | None) -> None:
        self.browser.setdefault(page, []).append(seconds)
        if record and record.get("launched") and record.get("started"):
            self.built.setdefault(page, []).append(record["started"] - record["launched"])
        if record and record.get("launched") and record.get("rendered"):
            self.ready.setdefault(page, []).append(record["rendered"] - record["launched"])


@contextlib.asynccontextmanager
async def browser_page(base: str) -> AsyncIterator[tuple[Any, Any]]:
    """A logged-in chromium context and a page in it."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        context = await browser.new_context(viewport={"width": 1400, "height": 900})
        page = await context.new_page()
        await page.goto(base + "/login")
        await page.fill("input[name=username]", USER)
        await page.fill("input[name=password]", PASSWORD)
        async with page.expect_navigation():
            await page.click("button[type=submit]")
        try:
            yield context, page
        finally:
            await browser.close()


async def _until(page: Any, selector: str, count: int, timeout: float = 120) -> None:
    began = time.perf_counter()
    found = page.locator(selector)
    while await found.count() < count:
        if time.perf_counter() - began > timeout:
            raise SystemExit(f"timed out waiting for {count} of {selector}")
        await page.wait_for_timeout(10)


@dataclass(frozen=True)
class PageSpec:
    key: str
    path: str
    selector: str
    count: int
    before: Callable[[], None] | None = None
    #: Scroll to the last of ``selector`` until ``count`` of them are there.
    scroll: bool = False


def pages(site: BenchSite) -> list[PageSpec]:
    cache = site.backends.job_metric_data.archive_cache
    view = f"/monitoring/job/{site.job_db_id}"
    plots, first = ".cc-metric-plot .bk-Canvas", min(site.metrics, FIRST_SCREEN_PLOTS)
    return [
        PageSpec("home", "/", f"text={NOTICE}", 1),
        PageSpec("job list", "/monitoring/jobs/", ".cc-job-table .tabulator-row", 1),
        PageSpec("job view, cold", view, plots, first, before=cache.clear),
        PageSpec("job view, warm", view, plots, first),
        PageSpec("job view, all plots", view, plots, site.metrics, cache.clear, scroll=True),
    ]


async def open_page(page: Any, base: str, spec: PageSpec) -> float:
    """Open ``spec``'s page; seconds until its condition holds."""
    if spec.before is not None:
        spec.before()
    began = time.perf_counter()
    await page.goto(base + spec.path)
    if not spec.scroll:
        await _until(page, spec.selector, spec.count)
        return time.perf_counter() - began
    found = page.locator(spec.selector)
    await _until(page, spec.selector, 1)
    while (drawn := await found.count()) < spec.count:
        await found.last.scroll_into_view_if_needed()
        await _until(page, spec.selector, drawn + 1)
    return time.perf_counter() - began


async def measure(base: str, site: BenchSite, rounds: int) -> Samples:
    """``rounds`` rounds over :func:`pages`, the order rotating; one untimed round first."""
    specs = pages(site)
    samples = Samples()
    async with browser_page(base) as (_, page):
        for spec in specs:
            await open_page(page, base, spec)
        for index in range(rounds):
            console.print(f"  round {index + 1} of {rounds}")
            shift = index % len(specs)
            for spec in specs[shift:] + specs[:shift]:
                known = len(sessions_record())
                seconds = await open_page(page, base, spec)
                await page.wait_for_timeout(50)  # let the document-ready message arrive
                records = sessions_record()
                samples.add(spec.key, seconds, records[known] if len(records) > known else None)
        await page.goto("about:blank")
    return samples


async def memory_per_session(base: str, site: BenchSite, sessions: int) -> tuple[float, float]:
    """Server memory (MiB) before and after ``sessions`` open job views."""
    view = next(s for s in pages(site) if s.key == "job view, warm")
    async with browser_page(base) as (context, page):
        await open_page(page, base, view)  # warm: modules, caches
        await page.goto("about:blank")
        await asyncio.sleep(1)
        gc.collect()
        before = rss_mb()
        opened = []
        for index in range(sessions):
            tab = await context.new_page()
            await open_page(tab, base, view)
            opened.append(tab)
            if (index + 1) % 10 == 0:
                console.print(f"  {index + 1} of {sessions} sessions open")
        gc.collect()
        after = rss_mb()
        for tab in opened:
            await tab.close()
    return before, after


def data_floor(site: BenchSite, rounds: int) -> list[float]:
    """Seconds for the server to load what the view shows, the cache emptied each time."""
    job = site.backends.jobs.get(site.job_db_id, actor=None)
    data = site.backends.job_metric_data
    times = []
    for _ in range(rounds):
        data.archive_cache.clear()
        began = time.perf_counter()
        data.load(job, None, [MetricScope.NODE], data.initial_resolution(job))
        times.append(time.perf_counter() - began)
    return times


# -- the report -------------------------------------------------------------------------


def _p50(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(
    samples: Samples, floor: list[float], memory: tuple[float, float], sessions: int
) -> bool:
    table = Table(title="first render, seconds (p50 over the rounds)", title_justify="left")
    for column in (
        "page",
        "browser p50",
        "browser max",
        "server: built",
        "server: doc ready",
        "x home",
    ):
        table.add_column(column, justify="left" if column == "page" else "right")
    home = _p50(samples.browser["home"])
    for key, values in samples.browser.items():
        table.add_row(
            key,
            f"{_p50(values):.2f}",
            f"{max(values):.2f}",
            f"{_p50(samples.built.get(key, [])):.3f}",
            f"{_p50(samples.ready.get(key, [])):.3f}",
            f"{_p50(values) / home:.1f}",
        )
    console.print(table)
    cold = _p50(samples.browser["job view, cold"])
    console.print(
        f"data floor (the view's series loaded by the server, cache emptied): "
        f"{_p50(floor):.3f} s p50; cold job view / floor {cold / _p50(floor):.1f}x"
    )
    before, after = memory
    per_session = (after - before) / sessions
    view_ok, memory_ok = cold < VIEW_GOAL_S, per_session < MEMORY_GOAL_MB
    console.print(
        f"job view of the large job, cold, p50 {cold:.2f} s (goal < {VIEW_GOAL_S} s: "
        + ("[green]met[/green])" if view_ok else "[red]MISSED[/red])")
    )
    console.print(
        f"server memory: {before:.0f} MiB -> {after:.0f} MiB with {sessions} job views open, "
        f"{per_session:.1f} MiB per session (goal < {MEMORY_GOAL_MB:.0f} MB: "
        + ("[green]met[/green])" if memory_ok else "[red]MISSED[/red])")
    )
    return view_ok and memory_ok


async def run(site: BenchSite, base: str, rounds: int, sessions: int) -> bool:
    console.print("timing pages")
    samples = await measure(base, site, rounds)
    floor = await asyncio.to_thread(data_floor, site, max(3, rounds // 2))
    console.print(f"opening {sessions} sessions")
    memory = await memory_per_session(base, site, sessions)
    return report(samples, floor, memory, sessions)


def _not_a_closed_websocket(record: logging.LogRecord) -> bool:
    error = record.exc_info[1] if record.exc_info else None
    return not isinstance(error, WebSocketClosedError) and "WebSocketClosedError" not in str(
        record.msg
    )


def _quiet_closed_websockets() -> None:
    """Leaving a page while the server still sends to it is logged by Bokeh, Tornado and
    asyncio; the benchmark leaves pages all the time."""
    logging.getLogger("bokeh.server.views.ws").setLevel(logging.ERROR)
    for name in ("tornado.application", "asyncio"):
        logging.getLogger(name).addFilter(_not_a_closed_websocket)


def main(argv: list[str] | None = None) -> bool:
    """Run the benchmark; return whether both goals hold."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=positive_int, default=10, help="timed rounds per page")
    parser.add_argument("--sessions", type=positive_int, default=50, help="sessions kept open")
    parser.add_argument("--nodes", type=positive_int, default=64, help="nodes of the large job")
    parser.add_argument("--list-jobs", type=positive_int, default=200, help="demo jobs in the list")
    parser.add_argument("--check", action="store_true", help="exit with 1 if a goal is missed")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        raise SystemExit(f"Debian's chromium is needed ({CHROMIUM}; apt-get install chromium)")
    console.print(
        f"web app: {args.nodes}-node job, {args.list_jobs} demo jobs, {args.rounds} rounds, "
        f"{args.sessions} sessions, {os.cpu_count()} CPUs, load average "
        + " ".join(f"{v:.2f}" for v in os.getloadavg())
    )
    _quiet_closed_websockets()
    with bench_site(args.nodes, args.list_jobs) as site:
        server = WebServer(site)
        base = server.start()
        try:
            ok = asyncio.run(run(site, base, args.rounds, args.sessions))
        finally:
            server.stop()
    console.print("load average after the run: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    if args.check and not ok:
        raise SystemExit(1)
    return ok


if __name__ == "__main__":
    main()
