"""The one table from domain errors to HTTP status codes, and the REST error body.

Every REST response for an error carries cc-backend's body
``{"status": "<reason phrase>", "error": "<message>"}``. Domain errors map to a status
through :data:`STATUS_BY_ERROR`; anything else is a 500 whose details go to the log under a
request id, never to the client.
"""

from __future__ import annotations

import http
from typing import Any

from tornado.web import HTTPError

from cc_backend.domain.errors import (
    AlreadyExists,
    BackendUnavailable,
    CCError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)

__all__ = [
    "STATUS_BY_ERROR",
    "ApiError",
    "client_message",
    "error_body",
    "error_for_status",
    "internal_error_message",
    "reason_phrase",
    "status_of",
]

#: Domain error -> HTTP status. Checked in order, so subclasses must come first.
STATUS_BY_ERROR: tuple[tuple[type[CCError], int], ...] = (
    (InvalidInput, 400),
    (Unauthenticated, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (AlreadyExists, 422),
    (Conflict, 422),
    (BackendUnavailable, 503),
)

#: HTTP status -> the error a client raises for it: the last error of
#: :data:`STATUS_BY_ERROR` with that status (422 is a :class:`Conflict`: a client cannot
#: tell a duplicate from another conflict).
_ERROR_BY_STATUS: dict[int, type[CCError]] = {status: error for error, status in STATUS_BY_ERROR}


def error_for_status(status: int, message: str) -> CCError:
    """The domain error for a failed request answered with ``status`` (the inverse of
    :data:`STATUS_BY_ERROR`; a plain :class:`CCError` for any other status)."""
    return _ERROR_BY_STATUS.get(status, CCError)(message)


class ApiError(CCError):
    """An error with an explicit HTTP status, for the few routes where cc-backend answers
    with a status other than the table's (e.g. 422 for an unknown job on ``/api/jobs/{id}``).
    """

    code = "API_ERROR"

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def status_of(exc: BaseException) -> int:
    """The HTTP status for ``exc``: from the table, an :class:`ApiError`, a Tornado
    :class:`~tornado.web.HTTPError` (405, 404...), else 500."""
    if isinstance(exc, ApiError):
        return exc.status
    if isinstance(exc, HTTPError):
        return exc.status_code
    for error_type, status in STATUS_BY_ERROR:
        if isinstance(exc, error_type):
            return status
    return 500


def reason_phrase(status: int) -> str:
    """The standard reason phrase of ``status`` (``"Unprocessable Entity"`` for 422)."""
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def internal_error_message(request_id: str) -> str:
    """What a client learns about an unexpected failure: only the id to look up in the log."""
    return f"internal server error (request id {request_id})"


def error_body(status: int, message: str) -> dict[str, Any]:
    """cc-backend's error body for ``status``."""
    return {"status": reason_phrase(status), "error": message}


def client_message(exc: BaseException, request_id: str) -> str:
    """The message shown to the client for ``exc``; a 500 shows only the request id."""
    status = status_of(exc)
    if status == 500:
        return internal_error_message(request_id)
    if isinstance(exc, CCError):
        return exc.message
    if isinstance(exc, HTTPError) and exc.log_message:
        return exc.log_message % exc.args if exc.args else exc.log_message
    return reason_phrase(status).lower()
