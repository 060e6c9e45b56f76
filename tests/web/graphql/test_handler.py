"""``POST /query``: who may ask, what a request must look like, how errors are reported,
and the limits on what one request may ask for."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from graphql import get_introspection_query
from tornado.httpclient import AsyncHTTPClient

from cc_backend.domain.user import User
from cc_backend.server import Backends
from cc_backend.web.graphql import limits
from cc_backend.web.graphql.limits import MAX_COST, MAX_DEPTH
from tests.web.browser import Browser
from tests.web.graphql.conftest import GraphQL, Reply, Seeded

JOB_IDS = "{ jobs { items { id } } }"


async def _post_with_cookies(base: str, cookies: dict[str, str], query: str) -> Reply:
    response = await AsyncHTTPClient().fetch(
        base + "/query",
        method="POST",
        body=json.dumps({"query": query}),
        headers={
            "Content-Type": "application/json",
            "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
        },
        raise_error=False,
    )
    return Reply(response.code, json.loads(response.body))


# -- authentication -------------------------------------------------------------------


async def test_a_request_without_credentials_is_refused_as_unauthenticated(gql: GraphQL) -> None:
    reply = await gql(JOB_IDS, role="anonymous")
    assert reply.status == 401
    assert reply.codes == ["UNAUTHENTICATED"]
    assert "data" not in reply.body


async def test_an_invalid_token_is_refused(gql: GraphQL) -> None:
    response = await gql.raw(
        json.dumps({"query": JOB_IDS}).encode(),
        headers={"Content-Type": "application/json", "X-Auth-Token": "not.a.token"},
    )
    body = json.loads(response.body)
    assert response.code == 401
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_bearer_token_works_like_x_auth_token(gql: GraphQL, seeded: Seeded) -> None:
    token = gql.sign(User.build("root", ["admin"]))
    response = await gql.raw(
        json.dumps({"query": "{ tags { id } }"}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    assert response.code == 200
    readable = {seeded.tags["global"], seeded.tags["admin"]}  # not alice's private tag
    assert {int(t["id"]) for t in json.loads(response.body)["data"]["tags"]} == readable


async def _logged_in(base: str, username: str) -> Browser:
    browser = Browser(base)
    assert (await browser.login(username)).code == 302
    return browser


async def test_a_login_session_authenticates_as_on_the_pages(site_url: str) -> None:
    browser = await _logged_in(site_url, "alice")
    reply = await _post_with_cookies(
        site_url, browser.cookies, '{ user(username: "alice") { username } }'
    )
    assert reply.ok() == {"user": {"username": "alice"}}


async def test_a_forged_session_cookie_is_refused(site_url: str) -> None:
    reply = await _post_with_cookies(site_url, {"session": "2|forged|value"}, JOB_IDS)
    assert reply.status == 401
    assert reply.codes == ["UNAUTHENTICATED"]


async def test_a_session_of_a_deleted_user_ends(site_url: str, backends: Backends) -> None:
    browser = await _logged_in(site_url, "bob")
    backends.users.delete("bob")
    reply = await _post_with_cookies(site_url, browser.cookies, JOB_IDS)
    assert reply.status == 401


# -- the shape of a request --------------------------------------------------------------


async def test_only_post_is_served(gql: GraphQL) -> None:
    token = gql.sign(User.build("root", ["admin"]))
    response = await gql.raw(b"", headers={"X-Auth-Token": token}, method="GET")
    assert response.code == 405
    assert json.loads(response.body)["errors"][0]["message"] == "only POST is served at /query"


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("text/plain", json.dumps({"query": JOB_IDS}), 415),
        ("application/x-www-form-urlencoded", "query=%7Bjobs%7D", 415),
        ("application/json", "{not json", 400),
        ("application/json", "[1, 2]", 400),
        ("application/json", json.dumps({"query": 5}), 422),
        ("application/json", json.dumps({"variables": {}}), 422),
    ],
)
async def test_a_malformed_request_is_refused_with_a_graphql_error_body(
    gql: GraphQL, content_type: str, body: str, status: int
) -> None:
    token = gql.sign(User.build("root", ["admin"]))
    response = await gql.raw(
        body.encode(), headers={"Content-Type": content_type, "X-Auth-Token": token}
    )
    assert response.code == status
    answer = json.loads(response.body)
    assert answer["errors"]
    assert answer["errors"][0]["message"]
    assert answer["errors"][0]["extensions"]["code"]
    assert "Traceback" not in response.body.decode()


async def test_the_content_type_may_carry_a_charset(gql: GraphQL, seeded: Seeded) -> None:
    token = gql.sign(User.build("root", ["admin"]))
    response = await gql.raw(
        json.dumps({"query": "{ tags { id } }"}).encode(),
        headers={"Content-Type": "application/json; charset=utf-8", "X-Auth-Token": token},
    )
    assert response.code == 200


async def test_operation_name_and_variables_select_and_fill_the_operation(
    gql: GraphQL, seeded: Seeded
) -> None:
    token = gql.sign(User.build("root", ["admin"]))
    payload = {
        "query": "query A { tags { id } } query B($u: String!) { user(username: $u) { email } }",
        "operationName": "B",
        "variables": {"u": "alice"},
    }
    response = await gql.raw(
        json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "X-Auth-Token": token},
    )
    assert json.loads(response.body) == {"data": {"user": {"email": "alice@example.org"}}}


# -- error codes ----------------------------------------------------------------------------


async def test_a_query_that_does_not_parse_is_parse_failed(gql: GraphQL) -> None:
    reply = await gql("{ jobs { items { id }")
    assert reply.status == 422
    assert reply.codes == ["GRAPHQL_PARSE_FAILED"]


async def test_an_unknown_field_is_validation_failed(gql: GraphQL) -> None:
    reply = await gql("{ jobs { items { id nosuchfield } } }")
    assert reply.status == 422
    assert reply.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert "nosuchfield" in reply.errors[0]["message"]


async def test_a_variable_of_the_wrong_type_is_bad_user_input(gql: GraphQL) -> None:
    reply = await gql("query ($id: ID!) { job(id: $id) { id } }", {"id": {"x": 1}})
    assert reply.codes == ["BAD_USER_INPUT"]


async def test_a_time_that_is_no_rfc_3339_text_is_bad_user_input(gql: GraphQL) -> None:
    query = "query ($f: [JobFilter!]) { jobs(filter: $f) { count } }"
    reply = await gql(query, {"f": [{"startTime": {"from": "yesterday"}}]})
    assert reply.codes == ["BAD_USER_INPUT"]
    assert "RFC 3339" in reply.errors[0]["message"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ('{ job(id: "999999") { id } }', "NOT_FOUND"),
        ('{ job(id: "abc") { id } }', "BAD_USER_INPUT"),
        ("{ nodes { count } }", "FORBIDDEN"),
        ('mutation { createTag(type: "a", name: "b", scope: "global") { id } }', "FORBIDDEN"),
        ("{ jobs(page: {itemsPerPage: 0, page: 1}) { count } }", "BAD_USER_INPUT"),
        ('{ jobs(order: {field: "nosuch", type: "col"}) { count } }', "BAD_USER_INPUT"),
        ('{ jobs(filter: [{state: ["sleeping"]}]) { count } }', "GRAPHQL_VALIDATION_FAILED"),
        ('{ jobsStatistics(numDurationBins: "7d") { histDuration { count } } }', "BAD_USER_INPUT"),
    ],
)
async def test_domain_errors_carry_their_code_and_message(
    gql: GraphQL, seeded: Seeded, query: str, code: str
) -> None:
    reply = await gql(query, role="user")
    assert reply.status in (200, 422)
    assert set(reply.codes) == {code}
    assert reply.errors[0]["message"]


async def test_an_unexpected_failure_shows_a_request_id_and_logs_the_traceback(
    gql: GraphQL, seeded: Seeded, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("database exploded at /secret/path")

    monkeypatch.setattr(gql.backends.jobs, "get", broken)
    with caplog.at_level(logging.ERROR, logger="cc_backend.web.graphql.errors"):
        reply = await gql(
            f'{{ job(id: "{seeded.jobs["alice_done"]}") {{ id }} clusters {{ name }} }}'
        )
    assert reply.status == 200
    assert reply.codes == ["INTERNAL_SERVER_ERROR"]
    message = reply.errors[0]["message"]
    assert message.startswith("internal server error (request id ")
    assert "secret" not in json.dumps(reply.body)
    assert reply.data["job"] is None
    assert reply.data["clusters"]  # the other field still answers
    request_id = message.rsplit(" ", 1)[1].rstrip(")")
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged
    assert logged[0].exc_info is not None


# -- limits -----------------------------------------------------------------------------------


async def test_a_query_deeper_than_the_limit_is_refused_before_it_runs(
    gql: GraphQL, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nest through fragments so the depth is counted where they are spread.
    query = (
        "query Deep { clusters { ...C } }\n"
        "fragment C on Cluster { subClusters { ...S } }\n"
        "fragment S on SubCluster { metricConfig { ...M } }\n"
        "fragment M on MetricConfig { subClusters { name } unit { base } }\n"
    )
    assert (await gql(query)).status == 200  # five levels, leaves included
    called = False

    def must_not_run(*_args: Any) -> Any:
        nonlocal called
        called = True
        raise AssertionError("executed")

    monkeypatch.setattr("cc_backend.web.graphql.limits.MAX_DEPTH", 3)
    monkeypatch.setattr(gql.backends.clusters, "names", must_not_run)
    reply = await gql(query)
    assert reply.status == 422
    assert reply.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert "Deep nests 5 levels deep; at most 3 are allowed" in reply.errors[0]["message"]
    assert not called


async def test_the_depth_limit_leaves_room_for_the_deepest_frontend_query() -> None:
    # nodeMetricsList { items { metrics { metric { series { statistics { avg } } } } } }
    assert MAX_DEPTH >= 7


async def test_introspection_as_graphiql_sends_it_passes_both_limits(gql: GraphQL) -> None:
    reply = await gql(get_introspection_query(descriptions=True))
    data = reply.ok()
    names = {t["name"] for t in data["__schema"]["types"]}
    assert {"Job", "JobFilter", "Time", "NullableFloat"} <= names


async def test_a_thousand_aliases_exceed_the_cost_limit(gql: GraphQL) -> None:
    aliases = " ".join(f"t{i}: tags {{ id }}" for i in range(MAX_COST // 2 + 1))
    reply = await gql("{ " + aliases + " }")
    assert reply.status == 422
    assert reply.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert "maximum cost" in reply.errors[0]["message"]


async def test_a_fragment_costs_as_often_as_it_is_spread(gql: GraphQL, seeded: Seeded) -> None:
    tags = " ".join(f"t{i}: tags {{ id name }}" for i in range(100))  # 300 per spread
    fragment = "fragment F on Query { " + tags + " }"
    reply = await gql("{ ...F ...F ...F } " + fragment)  # 900: allowed
    assert reply.status == 200
    reply = await gql("{ ...F ...F ...F ...F } " + fragment)
    assert reply.status == 422
    assert "costs 1200, more than the maximum cost of 1000" in reply.errors[0]["message"]


async def test_fragments_spread_exponentially_are_refused_without_expanding_them(
    gql: GraphQL,
) -> None:
    """Thirty fragments each spreading the next twice select 2**30 fields: refused at once."""
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(30)]
    fragments.append("fragment F30 on Query { tags { id } }")
    reply = await gql("{ ...F0 } " + " ".join(fragments))
    assert reply.status == 422
    assert reply.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert f"costs {2**31}, more than the maximum cost" in reply.errors[0]["message"]


async def test_a_document_that_passed_is_not_measured_again_while_the_limits_stay(
    gql: GraphQL, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    measured = 0
    measure = limits._measure

    def counting(*args: Any) -> tuple[int, int]:
        nonlocal measured
        measured += 1
        return measure(*args)

    monkeypatch.setattr(limits, "_measure", counting)
    query = "query Twice { tags { id } }"
    for _ in range(3):
        assert (await gql(query)).status == 200
    assert measured == 2  # the operation and its one field, on the first request only
    monkeypatch.setattr(limits, "MAX_COST", 1)
    reply = await gql(query)
    assert reply.status == 422
    assert "maximum cost of 1" in reply.errors[0]["message"]
