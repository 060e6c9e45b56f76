"""Reading the login session for pages, and where Bokeh sends those without one."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any
from urllib.parse import urljoin

import pytest

from app.auth import SessionAuthProvider, SessionUsers, login_url
from app.site import AppSite
from cc_backend.auth.sessions import SessionAuth
from cc_backend.server import Backends


def _handler(uri: str) -> Any:
    path = uri.split("?", 1)[0]
    return SimpleNamespace(request=SimpleNamespace(uri=uri, path=path))


@pytest.mark.parametrize(
    "uri", ["/", "/config", "/monitoring/jobs/?state=running", "/monitoring/job/42"]
)
def test_the_login_url_leads_to_the_login_page_from_any_page(uri: str) -> None:
    provider = SessionAuthProvider(SessionAuth(lambda name: None))  # type: ignore[arg-type, return-value]
    url = provider.get_login_url(_handler(uri))
    # Panel's page handler makes the URL relative; the browser resolves it against the page.
    resolved = urljoin("http://host" + uri, "." + url)
    assert resolved == "http://host" + login_url(uri)
    assert urljoin("http://host" + uri, url) == "http://host" + login_url(uri)


def test_a_session_cookie_names_the_current_user(backends: Backends, app_site: AppSite) -> None:
    users: SessionUsers = app_site.users
    bob = backends.users.get("bob")
    cookie = users.sessions.encode(users.secret, bob)

    assert users.user(cookie) == bob
    backends.users.add_role("bob", "manager")
    assert "manager" in (users.user(cookie) or bob).roles  # roles as stored now
    assert users.user(cookie + "x") is None
    assert users.user(None) is None
    assert users.user(users.sessions.encode("another key", bob)) is None
    assert users.secret not in repr(users)
