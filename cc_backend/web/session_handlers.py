"""Handlers built on the login session: ``/login``, ``/logout`` and the base of the
session-authenticated routes (``/config/``, ``/frontend/``).

``POST /login`` takes the form fields ``username`` and ``password`` (URL-encoded or
multipart) and checks them against the local users (bcrypt). On success it sets the session
cookie (:mod:`cc_backend.auth.sessions`) and answers 302 to ``redirect`` (a query or form
field) if that is a path on this site, else to ``/``. On failure it answers 401 with the
login form and the reason, as cc-backend does; after too many failures for a user name from
one address, 429 with ``Retry-After`` (:mod:`cc_backend.auth.local`). ``GET /login``
answers the login page (self-contained: inline styles, no script, nothing from another
host); ``GET`` or ``POST /logout`` clears the cookie and redirects to ``/login``.

``GET /jwt-login?login-token=TOKEN`` (or the token in ``Authorization: Bearer``) logs in
with an API token signed by the site's key (``JWT_PRIVATE_KEY``; checked with
``JWT_PUBLIC_KEY`` as every API token): the token's user must exist in the user table. On
success it sets the session cookie and answers 302 to ``redirect`` as ``/login`` does;
otherwise 401 with the login page and the reason.

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
from cc_backend.domain.errors import NotFound, Unauthenticated
from cc_backend.domain.user import User
from cc_backend.web.auth import Access
from cc_backend.web.rest.base import BaseAPIHandler

if TYPE_CHECKING:
    from cc_backend.server import Backends

__all__ = [
    "JwtLoginHandler",
    "LoginHandler",
    "LogoutHandler",
    "SessionAPIHandler",
    "login_page",
    "safe_redirect",
]

log = logging.getLogger(__name__)

_HTML = "text/html; charset=UTF-8"
_TEXT = "text/plain; charset=UTF-8"
#: What the login page may load: its inline styles; its form posts to this site only.
_PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
)


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


#: The login page's look (inline, so the page needs nothing from elsewhere); it follows
#: the browser's light or dark preference.
_LOGIN_STYLE = """
:root { color-scheme: light dark; --accent: #0072b5; }
* { box-sizing: border-box; }
body { margin: 0; min-height: 100vh; display: flex; align-items: center;
  justify-content: center; background: Canvas; color: CanvasText;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { width: 100%; max-width: 22rem; padding: 2rem; border-radius: .5rem;
  box-shadow: 0 .25rem 1.25rem rgba(0, 0, 0, .18); }
h1 { margin: 0 0 .25rem; font-size: 1.5rem; color: var(--accent); }
p.sub { margin: 0 0 1.5rem; opacity: .75; }
label { display: block; margin-bottom: 1rem; font-size: .95rem; }
input { display: block; width: 100%; margin-top: .3rem; padding: .55rem .65rem;
  font-size: 1rem; border: 1px solid rgba(128, 128, 128, .6); border-radius: .3rem;
  background: Field; color: FieldText; }
input:focus { outline: 2px solid var(--accent); outline-offset: 1px; }
button { width: 100%; padding: .6rem; font-size: 1rem; border: 0; border-radius: .3rem;
  background: var(--accent); color: #fff; cursor: pointer; }
button:hover { filter: brightness(1.1); }
.alert { padding: .65rem .8rem; margin-bottom: 1rem; border-radius: .3rem;
  background: rgba(220, 53, 69, .18); border: 1px solid rgba(220, 53, 69, .45); }
"""


def login_page(message: str = "", redirect: str = "") -> str:
    """The login page: a form posting ``username`` and ``password`` (and ``redirect``) to
    ``/login``, with ``message`` as an alert; every value is escaped."""
    notice = f'<p class="alert" role="alert">{xhtml_escape(message)}</p>' if message else ""
    hidden = (
        f'<input type="hidden" name="redirect" value="{xhtml_escape(redirect)}">'
        if redirect
        else ""
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Login - ClusterCockpit</title><style>{_LOGIN_STYLE}</style></head>"
        '<body><main><h1>ClusterCockpit</h1><p class="sub">Log in to continue</p>'
        f'{notice}<form method="post" action="/login">{hidden}'
        '<label>Username <input name="username" autocomplete="username" required '
        "autofocus></label>"
        '<label>Password <input name="password" type="password" '
        'autocomplete="current-password" required></label>'
        '<button type="submit">Log in</button></form></main></body></html>'
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
        """Send ``text`` with ``status`` and finish the response; an HTML page may use
        its own inline styles (and nothing else from anywhere)."""
        self.set_status(status)
        self.set_header("Content-Type", content_type)
        if content_type == _HTML:
            self.set_header("Content-Security-Policy", _PAGE_POLICY)
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


class JwtLoginHandler(_SessionHandler):
    """``GET /jwt-login``: log in with an API token (see the module docstring)."""

    authenticated = False

    async def get(self) -> None:
        token = self.get_query_argument("login-token", "") or _bearer(
            self.request.headers.get("Authorization", "")
        )
        redirect = self.get_query_argument("redirect", "")
        try:
            if not token:
                raise Unauthenticated("no login token")
            user = await self.blocking(self._user_of, token)
        except Unauthenticated as exc:
            log.warning("refused a token login from %s: %s", self.request.remote_ip, exc)
            self.write_text(login_page(exc.message, redirect), 401, _HTML)
            return
        self.sessions.start(self, user)
        log.info("user %r logged in with a token from %s", user.username, self.request.remote_ip)
        self.redirect(safe_redirect(redirect), status=302)

    def _user_of(self, token: str) -> User:
        """The stored user a valid token names; :class:`Unauthenticated` otherwise."""
        claimed = self.backends.authenticator.user_from_token(token)
        try:
            return self.backends.users.get(claimed.username)
        except NotFound:
            raise Unauthenticated(f"unknown user {claimed.username!r}") from None


def _bearer(header: str) -> str:
    scheme, _, credentials = header.strip().partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""
