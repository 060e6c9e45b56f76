"""Login sessions: ``/login``, ``/logout`` and the session cookie, against the served app.

The ``web_site`` fixture (tests/web/conftest.py) serves the site with passwords; its
browser-like client (tests/web/browser.py) keeps cookies.
"""

from __future__ import annotations

import base64
import json
import logging
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

import pytest
import tornado.web

from cc_backend.auth.local import LoginLimiter, TooManyAttempts
from cc_backend.auth.sessions import SessionAuth
from cc_backend.domain.user import User
from cc_backend.server import Backends, make_api_app
from cc_backend.web.routes import api_routes
from cc_backend.web.session_handlers import safe_redirect
from tests.web.browser import PASSWORDS, Browser, Site, error_of, serving, text

# -- logging in -----------------------------------------------------------------------


async def test_login_sets_a_protected_session_cookie_and_redirects_home(web_site: Site) -> None:
    browser = web_site.browser()
    response = await browser.login("alice")

    assert response.code == 302
    assert response.headers["Location"] == "/"
    [cookie] = response.headers.get_list("Set-Cookie")
    morsel = SimpleCookie(cookie)["session"]
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Lax"
    assert morsel["path"] == "/"
    assert morsel["max-age"] == str(168 * 3600)  # main.session-max-age defaults to 168h
    assert not morsel["secure"]  # plain HTTP here; set on HTTPS requests
    assert PASSWORDS["alice"] not in cookie


async def test_the_session_authenticates_session_routes(web_site: Site) -> None:
    browser = await web_site.logged_in("alice")
    response = await browser.call("GET", "/frontend/jwt/?username=alice")
    assert response.code == 200, response.body


async def test_a_multipart_login_form_works(web_site: Site) -> None:
    browser = web_site.browser()
    response = await browser.call(
        "POST", "/login", {"username": "bob", "password": PASSWORDS["bob"]}, as_multipart=True
    )
    assert response.code == 302
    assert "session" in browser.cookies


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/monitoring/jobs/?state=running", "/monitoring/jobs/?state=running"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("jobs/", "/"),
        ("javascript:alert(1)", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
    ],
)
async def test_login_redirects_only_to_paths_of_this_site(
    web_site: Site, target: str, expected: str
) -> None:
    by_query = web_site.browser()
    response = await by_query.call(
        "POST",
        "/login?" + urlencode({"redirect": target}),
        {"username": "alice", "password": PASSWORDS["alice"]},
    )
    assert response.code == 302
    assert response.headers["Location"] == expected

    by_form = web_site.browser()
    response = await by_form.login("alice", redirect=target)
    assert response.headers["Location"] == expected


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("alice", "wrong"),
        ("nobody", "whatever"),
        ("adapter", ""),  # an API user without password cannot log in
        ("alice", ""),
        ("", ""),
    ],
)
async def test_a_failed_login_is_401_with_the_form_and_no_cookie(
    web_site: Site, username: str, password: str
) -> None:
    browser = web_site.browser()
    response = await browser.call("POST", "/login", {"username": username, "password": password})

    assert response.code == 401
    assert response.headers["Content-Type"].startswith("text/html")
    assert "invalid username or password" in text(response)
    assert '<form method="post" action="/login">' in text(response)
    assert not response.headers.get_list("Set-Cookie")
    assert browser.cookies == {}


async def test_the_login_form_escapes_what_it_echoes(web_site: Site) -> None:
    browser = web_site.browser()
    evil = '"><script>alert(1)</script>'
    page = await browser.call("GET", "/login?" + urlencode({"redirect": evil}))
    failed = await browser.call(
        "POST", "/login", {"username": "alice", "password": "x", "redirect": evil}
    )

    for response in (page, failed):
        assert "<script>" not in text(response)
        assert "&lt;script&gt;" in text(response)
    assert page.code == 200


# -- rate limit -----------------------------------------------------------------------


async def test_failed_logins_are_limited_per_user_name_and_address(web_site: Site) -> None:
    browser = web_site.browser()
    for _ in range(5):
        response = await browser.login("bob", "wrong")
        assert response.code == 401

    blocked = await browser.login("bob", "wrong")
    assert blocked.code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "too many login attempts" in text(blocked)

    right_password = await browser.login("bob")
    assert right_password.code == 429  # no password is checked while blocked
    assert browser.cookies == {}

    other_user = await web_site.browser().login("alice")
    assert other_user.code == 302


