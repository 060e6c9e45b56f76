"""The header's markup: links, search box, theme switch, logout; the page template."""

from __future__ import annotations

import panel as pn

from app.navigation import NavLink
from app.template import Sections, header_html, header_pane, page_template
from cc_backend.domain.user import User

BOB = User.build("bob", ["user"])
LINKS = [NavLink("Jobs", "/monitoring/jobs/"), NavLink("Nodes", children=(NavLink("a", "/n/a"),))]


def test_the_header_links_searches_and_switches_theme() -> None:
    html = header_html(BOB, LINKS, "default", current="/monitoring/jobs/")
    assert '<a href="/monitoring/jobs/" aria-current="page">Jobs</a>' in html
    assert "<details><summary>Nodes</summary>" in html
    assert '<form action="/search" method="get" role="search">' in html
    assert 'name="searchId"' in html
    assert 'href="/theme?set=dark"' in html
    assert 'href="/logout"' in html
    assert 'href="/config"' in html
    assert "http" not in html  # no link leaves the site


def test_the_dark_header_offers_the_light_theme() -> None:
    assert 'href="/theme?set=default"' in header_html(BOB, [], "dark")


def test_names_are_escaped() -> None:
    evil = User.build('<script>alert("x")</script>', ["user"])
    html = header_html(evil, [NavLink("<b>", "/x?a=1&b=2")], "default")
    assert "<script>" not in html
    assert "<b>" not in html
    assert "&lt;script&gt;" in html
    assert "/x?a=1&amp;b=2" in html


def test_the_template_holds_header_and_content() -> None:
    content = pn.pane.Markdown("hello")
    header = header_pane(BOB, LINKS, "dark")
    template = page_template(title="Jobs", header=header, theme="dark", content=content)
    assert template.title == "Jobs - ClusterCockpit"
    assert list(template.header) == [header]
    assert list(template.main) == [content]
    home = page_template(title="ClusterCockpit", header=header, theme="default", content="x")
    assert home.title == "ClusterCockpit"


def test_a_public_page_has_no_header() -> None:
    content = pn.pane.Markdown("wall")
    template = page_template(title="fritz Dashboard", header=None, theme="dark", content=content)
    assert list(template.header) == []
    assert list(template.main) == [content]


def test_sections_are_roots_of_the_page_one_after_the_other() -> None:
    facts, plots = pn.pane.Markdown("facts"), pn.Column(pn.pane.Markdown("plots"))
    content = Sections(facts, plots)

    template = page_template(title="Job 1", header=None, theme="default", content=content)

    assert list(template.main) == [facts, plots]
    assert list(content.__panel__().objects) == [facts, plots]  # alone: one column
