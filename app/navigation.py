"""The header's navigation: which links a user sees, by role.

Links to the pages every site has (jobs, users, projects, tags, settings) are always
listed for the roles that may open them. Links that exist once per cluster (nodes, status,
analysis) are listed once their page is in the registry (:data:`app.pages.PAGES`), one per
cluster. Hiding a link is a convenience only: the page itself checks the role.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.routing import MANAGER_ROLES, STAFF_ROLES, VIEWER_ROLES, PageSpec
from cc_backend.domain.user import Role, User

__all__ = ["NAVIGATION", "NavItem", "NavLink", "navigation_for"]


@dataclass(frozen=True)
class NavItem:
    """One entry of the navigation.

    ``route`` may contain ``{username}`` (the current user) or ``{cluster}`` (one link per
    cluster, listed only while a page with that route is registered).
    """

    label: str
    route: str
    roles: frozenset[Role]

    @property
    def per_cluster(self) -> bool:
        return "{cluster}" in self.route


@dataclass(frozen=True)
class NavLink:
    """A link as the header shows it; ``children`` for one entry per cluster."""

    label: str
    href: str = ""
    children: tuple[NavLink, ...] = ()


#: The navigation, in the order of the header.
NAVIGATION: tuple[NavItem, ...] = (
    NavItem("My Jobs", "/monitoring/user/{username}", frozenset({Role.USER})),
    NavItem("Jobs", "/monitoring/jobs/", VIEWER_ROLES),
    NavItem("Users", "/monitoring/users/", MANAGER_ROLES),
    NavItem("Projects", "/monitoring/projects/", MANAGER_ROLES),
    NavItem("Tags", "/monitoring/tags/", VIEWER_ROLES),
    NavItem("Nodes", "/monitoring/systems/{cluster}", STAFF_ROLES),
    NavItem("Status", "/monitoring/status/{cluster}", STAFF_ROLES),
    NavItem("Analysis", "/monitoring/analysis/{cluster}", STAFF_ROLES),
)


def navigation_for(
    user: User,
    pages: Iterable[PageSpec],
    clusters: Sequence[str],
    items: Sequence[NavItem] = NAVIGATION,
) -> list[NavLink]:
    """The links ``user`` sees, given the registered ``pages`` and the site's clusters."""
    registered = {page.route for page in pages}
    links: list[NavLink] = []
    for item in items:
        if not user.has_any_role(item.roles):
            continue
        if item.per_cluster:
            if item.route not in registered or not clusters:
                continue
            children = tuple(
                NavLink(name, item.route.replace("{cluster}", name)) for name in clusters
            )
            links.append(NavLink(item.label, children=children))
        else:
            links.append(NavLink(item.label, item.route.replace("{username}", user.username)))
    return links
