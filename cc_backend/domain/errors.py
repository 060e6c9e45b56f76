"""The project's one exception tree.

Services and repositories raise these; each front end (REST, GraphQL, NATS, CLI) maps them
to its own way of reporting an error through a single table, so a rule about what counts
as "not found" or "forbidden" lives in exactly one place.
"""

from __future__ import annotations


class CCError(Exception):
    """Base class of every error the project raises on purpose."""

    #: Short machine-readable code, used by GraphQL ``extensions.code`` and in logs.
    code: str = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(CCError):
    """The requested object does not exist (or is invisible to the caller)."""

    code = "NOT_FOUND"


class AlreadyExists(CCError):
    """Creating the object would duplicate an existing one."""

    code = "ALREADY_EXISTS"


class InvalidInput(CCError):
    """The caller sent something malformed or semantically wrong."""

    code = "BAD_USER_INPUT"


class PermissionDenied(CCError):
    """The caller is known but not allowed to do this."""

    code = "FORBIDDEN"


class Unauthenticated(CCError):
    """The caller could not be identified (missing, expired or bad credentials)."""

    code = "UNAUTHENTICATED"


class Conflict(CCError):
    """The request is well formed but contradicts the current state (e.g. job already stopped)."""

    code = "CONFLICT"


class BackendUnavailable(CCError):
    """A backend this request depends on (database, archive, metric store) is unreachable."""

    code = "BACKEND_UNAVAILABLE"


class ConfigError(CCError):
    """The site configuration is invalid.

    ``problems`` holds every problem found, each already formatted with its JSON path,
    so that a user can fix all of them in one go.
    """

    code = "CONFIG_ERROR"

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        header = f"invalid configuration: {count} problem{'s' if count != 1 else ''}"
        super().__init__("\n  ".join([header, *self.problems]))
