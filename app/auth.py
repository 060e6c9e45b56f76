"""Who is asking: the login session of a page request, for Bokeh's server and for pages.

The login itself is the API's (``/login``, ``/logout``, ``/jwt-login`` in
:mod:`cc_backend.web.session_handlers`); a successful login leaves the signed ``session``
cookie (:mod:`cc_backend.auth.sessions`). Here that cookie is read:

- :class:`SessionAuthProvider` is Bokeh's auth provider hook: every page request and
  every websocket of a page needs a valid session, else the browser is sent to
  ``/login?redirect=<the page>``;
- :class:`SessionUsers` turns the cookie value a Panel session carries
  (``pn.state.cookies``) into the current :class:`User`, read from the database on every
  page, so role changes apply at the next page load.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import tornado.ioloop
from bokeh.server.auth_provider import AuthProvider
from tornado.web import RequestHandler

from cc_backend.auth.sessions import SessionAuth
from cc_backend.domain.user import User

__all__ = ["LOGIN_PATH", "LOGOUT_PATH", "SessionAuthProvider", "SessionUsers", "login_url"]

log = logging.getLogger(__name__)

LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"


def login_url(target: str) -> str:
    """The login page that leads back to ``target`` (a path with its query)."""
    return f"{LOGIN_PATH}?{urlencode({'redirect': target})}"


@dataclass(frozen=True)
class SessionUsers:
    """Reads the user of a session cookie (see the module docstring).

    ``secret`` is the key that signs the cookies (the application's ``cookie_secret``).
    """

    sessions: SessionAuth
    secret: str = field(repr=False)

    def user(self, cookie: str | None) -> User | None:
        """The user of a ``session`` cookie value as the database has them now; ``None``
        for a missing, forged, expired or outdated session. Blocks (database)."""
        session = self.sessions.decode(self.secret, cookie)
        return self.sessions.user(session) if session is not None else None


class SessionAuthProvider(AuthProvider):
    """Bokeh's auth hook over the login session (see the module docstring)."""

    def __init__(self, sessions: SessionAuth) -> None:
        self.sessions = sessions
        super().__init__()

    # Bokeh annotates these hooks with the request, but calls them with the handler.
    @property
    def get_user_async(  # type: ignore[override]
        self,
    ) -> Callable[[RequestHandler], Awaitable[str | None]]:
        async def current_user(handler: RequestHandler) -> str | None:
            # The database read runs off the event loop; the cookie is read here.
            session = (
                self.sessions.session(handler) if handler.settings.get("cookie_secret") else None
            )
            if session is None:
                return None
            loop = tornado.ioloop.IOLoop.current()
            user = await loop.run_in_executor(None, self.sessions.user, session)
            return user.username if user is not None else None

        return current_user

    @property
    def get_login_url(self) -> Callable[[RequestHandler], str]:  # type: ignore[override]
        return _login_url_of

    @property
    def logout_url(self) -> str:
        return LOGOUT_PATH


def _login_url_of(handler: RequestHandler) -> str:
    """``/login?redirect=<uri>``, written so that it also works where Panel makes it
    relative (its page handler prefixes a ``.``): as many ``..`` as the request path has
    folders, which a browser resolves to ``/login`` from anywhere."""
    uri = handler.request.uri or "/"
    path = handler.request.path or "/"
    ups = "../" * max(path.count("/") - 1, 0)
    return "/" + ups + login_url(uri).lstrip("/")
