"""How the web app is served: what the server hands it, and what it hands back.

``cc-backend serve`` (:func:`cc_backend.server.serve`) builds an :class:`AppSite` and
passes the results of these functions to Panel's server:

- :func:`panel_apps`: one Panel application per registered page (:data:`app.pages.PAGES`);
- :func:`auth_provider`: every page and its websocket need a login session;
- :func:`extra_routes`: ``/search`` and ``/theme`` (:mod:`app.handlers`);
- :func:`configure_panel`: the role check of every page before it is built (HTTP 403 with
  ``templates/forbidden.html`` when it fails).

A page is built by :func:`render_page`: it reads the user from the session cookie again
(roles as the database has them now), builds a :class:`~app.context.PageContext` with a
client acting as that user, calls the page's builder and puts the result into the
template (:func:`page_view`; without the navigation header for a page with
``public_layout``). A builder that raises ``PermissionDenied`` or ``NotFound`` gets the
403 or 404 content instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import panel as pn

from app.auth import SessionAuthProvider, SessionUsers
from app.context import PageContext, Theme
from app.handlers import THEME_COOKIE, SearchHandler, ThemeHandler, theme_from
from app.navigation import NAVIGATION, navigation_for
from app.pages import PAGES
from app.routing import PageSpec, find_page
from app.template import header_html, header_pane, page_template
from app.views.messages import forbidden, not_found
from cc_backend.auth.sessions import SESSION_COOKIE
from cc_backend.client import Client
from cc_backend.domain.errors import NotFound, PermissionDenied
from cc_backend.domain.user import User

__all__ = [
    "FORBIDDEN_TEMPLATE",
    "AppSite",
    "auth_provider",
    "build_content",
    "configure_panel",
    "extra_routes",
    "page_view",
    "panel_apps",
    "render_page",
]

#: The page Panel sends with status 403 when a role check fails.
FORBIDDEN_TEMPLATE = Path(__file__).resolve().parent / "templates" / "forbidden.html"


@dataclass(frozen=True)
class AppSite:
    """What the web app needs from the server: who is logged in (``users``), a client
    acting as a given user (``client_for``) and the pages to serve."""

    users: SessionUsers
    client_for: Callable[[User], Client]
    pages: Sequence[PageSpec] = field(default_factory=lambda: list(PAGES))


def panel_apps(site: AppSite) -> dict[str, Callable[[], Any]]:
    """Panel's ``{route: app}`` for every page of ``site`` (plain functions: Panel shows
    other callables, such as partials, as objects instead of calling them)."""
    return {page.slug: _page_app(site, page) for page in site.pages}


def _page_app(site: AppSite, page: PageSpec) -> Callable[[], Any]:
    def app() -> Any:
        return render_page(site, page)

    app.__name__ = f"page {page.route}"
    return app


def auth_provider(site: AppSite) -> SessionAuthProvider:
    """Bokeh's auth provider: a login session for every page."""
    return SessionAuthProvider(site.users.sessions)


def extra_routes(site: AppSite) -> list[tuple[str, type, dict[str, Any]]]:
    """The app's plain Tornado routes (``/search``, ``/theme``)."""
    arguments = {"users": site.users, "client_for": site.client_for}
    return [("/search", SearchHandler, arguments), ("/theme", ThemeHandler, arguments)]


def configure_panel(site: AppSite) -> None:
    """Check every page's roles before Panel builds it (process-wide Panel settings)."""
    pn.config.authorize_callback = functools.partial(authorize, site)
    pn.config.auth_template = str(FORBIDDEN_TEMPLATE)


def authorize(site: AppSite, _user_info: Any, path: str) -> bool:
    """Whether the session's user may open ``path`` (Panel's ``authorize_callback``)."""
    found = find_page(site.pages, path)
    if found is None:
        return True
    user = site.users.user(pn.state.cookies.get(SESSION_COOKIE))
    return user is not None and found[0].allows(user)


def build_content(page: PageSpec, context: PageContext) -> Any:
    """The page's content for ``context``: the builder's, or 403/404 content."""
    if not page.allows(context.user):
        return forbidden()
    try:
        return page.build(context)
    except PermissionDenied as exc:
        return forbidden(exc.message)
    except NotFound as exc:
        return not_found(exc.message)


def _query() -> dict[str, list[str]]:
    args = pn.state.session_args or {}
    return {k: [v.decode("utf-8", "replace") for v in values] for k, values in args.items()}


def render_page(site: AppSite, page: PageSpec) -> Any:
    """Build ``page`` for the current Panel session (see the module docstring)."""
    cookies = pn.state.cookies
    user = site.users.user(cookies.get(SESSION_COOKIE))
    if user is None:  # the session ended between the page request and now
        return pn.pane.Markdown("Your login session has ended: [log in again](/login).")
    params = dict(pn.state.route_params)
    query = _query()
    theme: Theme = (
        "dark"
        if theme_from(_first(query, "theme"), cookies.get(THEME_COOKIE)) == "dark"
        else "default"
    )
    path = page.href(**params)
    context = PageContext(user, site.client_for(user), path, params, query, theme)
    return page_view(site, page, context)


def page_view(site: AppSite, page: PageSpec, context: PageContext) -> pn.template.BootstrapTemplate:
    """``page``'s content for ``context`` in the site's template: below the navigation
    header, or alone for a page with ``public_layout`` (a wall screen: no links, no
    user name)."""
    header = None if page.public_layout else _header(site, context)
    return page_template(
        title=page.title_for(dict(context.path_params)),
        header=header,
        theme=context.theme,
        content=build_content(page, context),
        base_url=context.path.rstrip("/") or "/",
    )


def _header(site: AppSite, context: PageContext) -> pn.pane.HTML:
    """The navigation header of ``context``'s user; when the user's navigation has
    per-cluster links, they are added once the page has loaded (the clusters are asked
    for then)."""
    user, theme, path = context.user, context.theme, context.path
    header = header_pane(user, navigation_for(user, site.pages, clusters=()), theme, path)
    if _wants_clusters(user, site.pages):

        async def add_cluster_links() -> None:
            names = [c.name for c in await context.client.clusters()]
            header.object = header_html(user, navigation_for(user, site.pages, names), theme, path)

        pn.state.onload(add_cluster_links)
    return header


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _wants_clusters(user: User, pages: Sequence[PageSpec]) -> bool:
    """Whether the user's navigation has per-cluster links whose pages exist."""
    registered = {p.route for p in pages}
    return any(
        item.per_cluster and item.route in registered and user.has_any_role(item.roles)
        for item in NAVIGATION
    )
