"""The one page template: a header with navigation by role, the search box, the light/dark
switch and the user's name with a logout link, above the page's content.

:func:`page_template` wraps a page's content; :func:`header_html` is the header's markup
(plain links and a form, no script), so it can be checked without a browser. Every asset
comes from this server: the Bootstrap template and its CSS are Panel's bundled files.

Content made of :class:`Sections` becomes several roots of the page's document, one
after the other. A browser lays out each root on its own: a section that changes after
the page is drawn (a grid drawing more plots as the page scrolls) then makes it lay out
that section again, not the whole page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import panel as pn
from tornado.escape import xhtml_escape

from app.context import Theme
from app.navigation import NavLink
from cc_backend.domain.user import User

__all__ = [
    "HEADER_STYLE",
    "SITE_TITLE",
    "Sections",
    "header_html",
    "header_pane",
    "page_template",
]

SITE_TITLE = "ClusterCockpit"

#: Styles of the header's markup (it lives in its own shadow DOM).
HEADER_STYLE = """
:host { width: 100%; }
nav.cc-nav { display: flex; flex-wrap: wrap; align-items: center; gap: .25rem 1rem;
             font-size: .95rem; color: var(--header-color, inherit); }
nav.cc-nav a { color: inherit; text-decoration: none; padding: .25rem .4rem;
               border-radius: .25rem; }
nav.cc-nav a:hover, nav.cc-nav a[aria-current="page"] { background: rgba(255,255,255,.18); }
nav.cc-nav .links { display: flex; flex-wrap: wrap; gap: .25rem; align-items: center; }
nav.cc-nav details { position: relative; }
nav.cc-nav summary { cursor: pointer; padding: .25rem .4rem; list-style: none; }
nav.cc-nav details[open] .menu { position: absolute; z-index: 10; display: flex;
  flex-direction: column; min-width: 10rem; padding: .25rem; border-radius: .25rem;
  background: var(--header-background, #0072b5); box-shadow: 0 .25rem .75rem rgba(0,0,0,.3); }
nav.cc-nav form { margin-left: auto; display: flex; gap: .25rem; flex: 1 1 9rem;
                  max-width: 16rem; }
nav.cc-nav input[type=search] { width: 100%; padding: .25rem .5rem;
  border-radius: .25rem; border: 1px solid rgba(255,255,255,.5); }
nav.cc-nav .links, nav.cc-nav .user { flex: none; }
nav.cc-nav .user { display: flex; gap: .5rem; align-items: center; opacity: .95; }
"""


class Sections(pn.viewable.Viewer):
    """Page content of several parts, each a root of the page (module docstring); on its
    own (in a notebook, in tests) a column of the parts."""

    def __init__(self, *sections: pn.viewable.Viewable, **params: Any) -> None:
        super().__init__(**params)
        self.sections = list(sections)

    def __panel__(self) -> pn.Column:
        return pn.Column(*self.sections, sizing_mode="stretch_width")


def _link(link: NavLink, current: str) -> str:
    if link.children:
        items = "".join(_link(child, current) for child in link.children)
        return (
            f"<details><summary>{xhtml_escape(link.label)}</summary>"
            f'<div class="menu">{items}</div></details>'
        )
    here = ' aria-current="page"' if link.href == current else ""
    return f'<a href="{xhtml_escape(link.href)}"{here}>{xhtml_escape(link.label)}</a>'


def header_html(user: User, links: Sequence[NavLink], theme: Theme, current: str = "/") -> str:
    """The header's markup for ``user``: ``links``, the search form posting ``searchId``
    to ``/search``, the theme switch and the logout link; every value is escaped."""
    other: Theme = "default" if theme == "dark" else "dark"
    switch_label = "Light theme" if theme == "dark" else "Dark theme"
    nav = "".join(_link(link, current) for link in links)
    return (
        '<nav class="cc-nav" aria-label="Main">'
        f'<span class="links">{nav}<a href="/config">Settings</a></span>'
        '<form action="/search" method="get" role="search">'
        '<input type="search" name="searchId" aria-label="Search" '
        'placeholder="jobId:, jobName:, projectId:, username:, name: or a term">'
        "</form>"
        '<span class="user">'
        f'<a href="/theme?set={other}" class="theme-switch">{switch_label}</a>'
        f'<span class="username" title="{xhtml_escape(", ".join(sorted(user.roles)))}">'
        f"{xhtml_escape(user.username)}</span>"
        '<a href="/logout" class="logout">Logout</a></span></nav>'
    )


def header_pane(
    user: User, links: Sequence[NavLink], theme: Theme, current: str = "/"
) -> pn.pane.HTML:
    """The header as a pane (its ``object`` may be replaced, e.g. to add links later)."""
    return pn.pane.HTML(
        header_html(user, links, theme, current),
        stylesheets=[HEADER_STYLE],
        sizing_mode="stretch_width",
        name="navigation",
    )


def page_template(
    *, title: str, header: pn.pane.HTML | None, theme: Theme, content: Any, base_url: str = ""
) -> pn.template.BootstrapTemplate:
    """``content`` below ``header`` (see :func:`header_pane`; ``None``: no navigation, for
    a public page) in the site's template (:class:`Sections`: each section a root), titled
    ``"<title> - ClusterCockpit"`` (just the site's name on the start page).

    ``base_url`` is the page's path without a trailing slash: Panel derives the location
    of its files from the path a page was opened with, so ``/monitoring/users/`` would load
    them from ``/monitoring/users/static/...`` without it.
    """
    return pn.template.BootstrapTemplate(
        title=f"{title} - {SITE_TITLE}" if title != SITE_TITLE else SITE_TITLE,
        site_url="/",
        base_url=base_url,
        theme=theme,
        header_background="#0072b5" if theme == "default" else "#1b2838",
        header=[] if header is None else [header],
        main=list(content.sections) if isinstance(content, Sections) else [content],
    )
