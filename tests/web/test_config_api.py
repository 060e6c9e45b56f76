"""``/config/``: user management and the site notice, for admins with a login session."""

from __future__ import annotations

import json

import pytest

from cc_backend.domain.user import Role
from tests.web.browser import PASSWORDS, Site, error_of, text

#: The served site with passwords and a cookie-keeping client (see test_sessions).

#: Every /config/ route with a request that an admin may make.
ROUTES: list[tuple[str, str, dict[str, str] | None]] = [
    ("GET", "/config/roles/", None),
    ("GET", "/config/users/", None),
    ("POST", "/config/users/", {"username": "carol", "password": "pw-carol", "role": "user"}),
    ("PUT", "/config/users/", {"username": "carol", "password": "pw-carol", "role": "user"}),
    ("DELETE", "/config/users/", {"username": "bob"}),
    ("POST", "/config/user/bob", {"add-role": "support"}),
    ("POST", "/config/notice/", {"new-content": "maintenance on Monday"}),
]


def usernames(site: Site) -> list[str]:
    return [user.username for user in site.backends.users.list()]


@pytest.mark.parametrize(("method", "path", "form"), ROUTES)
async def test_without_a_session_every_route_is_401(
    web_site: Site, method: str, path: str, form: dict[str, str] | None
) -> None:
    before = usernames(web_site)
    response = await web_site.browser().call(method, path, form)

    assert response.code == 401
    assert error_of(response)["status"] == "Unauthorized"
    assert usernames(web_site) == before


@pytest.mark.parametrize(("method", "path", "form"), ROUTES)
async def test_non_admins_get_403_and_nothing_changes(
    web_site: Site, method: str, path: str, form: dict[str, str] | None
) -> None:
    browser = await web_site.logged_in("alice")
    before = [web_site.user(name) for name in usernames(web_site)]

    response = await browser.call(method, path, form)

    assert response.code == 403
    body = error_of(response)
    assert body["status"] == "Forbidden"
    assert body["error"].startswith("only admins are allowed to ")
    assert [web_site.user(name) for name in usernames(web_site)] == before
    assert not (web_site.backends.config.base_dir / "var" / "notice.txt").exists()


async def test_an_api_token_is_no_session(web_site: Site) -> None:
    from cc_backend.auth.keys import load_private_key
    from cc_backend.auth.tokens import issue_token

    key = web_site.backends.secrets.jwt_private_key
    assert key is not None
    root = web_site.user("root")
    assert root is not None
    token = issue_token(root, load_private_key(key.get_secret_value()))
    response = await web_site.browser().call(
        "GET", "/config/roles/", headers={"X-Auth-Token": token}
    )
    assert response.code == 401


async def test_unknown_config_paths_are_json_404(web_site: Site) -> None:
    browser = await web_site.logged_in("root")
    response = await browser.call("GET", "/config/nothing/")
    assert response.code == 404
    assert error_of(response)["error"] == "the requested endpoint does not exist"


# -- roles and user lists -------------------------------------------------------------


async def test_roles_lists_the_assignable_roles(web_site: Site) -> None:
    browser = await web_site.logged_in("root")
    response = await browser.call("GET", "/config/roles/")

    assert response.code == 200
    assert json.loads(response.body) == ["api", "user", "manager", "support", "admin"]


async def test_users_lists_every_user_without_secrets(web_site: Site) -> None:
    browser = await web_site.logged_in("root")
    response = await browser.call("GET", "/config/users/")

    assert response.code == 200
    users = json.loads(response.body)
    assert [u["username"] for u in users] == ["adapter", "alice", "bob", "root"]
    assert set(users[0]) == {"username", "name", "roles", "email", "projects"}
    assert "$2a$" not in response.body.decode()


async def test_not_just_user_leaves_out_plain_users(web_site: Site) -> None:
    browser = await web_site.logged_in("root")
    response = await browser.call("GET", "/config/users/?not-just-user=true")
    assert [u["username"] for u in json.loads(response.body)] == ["adapter", "alice", "root"]


# -- creating users -------------------------------------------------------------------


@pytest.mark.parametrize(("method", "as_multipart"), [("POST", False), ("PUT", True)])
async def test_an_admin_creates_a_user_who_can_then_log_in(
    web_site: Site, method: str, as_multipart: bool
) -> None:
    browser = await web_site.logged_in("root")
    form = {
        "username": "carol",
        "password": "carol-Secret-1",
        "role": "user",
        "name": "Carol C.",
        "email": "carol@example.org",
    }
    response = await browser.call(method, "/config/users/", form, as_multipart=as_multipart)

    assert response.code == 200, response.body
    assert response.headers["Content-Type"].startswith("text/plain")
    assert text(response) == "User carol successfully created!\n"
    carol = web_site.user("carol")
    assert carol is not None
    assert (carol.roles, carol.name, carol.email) == (
        frozenset({Role.USER}),
        "Carol C.",
        "carol@example.org",
    )
    assert (await web_site.browser().login("carol", "carol-Secret-1")).code == 302


