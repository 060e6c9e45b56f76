"""Login sessions kept in a signed cookie.

After a login the server sets the cookie ``session``: a Tornado signed value (version 2,
HMAC-SHA256 with the application setting ``cookie_secret``, which the server sets from the
site's ``SESSION_KEY``) holding ``{"sub": user name, "iat": login time, "pwd": mark}``. The
cookie is ``HttpOnly``, ``SameSite=Lax``, ``Secure`` on HTTPS requests, and lives for
``main.session-max-age`` (default 168 h; ``0`` means it does not expire, approximated by ten
years as cc-backend does). The age is checked on the server from the signed login time, not
only by the browser.

A session names a user only: every request loads the user from the database, so roles and
projects are always current, a deleted user is logged out at once, and so is every session
of a user whose password changed (``pwd`` is a short mark of the stored password hash).

Typed API, for the REST handlers and for the Panel pages served by the same Tornado
application (``handler`` is any ``tornado.web.RequestHandler`` of that application)::

    sessions = SessionAuth.from_config(config, users.get)
    sessions.start(handler, user)       # after a successful login: sets the cookie
    sessions.end(handler)               # logout: clears the cookie
    sessions.session(handler)           # the request's valid Session, or None (no I/O)
    sessions.user(session)              # the current User, or None (reads the database)
    sessions.get_user(handler)          # user name or None: Bokeh's auth-provider hook

``get_user`` is what Bokeh's auth module expects (``get_user(request_handler)``); it reads
the database, so a page that checks many requests may prefer ``session`` plus ``user`` in
an executor. Without a ``cookie_secret`` every method that needs it raises
:class:`SessionKeyMissing` (logged as "SESSION_KEY not set"), except ``get_user``, which
logs and answers ``None``: sessions fail closed.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from tornado.web import RequestHandler, create_signed_value, decode_signed_value

from cc_backend.config import Config
from cc_backend.domain.errors import NotFound
from cc_backend.domain.user import User

__all__ = ["SESSION_COOKIE", "Session", "SessionAuth", "SessionKeyMissing", "password_mark"]

log = logging.getLogger(__name__)

#: Name of the session cookie (cc-backend's).
SESSION_COOKIE = "session"
#: Lifetime standing in for "never expires".
UNLIMITED = timedelta(days=3650)
_SIGNED_VERSION = 2

#: The application setting holding the signing secret.
SECRET_SETTING = "cookie_secret"


class SessionKeyMissing(RuntimeError):
    """The application has no ``cookie_secret``: sessions can be neither made nor checked."""


@dataclass(frozen=True)
class Session:
    """A valid session: who logged in, when (Unix seconds), and the password mark then."""

    username: str
    login_time: int
    password_mark: str


def password_mark(user: User) -> str:
    """A short mark of ``user``'s stored password hash (empty hash for users without)."""
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def _secret(handler: RequestHandler) -> str | bytes:
    secret = handler.settings.get(SECRET_SETTING)
    if not secret:
        log.error("SESSION_KEY not set: login sessions can be neither created nor checked")
        raise SessionKeyMissing("SESSION_KEY not set")
    if not isinstance(secret, str | bytes):
        raise SessionKeyMissing("the cookie_secret setting must be a string")
    return secret


class SessionAuth:
    """Creates, checks and ends login sessions (see the module docstring).

    ``find_user(name)`` returns a user or raises :class:`NotFound`; ``max_age`` is the
    session lifetime (``None`` or zero: unlimited); ``clock`` returns Unix seconds.
    """

    def __init__(
        self,
        find_user: Callable[[str], User],
        max_age: timedelta | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.find_user = find_user
        self.lifetime = max_age if max_age is not None and max_age > timedelta(0) else UNLIMITED
        self.clock = clock

    @classmethod
    def from_config(cls, config: Config, find_user: Callable[[str], User]) -> SessionAuth:
        """Sessions of a site: lifetime from ``main.session-max-age``."""
        return cls(find_user, config.main.session_max_age)

    # -- the cookie value ----------------------------------------------------------------

    def encode(self, secret: str | bytes, user: User) -> str:
        """The signed cookie value of a new session of ``user``."""
        payload = {"sub": user.username, "iat": int(self.clock()), "pwd": password_mark(user)}
        signed = create_signed_value(
            secret, SESSION_COOKIE, orjson.dumps(payload), version=_SIGNED_VERSION, clock=self.clock
        )
        return signed.decode()

    def decode(self, secret: str | bytes, value: str | None) -> Session | None:
        """The session in a cookie value; ``None`` if it is missing, altered, signed with
        another key, malformed or older than the lifetime."""
        if not value:
            return None
        raw = decode_signed_value(
            secret,
            SESSION_COOKIE,
            value,
            max_age_days=self.lifetime.total_seconds() / 86400,
            clock=self.clock,
            min_version=_SIGNED_VERSION,
        )
        if raw is None:
            return None
        try:
            payload: Any = orjson.loads(raw)
            session = Session(str(payload["sub"]), int(payload["iat"]), str(payload["pwd"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            log.warning("ignoring a validly signed session cookie of unknown layout")
            return None
        return session if session.username else None

    # -- on a request --------------------------------------------------------------------

    def start(self, handler: RequestHandler, user: User) -> None:
        """Set the session cookie of ``user`` on the response (replacing any old session)."""
        handler.set_cookie(
            SESSION_COOKIE,
            self.encode(_secret(handler), user),
            max_age=int(self.lifetime.total_seconds()),
            **self._attributes(handler),
        )

    def end(self, handler: RequestHandler) -> None:
        """Clear the session cookie on the response."""
        handler.clear_cookie(SESSION_COOKIE, **self._attributes(handler))

    def session(self, handler: RequestHandler) -> Session | None:
        """The request's valid session, or ``None``; raises :class:`SessionKeyMissing`."""
        value = handler.get_cookie(SESSION_COOKIE)
        if not value:
            return None
        return self.decode(_secret(handler), value)

    def user(self, session: Session) -> User | None:
        """The user of ``session`` as the database has them now; ``None`` if they were
        deleted or their password changed since the login. Blocks (database)."""
        try:
            user = self.find_user(session.username)
        except NotFound:
            log.info("session of user %r refused: the user no longer exists", session.username)
            return None
        if password_mark(user) != session.password_mark:
            log.info("session of user %r refused: the password changed", session.username)
            return None
        return user

    def get_user(self, handler: RequestHandler) -> str | None:
        """The logged-in user's name, or ``None`` (Bokeh's ``get_user``). Blocks (database)."""
        try:
            session = self.session(handler)
        except SessionKeyMissing:
            return None
        user = self.user(session) if session is not None else None
        return user.username if user is not None else None

    @staticmethod
    def _attributes(handler: RequestHandler) -> dict[str, Any]:
        return {
            "path": "/",
            "httponly": True,
            "samesite": "Lax",
            "secure": handler.request.protocol == "https",
        }
