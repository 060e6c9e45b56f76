"""The analysis page as an object: who may open it, how its URL query becomes the store's
filters and choices, and how the store's state is written back as a link."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import panel as pn
import pytest

from app.context import PageContext
from app.pages import PAGES
from app.pages.analysis import analysis_store, location_search
from app.routing import STAFF_ROLES, find_page
from app.site import build_content
from cc_backend.client import LocalClient
from cc_backend.domain.job import JobState
from cc_backend.domain.user import User
from cc_backend.server import Backends

PATH = "/monitoring/analysis/fritz"


def _context(backends: Backends, username: str, **query: list[str]) -> PageContext:
    found = find_page(PAGES, PATH)
    assert found is not None
    user = backends.users.get(username)
    return PageContext(user, LocalClient(backends, user), PATH, found[1], dict(query))


def _open(backends: Backends, username: str) -> Any:
    found = find_page(PAGES, PATH)
    assert found is not None
    return build_content(found[0], _context(backends, username))


def test_the_page_is_registered_for_support_and_admins() -> None:
    found = find_page(PAGES, PATH + "/")
    assert found is not None
    page, params = found
    assert params == {"cluster": "fritz"}
    assert page.roles == STAFF_ROLES
    assert page.title_for(params) == "fritz Analysis"


@pytest.mark.parametrize("username", ["bob", "mona"])
def test_plain_users_and_managers_get_403(backends: Backends, username: str) -> None:
    backends.users.add(User.build("mona", ["manager"], ["project-a"]))

    assert _open(backends, username).name == "forbidden"


@pytest.mark.parametrize("username", ["root", "sue"])
def test_admins_and_support_get_the_page(backends: Backends, username: str) -> None:
    backends.users.add(User.build("sue", ["support"]))

    page = _open(backends, username)

    assert isinstance(page, pn.Column)
    assert page.name == "analysis"


def test_the_url_query_gives_filters_category_and_metrics(backends: Backends) -> None:
    context = _context(
        backends,
        "root",
        state=["completed"],
        project=["p1"],
        category=["coreHours"],
        metric=["mem_bw", "cpu_load"],
        scatter=["flops_any/mem_bw"],
    )

    store, problems = analysis_store(context)

    assert problems == ()
    assert store.cluster == "fritz"
    assert store.query.cluster == "fritz"
    assert store.query.states == (JobState.COMPLETED,)
    assert store.query.project == "p1"
    assert store.category == "coreHours"
    assert store.histogram_metrics == ["mem_bw", "cpu_load"]
    assert store.scatter_pairs == [("flops_any", "mem_bw")]
    assert parse_qs(location_search(store)[1:]) == {
        "state": ["completed"],
        "project": ["p1"],
        "category": ["coreHours"],
        "metric": ["mem_bw", "cpu_load"],
        "scatter": ["flops_any/mem_bw"],
    }


def test_unusable_values_are_reported_and_left_out(backends: Backends) -> None:
    context = _context(
        backends, "root", category=["most"], scatter=["flops_any"], numNodes=["many"]
    )

    store, problems = analysis_store(context)

    assert store.category == "nodeHours"
    assert store.scatter_pairs == []
    assert store.query.num_nodes is None
    assert len(problems) == 3
    assert any("category" in p for p in problems)
    assert any("scatter" in p for p in problems)
    assert location_search(store) == ""
