"""``/search``, ``/theme`` and ``/jwt-login`` as the server serves them beside the pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest

from tests.web.browser import Site, text

# -- the search box --------------------------------------------------------------------


async def test_a_search_redirects_to_the_job_list(app_routes_site: Site) -> None:
    browser = await app_routes_site.logged_in("bob")
    response = await browser.call("GET", "/search?" + urlencode({"searchId": "jobId:42"}))
    assert response.code == 302
    assert response.headers["Location"] == "/monitoring/jobs/?jobId=42"


async def test_a_search_without_destination_is_a_message_page(app_routes_site: Site) -> None:
    browser = await app_routes_site.logged_in("bob")
    response = await browser.call("GET", "/search?" + urlencode({"searchId": "<b>x</b>:1"}))
    assert response.code == 200
    assert "Unknown search type: &lt;b&gt;x&lt;/b&gt;" in text(response)
    assert "<b>" not in text(response)


async def test_searching_needs_a_login(app_routes_site: Site) -> None:
    response = await app_routes_site.browser().call("GET", "/search?searchId=jobId%3A1")
    assert response.code == 302
    assert response.headers["Location"] == "/login?redirect=%2Fsearch%3FsearchId%3DjobId%253A1"


# -- the theme switch ------------------------------------------------------------------


async def test_the_theme_switch_keeps_the_choice_and_goes_back(app_routes_site: Site) -> None:
    browser = await app_routes_site.logged_in("alice")
    referer = app_routes_site.base + "/monitoring/jobs/?cluster=fritz&theme=default"
    response = await browser.call("GET", "/theme?set=dark", headers={"Referer": referer})
    assert response.code == 302
    assert response.headers["Location"] == "/monitoring/jobs/?cluster=fritz"
    assert browser.cookies["cc-theme"] == "dark"


@pytest.mark.parametrize(
    ("choice", "referer", "stored", "back"),
    [
        ("nonsense", "", "default", "/"),
        ("dark", "https://evil.example/steal", "dark", "/"),
    ],
)
async def test_the_theme_switch_refuses_odd_input(
    app_routes_site: Site, choice: str, referer: str, stored: str, back: str
) -> None:
    browser = await app_routes_site.logged_in("alice")
    headers = {"Referer": referer} if referer else {}
    response = await browser.call("GET", f"/theme?set={choice}", headers=headers)
    assert response.headers["Location"] == back
    assert browser.cookies["cc-theme"] == stored


# -- the login page --------------------------------------------------------------------


async def test_the_login_page_is_self_contained(app_routes_site: Site) -> None:
    response = await app_routes_site.browser().call("GET", "/login?redirect=/monitoring/jobs/")
    page = text(response)
    assert response.code == 200
    assert '<form method="post" action="/login">' in page
    assert 'name="redirect" value="/monitoring/jobs/"' in page
    assert "<style>" in page
    assert "<script" not in page
    assert "http://" not in page
    assert "https://" not in page
    policy = response.headers["Content-Security-Policy"]
    assert "style-src 'unsafe-inline'" in policy
    assert "script-src" not in policy


async def test_a_wrong_password_shows_the_message_on_the_page(app_routes_site: Site) -> None:
    response = await app_routes_site.browser().login("bob", "wrong")
    assert response.code == 401
    assert '<p class="alert" role="alert">invalid username or password</p>' in text(response)


# -- logging in with a token -----------------------------------------------------------


async def test_a_signed_token_logs_in_and_redirects(
    app_routes_site: Site, token_for: Callable[..., str]
) -> None:
    browser = app_routes_site.browser()
    query = urlencode({"login-token": token_for("alice"), "redirect": "/monitoring/jobs/"})
    response = await browser.call("GET", f"/jwt-login?{query}")

    assert response.code == 302
    assert response.headers["Location"] == "/monitoring/jobs/"
    [cookie] = response.headers.get_list("Set-Cookie")
    assert SimpleCookie(cookie)["session"]["httponly"]
    assert (await browser.call("GET", "/frontend/jwt/?username=alice")).code == 200


async def test_a_token_in_the_authorization_header_works_too(
    app_routes_site: Site, token_for: Callable[..., str]
) -> None:
    browser = app_routes_site.browser()
    headers = {"Authorization": f"Bearer {token_for('bob')}"}
    response = await browser.call("GET", "/jwt-login?redirect=//evil.example", headers=headers)
    assert response.code == 302
    assert response.headers["Location"] == "/"
    assert "session" in browser.cookies


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("", "no login token"),
        ("not-a-token", "invalid token"),
        ("expired", "token expired"),
        ("ghost", "unknown user &#x27;ghost&#x27;"),
    ],
)
async def test_a_bad_token_is_refused_with_the_login_page(
    app_routes_site: Site, token_for: Callable[..., str], token: str, reason: str
) -> None:
    if token == "expired":
        token = token_for("alice", max_age=timedelta(seconds=1), now=1_000_000)
    elif token == "ghost":
        token = token_for("ghost", roles=["admin"])
    browser = app_routes_site.browser()
    response = await browser.call("GET", "/jwt-login?" + urlencode({"login-token": token}))

    assert response.code == 401
    assert reason in text(response)
    assert '<form method="post" action="/login">' in text(response)
    assert browser.cookies == {}
