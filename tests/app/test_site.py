"""How the app is mounted: one Panel app per page, and the content a builder's errors get."""

from __future__ import annotations

import inspect

from app.context import PageContext
from app.routing import MANAGER_ROLES, PageSpec
from app.site import AppSite, build_content, extra_routes, panel_apps
from cc_backend.client import LocalClient
from cc_backend.domain.errors import NotFound, PermissionDenied
from cc_backend.server import Backends


def test_every_page_is_a_plain_function_at_its_slug(app_site: AppSite) -> None:
    apps = panel_apps(app_site)
    assert set(apps) == {page.slug for page in app_site.pages}
    assert all(inspect.isfunction(app) for app in apps.values())
    assert [route for route, _handler, _args in extra_routes(app_site)] == ["/search", "/theme"]


def _context(backends: Backends, username: str) -> PageContext:
    user = backends.users.get(username)
    return PageContext(user, LocalClient(backends, user))


def _names(content: object) -> str:
    return str(getattr(content, "name", ""))


def test_content_follows_roles_and_builder_errors(backends: Backends) -> None:
    def refuses(_context: PageContext) -> None:
        raise PermissionDenied("not yours")

    def missing(_context: PageContext) -> None:
        raise NotFound("no job with id 7")

    def fine(_context: PageContext) -> str:
        return "content"

    bob = _context(backends, "bob")
    assert build_content(PageSpec("/x", "X", fine), bob) == "content"
    assert _names(build_content(PageSpec("/x", "X", fine, roles=MANAGER_ROLES), bob)) == (
        "forbidden"
    )
    assert _names(build_content(PageSpec("/x", "X", refuses), bob)) == "forbidden"
    assert _names(build_content(PageSpec("/x", "X", missing), bob)) == "not-found"
