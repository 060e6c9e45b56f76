"""``/frontend/``: API tokens and interface settings for the logged-in user."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from cc_backend.auth.keys import load_public_key
from cc_backend.auth.tokens import verify_token
from cc_backend.domain.errors import NotFound
from tests.web.browser import Site, error_of, text

#: The served site with passwords and a cookie-keeping client (see test_sessions).


def claims_of(site: Site, token: str) -> dict[str, Any]:
    """The claims of ``token``, verified with the site's public key."""
    key = site.backends.secrets.jwt_public_key
    assert key is not None
    return verify_token(token, load_public_key(key.get_secret_value()))


async def _token(site: Site, username: str, *, as_user: str) -> str:
    browser = await site.logged_in(as_user)
    response = await browser.call("GET", f"/frontend/jwt/?username={username}")
    assert response.code == 200, response.body
    assert response.headers["Content-Type"].startswith("text/plain")
    return text(response)


# -- /frontend/jwt/ -------------------------------------------------------------------


async def test_a_user_gets_a_token_for_themselves_that_the_user_api_accepts(
    web_site: Site,
) -> None:
    token = await _token(web_site, "alice", as_user="alice")

    user_api = await web_site.browser().call(
        "GET", "/userapi/jobs/", headers={"X-Auth-Token": token}
    )
    api = await web_site.browser().call("GET", "/api/jobs/", headers={"X-Auth-Token": token})

    assert user_api.code == 200, user_api.body
    assert api.code == 401  # user+api may use /userapi/ only, as with any token


async def test_an_admins_own_token_works_against_the_api(web_site: Site) -> None:
    token = await _token(web_site, "root", as_user="root")
    response = await web_site.browser().call(
        "GET", "/api/users/", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.code == 200, response.body


async def test_an_admin_gets_a_token_for_another_user(web_site: Site) -> None:
    token = await _token(web_site, "adapter", as_user="root")

    response = await web_site.browser().call("GET", "/api/jobs/", headers={"X-Auth-Token": token})

    assert response.code == 200, response.body
    assert claims_of(web_site, token)["sub"] == "adapter"


async def test_a_token_carries_the_users_current_roles_and_expiry(web_site: Site) -> None:
    web_site.backends.users.add_role("bob", "manager")
    web_site.backends.users.add_project("bob", "p1")

    claims = claims_of(web_site, await _token(web_site, "bob", as_user="bob"))

    assert claims["sub"] == "bob"
    assert claims["roles"] == ["manager", "user"]
    assert claims["projects"] == ["p1"]
    assert claims["exp"] - claims["iat"] == 2000 * 3600  # auth.jwts.max-age of the site


@pytest.mark.parametrize("username", ["alice", "root", ""])
async def test_a_user_cannot_get_a_token_for_somebody_else(web_site: Site, username: str) -> None:
    browser = await web_site.logged_in("bob")
    response = await browser.call("GET", f"/frontend/jwt/?username={username}")

    assert response.code == 403
    assert error_of(response) == {
        "status": "Forbidden",
        "error": "only admins are allowed to sign JWTs not for themselves",
    }


async def test_a_token_for_an_unknown_user_is_404(web_site: Site) -> None:
    browser = await web_site.logged_in("root")
    response = await browser.call("GET", "/frontend/jwt/?username=nobody")

    assert response.code == 404
    assert error_of(response)["error"] == "getting user failed: user 'nobody' not found"


async def test_tokens_need_a_session(web_site: Site) -> None:
    response = await web_site.browser().call("GET", "/frontend/jwt/?username=alice")
    assert response.code == 401


async def test_without_a_private_key_no_token_is_signed(
    web_site: Site, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    backends = web_site.backends
    monkeypatch.setattr(
        backends, "secrets", backends.secrets.model_copy(update={"jwt_private_key": None})
    )
    browser = await web_site.logged_in("alice")

    with caplog.at_level(logging.ERROR):
        response = await browser.call("GET", "/frontend/jwt/?username=alice")

    assert response.code == 500
    assert "request id" in error_of(response)["error"]
    assert "JWT_PRIVATE_KEY not set" in caplog.text


# -- /frontend/configuration/ ---------------------------------------------------------


@pytest.mark.parametrize("as_multipart", [False, True])
async def test_a_user_stores_an_interface_setting(web_site: Site, as_multipart: bool) -> None:
    browser = await web_site.logged_in("alice")
    form = {"key": "metricConfig_jobListMetrics:fritz", "value": '["flops_any","mem_bw"]'}

    response = await browser.call(
        "POST", "/frontend/configuration/", form, as_multipart=as_multipart
    )

    assert response.code == 200, response.body
    assert text(response) == "success"
    stored = web_site.backends.user_config.get("alice", "metricConfig_jobListMetrics:fritz")
    assert stored == ["flops_any", "mem_bw"]


async def test_a_setting_is_replaced_and_belongs_to_the_session_user(web_site: Site) -> None:
    browser = await web_site.logged_in("alice")
    await browser.call(
        "POST", "/frontend/configuration/", {"key": "plot_general_colorscheme", "value": "1"}
    )
    await browser.call(
        "POST",
        "/frontend/configuration/",
        {"key": "plot_general_colorscheme", "value": '"viridis"'},
    )

    assert web_site.backends.user_config.get_all("alice") == {"plot_general_colorscheme": "viridis"}
    assert web_site.backends.user_config.get_all("bob") == {}


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"key": "k", "value": "not json"}, "is not JSON"),
        ({"key": "k"}, "is not JSON"),
        ({"key": "", "value": "1"}, "the key must not be empty"),
        ({"value": "1"}, "the key must not be empty"),
        ({"key": "k" * 256, "value": "1"}, "1 to 255 characters"),
    ],
)
async def test_a_bad_setting_is_400_and_nothing_is_stored(
    web_site: Site, form: dict[str, str], message: str
) -> None:
    browser = await web_site.logged_in("alice")
    response = await browser.call("POST", "/frontend/configuration/", form)

    assert response.code == 400
    assert message in error_of(response)["error"]
    assert web_site.backends.user_config.get_all("alice") == {}


async def test_settings_need_a_session(web_site: Site) -> None:
    response = await web_site.browser().call(
        "POST", "/frontend/configuration/", {"key": "k", "value": "1"}
    )
    assert response.code == 401
    with pytest.raises(NotFound):
        web_site.backends.user_config.get("alice", "k")


async def test_unknown_frontend_paths_are_json_404(web_site: Site) -> None:
    browser = await web_site.logged_in("alice")
    response = await browser.call("GET", "/frontend/logs/")
    assert response.code == 404
    assert error_of(response)["status"] == "Not Found"