async def test_a_manager_is_created_with_the_project(web_site: Site) -> None:
    browser = await web_site.logged_in("root")
    form = {"username": "mia", "password": "pw-mia-1", "role": "manager", "project": "p1"}
    response = await browser.call("POST", "/config/users/", form)

    assert response.code == 200, response.body
    mia = web_site.user("mia")
    assert mia is not None
    assert mia.projects == ("p1",)


async def test_an_api_user_may_have_no_password(web_site: Site) -> None:
    browser = await web_site.logged_in("root")
    response = await browser.call("POST", "/config/users/", {"username": "slurm", "role": "api"})

    assert response.code == 200, response.body
    assert (await web_site.browser().login("slurm", "")).code == 401


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"username": "carol", "role": "user"}, "only API users are allowed to have a blank"),
        (
            {"username": "carol", "password": "pw", "role": "user", "project": "p1"},
            "only managers require a project",
        ),
        (
            {"username": "carol", "password": "pw", "role": "manager"},
            "managers require a project to manage",
        ),
        ({"username": "", "password": "pw", "role": "user"}, "between 1 and 100 characters"),
        ({"username": "c" * 101, "password": "pw", "role": "user"}, "between 1 and 100"),
        ({"username": "carol smith", "password": "pw", "role": "user"}, "invalid username"),
        ({"username": "carol", "password": "pw", "role": "wizard"}, "invalid role 'wizard'"),
        ({"username": "carol", "password": "pw", "role": "anonymous"}, "invalid role"),
        ({"username": "carol", "password": "pw"}, "invalid role ''"),
        ({"username": "carol", "password": "x" * 73, "role": "user"}, "longer than 72 bytes"),
    ],
)
async def test_a_bad_user_form_is_400_and_nothing_is_stored(
    web_site: Site, form: dict[str, str], message: str
) -> None:
    browser = await web_site.logged_in("root")
    before = usernames(web_site)

    response = await browser.call("POST", "/config/users/", form)

    assert response.code == 400
    body = error_of(response)
    assert body["status"] == "Bad Request"
    assert message in body["error"]
    assert usernames(web_site) == before


async def test_creating_an_existing_user_is_422(web_site: Site) -> None:
    browser = await web_site.logged_in("root")
    response = await browser.call(
        "POST", "/config/users/", {"username": "bob", "password": "other", "role": "admin"}
    )

    assert response.code == 422
    assert error_of(response)["error"] == "adding user failed: user 'bob' already exists"
    bob = web_site.user("bob")
    assert bob is not None
    assert bob.roles == frozenset({Role.USER})
    assert (await web_site.browser().login("bob")).code == 302  # password unchanged


# -- deleting users -------------------------------------------------------------------


@pytest.mark.parametrize("as_multipart", [False, True])
async def test_an_admin_deletes_a_user(web_site: Site, as_multipart: bool) -> None:
    browser = await web_site.logged_in("root")
    response = await browser.call(
        "DELETE", "/config/users/", {"username": "bob"}, as_multipart=as_multipart
    )

    assert response.code == 200, response.body
    assert web_site.user("bob") is None


async def test_deleting_an_unknown_user_is_422(web_site: Site) -> None:
    browser = await web_site.logged_in("root")
    before = usernames(web_site)
    response = await browser.call("DELETE", "/config/users/", {"username": "nobody"})

    assert response.code == 422
    assert error_of(response)["error"] == "deleting user failed: user 'nobody' not found"
    assert usernames(web_site) == before


# -- changing users -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "message", "roles", "projects"),
    [
        ({"add-role": "Support"}, "Add Role Success", {"user", "support"}, ()),
        ({"remove-role": "user"}, "Remove Role Success", set(), ()),
        # Only the first field given counts, in cc-backend's order.
        (
            {"add-project": "p9", "add-role": "manager"},
            "Add Role Success",
            {"user", "manager"},
            (),
        ),
    ],
)
async def test_an_admin_changes_roles(
    web_site: Site,
    form: dict[str, str],
    message: str,
    roles: set[str],
    projects: tuple[str, ...],
) -> None:
    browser = await web_site.logged_in("root")
    response = await browser.call("POST", "/config/user/bob", form)

    assert response.code == 200, response.body
    assert json.loads(response.body) == {"msg": message}
    bob = web_site.user("bob")
    assert bob is not None
    assert {r.value for r in bob.roles} == roles
    assert bob.projects == projects


