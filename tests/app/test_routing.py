"""Pages as data: routes, path parameters, titles and roles."""

from __future__ import annotations

import pytest

from app.pages import PAGES
from app.routing import MANAGER_ROLES, PageSpec, find_page
from cc_backend.domain.user import User


def _nothing(_context: object) -> None:
    return None


JOB = PageSpec("/monitoring/job/{id}", "Job {id}", _nothing)
JOBS = PageSpec("/monitoring/jobs/", "Jobs", _nothing)
USERS = PageSpec("/monitoring/users/", "Users", _nothing, roles=MANAGER_ROLES)
HOME = PageSpec("/", "ClusterCockpit", _nothing)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/", (HOME, {})),
        ("/monitoring/jobs/", (JOBS, {})),
        ("/monitoring/jobs", (JOBS, {})),
        ("/monitoring/job/42", (JOB, {"id": "42"})),
        ("/monitoring/job/42/", (JOB, {"id": "42"})),
        ("/monitoring/job/", None),
        ("/monitoring/job/4/2", None),
        ("/monitoring/jobsx", None),
        ("/login", None),
    ],
)
def test_paths_open_their_page(path: str, expected: object) -> None:
    assert find_page([HOME, JOBS, JOB, USERS], path) == expected


def test_panel_slugs_titles_and_links() -> None:
    assert (JOBS.slug, HOME.slug, JOB.slug) == ("/monitoring/jobs", "/", "/monitoring/job/{id}")
    assert JOB.title_for({"id": "7"}) == "Job 7"
    assert JOB.href(id="7") == "/monitoring/job/7"


def test_roles_decide_who_may_open_a_page() -> None:
    user, manager = User.build("u", ["user"]), User.build("m", ["manager"])
    api_only = User.build("a", ["api"])
    assert JOBS.allows(user)
    assert JOBS.allows(manager)
    assert not JOBS.allows(api_only)
    assert USERS.allows(manager)
    assert not USERS.allows(user)


def test_a_route_must_be_a_path() -> None:
    with pytest.raises(ValueError, match="start with '/'"):
        PageSpec("monitoring/jobs/", "Jobs", _nothing)


def test_the_registry_serves_the_home_page_to_every_viewer() -> None:
    [home] = [p for p in PAGES if p.route == "/"]
    assert home.allows(User.build("u", ["user"]))
    assert len({p.slug for p in PAGES}) == len(PAGES)
