"""Both clients answer alike: in process as a user, and over the served API with that
user's token (each test runs against both, see ``client_for`` in conftest.py)."""

from __future__ import annotations

import math
import socket
from collections.abc import Callable

import pytest

from cc_backend.client import Client, HttpClient, JobList, LocalClient, NotSupported
from cc_backend.domain.cluster import MetricScope
from cc_backend.domain.errors import (
    BackendUnavailable,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from cc_backend.domain.filters import JobFilter, OrderBy, PageRequest, StringInput
from cc_backend.domain.job import JobState
from cc_backend.server import Backends
from tests.client.conftest import DEMO_JOBS, ClientFor, Seeded
from tests.conftest import Api

ALL_JOBS = DEMO_JOBS + 1


def test_both_implementations_follow_the_protocol(backends: Backends) -> None:
    assert isinstance(LocalClient(backends, backends.users.get("root")), Client)
    assert isinstance(HttpClient("http://127.0.0.1:1", "token"), Client)


async def test_job_lists_page_count_and_order(client_for: ClientFor, seeded: Seeded) -> None:
    client = client_for("root")
    page = PageRequest.model_validate({"itemsPerPage": 5, "page": 1})
    first = await client.jobs(page=page, with_count=True)
    rest = await client.jobs(page=PageRequest.model_validate({"itemsPerPage": 5, "page": 2}))

    assert isinstance(first, JobList)
    assert first.count == ALL_JOBS
    assert first.has_next_page
    assert not rest.has_next_page
    assert rest.count is None  # only when asked for
    starts = [j.start_time for j in first.items + rest.items]
    assert starts == sorted(starts, reverse=True)
    assert len({j.id for j in first.items + rest.items}) == ALL_JOBS

    oldest = await client.jobs(order=OrderBy(field="start_time", order="ASC"))
    assert [j.start_time for j in oldest.items] == sorted(starts)


async def test_filters_select_jobs_and_counts_agree(
    client_for: ClientFor, seeded: Seeded, backends: Backends
) -> None:
    client = client_for("root")
    running = [JobFilter(state=[JobState.RUNNING])]
    on_fritz = [JobFilter(cluster=StringInput(eq="fritz"))]

    assert await client.count_jobs(running) == 1
    listed = await client.jobs(running)
    assert [j.id for j in listed.items] == [seeded.alice_running]
    assert listed.filters == tuple(running)
    assert await client.count_jobs(on_fritz) == backends.jobs.count(on_fritz, actor=None)
    assert await client.count_jobs() == ALL_JOBS


async def test_users_see_only_their_own_jobs(client_for: ClientFor, seeded: Seeded) -> None:
    alice, bob = client_for("alice"), client_for("bob")

    assert await alice.count_jobs() == 1
    assert await bob.count_jobs() == 0
    assert (await alice.job(seeded.alice_running)).user == "alice"
    with pytest.raises(NotFound):
        await bob.job(seeded.alice_running)
    with pytest.raises(NotFound):
        await bob.job_metrics(seeded.alice_running)


async def test_a_job_carries_the_readers_tags(client_for: ClientFor, seeded: Seeded) -> None:
    job = await client_for("alice").job(seeded.alice_running)
    assert [(t.id, t.type, t.name, t.scope) for t in job.tags or []] == [
        (seeded.tag_id, "app", "python", "global")
    ]
    listed = await client_for("root").jobs([JobFilter(state=[JobState.RUNNING])])
    assert [t.name for t in listed.items[0].tags or []] == ["python"]
    assert "python" in [t.name for t in await client_for("alice").tags()]


async def test_both_clients_describe_a_job_the_same_way(
    backends: Backends, api_client: HttpClient, seeded: Seeded
) -> None:
    local = LocalClient(backends, backends.users.get("root"))
    for db_id in (seeded.archived, seeded.alice_running):
        mine, theirs = await local.job(db_id), await api_client.job(db_id)
        fields = [
            "id",
            "job_id",
            "user",
            "project",
            "cluster",
            "sub_cluster",
            "partition",
            "array_job_id",
            "num_nodes",
            "num_hwthreads",
            "num_acc",
            "shared",
            "monitoring_status",
            "smt",
            "job_state",
            "start_time",
            "duration",
            "walltime",
            "energy",
            "resources",
            "meta_data",
            "footprint",
            "energy_footprint",
            "tags",
        ]
        assert {f: getattr(theirs, f) for f in fields} == {f: getattr(mine, f) for f in fields}


async def test_metric_data_and_statistics_of_an_archived_job(
    client_for: ClientFor, seeded: Seeded, backends: Backends
) -> None:
    client = client_for("root")
    data = await client.job_metrics(seeded.archived, resolution=0)
    job = backends.jobs.get(seeded.archived)
    archived = backends.archive.load_data(job)

    assert set(data.metrics()) == set(archived.metrics())
    name = sorted(archived.metrics())[0]
    mine = data[name][MetricScope.NODE].series[0]
    stored = archived[name][MetricScope.NODE].series[0]
    assert mine.hostname == stored.hostname
    assert mine.data.tolist() == pytest.approx(stored.data.tolist(), nan_ok=True)

    only = await client.job_metrics(seeded.archived, [name], resolution=0)
    assert list(only.metrics()) == [name]

    stats = await client.job_stats(seeded.archived, [name])
    assert set(stats) == {name}
    assert stats[name].min <= stats[name].avg <= stats[name].max
    assert not math.isnan(stats[name].avg)


async def test_clusters_with_their_subclusters_and_metrics(
    client_for: ClientFor, backends: Backends, seeded: Seeded
) -> None:
    clusters = await client_for("bob").clusters()
    assert [c.name for c in clusters] == ["alex", "fritz"]
    for cluster in clusters:
        stored = backends.clusters.get(cluster.name)
        assert [s.name for s in cluster.sub_clusters] == [s.name for s in stored.sub_clusters]
        for sub in stored.sub_clusters:
            expected = {(m.name, m.peak, m.unit) for m in stored.metrics_for(sub.name)}
            assert {(m.name, m.peak, m.unit) for m in cluster.metrics_for(sub.name)} == expected


async def test_a_malformed_filter_is_invalid_input(client_for: ClientFor, seeded: Seeded) -> None:
    with pytest.raises(InvalidInput):
        await client_for("root").jobs(order=OrderBy(field="no_such_column"))


async def test_settings_are_stored_for_the_user(
    client_for: ClientFor, backends: Backends, seeded: Seeded
) -> None:
    client = client_for("alice")
    await client.set_user_config("plotConfiguration_plotsPerRow", 3)
    assert backends.user_config.get_all("alice")["plotConfiguration_plotsPerRow"] == 3
    with pytest.raises(InvalidInput):
        await client.set_user_config("", 1)
    with pytest.raises(InvalidInput):
        await client.set_user_config("x", {1, 2})


async def test_reading_settings_and_notice_in_process(
    backends: Backends, api_client: HttpClient
) -> None:
    local = LocalClient(backends, backends.users.get("alice"))
    await local.set_user_config("theme", "dark")
    assert await local.user_config() == {"theme": "dark"}
    notice = backends.config.base_dir / "var" / "notice.txt"
    notice.parent.mkdir(parents=True, exist_ok=True)
    notice.write_text("Maintenance on Friday")
    assert await local.notice() == "Maintenance on Friday"

    with pytest.raises(NotSupported, match="settings"):
        await api_client.user_config()
    with pytest.raises(NotSupported, match="notice"):
        await api_client.notice()


async def test_finding_people_by_name_needs_a_manager_role(
    client_for: ClientFor, backends: Backends
) -> None:
    backends.users.update("alice", name="Alice Liddell")
    assert await client_for("root").find_users("liddell") == ["alice"]
    assert await client_for("root").find_users("nobody") == []
    with pytest.raises((PermissionDenied, Unauthenticated)):
        await client_for("bob").find_users("alice")


async def test_a_refused_token_is_unauthenticated(api: Api) -> None:
    with pytest.raises(Unauthenticated):
        await HttpClient(api.base, "not-a-token").count_jobs()


async def test_an_unreachable_server_is_backend_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(BackendUnavailable, match="cannot reach"):
        await HttpClient(f"http://127.0.0.1:{port}", "token", timeout=5).count_jobs()


async def test_any_graphql_query_runs_over_http_as_the_tokens_user(
    api: Api, token_for: Callable[..., str], seeded: Seeded
) -> None:
    client = HttpClient(api.base, token_for("alice"))
    query = "query ($id: ID!) { job(id: $id) { user state } }"

    data = await client.graphql(query, {"id": str(seeded.alice_running)})

    assert data == {"job": {"user": "alice", "state": "running"}}
    with pytest.raises(NotFound):
        await client.graphql(query, {"id": str(seeded.archived)})  # not alice's
    with pytest.raises(InvalidInput):
        await client.graphql("{ jobs { nosuchfield } }")
