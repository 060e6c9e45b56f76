"""Both clients answer the user pages' questions alike: job statistics and histograms, tag
counts and deletion, looking people up, user administration, the notice and API tokens.

Each test runs in process and over HTTP (``client_for`` in conftest.py). The HTTP client
reaches cc-backend's session routes (``/config/``, ``/frontend/jwt/``) with a login
session that ``/jwt-login`` opens for its token, so the API below is served with the
site's ``SESSION_KEY``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import pytest
from dotenv import dotenv_values
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

from cc_backend.client import HttpClient
from cc_backend.client.base import JobsHistograms
from cc_backend.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from cc_backend.domain.filters import JobFilter, PageRequest, StringInput
from cc_backend.domain.job import Job, JobState
from cc_backend.domain.tag import Tag
from cc_backend.server import Backends, make_api_app
from cc_backend.services.user_admin import NewUser, UserChange
from cc_backend.stats.stats_results import GroupBy, HistoPoint, SortBy
from tests.client.conftest import DEMO_JOBS, ClientFor, Seeded
from tests.conftest import Api

ALL_JOBS = DEMO_JOBS + 1
#: A refused admin action: the services' PermissionDenied, or over HTTP the API's 401 for
#: a token without ``admin`` and ``api`` on ``/api/`` routes.
REFUSED = (PermissionDenied, Unauthenticated)


@pytest.fixture
async def api(backends: Backends, token_for: Callable[..., str]) -> AsyncIterator[Api]:
    """The site's API with the session key, so that login sessions work too."""
    key = dotenv_values(backends.config.base_dir / ".env")["SESSION_KEY"]
    sock, port = bind_unused_port()
    server = HTTPServer(make_api_app(backends, cookie_secret=key))
    server.add_sockets([sock])
    yield Api(f"http://127.0.0.1:{port}", token_for("adapter"), backends)
    server.stop()
    await server.close_all_connections()


# -- statistics ----------------------------------------------------------------------------


async def test_totals_are_the_statistics_services_in_whole_hours(
    client_for: ClientFor, seeded: Seeded, backends: Backends
) -> None:
    [row] = await client_for("root").jobs_statistics()
    expected = backends.job_statistics.totals(actor=None)

    assert row.id == ""
    assert (row.total_jobs, row.running_jobs, row.total_users) == (
        ALL_JOBS,
        1,
        expected.total_users,
    )
    assert (row.total_nodes, row.total_cores, row.total_accs) == (
        expected.total_nodes,
        expected.total_cores,
        expected.total_accs,
    )
    hours = ("total_walltime", "total_node_hours", "total_core_hours", "total_acc_hours")
    assert {h: getattr(row, h) for h in hours} == {h: getattr(expected, h) for h in hours}


async def test_totals_grouped_by_user_are_sorted_and_named(
    client_for: ClientFor, seeded: Seeded, backends: Backends
) -> None:
    backends.users.update("alice", name="Alice Liddell")
    client = client_for("root")

    rows = await client.jobs_statistics(group_by=GroupBy.USER, sort_by=SortBy.TOTALJOBS)

    assert sum(r.total_jobs for r in rows) == ALL_JOBS
    assert [r.total_jobs for r in rows] == sorted((r.total_jobs for r in rows), reverse=True)
    assert {r.id: r.name for r in rows}["alice"] == "Alice Liddell"
    first = await client.jobs_statistics(
        group_by=GroupBy.USER,
        sort_by=SortBy.TOTALJOBS,
        page=PageRequest.model_validate({"itemsPerPage": 2, "page": 1}),
    )
    assert [r.id for r in first] == [r.id for r in rows[:2]]


async def test_statistics_cover_only_the_jobs_the_user_may_see(
    client_for: ClientFor, seeded: Seeded
) -> None:
    alice = client_for("alice")

    [mine] = await alice.jobs_statistics()
    by_project = await alice.jobs_statistics(group_by=GroupBy.PROJECT)

    assert (mine.total_jobs, mine.running_jobs) == (1, 1)
    assert [(r.id, r.total_jobs) for r in by_project] == [("project-a", 1)]
    [none] = await client_for("bob").jobs_statistics()
    assert none.total_jobs == 0


async def test_histograms_by_duration_size_and_footprint(
    client_for: ClientFor, seeded: Seeded, backends: Backends
) -> None:
    fritz = [JobFilter(cluster=StringInput(eq="fritz"))]
    on_fritz = backends.jobs.count(fritz, actor=None)

    found = await client_for("root").jobs_histograms(
        fritz, metrics=["flops_any", "mem_used"], duration_bins="6h", metric_bins=5
    )

    assert isinstance(found, JobsHistograms)
    assert [p.value for p in found.duration] == [i * 21600 for i in range(1, 13)]
    assert sum(p.count for p in found.num_nodes) == on_fritz
    assert sum(p.count for p in found.num_cores) == on_fritz
    assert found.num_accs in ((), (HistoPoint(0, on_fritz),))
    assert [(h.metric, h.stat, len(h.data)) for h in found.metrics] == [
        ("flops_any", "avg", 5),
        ("mem_used", "max", 5),
    ]
    service = backends.job_statistics.metric_histograms(
        ["flops_any"], fritz, actor=None, num_metric_bins=5
    )
    assert found.metrics[0].data == service[0].data


async def test_histograms_refuse_unknown_bins_and_metrics(
    client_for: ClientFor, seeded: Seeded
) -> None:
    client = client_for("root")
    with pytest.raises(InvalidInput, match="numDurationBins"):
        await client.jobs_histograms(duration_bins="2h")
    with pytest.raises(InvalidInput, match="not a footprint metric"):
        await client.jobs_histograms(metrics=["clock"])