async def test_successful_logins_do_not_count_against_the_limit(web_site: Site) -> None:
    for _ in range(7):
        assert (await web_site.browser().login("alice")).code == 302


def test_the_limit_refills_one_attempt_per_window_share() -> None:
    now = [1000.0]
    limiter = LoginLimiter(attempts=5, window=timedelta(minutes=15), clock=lambda: now[0])
    for _ in range(5):
        limiter.check("10.0.0.1", "bob")
        limiter.failed("10.0.0.1", "bob")

    with pytest.raises(TooManyAttempts) as blocked:
        limiter.check("10.0.0.1", "bob")
    assert blocked.value.retry_after == 180
    limiter.check("10.0.0.2", "bob")  # another address
    limiter.check("10.0.0.1", "alice")  # another user name

    now[0] += 180
    limiter.check("10.0.0.1", "bob")
    limiter.failed("10.0.0.1", "bob")
    with pytest.raises(TooManyAttempts):
        limiter.check("10.0.0.1", "bob")


def test_the_limiter_forgets_refilled_pairs_when_full() -> None:
    now = [0.0]
    limiter = LoginLimiter(attempts=2, window=timedelta(seconds=20), clock=lambda: now[0])
    limiter.max_entries = 3
    for n in range(3):
        limiter.failed("10.0.0.1", f"user{n}")
    now[0] += 20
    limiter.failed("10.0.0.1", "another")
    assert len(limiter._budgets) == 1


# -- logging out, and sessions that stop being valid ------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_logout_clears_the_cookie_and_redirects_to_the_login(
    web_site: Site, method: str
) -> None:
    browser = await web_site.logged_in("alice")
    response = await browser.call(method, "/logout")

    assert response.code == 302
    assert response.headers["Location"] == "/login"
    assert browser.cookies == {}
    after = await browser.call("GET", "/frontend/jwt/?username=alice")
    assert after.code == 401


def _with_payload(cookie: str, payload: dict[str, Any]) -> str:
    """The signed cookie with its value replaced (the signature left as it was)."""
    fields = cookie.split("|")
    encoded = base64.b64encode(json.dumps(payload).encode()).decode()
    fields[4] = f"{len(encoded)}:{encoded}"
    return "|".join(fields)


async def test_an_altered_cookie_is_refused_and_cleared(web_site: Site) -> None:
    browser = await web_site.logged_in("bob")
    original = browser.cookies["session"]
    browser.cookies["session"] = _with_payload(original, {"sub": "root", "iat": 1, "pwd": "x"})

    response = await browser.call("GET", "/config/roles/")

    assert response.code == 401
    assert error_of(response) == {"status": "Unauthorized", "error": "unauthorized: please log in"}
    assert "session" not in browser.cookies


async def test_a_cookie_signed_with_another_key_is_refused(web_site: Site) -> None:
    browser = web_site.browser()
    other = SessionAuth(web_site.backends.users.get)
    root = web_site.user("root")
    assert root is not None
    browser.cookies["session"] = other.encode("not the site's key", root)

    response = await browser.call("GET", "/config/roles/")
    assert response.code == 401


@pytest.mark.parametrize("cookie", ["", "garbage", "2|1:0|10:1700000000|7:session|3:abc|x"])
async def test_malformed_cookies_are_refused(web_site: Site, cookie: str) -> None:
    browser = web_site.browser()
    browser.cookies["session"] = cookie or '""'
    response = await browser.call("GET", "/config/roles/")
    assert response.code == 401


async def test_a_deleted_users_session_is_refused(web_site: Site) -> None:
    browser = await web_site.logged_in("bob")
    web_site.backends.users.delete("bob")

    response = await browser.call("GET", "/frontend/jwt/?username=bob")

    assert response.code == 401
    assert "session" not in browser.cookies


async def test_roles_are_read_from_the_database_on_every_request(web_site: Site) -> None:
    browser = await web_site.logged_in("bob")
    assert (await browser.call("GET", "/config/roles/")).code == 403

    web_site.backends.users.add_role("bob", "admin")
    assert (await browser.call("GET", "/config/roles/")).code == 200

    web_site.backends.users.remove_role("bob", "admin")
    assert (await browser.call("GET", "/config/roles/")).code == 403


