"""What every resolver gets as ``info.context``: the caller, the site's backends, and the
per-request caches that keep one query from asking the database the same thing twice.

Resolvers are ``async`` and run blocking work (SQL, archive reads) through
:meth:`GraphQLContext.run`, which hands it to the event loop's default executor, so the
Tornado IOLoop never waits on the database.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from graphql import GraphQLResolveInfo

from cc_backend.domain.errors import PermissionDenied
from cc_backend.domain.tag import Tag
from cc_backend.domain.user import Contact, Role, User

if TYPE_CHECKING:
    from cc_backend.server import Backends

__all__ = ["STAFF_ROLES", "GraphQLContext", "Info", "context_of"]

T = TypeVar("T")

#: What resolvers get as their second argument.
Info: TypeAlias = GraphQLResolveInfo[Any]

#: Roles that may see node and cluster wide data (cc-backend: admin and support).
STAFF_ROLES = (Role.ADMIN, Role.SUPPORT)


@dataclass
class GraphQLContext:
    """The context of one GraphQL request."""

    user: User
    backends: Backends
    request_id: str
    #: Tags of jobs loaded for a job list, by database id (filled by the ``jobs`` resolver).
    job_tags: dict[int, list[Tag]] = field(default_factory=dict)
    #: Names and e-mails looked up for ``userData``, by user name (``None``: no such user).
    contacts: dict[str, Contact | None] = field(default_factory=dict)
    #: Node meta data by node id (filled by the ``nodes`` resolver).
    node_meta: dict[int, Any] = field(default_factory=dict)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` in the default executor; its result or its exception."""
        return await self.submit(fn, *args, **kwargs)

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """``fn(*args, **kwargs)`` handed to the default executor now, before the caller
        awaits anything (:meth:`run` hands it over when awaited); its future."""
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))

    def require_any_role(self, roles: Iterable[Role], what: str) -> None:
        """Raise :class:`PermissionDenied` unless the caller holds one of ``roles``."""
        wanted = tuple(roles)
        if not self.user.has_any_role(wanted):
            names = " or ".join(r.value for r in wanted)
            raise PermissionDenied(f"{what} needs the role {names}")

    def require_staff(self, what: str) -> None:
        """Raise :class:`PermissionDenied` unless the caller is admin or support."""
        self.require_any_role(STAFF_ROLES, what)


def context_of(info: Info) -> GraphQLContext:
    """The :class:`GraphQLContext` of a resolver call."""
    context = info.context
    if not isinstance(context, GraphQLContext):  # pragma: no cover - wiring error
        raise TypeError("the GraphQL context is not a GraphQLContext")
    return context
