"""The header shows each role its links; per-cluster links once their pages exist."""

from __future__ import annotations

from app.navigation import NavLink, navigation_for
from app.routing import STAFF_ROLES, PageSpec
from cc_backend.domain.user import User


def _labels(links: list[NavLink]) -> list[str]:
    return [link.label for link in links]


def test_a_user_sees_their_jobs_the_job_list_and_tags() -> None:
    links = navigation_for(User.build("bob", ["user"]), [], ["fritz"])
    assert _labels(links) == ["My Jobs", "Jobs", "Tags"]
    assert links[0].href == "/monitoring/user/bob"


def test_managers_also_see_users_and_projects() -> None:
    links = navigation_for(User.build("m", ["manager"]), [], ["fritz"])
    assert _labels(links) == ["Jobs", "Users", "Projects", "Tags"]


def test_an_api_only_account_sees_no_page_links() -> None:
    assert navigation_for(User.build("robot", ["api"]), [], ["fritz"]) == []


def test_per_cluster_links_appear_for_staff_once_their_page_exists() -> None:
    admin = User.build("root", ["admin"])
    assert "Nodes" not in _labels(navigation_for(admin, [], ["alex", "fritz"]))

    systems = PageSpec("/monitoring/systems/{cluster}", "Nodes", print, roles=STAFF_ROLES)
    links = navigation_for(admin, [systems], ["alex", "fritz"])
    [nodes] = [link for link in links if link.label == "Nodes"]
    assert [(c.label, c.href) for c in nodes.children] == [
        ("alex", "/monitoring/systems/alex"),
        ("fritz", "/monitoring/systems/fritz"),
    ]
    assert "Nodes" not in _labels(navigation_for(User.build("u", ["user"]), [systems], ["a"]))
