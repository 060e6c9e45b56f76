"""How the app is mounted: one Panel app per page, the content a builder's errors get, and
the header every page has but the public dashboard."""

from __future__ import annotations

import inspect
import io

import panel as pn
from bokeh.resources import INLINE

from app.context import PageContext
from app.routing import MANAGER_ROLES, PageSpec, find_page
from app.site import AppSite, build_content, extra_routes, page_view, panel_apps
from cc_backend.client import LocalClient
from cc_backend.domain.errors import NotFound, PermissionDenied
from cc_backend.domain.user import User
from cc_backend.server import Backends


def test_every_page_is_a_plain_function_at_its_slug(app_site: AppSite) -> None:
    apps = panel_apps(app_site)
    assert set(apps) == {page.slug for page in app_site.pages}
    assert all(inspect.isfunction(app) for app in apps.values())
    assert [route for route, _handler, _args in extra_routes(app_site)] == ["/search", "/theme"]


def _context(
    backends: Backends, username: str, path: str = "/", params: dict[str, str] | None = None
) -> PageContext:
    user = backends.users.get(username)
    return PageContext(user, LocalClient(backends, user), path, params or {})


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


def _page_html(template: pn.template.BootstrapTemplate) -> str:
    """The page as a browser receives it (the template with its content's models)."""
    out = io.StringIO()
    template.save(out, resources=INLINE)
    return out.getvalue()


def test_the_public_dashboard_shows_no_header_and_no_user_name(
    backends: Backends, app_site: AppSite
) -> None:
    backends.users.add(User.build("wallwatcher", ["support"]))
    path = "/monitoring/dashboard/fritz"
    found = find_page(app_site.pages, path)
    assert found is not None
    page, params = found
    context = _context(backends, "wallwatcher", path, params)

    template = page_view(app_site, page, context)

    assert page.public_layout
    assert list(template.header) == []
    assert template.title == "fritz Dashboard - ClusterCockpit"
    html = _page_html(template)
    assert "dashboard" in html  # the content is there ...
    assert "wallwatcher" not in html  # ... but not who is looking at it
    assert "cc-nav" not in html
    assert 'href="/logout"' not in html


def test_every_other_page_keeps_its_header(backends: Backends, app_site: AppSite) -> None:
    assert [p.route for p in app_site.pages if p.public_layout] == [
        "/monitoring/dashboard/{cluster}"
    ]
    page = PageSpec("/monitoring/tags/", "Tags", lambda _context: "tags")
    template = page_view(app_site, page, _context(backends, "bob", page.route))

    [header] = template.header
    assert header.name == "navigation"
    assert ">bob</span>" in header.object
    assert 'href="/logout"' in header.object
