"""Handlers built on the login session: ``/login``, ``/logout`` and the base of the
session-authenticated routes (``/config/``, ``/frontend/``).

``POST /login`` takes the form fields ``username`` and ``password`` (URL-encoded or
multipart) and checks them against the local users (bcrypt). On success it sets the session
cookie (:mod:`cc_backend.auth.sessions`) and answers 302 to ``redirect`` (a query or form
field) if that is a path on this site, else to ``/``. On failure it answers 401 with the
login form and the reason, as cc-backend does; after too many failures for a user name from
one address, 429 with ``Retry-After`` (:mod:`cc_backend.auth.local`). ``GET /login``
answers the bare form; ``GET`` or ``POST /logout`` clears the cookie and redirects to
``/login``.

:class:`SessionAPIHandler` is :class:`~cc_backend.web.rest.base.BaseAPIHandler` with the
session cookie instead of a token: no valid session (or a deleted user) is a 401 with
cc-backend's error body. Form values are read as Go's ``FormValue`` does: body first, then
query, unstripped.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from tornado.escape import xhtml_escape

from cc_backend.auth.local import LocalLogin, LoginLimiter, TooManyAttempts
from cc_backend.auth.sessions import SESSION_COOKIE, SessionAuth
from cc_backend.domain.errors import Unauthenticated
from cc_backend.web.auth import Access
from cc_backend.web.rest.base import BaseAPIHandler

if TYPE_CHECKING:
    from cc_backend.server import Backends

__all__ = [
    "LoginHandler",
    "LogoutHandler",
    "SessionAPIHandler",
    "login_page",
    "safe_redirect",
]

log = logging.getLogger(__name__)

_HTML = "text/html; charset=UTF-8"
_TEXT = "text/plain; charset=UTF-8"


def safe_redirect(target: str | None) -> str:
    """``target`` if it is a path on this site (``/jobs/?x=1``), else ``/``.

    Refuses absolute and scheme-relative URLs (``//host``, ``/\\host``), anything without
    a leading slash and anything with control characters or white space.
    """
    if not target or not target.startswith("/") or target[1:2] in ("/", "\\"):
        return "/"
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def login_page(message: str = "", redirect: str = "") -> str:
    """A minimal login form posting to ``/login``; every value is escaped."""
    notice = f'<p role="alert">{xhtml_escape(message)}</p>' if message else ""
    hidden = (
        f'<input type="hidden" name="redirect" value="{xhtml_escape(redirect)}">'
        if redirect
        else ""
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>Login - ClusterCockpit</title></head><body><h1>Login</h1>"
        f'{notice}<form method="post" action="/login">{hidden}'
        '<p><label>Username <input name="username" autocomplete="username" required>'
        "</label></p>"
        '<p><label>Password <input name="password" type="password" '
        'autocomplete="current-password" required></label></p>'
        '<p><button type="submit">Log in</button></p></form></body></html>'
    )


class _SessionHandler(BaseAPIHandler):
    """Common parts: the site's :class:`SessionAuth` and form values."""

    sessions: SessionAuth

    def initialize(self, backends: Backends | None = None, access: Access | None = None) -> None:
        super().initialize(backends, access)
        self.sessions = SessionAuth.from_config(self.backends.config, self.backends.users.get)

    def form_value(self, name: str) -> str:
        """The form field ``name`` (body, then query), as sent; ``""`` when absent."""
        return self.get_argument(name, "", strip=False)

    def write_text(self, text: str, status: int = 200, content_type: str = _TEXT) -> None:
        """Send ``text`` with ``status`` and finish the response."""
        self.set_status(status)
        self.set_header("Content-Type", content_type)
        self.finish(text.encode())


class SessionAPIHandler(_SessionHandler):
    """A JSON/text route authenticated by the session cookie; ``self.user`` is the user as
    the database has them now."""

    async def prepare(self) -> None:
        session = self.sessions.session(self)
        user = await self.blocking(self.sessions.user, session) if session else None
        if user is None:
            if self.get_cookie(SESSION_COOKIE):
                self.sessions.end(self)
            raise Unauthenticated("unauthorized: please log in")
        self.user = user


class LoginHandler(_SessionHandler):
    """``GET /login``: the form; ``POST /login``: log in (see the module docstring)."""

    authenticated = False
    limiter: LoginLimiter

    def initialize(
        self,
        backends: Backends | None = None,
        access: Access | None = None,
        limiter: LoginLimiter | None = None,
    ) -> None:
        super().initialize(backends, access)
        if limiter is None:
            raise RuntimeError("no login limiter: the route table passes one to /login")
        self.limiter = limiter

    def get(self) -> None:
        self.write_text(login_page(redirect=self.get_query_argument("redirect", "")), 200, _HTML)

    async def post(self) -> None:
        username, password = self.form_value("username"), self.form_value("password")
        redirect = self.form_value("redirect")
        login = LocalLogin(self.backends.users.authenticate, self.limiter)
        client = self.request.remote_ip or "unknown"
        try:
            user = await self.blocking(login.login, username, password, client)
        except TooManyAttempts as exc:
            self.set_header("Retry-After", str(exc.retry_after))
            self.write_text(login_page(exc.message, redirect), 429, _HTML)
            return
        except Unauthenticated as exc:
            self.write_text(login_page(exc.message, redirect), 401, _HTML)
            return
        self.sessions.start(self, user)
        self.redirect(safe_redirect(redirect), status=302)


class LogoutHandler(_SessionHandler):
    """``GET`` or ``POST /logout``: clear the session cookie, then 302 to ``/login``."""

    authenticated = False

    def _logout(self) -> None:
        self.sessions.end(self)
        self.redirect("/login", status=302)

    def get(self) -> None:
        self._logout()

    def post(self) -> None:
        self._logout()
