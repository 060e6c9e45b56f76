"""The users and projects lists, the user view, the tags page and the settings page in
Debian's chromium, driven by Playwright (async API), against ``cc-backend serve`` with a
demo site. Screenshots go to ``tests/artifacts/``.

Skipped with the reason when chromium or playwright is missing, unless CC_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.app.browser_site import (
    DemoSite,
    Tab,
    open_tab,
    require_browser,
    serve_demo_site,
)

pytestmark = pytest.mark.slow

#: Generous: the first page of a fresh server builds its statistics and Panel's assets.
WAIT = 30_000
#: The pages, at the paths their assets resolve from (Panel serves each with and without
#: cc-backend's trailing slash).
USERS, PROJECTS, TAGS = "/monitoring/users/", "/monitoring/projects/", "/monitoring/tags/"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    require_browser()
    with serve_demo_site(tmp_path_factory.mktemp("browser-users")) as site:
        yield site


class PageTab(Tab):
    """A tab whose login starts at the page to test."""

    async def login(self, username: str, path: str) -> Any:
        """Open ``path``, log in on the login page it leads to; the last response."""
        return await self.log_in(username, path)


@pytest.fixture
async def tab(demo: DemoSite) -> AsyncIterator[PageTab]:
    async with open_tab(demo.base, PageTab, viewport={"width": 1400, "height": 900}) as opened:
        assert isinstance(opened, PageTab)
        yield opened


async def _table_rows(tab: PageTab) -> Any:
    rows = tab.page.locator(".tabulator-row")
    await rows.first.wait_for(timeout=WAIT)
    return rows


async def test_the_users_list_leads_to_a_user_view_with_histograms(tab: PageTab) -> None:
    await tab.login("root", USERS)
    rows = await _table_rows(tab)
    assert await rows.count() > 1
    await tab.screenshot("users-list")
    cells = rows.locator(".tabulator-cell[tabulator-field='Core hours']")
    core_hours = await cells.all_inner_texts()
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})*", text.strip()) for text in core_hours), core_hours
    assert any("," in text for text in core_hours)  # thousands are separated

    link = rows.first.locator(".tabulator-cell[tabulator-field=User] a")
    username = (await link.inner_text()).strip()
    async with tab.page.expect_navigation():
        await link.click()
    assert tab.page.url == f"{tab.base}/monitoring/user/{username}"

    summary = tab.page.locator("table.summary")
    await summary.get_by_text("Total jobs").wait_for(timeout=WAIT)
    await tab.page.locator("table.jobs tbody tr").first.wait_for(timeout=WAIT)
    await tab.page.locator("canvas").nth(3).wait_for(timeout=WAIT)
    await tab.screenshot("user-view")
    assert tab.errors == []
    assert tab.foreign_requests() == []


async def test_the_job_count_of_a_project_opens_its_job_list(tab: PageTab) -> None:
    await tab.login("root", PROJECTS)
    rows = await _table_rows(tab)
    project = (await rows.first.locator("[tabulator-field=Project]").inner_text()).strip()
    count = rows.first.locator(".tabulator-cell[tabulator-field=Jobs] a")
    href = await count.get_attribute("href")
    assert href is not None
    assert parse_qs(urlsplit(href).query) == {"project": [project], "startTime": ["last30d"]}
    await tab.screenshot("projects-list")
    assert tab.errors == []


async def test_choosing_a_cluster_filters_the_list_and_the_address(
    tab: PageTab, demo: DemoSite
) -> None:
    await tab.login("root", PROJECTS)
    await _table_rows(tab)
    cluster = sorted(demo.counts)[0]

    await tab.page.get_by_label("Cluster").select_option(cluster)

    await tab.page.wait_for_function(
        f"window.location.search.includes('cluster={cluster}')", timeout=WAIT
    )
    assert tab.query() == {"cluster": [cluster], "startTime": ["last30d"]}
    on_cluster = tab.page.locator(f"[tabulator-field=Jobs] a[href*='cluster={cluster}']")
    await on_cluster.first.wait_for(timeout=WAIT)
    assert await on_cluster.count() == await (await _table_rows(tab)).count()
    assert tab.errors == []


async def test_the_tags_page_lists_tags_linking_to_their_jobs(tab: PageTab) -> None:
    await tab.login("root", TAGS)
    tags = tab.page.locator("ul.tags a")
    await tags.first.wait_for(timeout=WAIT)
    href = await tags.first.get_attribute("href")
    assert href is not None
    assert href.startswith("/monitoring/jobs/?tag=")
    await tab.page.locator("h3", has_text="Delete tags").wait_for()  # admins may delete
    await tab.screenshot("tags")
    assert tab.errors == []


async def test_settings_generate_a_token_and_admins_manage_users(tab: PageTab) -> None:
    await tab.login("root", "/config")
    await tab.page.get_by_role("button", name="Generate API token").click()
    token = tab.page.get_by_label("Your new API token (shown only once)")
    await token.wait_for(timeout=WAIT)
    assert (await token.input_value()).count(".") == 2  # a JWT
    await tab.screenshot("settings")

    await tab.page.get_by_text("Administration").click()
    await tab.page.locator(".tabulator-cell", has_text="manny").wait_for(timeout=WAIT)
    await tab.screenshot("settings-admin")
    assert tab.errors == []
    assert tab.foreign_requests() == []


async def test_a_user_sees_their_own_view_but_not_the_lists(tab: PageTab) -> None:
    response = await tab.login("bob", USERS)
    assert response.status == 403
    tab.errors.clear()  # the browser reports the 403 itself

    await tab.page.goto(tab.base + "/monitoring/user/root")
    await tab.page.get_by_role("heading", name="403 Forbidden").wait_for(timeout=WAIT)
    await tab.screenshot("user-view-forbidden")

    await tab.page.goto(tab.base + "/monitoring/user/bob")
    await tab.page.locator("table.summary").get_by_text("Total jobs").wait_for(timeout=WAIT)
    await tab.page.get_by_text("No jobs match the filters.").wait_for()
    assert tab.errors == []


async def test_a_manager_of_other_projects_gets_403_on_a_user_view(tab: PageTab) -> None:
    await tab.login("root", USERS)
    rows = await _table_rows(tab)
    someone = (await rows.first.locator("[tabulator-field=User]").inner_text()).strip()
    await tab.page.goto(tab.base + "/logout")

    await tab.login("manny", f"/monitoring/user/{someone}")

    await tab.page.get_by_role("heading", name="403 Forbidden").wait_for(timeout=WAIT)
    assert tab.errors == []
