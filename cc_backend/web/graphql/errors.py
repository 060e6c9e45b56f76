"""How GraphQL errors reach the client: a message and ``extensions.code``, never a traceback.

Codes:

- a domain error (:mod:`cc_backend.domain.errors`) keeps its message and its code:
  ``NOT_FOUND``, ``FORBIDDEN``, ``BAD_USER_INPUT``, ``UNAUTHENTICATED``, ``ALREADY_EXISTS``,
  ``CONFLICT``, ``BACKEND_UNAVAILABLE``, ...;
- a query that does not parse is ``GRAPHQL_PARSE_FAILED``; one that breaks the schema's
  rules, or the depth and cost limits, ``GRAPHQL_VALIDATION_FAILED``;
- variables of the wrong type or format are ``BAD_USER_INPUT``;
- anything else is ``INTERNAL_SERVER_ERROR``: the client sees only a request id, the log
  gets the traceback under that id.

Every error is logged once, here (ariadne's own error logging is switched off by the
handler).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError

from cc_backend.domain.errors import CCError
from cc_backend.web.errors import internal_error_message

__all__ = [
    "BAD_USER_INPUT",
    "INTERNAL_SERVER_ERROR",
    "PARSE_FAILED",
    "VALIDATION_FAILED",
    "ErrorFormatter",
    "error_body",
    "error_code",
    "make_error_formatter",
]

log = logging.getLogger(__name__)

INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
BAD_USER_INPUT = "BAD_USER_INPUT"

#: Formats one error for the response (ariadne's ``error_formatter`` signature).
ErrorFormatter = Callable[[GraphQLError, bool], dict[str, Any]]


def _original(error: GraphQLError) -> BaseException | None:
    """The exception a resolver or scalar raised, unwrapping nested GraphQL errors."""
    original: BaseException | None = error.original_error
    while isinstance(original, GraphQLError) and original.original_error is not None:
        original = original.original_error
    return original


def _is_internal(error: GraphQLError) -> bool:
    original = _original(error)
    if isinstance(original, CCError):
        return original.code == CCError.code
    if isinstance(error, GraphQLSyntaxError) or (error.extensions or {}).get("code"):
        return False
    # Without a path the error comes from reading the request (variables, operation name);
    # with one, from producing a field's value.
    return error.path is not None


def error_code(error: GraphQLError) -> str:
    """The ``extensions.code`` of ``error`` (see the module docstring)."""
    if _is_internal(error):
        return INTERNAL_SERVER_ERROR
    original = _original(error)
    if isinstance(original, CCError):
        return original.code
    if isinstance(error, GraphQLSyntaxError):
        return PARSE_FAILED
    given = (error.extensions or {}).get("code")
    return str(given) if given else BAD_USER_INPUT


def make_error_formatter(request_id: str) -> ErrorFormatter:
    """The error formatter of one request: codes, safe messages, one log line each."""

    def format_error(error: GraphQLError, _debug: bool = False) -> dict[str, Any]:
        formatted: dict[str, Any] = dict(error.formatted)
        code = error_code(error)
        original = _original(error)
        if code == INTERNAL_SERVER_ERROR:
            log.error(
                "request %s: GraphQL field %s failed",
                request_id,
                ".".join(str(p) for p in error.path or ()) or "(none)",
                exc_info=original or error,
            )
            formatted["message"] = internal_error_message(request_id)
        else:
            if isinstance(original, CCError):
                formatted["message"] = original.message
            log.info("request %s: GraphQL %s: %s", request_id, code, formatted["message"])
        extensions = dict(formatted.get("extensions") or {})
        extensions["code"] = code
        formatted["extensions"] = extensions
        return formatted

    return format_error


def error_body(code: str, message: str) -> dict[str, Any]:
    """A GraphQL response carrying one error and no data (authentication, bad requests)."""
    return {"errors": [{"message": message, "extensions": {"code": code}}]}
