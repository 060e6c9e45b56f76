"""The web app in Debian's chromium, driven by Playwright (async API), against
``cc-backend serve`` with a demo site. A screenshot of every page visited is saved under
``tests/artifacts/``.

Skipped with the reason when chromium or playwright is missing, unless CC_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.app.browser_site import (
    ACCOUNTS,
    NOTICE,
    DemoSite,
    Tab,
    open_tab,
    require_browser,
    serve_demo_site,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    require_browser()
    with serve_demo_site(tmp_path_factory.mktemp("browser")) as site:
        yield site


class HomeTab(Tab):
    """A tab whose login starts at the start page."""

    async def login(self, username: str, password: str | None = None) -> Any:
        """Open the start page, get sent to the login page, log in; the last response."""
        return await self.log_in(username, "/", password, login_page="/login?redirect=%2F")


@pytest.fixture
async def tab(demo: DemoSite) -> AsyncIterator[HomeTab]:
    async with open_tab(demo.base, HomeTab, viewport={"width": 1280, "height": 720}) as opened:
        assert isinstance(opened, HomeTab)
        yield opened


async def _cluster_table(tab: HomeTab) -> str:
    table = tab.page.locator("table.clusters")
    await table.wait_for(timeout=30_000)
    return str(await table.inner_text())


async def test_login_leads_home_with_notice_and_job_counts(tab: HomeTab, demo: DemoSite) -> None:
    response = await tab.login("root")

    assert response.status == 200
    assert tab.page.url == demo.base + "/"
    assert await tab.page.title() == "ClusterCockpit"
    table = await _cluster_table(tab)
    for name, (running, total) in demo.counts.items():
        assert re.search(rf"{name}\s+{running}\s+{total}", table), table
    await tab.page.get_by_text(NOTICE).wait_for()
    await tab.screenshot("home-admin")
    assert tab.errors == []
    assert tab.foreign_requests() == []


async def test_a_wrong_password_shows_the_message(tab: HomeTab) -> None:
    response = await tab.login("bob", "not-the-password")

    assert response.status == 401
    assert "/login" in tab.page.url
    await tab.page.get_by_role("alert").get_by_text("invalid username or password").wait_for()
    await tab.screenshot("login-failed")
    assert tab.foreign_requests() == []


@pytest.mark.parametrize(
    ("username", "shown", "hidden"),
    [
        ("root", ["Jobs", "Users", "Projects", "Tags", "Settings"], ["My Jobs"]),
        ("manny", ["Jobs", "Users", "Projects", "Tags", "Settings"], ["My Jobs"]),
        ("bob", ["My Jobs", "Jobs", "Tags", "Settings"], ["Users", "Projects"]),
    ],
)
async def test_the_navigation_follows_the_role(
    tab: HomeTab, username: str, shown: list[str], hidden: list[str]
) -> None:
    await tab.login(username)
    await _cluster_table(tab)
    nav = tab.page.locator("nav.cc-nav")
    for label in shown:
        assert await nav.get_by_role("link", name=label, exact=True).count() == 1, label
    for label in hidden:
        assert await nav.get_by_role("link", name=label, exact=True).count() == 0, label
    await tab.screenshot(f"home-{username}")
    assert tab.errors == []


async def test_an_account_without_a_viewer_role_gets_403(tab: HomeTab) -> None:
    response = await tab.login("robot")

    assert response.status == 403
    await tab.page.get_by_role("heading", name="403 Forbidden").wait_for()
    await tab.screenshot("forbidden")
    assert tab.foreign_requests() == []


async def test_a_deep_link_survives_the_login(tab: HomeTab, demo: DemoSite) -> None:
    await tab.page.goto(demo.base + "/?theme=dark")
    assert tab.page.url == demo.base + "/login?redirect=%2F%3Ftheme%3Ddark"
    await tab.page.fill("input[name=username]", "bob")
    await tab.page.fill("input[name=password]", ACCOUNTS["bob"][1])
    await tab.page.click("button[type=submit]")
    await tab.page.wait_for_url(demo.base + "/?theme=dark")


async def test_the_theme_switch_turns_dark_and_stays(tab: HomeTab, demo: DemoSite) -> None:
    await tab.login("bob")
    await _cluster_table(tab)
    async with tab.page.expect_navigation():
        await tab.page.get_by_role("link", name="Dark theme").click()
    await _cluster_table(tab)
    assert await tab.page.get_attribute("html", "data-bs-theme") == "dark"
    await tab.screenshot("home-dark")

    await tab.page.goto(demo.base + "/")
    await _cluster_table(tab)
    assert await tab.page.get_attribute("html", "data-bs-theme") == "dark"
    assert tab.errors == []


async def test_the_search_box_opens_the_job_list(tab: HomeTab, demo: DemoSite) -> None:
    await tab.login("bob")
    await _cluster_table(tab)
    box = tab.page.get_by_role("searchbox", name="Search")
    await box.fill("jobId:123")
    async with tab.page.expect_navigation():
        await box.press("Enter")
    assert tab.page.url == demo.base + "/monitoring/jobs/?jobId=123"


async def test_logout_ends_the_session(tab: HomeTab, demo: DemoSite) -> None:
    await tab.login("bob")
    await _cluster_table(tab)
    async with tab.page.expect_navigation():
        await tab.page.get_by_role("link", name="Logout").click()
    assert tab.page.url == demo.base + "/login"
    await tab.page.goto(demo.base + "/")
    assert tab.page.url.startswith(demo.base + "/login?redirect=")
