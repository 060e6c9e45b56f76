"""The analysis page in Debian's chromium, driven by Playwright (async API), against
``cc-backend serve`` with a demo site: it draws its numbers, lists and plots without a
console error or a request to another host, a changed category reaches the address bar, and
a plain user gets 403. Screenshots go to ``tests/artifacts/``.

Skipped with the reason when chromium or playwright is missing, unless CC_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.app.browser_site import DemoSite, Tab, open_tab, require_browser, serve_demo_site

pytestmark = pytest.mark.slow

#: Generous: the first page of a fresh server builds its statistics and Panel's assets.
WAIT = 30_000
PAGE = "/monitoring/analysis/fritz"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    require_browser()
    with serve_demo_site(tmp_path_factory.mktemp("browser-analysis")) as site:
        yield site


@pytest.fixture
async def tab(demo: DemoSite) -> AsyncIterator[Tab]:
    async with open_tab(demo.base, viewport={"width": 1400, "height": 1000}) as opened:
        yield opened


async def test_the_analysis_draws_every_part_and_keeps_the_category_in_the_url(
    tab: Tab,
) -> None:
    response = await tab.log_in("root", PAGE)
    assert response.status == 200

    summary = tab.page.locator("table.summary")
    await summary.get_by_text("Total node hours").wait_for(timeout=WAIT)
    rows = tab.page.locator(".tabulator-row")
    await rows.first.wait_for(timeout=WAIT)
    assert await rows.count() >= 2  # top users and top projects
    await tab.page.locator("canvas").nth(6).wait_for(timeout=WAIT)
    await tab.screenshot("analysis")

    category = tab.page.locator("select").filter(has_text="Accelerator hours")
    await category.select_option(label="Jobs")
    await tab.page.wait_for_function(
        "() => window.location.search.includes('category=jobs')", timeout=WAIT
    )
    await tab.page.locator(".tabulator-col-title", has_text="Jobs").first.wait_for(timeout=WAIT)
    await tab.screenshot("analysis-by-jobs")

    assert tab.query()["category"] == ["jobs"]
    assert tab.errors == []
    assert tab.foreign_requests() == []


async def test_a_plain_user_gets_403(tab: Tab) -> None:
    response = await tab.log_in("bob", PAGE)

    assert response.status == 403