async def test_an_admin_changes_a_managers_projects(web_site: Site) -> None:
    web_site.backends.users.add_role("bob", "manager")
    browser = await web_site.logged_in("root")

    added = await browser.call("POST", "/config/user/bob", {"add-project": "p1"})
    also = await browser.call("POST", "/config/user/bob", {"add-project": "p2"})
    removed = await browser.call("POST", "/config/user/bob", {"remove-project": "p1"})

    assert json.loads(added.body) == {"msg": "Add Project Success"}
    assert json.loads(also.body) == {"msg": "Add Project Success"}
    assert json.loads(removed.body) == {"msg": "Remove Project Success"}
    bob = web_site.user("bob")
    assert bob is not None
    assert bob.projects == ("p2",)


async def test_a_change_naming_nothing_is_400(web_site: Site) -> None:
    browser = await web_site.logged_in("root")
    response = await browser.call("POST", "/config/user/bob", {"add-role": ""})

    assert response.code == 400
    assert error_of(response)["error"].startswith("no operation specified")


@pytest.mark.parametrize(
    ("path", "form", "message"),
    [
        ("/config/user/bob", {"add-role": "user"}, "adding role failed: user 'bob' already has"),
        ("/config/user/bob", {"add-role": "wizard"}, "adding role failed: invalid role"),
        ("/config/user/bob", {"add-role": "anonymous"}, "adding role failed: invalid role"),
        ("/config/user/bob", {"remove-role": "admin"}, "removing role failed: user 'bob' does"),
        ("/config/user/bob", {"add-project": "p1"}, "adding project failed: user 'bob' is not"),
        ("/config/user/nobody", {"add-role": "user"}, "adding role failed: user 'nobody' not"),
    ],
)
async def test_a_change_the_user_table_refuses_is_422_and_nothing_changes(
    web_site: Site, path: str, form: dict[str, str], message: str
) -> None:
    browser = await web_site.logged_in("root")
    before = web_site.user("bob")

    response = await browser.call("POST", path, form)

    assert response.code == 422
    body = error_of(response)
    assert body["status"] == "Unprocessable Entity"
    assert body["error"].startswith(message)
    assert web_site.user("bob") == before


async def test_a_manager_with_projects_keeps_the_role(web_site: Site) -> None:
    web_site.backends.users.add_role("bob", "manager")
    web_site.backends.users.add_project("bob", "p1")
    browser = await web_site.logged_in("root")

    response = await browser.call("POST", "/config/user/bob", {"remove-role": "manager"})

    assert response.code == 422
    assert "still manages" in error_of(response)["error"]


# -- the site notice ------------------------------------------------------------------


async def test_an_admin_replaces_and_empties_the_notice(web_site: Site) -> None:
    notice = web_site.backends.config.base_dir / "var" / "notice.txt"
    browser = await web_site.logged_in("root")

    written = await browser.call(
        "POST", "/config/notice/", {"new-content": "Wartung am Montag <b>8:00</b>"}
    )
    assert written.code == 200
    assert text(written) == "Update Notice Content Success"
    assert notice.read_text(encoding="utf-8") == "Wartung am Montag <b>8:00</b>"

    emptied = await browser.call("POST", "/config/notice/", {"new-content": ""}, as_multipart=True)
    assert text(emptied) == "Empty Notice Content Success"
    assert notice.read_text(encoding="utf-8") == ""


async def test_a_too_long_notice_is_400_and_the_old_one_stays(web_site: Site) -> None:
    notice = web_site.backends.config.base_dir / "var" / "notice.txt"
    browser = await web_site.logged_in("root")
    await browser.call("POST", "/config/notice/", {"new-content": "old"})

    response = await browser.call("POST", "/config/notice/", {"new-content": "x" * 10_001})

    assert response.code == 400
    assert "maximum length of 10000" in error_of(response)["error"]
    assert notice.read_text(encoding="utf-8") == "old"
    assert [p.name for p in notice.parent.glob(".notice-*")] == []


async def test_a_notice_of_exactly_the_limit_is_stored(web_site: Site) -> None:
    browser = await web_site.logged_in("root")
    response = await browser.call("POST", "/config/notice/", {"new-content": "ü" * 10_000})
    assert response.code == 200


async def test_the_password_never_reaches_a_response_or_the_user_list(web_site: Site) -> None:
    browser = await web_site.logged_in("root")
    await browser.call(
        "POST", "/config/users/", {"username": "dan", "password": "dan-Secret-9", "role": "user"}
    )
    listing = await browser.call("GET", "/config/users/")
    assert "dan-Secret-9" not in listing.body.decode()
    assert PASSWORDS["root"] not in listing.body.decode()
