"""The job comparison in Debian's chromium, driven by Playwright (async API), against
``cc-backend serve`` with a demo site: jobs ticked in the list are compared and the
comparison is a link; a link with filters compares every matching job. Screenshots go to
``tests/artifacts/``.

Skipped with the reason when chromium or playwright is missing, unless CC_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.app.browser_site import DemoSite, Tab, open_tab, require_browser, serve_demo_site

pytestmark = pytest.mark.slow

JOBS = "/monitoring/jobs/"
TIMEOUT = 30_000


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    require_browser()
    with serve_demo_site(tmp_path_factory.mktemp("browser-compare"), jobs=30) as site:
        yield site


@pytest.fixture
async def tab(demo: DemoSite) -> AsyncIterator[Tab]:
    async with open_tab(demo.base, viewport={"width": 1500, "height": 900}) as opened:
        yield opened


async def _until_rows(tab: Tab, table: str, count: int, inner: str = "") -> None:
    """Wait until the table with CSS class ``table`` shows ``count`` rows (with ``inner``:
    that many of what it selects in rows). Locators see into the components' shadow
    DOM, a page script would not."""
    rows = tab.page.locator(f".{table} .tabulator-row {inner}".strip())
    for _ in range(TIMEOUT // 100):
        if await rows.count() == count:
            return
        await tab.page.wait_for_timeout(100)
    raise AssertionError(f"{table} never showed {count} rows (last: {await rows.count()})")


async def _compared_rows(tab: Tab, count: int) -> list[str]:
    """The job links of the comparison table, once it has ``count`` rows (read again when
    the table is redrawn while they are read)."""
    links = tab.page.locator(".cc-compare-table .tabulator-row a")
    found: list[str] = []
    for _ in range(TIMEOUT // 100):
        await _until_rows(tab, "cc-compare-table", count, "a")
        hrefs = await links.evaluate_all("els => els.map(e => e.getAttribute('href'))")
        found = [str(href) for href in hrefs]
        if len(found) == count:
            return found
        await tab.page.wait_for_timeout(100)
    raise AssertionError(f"the comparison table never kept {count} links (last: {found})")


async def test_ticked_jobs_are_compared_and_the_comparison_is_a_link(tab: Tab) -> None:
    await tab.log_in("root", JOBS + "?cluster=fritz")
    rows = tab.page.locator(".cc-job-table .tabulator-row")
    await rows.first.wait_for(timeout=TIMEOUT)
    ids = []
    for row in (rows.nth(0), rows.nth(2)):
        await row.locator("input[type=checkbox]").click()
        href = await row.locator("a.job-link").get_attribute("href")
        ids.append(str(href).rsplit("/", 1)[1])

    await tab.page.get_by_role("button", name="Compare 2 jobs").click()

    await tab.page.wait_for_function("() => location.search.includes('view=compare')")
    assert sorted(tab.query()["dbId"]) == sorted(ids)
    assert tab.query()["cluster"] == ["fritz"]
    links = await _compared_rows(tab, 2)
    assert sorted(links) == sorted(f"/monitoring/job/{i}" for i in ids)
    plots = tab.page.locator(".bk-Canvas")
    await plots.first.wait_for(timeout=TIMEOUT)
    assert await plots.count() >= 1  # one per compared metric with values
    await tab.page.get_by_text("Comparing 2 jobs.").wait_for()
    await tab.screenshot("jobs-compare-ticked")

    await tab.page.reload()  # the address is the comparison
    assert sorted(await _compared_rows(tab, 2)) == sorted(links)

    await tab.page.get_by_role("button", name="Back to the list").click()
    await tab.page.wait_for_function("() => !location.search.includes('view=compare')")
    await _until_rows(tab, "cc-job-table", 2)
    assert tab.errors == []
    assert tab.foreign_requests() == []


async def test_a_link_compares_every_job_matching_its_filters(tab: Tab, demo: DemoSite) -> None:
    _running, total = demo.counts["alex"]
    await tab.log_in("root", JOBS + "?cluster=alex&view=compare")

    links = await _compared_rows(tab, total)

    assert len(set(links)) == total
    assert all(re.fullmatch(r"/monitoring/job/\d+", link) for link in links)
    await tab.page.get_by_role("button", name="Back to the list").wait_for()
    await tab.screenshot("jobs-compare-alex")
    assert tab.errors == []
    assert tab.foreign_requests() == []
