"""Plain Tornado routes of the web app, served beside its pages: ``/search`` and ``/theme``.

``GET /search?searchId=TEXT`` answers 302 to where :func:`app.search.resolve_search`
leads, or a message page. ``GET /theme?set=dark|default`` stores the light/dark choice in
the ``cc-theme`` cookie and goes back to the page it came from (the ``Referer``, if it is
a page of this site). Both need a login session; without one, ``/search`` sends the
browser to the login page.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import tornado.ioloop
from tornado.web import RequestHandler

from app.auth import SessionUsers, login_url
from app.messages import message_page
from app.search import SearchMessage, resolve_search
from cc_backend.auth.sessions import SESSION_COOKIE
from cc_backend.client import Client
from cc_backend.domain.errors import CCError
from cc_backend.domain.user import User
from cc_backend.web.session_handlers import safe_redirect

__all__ = ["THEME_COOKIE", "SearchHandler", "ThemeHandler", "theme_from"]

#: The cookie that keeps the light/dark choice.
THEME_COOKIE = "cc-theme"
_THEMES = ("default", "dark")
_TITLES = {"info": "Info", "warning": "Warning", "error": "Error"}


def theme_from(query: str | None, cookie: str | None) -> str:
    """The theme of a page: the URL's ``theme`` argument, else the cookie, else light."""
    for choice in (query, cookie):
        if choice in _THEMES:
            return str(choice)
    return "default"


class _AppHandler(RequestHandler):
    """Common parts: the session's user and a client acting as them."""

    users: SessionUsers
    client_for: Callable[[User], Client]

    def initialize(self, users: SessionUsers, client_for: Callable[[User], Client]) -> None:
        self.users = users
        self.client_for = client_for

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")

    async def current(self) -> User | None:
        """The logged-in user, or ``None``."""
        cookie = self.get_cookie(SESSION_COOKIE)
        if not cookie:
            return None
        loop = tornado.ioloop.IOLoop.current()
        user: User | None = await loop.run_in_executor(None, self.users.user, cookie)
        return user


class SearchHandler(_AppHandler):
    """``GET /search`` (see the module docstring)."""

    async def get(self) -> None:
        user = await self.current()
        if user is None:
            self.redirect(login_url(self.request.uri or "/search"))
            return
        text = self.get_query_argument("searchId", "")
        try:
            target = await resolve_search(text, user, self.client_for(user))
        except CCError as exc:
            target = SearchMessage("error", exc.message)
        if isinstance(target, SearchMessage):
            self.set_header("Content-Type", "text/html; charset=UTF-8")
            self.finish(message_page(_TITLES[target.kind], target.text, target.kind))
            return
        self.redirect(target, status=302)


class ThemeHandler(_AppHandler):
    """``GET /theme?set=...`` (see the module docstring)."""

    async def get(self) -> None:
        if await self.current() is None:
            self.redirect(login_url("/"))
            return
        choice = theme_from(self.get_query_argument("set", ""), None)
        self.set_cookie(THEME_COOKIE, choice, path="/", samesite="Lax", expires_days=365)
        referer = urlsplit(self.request.headers.get("Referer", ""))
        same_site = referer.netloc in ("", self.request.host)
        back = referer.path + (f"?{_without_theme(referer.query)}" if referer.query else "")
        self.redirect(safe_redirect(back) if same_site and referer.path else "/", status=302)


def _without_theme(query: str) -> str:
    """A query string without its ``theme`` argument (the cookie decides from now on)."""
    return "&".join(p for p in query.split("&") if p and not p.startswith("theme="))
