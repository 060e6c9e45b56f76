"""Pages as data: the route, title, builder and roles of each page, and route matching.

A :class:`PageSpec` says everything the server needs to mount a page: its public path as
cc-backend spells it (``/monitoring/jobs/``, ``/monitoring/job/{id}``), its title, the
roles that may open it and the function that builds its content from a
:class:`~app.context.PageContext`. The registry of all pages is
:data:`app.pages.PAGES`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cc_backend.domain.user import Role, User

if TYPE_CHECKING:
    from app.context import PageContext

__all__ = ["MANAGER_ROLES", "STAFF_ROLES", "VIEWER_ROLES", "PageSpec", "find_page"]

#: Roles that may use the web interface at all.
VIEWER_ROLES = frozenset({Role.USER, Role.MANAGER, Role.SUPPORT, Role.ADMIN})
#: Roles that see other people's jobs by user or project (cc-backend's "manager and up").
MANAGER_ROLES = frozenset({Role.MANAGER, Role.SUPPORT, Role.ADMIN})
#: Roles that see node and cluster wide data.
STAFF_ROLES = frozenset({Role.SUPPORT, Role.ADMIN})

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

#: Builds the main content of a page; returns anything ``pn.panel`` accepts.
PageBuilder = Callable[["PageContext"], Any]


@dataclass(frozen=True)
class PageSpec:
    """One page of the web app.

    ``route`` is the public path; ``{name}`` marks a path parameter (one segment), which
    the builder finds in ``context.path_params``. A trailing slash is optional when the
    page is opened. ``title`` may name path parameters too (``"Job {id}"``). ``roles``:
    a user needs any one of them, else the server answers 403. ``public_layout``: the page
    is shown without the navigation header (no links, no user name), as for a wall screen;
    the roles still apply.
    """

    route: str
    title: str
    build: PageBuilder
    roles: frozenset[Role] = VIEWER_ROLES
    public_layout: bool = False

    def __post_init__(self) -> None:
        if not self.route.startswith("/"):
            raise ValueError(f"page route must start with '/': {self.route!r}")

    @property
    def slug(self) -> str:
        """The route as Panel mounts it (no trailing slash; Panel accepts one)."""
        return self.route.rstrip("/") or "/"

    @property
    def pattern(self) -> re.Pattern[str]:
        """A regular expression matching the paths of this page."""
        parts = [
            f"(?P<{m.group(1)}>[^/]+)" if (m := _PARAM.fullmatch(segment)) else re.escape(segment)
            for segment in self.slug.split("/")
        ]
        return re.compile("/".join(parts) + "/?" if self.slug != "/" else "/")

    def match(self, path: str) -> dict[str, str] | None:
        """The path parameters if ``path`` opens this page, else ``None``."""
        found = self.pattern.fullmatch(path)
        return found.groupdict() if found else None

    def allows(self, user: User) -> bool:
        """Whether ``user`` holds a role that may open this page."""
        return user.has_any_role(self.roles)

    def title_for(self, params: dict[str, str]) -> str:
        """The title with path parameters filled in."""
        return _PARAM.sub(lambda m: params.get(m.group(1), m.group(0)), self.title)

    def href(self, **params: str) -> str:
        """The path of this page with ``params`` filled in."""
        return _PARAM.sub(lambda m: params[m.group(1)], self.route)


def find_page(pages: Iterable[PageSpec], path: str) -> tuple[PageSpec, dict[str, str]] | None:
    """The page that ``path`` opens with its path parameters, or ``None``."""
    for page in pages:
        params = page.match(path)
        if params is not None:
            return page, params
    return None
