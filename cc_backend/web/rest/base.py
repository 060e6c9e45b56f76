"""The base of every REST handler: services, authentication, JSON in and out, errors.

Handlers get the site's :class:`~cc_backend.server.Backends` either as an init argument
(``(pattern, Handler, {"backends": backends})``, which is how Panel's ``extra_patterns``
pass them) or from the Tornado application setting ``"backends"``. Blocking work (SQL,
archive reads) runs in the default executor through :meth:`BaseAPIHandler.blocking`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import orjson
import tornado.ioloop
import tornado.web
from pydantic import TypeAdapter

from cc_backend.domain.errors import CCError, InvalidInput, NotFound
from cc_backend.domain.user import User
from cc_backend.services.payloads import decode_payload
from cc_backend.web.auth import Access
from cc_backend.web.errors import client_message, error_body, status_of

if TYPE_CHECKING:
    from types import TracebackType

    from cc_backend.server import Backends

__all__ = [
    "INT64_MAX",
    "SECURITY_HEADERS",
    "BaseAPIHandler",
    "NotFoundHandler",
    "decode_json",
    "parse_int64",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Headers sent with every API response (JSON only: nothing may be rendered or framed).
SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
}

_JSON = "application/json; charset=UTF-8"

#: Largest integer a path or query parameter may hold (Go's int64, as cc-backend parses).
INT64_MAX = 2**63 - 1


def parse_int64(text: str, what: str) -> int:
    """``text`` as a signed 64-bit integer; :class:`InvalidInput` naming ``what`` otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise InvalidInput(f"integer expected for {what}: {text[:40]!r}") from None
    if not -INT64_MAX - 1 <= value <= INT64_MAX:
        raise InvalidInput(f"{what} out of range: {text[:40]!r}")
    return value


def decode_json(body: bytes, target: type[T] | TypeAdapter[T]) -> T:
    """Parse a request body into ``target`` (a pydantic model or a ``TypeAdapter``).

    Types are strict as in Go (``"1"`` is no number); unknown fields are refused where the
    model forbids them. Raises :class:`InvalidInput` naming the problem.
    """
    if not body.strip():
        raise InvalidInput("parsing request body failed: the body is empty")
    return decode_payload(body, target, "parsing request body failed")


class BaseAPIHandler(tornado.web.RequestHandler):
    """JSON API handler: authenticates in :meth:`prepare`, answers errors as cc-backend."""

    #: Which role rule the route follows unless the route table says otherwise.
    default_access: ClassVar[Access] = Access.API
    #: Whether the handler authenticates at all (only the 404 fallback does not).
    authenticated: ClassVar[bool] = True

    backends: Backends
    access: Access
    request_id: str
    user: User

    def initialize(self, backends: Backends | None = None, access: Access | None = None) -> None:
        """Take the backends from the route's init arguments or the application settings."""
        found = backends if backends is not None else self.settings.get("backends")
        if found is None:
            raise RuntimeError("no backends: pass them as handler argument or setting")
        self.backends = found
        self.access = access if access is not None else self.default_access
        self.request_id = uuid.uuid4().hex[:16]

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)

    async def prepare(self) -> None:
        """Authenticate the request; off the event loop only if that reads the user table."""
        if not self.authenticated:
            return
        authenticator = self.backends.authenticator
        arguments = (self.request.headers, self.request.remote_ip, self.access)
        if authenticator.reads_database:
            self.user = await self.blocking(authenticator.authenticate, *arguments)
        else:
            self.user = authenticator.authenticate(*arguments)

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in the executor and return its result (SQL, archive I/O)."""
        return await tornado.ioloop.IOLoop.current().run_in_executor(None, fn, *args)

    def body_as(self, target: type[T] | TypeAdapter[T]) -> T:
        """The request body parsed into ``target`` (see :func:`decode_json`)."""
        return decode_json(self.request.body, target)

    def int_arg(self, text: str, name: str = "id") -> int:
        """A path component as 64-bit integer; 400 as cc-backend when it is none."""
        return parse_int64(text, f"{name} in path")

    def write_json(self, data: Any, status: int = 200) -> None:
        """Send ``data`` as JSON with ``status`` and finish the response."""
        self.set_status(status)
        self.set_header("Content-Type", _JSON)
        self.finish(orjson.dumps(data))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """cc-backend's error body; a 500 shows only the request id."""
        exc_info: tuple[type[BaseException], BaseException, TracebackType] | None = kwargs.get(
            "exc_info"
        )
        status = status_code
        message = "internal server error"
        if exc_info is not None:
            status = status_of(exc_info[1])
            message = client_message(exc_info[1], self.request_id)
        self.set_status(status)
        self.set_header("Content-Type", _JSON)
        self.finish(orjson.dumps(error_body(status, message)))

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Expected errors are one line; anything else logs its traceback with the id."""
        if value is None:
            return
        status = status_of(value)
        if isinstance(value, tornado.web.HTTPError | CCError) and status != 500:
            log.info(
                "%s %s -> %d %s (request %s)",
                self.request.method,
                self.request.path,
                status,
                value,
                self.request_id,
            )
            return
        log.error(
            "request %s: %s %s failed",
            self.request_id,
            self.request.method,
            self.request.path,
            exc_info=(typ, value, tb) if typ is not None else value,
        )


class NotFoundHandler(BaseAPIHandler):
    """Every unknown path below ``/api/`` and ``/userapi/``: a JSON 404, as cc-backend."""

    authenticated = False

    def _missing(self, *_args: str) -> None:
        raise NotFound("the requested endpoint does not exist")

    get = post = put = patch = delete = _missing
