"""The web app's parts on a real site: the app as the server mounts it, and its routes
served together with the login routes on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import tornado.web
from dotenv import dotenv_values

from app.auth import SessionUsers
from app.site import AppSite, extra_routes
from cc_backend.auth.sessions import SessionAuth
from cc_backend.client import LocalClient
from cc_backend.server import Backends
from cc_backend.web.routes import api_routes
from cc_backend.web.session_handlers import JwtLoginHandler
from tests.web.browser import PASSWORDS, Site, serving


@pytest.fixture
def session_key(api_site: Path) -> str:
    return str(dotenv_values(api_site / ".env")["SESSION_KEY"])


@pytest.fixture
def app_site(backends: Backends, session_key: str) -> AppSite:
    """The web app as ``cc-backend serve`` builds it for the site."""
    sessions = SessionAuth.from_config(backends.config, backends.users.get)
    return AppSite(
        users=SessionUsers(sessions, session_key),
        client_for=lambda user: LocalClient(backends, user),
    )


@pytest.fixture
async def app_routes_site(
    backends: Backends, app_site: AppSite, session_key: str
) -> AsyncIterator[Site]:
    """The login routes, ``/jwt-login``, ``/search`` and ``/theme`` served together; root,
    alice and bob have the passwords of :data:`tests.web.browser.PASSWORDS`."""
    for name, password in PASSWORDS.items():
        backends.users.set_password(name, password)
    routes = [
        *api_routes(backends),
        ("/jwt-login", JwtLoginHandler, {"backends": backends}),
        *extra_routes(app_site),
    ]
    app = tornado.web.Application(routes, backends=backends, cookie_secret=session_key)
    async with serving(app) as base:
        yield Site(base, backends, session_key)
