"""``POST /query``: the GraphQL endpoint, in the same Tornado process as the REST API.

Authentication is the one of the pages and the API: an API token (``X-Auth-Token`` or
``Authorization: Bearer``, any role) or the login session cookie. A request with neither,
or with a token or session that is not valid, is refused with HTTP 401 and an error coded
``UNAUTHENTICATED``. Like cc-backend, only POST with a JSON body
(``{"query", "variables", "operationName"}``) is served; other methods get 405, other
content types 415.

Execution is ``await ariadne.graphql(...)`` on the IOLoop. Every resolver that touches the
database or the archive is ``async`` and hands that work to the default executor
(:meth:`~cc_backend.web.graphql.context.GraphQLContext.run`), so the loop stays free and the
top-level fields of a query run side by side. Requests over the depth or cost limit
(:mod:`~cc_backend.web.graphql.limits`) are refused before anything runs.

Two things keep the GraphQL layer's own cost per request small (a page of 50 jobs selects
about 1,500 fields): parsed documents are kept per query text together with whether they
passed validation (:mod:`~cc_backend.web.graphql.documents`), and
:class:`~cc_backend.web.graphql.executor.PlainValueExecutor` reads fields that need no
resolver straight from their parent.

Status codes: 200 whenever the operation ran (errors of single fields are in ``errors``);
422 when the query did not parse or validate; 400 for a body that is not a JSON object.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from ariadne import graphql

from cc_backend.auth.sessions import SessionAuth, SessionKeyMissing
from cc_backend.domain.errors import CCError, InvalidInput, Unauthenticated
from cc_backend.domain.user import User
from cc_backend.web.auth import token_from_headers
from cc_backend.web.errors import ApiError, client_message, status_of
from cc_backend.web.graphql.context import GraphQLContext
from cc_backend.web.graphql.documents import DOCUMENTS
from cc_backend.web.graphql.errors import (
    BAD_USER_INPUT,
    INTERNAL_SERVER_ERROR,
    error_body,
    make_error_formatter,
)
from cc_backend.web.graphql.executor import PlainValueExecutor
from cc_backend.web.graphql.limits import validation_rules
from cc_backend.web.graphql.schema import executable_schema
from cc_backend.web.rest.base import BaseAPIHandler

__all__ = ["GraphQLHandler", "graphql_options"]

log = logging.getLogger(__name__)

#: Status of a request whose query did not parse or validate (as gqlgen answers).
UNPROCESSABLE = 422


class _NoLogging(logging.LoggerAdapter[logging.Logger]):
    """Stands in for ariadne's error logging: the error formatter logs each error once,
    with the request id."""

    def error(self, msg: object, *args: object, **kwargs: Any) -> None:
        return None


_ARIADNE_LOG = _NoLogging(log, {})


def graphql_options(request_id: str) -> dict[str, Any]:
    """The keyword arguments of ``ariadne.graphql`` for one request besides the schema, the
    body and the context: error formatting under ``request_id``, the limits, the document
    cache and the executor, no debug data.

    In-process callers (benchmarks, tools) pass the same to run a query as ``/query`` does.
    """
    return {
        "error_formatter": make_error_formatter(request_id),
        "logger": _ARIADNE_LOG,
        "validation_rules": validation_rules,
        "query_parser": DOCUMENTS.parse,
        "query_validator": DOCUMENTS.validate,
        "execution_context_class": PlainValueExecutor,
        "debug": False,
    }


class GraphQLHandler(BaseAPIHandler):
    """``POST /query`` (see the module docstring)."""

    async def prepare(self) -> None:
        self.user = await self._caller()

    async def _caller(self) -> User:
        """The user of an API token, else of the session cookie; Unauthenticated if none."""
        token = token_from_headers(self.request.headers)
        authenticator = self.backends.authenticator
        if token is not None:
            if authenticator.reads_database:
                return await self.blocking(authenticator.user_from_token, token)
            return authenticator.user_from_token(token)
        sessions = SessionAuth.from_config(self.backends.config, self.backends.users.get)
        try:
            session = sessions.session(self)
        except SessionKeyMissing:
            session = None
        user = await self.blocking(sessions.user, session) if session is not None else None
        if user is None:
            raise Unauthenticated("unauthorized: log in or send an API token")
        return user

    async def post(self) -> None:
        content_type = self.request.headers.get("Content-Type", "")
        if content_type.split(";", 1)[0].strip().lower() != "application/json":
            raise ApiError(415, "send the request as application/json")
        try:
            data = orjson.loads(self.request.body)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"the request body is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InvalidInput("the request body must be a JSON object with a 'query'")
        context = GraphQLContext(self.user, self.backends, self.request_id)
        _, result = await graphql(
            executable_schema(), data, context_value=context, **graphql_options(self.request_id)
        )
        self.write_json(result, 200 if "data" in result else UNPROCESSABLE)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """A GraphQL-shaped error body: ``{"errors": [{"message", "extensions": {code}}]}``."""
        exc_info = kwargs.get("exc_info")
        exc: BaseException | None = exc_info[1] if exc_info is not None else None
        status, message, code = status_code, "internal server error", INTERNAL_SERVER_ERROR
        if exc is not None:
            status = status_of(exc)
            message = client_message(exc, self.request_id)
            if isinstance(exc, CCError) and not isinstance(exc, ApiError):
                code = exc.code
            elif status < 500:
                code = BAD_USER_INPUT
        if status == 405:
            message = "only POST is served at /query"
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(orjson.dumps(error_body(code, message)))