async def test_a_password_change_ends_existing_sessions(web_site: Site) -> None:
    browser = await web_site.logged_in("alice")
    web_site.backends.users.set_password("alice", "a-new-Secret-2")

    response = await browser.call("GET", "/frontend/jwt/?username=alice")
    assert response.code == 401
    assert (await web_site.browser().login("alice", "a-new-Secret-2")).code == 302


def test_a_session_expires_after_the_configured_age() -> None:
    now = [1_700_000_000.0]
    user = User.build("alice", ["user"])
    sessions = SessionAuth(lambda _name: user, timedelta(hours=1), clock=lambda: now[0])
    cookie = sessions.encode("key", user)

    session = sessions.decode("key", cookie)
    assert session is not None
    assert (session.username, session.login_time) == ("alice", 1_700_000_000)
    now[0] += 3599
    assert sessions.decode("key", cookie) is not None
    now[0] += 2
    assert sessions.decode("key", cookie) is None


def test_a_zero_max_age_means_sessions_do_not_expire() -> None:
    now = [1_700_000_000.0]
    user = User.build("alice", ["user"])
    sessions = SessionAuth(lambda _name: user, timedelta(0), clock=lambda: now[0])
    cookie = sessions.encode("key", user)
    now[0] += 5 * 365 * 86400
    assert sessions.decode("key", cookie) is not None


@pytest.mark.parametrize("site_config", [{"main": {"session-max-age": "1h"}}])
async def test_the_cookie_lives_for_main_session_max_age(web_site: Site) -> None:
    response = await web_site.browser().login("alice")
    [cookie] = response.headers.get_list("Set-Cookie")
    assert SimpleCookie(cookie)["session"]["max-age"] == "3600"


# -- the secret -----------------------------------------------------------------------


async def test_without_session_key_sessions_fail_closed(
    backends: Backends, caplog: pytest.LogCaptureFixture
) -> None:
    backends.users.set_password("alice", PASSWORDS["alice"])
    async with serving(make_api_app(backends)) as base:
        browser = Browser(base)
        with caplog.at_level(logging.ERROR):
            login = await browser.login("alice")
        browser.cookies["session"] = "2|1:0|10:1700000000|7:session|4:e30=|abc"
        with_cookie = await browser.call("GET", "/config/roles/")
        without_cookie = await Browser(base).call("GET", "/config/roles/")

    assert login.code == 500
    assert not login.headers.get_list("Set-Cookie")
    assert "request id" in error_of(login)["error"]
    assert "SESSION_KEY not set" in caplog.text
    assert with_cookie.code == 500
    assert without_cookie.code == 401


# -- the same session in other handlers of the application (the Panel pages) ----------


class WhoAmIHandler(tornado.web.RequestHandler):
    """A page of the same application reading the session as Bokeh's auth hook does."""

    def initialize(self, sessions: SessionAuth) -> None:
        self.sessions = sessions

    def get(self) -> None:
        self.write(self.sessions.get_user(self) or "-")


async def test_other_handlers_of_the_app_can_read_the_session(
    backends: Backends, web_site: Site
) -> None:
    sessions = SessionAuth.from_config(backends.config, backends.users.get)
    app = tornado.web.Application(
        [*api_routes(backends), ("/whoami", WhoAmIHandler, {"sessions": sessions})],
        backends=backends,
        cookie_secret=web_site.session_key,
    )
    async with serving(app) as base:
        browser = Browser(base)
        assert text(await browser.call("GET", "/whoami")) == "-"
        await browser.login("alice")
        assert text(await browser.call("GET", "/whoami")) == "alice"
        browser.cookies["session"] += "x"
        assert text(await browser.call("GET", "/whoami")) == "-"

    no_secret = tornado.web.Application([("/whoami", WhoAmIHandler, {"sessions": sessions})])
    async with serving(no_secret) as base:
        anonymous = Browser(base, cookies={"session": "anything"})
        assert text(await anonymous.call("GET", "/whoami")) == "-"


def test_safe_redirect_keeps_local_paths_with_queries() -> None:
    assert safe_redirect("/a/b?c=d#e") == "/a/b?c=d#e"
    assert safe_redirect(None) == "/"
