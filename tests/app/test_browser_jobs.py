"""The job list in Debian's chromium, driven by Playwright (async API), against
``cc-backend serve`` with a demo site: a link's filters apply, a header click sorts on
the server and rewrites the address, the filter form applies, the export downloads the
list, and a user sees only their own jobs. Screenshots go to ``tests/artifacts/``.

Skipped with the reason when chromium or playwright is missing, unless CC_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.app.browser_site import (
    DemoSite,
    Tab,
    open_tab,
    require_browser,
    serve_demo_site,
)

pytestmark = pytest.mark.slow

JOBS = "/monitoring/jobs/"
#: Demo jobs on the site (all finished, on fritz and alex).
DEMO_JOBS = 30


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    require_browser()
    with serve_demo_site(tmp_path_factory.mktemp("browser-jobs"), jobs=DEMO_JOBS) as site:
        yield site


class JobsTab(Tab):
    """A tab whose login starts at the page to test and comes back to it."""

    async def login(self, username: str, path: str) -> None:
        """Open ``path``, log in on the login page it leads to, and come back to it."""
        await self.log_in(username, path)
        assert self.page.url == self.base + path


@pytest.fixture
async def tab(demo: DemoSite) -> AsyncIterator[JobsTab]:
    async with open_tab(
        demo.base, JobsTab, viewport={"width": 1500, "height": 900}, accept_downloads=True
    ) as opened:
        assert isinstance(opened, JobsTab)
        yield opened


async def _count(tab: JobsTab) -> int:
    """The number of matching jobs the summary states (after loading)."""
    summary = tab.page.locator("text=/^\\d[\\d,]* jobs?:/").first
    await summary.wait_for(timeout=30_000)
    found = re.match(r"([\d,]+) job", await summary.inner_text())
    assert found is not None
    return int(found.group(1).replace(",", ""))


async def _rows(tab: JobsTab) -> Any:
    rows = tab.page.locator(".cc-job-table .tabulator-row")
    await rows.first.wait_for(timeout=30_000)
    return rows


async def _node_counts(tab: JobsTab) -> list[int]:
    cells = tab.page.locator(
        '.cc-job-table .tabulator-row .tabulator-cell[tabulator-field="resources"]'
    )
    return [int(text.split()[0]) for text in await cells.all_inner_texts()]


async def _eventually(tab: JobsTab, check: Any, attempts: int = 300) -> Any:
    """Poll ``await check()`` until it returns something true (the page updates after
    the server answers); its last answer."""
    for _ in range(attempts):
        answer = await check()
        if answer:
            return answer
        await tab.page.wait_for_timeout(100)
    raise AssertionError("the page never showed what was expected")


async def test_a_link_opens_the_filtered_list(tab: JobsTab, demo: DemoSite) -> None:
    _running, total = demo.counts["fritz"]
    await tab.login("root", JOBS + "?cluster=fritz")

    assert await tab.page.title() == "Jobs - ClusterCockpit"
    assert await _count(tab) == total
    rows = await _rows(tab)
    assert await rows.count() == min(total, 25)
    clusters = await tab.page.locator(".cc-job .muted").all_inner_texts()
    assert all(text.startswith("fritz") for text in clusters if "[" in text)
    await tab.page.locator(".cc-footprint").first.wait_for()
    await tab.screenshot("jobs-fritz")
    assert tab.errors == []
    assert tab.foreign_requests() == []


async def test_a_header_click_sorts_on_the_server_and_is_a_link(tab: JobsTab) -> None:
    await tab.login("root", JOBS)
    await _rows(tab)

    await tab.page.locator(
        '.tabulator-col[tabulator-field="resources"] .tabulator-col-title'
    ).click()

    await tab.page.wait_for_function("() => location.search.includes('sort=numNodes')")
    first_click = tab.query()
    assert first_click["sort"] == ["numNodes"]
    descending = first_click.get("order", ["desc"]) == ["desc"]

    async def sorted_nodes() -> list[int] | None:
        nodes = await _node_counts(tab)
        return nodes if nodes == sorted(nodes, reverse=descending) else None

    nodes = await _eventually(tab, sorted_nodes)
    assert len(set(nodes)) > 1  # the demo jobs differ in size

    await tab.page.reload()
    await _rows(tab)
    assert await _node_counts(tab) == nodes  # the link shows the same order
    assert tab.errors == []


async def test_the_form_applies_filters_and_writes_them_into_the_address(tab: JobsTab) -> None:
    await tab.login("root", JOBS)
    everything = await _count(tab)

    await tab.page.locator(".card-header").filter(has_text="Filters").click()  # opens the form
    await tab.page.get_by_role("button", name="Last 30 days").click()
    await tab.page.wait_for_function("() => location.search.includes('startTime=last30d')")
    await tab.page.get_by_label("Nodes from").fill("2")
    await tab.page.get_by_label("Nodes from").press("Enter")
    await tab.page.get_by_role("button", name="Apply filters").click()

    await tab.page.wait_for_function("() => location.search.includes('numNodes=morethan-2')")
    assert tab.query()["startTime"] == ["last30d"]
    filtered = await _count(tab) if await tab.page.locator(".cc-job-table").is_visible() else 0
    assert filtered < everything
    if filtered:
        assert all(n >= 2 for n in await _node_counts(tab))
    await tab.screenshot("jobs-filtered")

    await tab.page.get_by_role("button", name="Reset").click()
    await tab.page.wait_for_function("() => location.search === ''")

    async def all_again() -> bool:
        return await _count(tab) == everything

    await _eventually(tab, all_again)
    assert tab.errors == []


async def test_the_export_downloads_every_job_of_the_list(tab: JobsTab, demo: DemoSite) -> None:
    _running, total = demo.counts["alex"]
    await tab.login("root", JOBS + "?cluster=alex&itemsPerPage=10")
    await _rows(tab)

    async with tab.page.expect_download() as downloading:
        await tab.page.get_by_role("button", name="Export CSV").click()
    download = await downloading.value
    content = Path(await download.path()).read_text()

    rows = list(csv.reader(io.StringIO(content)))
    assert rows[0][:3] == ["id", "jobId", "cluster"]
    assert len(rows) - 1 == total
    assert {r[2] for r in rows[1:]} == {"alex"}
    await tab.page.get_by_text(f"Exported {total} jobs.").wait_for()
    assert tab.errors == []


async def test_a_user_sees_only_their_own_jobs(tab: JobsTab) -> None:
    await tab.login("bob", JOBS + "?user=root")

    await tab.page.get_by_text("No jobs match these filters").wait_for(timeout=30_000)
    assert await tab.page.locator(".cc-job-table .tabulator-row").count() == 0
    assert await tab.page.get_by_label("Users").count() == 0  # no user filter for users
    await tab.screenshot("jobs-user-empty")
    assert tab.errors == []