async def test_a_running_job_counts_by_its_time_so_far(
    client_for: ClientFor, backends: Backends, make_job: Callable[..., Job]
) -> None:
    backends.jobs.add(make_job(user="bob", startTime=int(time.time()) - 5400))

    found = await client_for("bob").jobs_histograms([JobFilter(state=[JobState.RUNNING])])

    assert [p.value for p in found.duration if p.count] == [7200]  # in its second hour
    assert found.num_nodes == (HistoPoint(1, 1),)
    assert found.metrics == ()


# -- tags ----------------------------------------------------------------------------------


async def test_tag_counts_are_the_visible_jobs_carrying_each_tag(
    client_for: ClientFor, seeded: Seeded
) -> None:
    assert (await client_for("root").tag_counts())[seeded.tag_id] == 1
    assert (await client_for("alice").tag_counts())[seeded.tag_id] == 1
    assert (await client_for("bob").tag_counts())[seeded.tag_id] == 0


async def test_only_admins_delete_global_tags_and_private_ones_are_skipped(
    client_for: ClientFor, seeded: Seeded, backends: Backends
) -> None:
    root = backends.users.get("root")
    global_tag = backends.tags.get(seeded.tag_id, root)
    alice_user = backends.users.get("alice")
    private = backends.tags.create(Tag(type="note", name="mine", scope="alice"), alice_user)

    with pytest.raises(REFUSED):
        await client_for("alice").delete_tags([global_tag])
    assert backends.tags.get(seeded.tag_id, root) == global_tag  # nothing deleted
    assert await client_for("root").delete_tags([private]) == 0
    assert backends.tags.get(private.id or 0, alice_user) == private

    assert await client_for("root").delete_tags([global_tag]) == 1
    with pytest.raises(NotFound):
        backends.tags.get(seeded.tag_id, root)
    assert not backends.tags.tags_of_jobs([seeded.alice_running], root).get(seeded.alice_running)
    with pytest.raises(NotFound):
        await client_for("root").delete_tags([global_tag])


# -- people --------------------------------------------------------------------------------


async def test_looking_up_a_person(client_for: ClientFor, backends: Backends) -> None:
    backends.users.update("alice", name="Alice Liddell", email="alice@example.org")

    me = await client_for("alice").lookup_user("alice")
    assert me is not None
    assert (me.username, me.name, me.email, me.roles) == (
        "alice",
        "Alice Liddell",
        "alice@example.org",
        frozenset(),
    )
    assert await client_for("root").lookup_user("nobody") is None
    with pytest.raises(PermissionDenied):
        await client_for("bob").lookup_user("alice")


async def test_admins_list_create_change_and_delete_users(
    client_for: ClientFor, backends: Backends
) -> None:
    root = client_for("root")
    form = NewUser(username="mia", password="Mia-Secret-1", role="manager", project="p1")

    created = await root.create_user(form)
    assert (created.username, created.projects) == ("mia", ("p1",))
    change = UserChange(add_project="p2")
    assert await root.change_user("mia", change) == "Add Project Success"
    listed = {u.username: u for u in await root.users()}
    assert listed["mia"].projects == ("p1", "p2")
    assert [r.value for r in listed["mia"].roles] == ["manager"]
    assert listed["mia"].password_hash is None

    with pytest.raises(Conflict, match="adding user failed"):
        await root.create_user(form)
    await root.delete_user("mia")
    assert "mia" not in {u.username for u in await root.users()}


async def test_a_refused_user_form_changes_nothing(
    client_for: ClientFor, backends: Backends
) -> None:
    root = client_for("root")
    before = [u.username for u in backends.users.list()]

    with pytest.raises(InvalidInput, match="blank password"):
        await root.create_user(NewUser(username="nopass", role="user"))
    with pytest.raises(InvalidInput, match="no operation"):
        await root.change_user("alice", UserChange())
    with pytest.raises(Conflict, match="adding role failed"):
        await root.change_user("nobody", UserChange(add_role="support"))

    assert [u.username for u in backends.users.list()] == before


async def test_user_administration_is_for_admins(client_for: ClientFor, backends: Backends) -> None:
    alice = client_for("alice")
    with pytest.raises(REFUSED):
        await alice.users()
    with pytest.raises(PermissionDenied):
        await alice.create_user(NewUser(username="eve", password="Eve-Secret-1", role="admin"))
    with pytest.raises(PermissionDenied):
        await alice.delete_user("bob")
    assert backends.users.get("bob").username == "bob"


# -- notice and tokens ---------------------------------------------------------------------


async def test_admins_replace_the_notice(client_for: ClientFor, backends: Backends) -> None:
    notice = backends.config.base_dir / "var" / "notice.txt"

    assert await client_for("root").set_notice("Down on Monday") == "Update Notice Content Success"
    assert notice.read_text() == "Down on Monday"
    with pytest.raises(PermissionDenied):
        await client_for("alice").set_notice("hacked")
    with pytest.raises(InvalidInput, match="maximum length"):
        await client_for("root").set_notice("x" * 10_001)
    assert await client_for("root").set_notice("") == "Empty Notice Content Success"
    assert notice.read_text() == ""


async def test_api_tokens_for_oneself_and_by_admins_for_anybody(
    client_for: ClientFor, seeded: Seeded, api: Api
) -> None:
    own = await client_for("alice").api_token()
    assert await HttpClient(api.base, own).count_jobs() == 1
    for_alice = await client_for("root").api_token("alice")
    assert await HttpClient(api.base, for_alice).count_jobs() == 1
    with pytest.raises(PermissionDenied):
        await client_for("alice").api_token("root")
    with pytest.raises(NotFound):
        await client_for("root").api_token("nobody")
