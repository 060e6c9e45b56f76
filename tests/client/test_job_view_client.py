"""What the job view asks of a site, answered alike in process and over the served API:
per-series statistics, concurrent jobs, adding and removing tags, display settings."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from cc_backend.client import HttpClient, LocalClient, NotSupported
from cc_backend.client.base import DisplayConfig, JobLink
from cc_backend.domain.cluster import MetricScope
from cc_backend.domain.errors import NotFound, PermissionDenied
from cc_backend.domain.job import Job
from cc_backend.domain.tag import Tag
from cc_backend.server import Backends
from tests.client.conftest import ClientFor, Seeded

HOUR = 3600


async def test_scoped_statistics_give_one_entry_per_series(
    client_for: ClientFor, seeded: Seeded, backends: Backends
) -> None:
    job = backends.jobs.get(seeded.archived)
    archived = backends.archive.load_data(job)
    name = sorted(archived.metrics())[0]

    stats = await client_for("root").job_scoped_stats(seeded.archived, [name])

    assert list(stats) == [name]
    node = stats[name][MetricScope.NODE]
    stored = archived[name][MetricScope.NODE].series
    assert [s.hostname for s in node] == [s.hostname for s in stored]
    for mine, theirs in zip(node, stored, strict=True):
        assert mine.id is None
        assert mine.avg == pytest.approx(theirs.statistics.avg, nan_ok=True)
        assert mine.max == pytest.approx(theirs.statistics.max, nan_ok=True)


async def test_scoped_statistics_of_a_hidden_job_are_not_found(
    client_for: ClientFor, seeded: Seeded
) -> None:
    with pytest.raises(NotFound):
        await client_for("bob").job_scoped_stats(seeded.alice_running)


@pytest.fixture
def shared_jobs(backends: Backends, make_job: Callable[..., Job]) -> tuple[int, int, int]:
    """Three finished jobs of alice on node f0150 sharing it, and one of bob beside them."""
    common = {"jobState": "completed", "shared": "multi_user", "resources": [{"hostname": "f0150"}]}
    start = 1_700_100_000
    first = backends.jobs.add(make_job(startTime=start, duration=2 * HOUR, **common))
    second = backends.jobs.add(make_job(startTime=start + 600, duration=HOUR, **common))
    bobs = backends.jobs.add(make_job(user="bob", startTime=start + 900, duration=HOUR, **common))
    return first, second, bobs


async def test_concurrent_jobs_are_those_the_user_may_see(
    client_for: ClientFor, backends: Backends, shared_jobs: tuple[int, int, int]
) -> None:
    first, second, bobs = shared_jobs
    second_id = backends.jobs.get(second).job_id
    bobs_id = backends.jobs.get(bobs).job_id

    as_root = await client_for("root").concurrent_jobs(first)
    as_alice = await client_for("alice").concurrent_jobs(first)

    assert as_root.items == [JobLink(second, second_id), JobLink(bobs, bobs_id)]
    assert as_root.list_query == f"cluster=fritz&jobId={second_id}&jobId={bobs_id}"
    assert as_alice.items == [JobLink(second, second_id)]


async def test_a_job_with_nodes_of_its_own_has_no_concurrent_jobs(
    client_for: ClientFor, seeded: Seeded
) -> None:
    found = await client_for("root").concurrent_jobs(seeded.archived)
    assert found.items == []


async def test_users_add_private_tags_created_on_the_way(
    client_for: ClientFor, seeded: Seeded, backends: Backends
) -> None:
    client = client_for("alice")
    wanted = Tag(type="note", name="rerun", scope="alice")

    tags = await client.add_job_tags(seeded.alice_running, [wanted])

    assert {(t.type, t.name, t.scope) for t in tags} == {
        ("app", "python", "global"),
        ("note", "rerun", "alice"),
    }
    assert backends.tags.find("note", "rerun", "alice") is not None
    again = await client.add_job_tags(seeded.alice_running, [wanted])
    assert len(again) == 2


async def test_a_scope_the_user_may_not_write_changes_nothing(
    client_for: ClientFor, seeded: Seeded, backends: Backends
) -> None:
    client = client_for("alice")
    refused = [Tag(type="note", name="mine", scope="alice"), Tag(type="x", name="y")]

    with pytest.raises(PermissionDenied):
        await client.add_job_tags(seeded.alice_running, refused)

    assert backends.tags.find("note", "mine", "alice") is None
    job = await client.job(seeded.alice_running)
    assert [t.name for t in job.tags or []] == ["python"]


async def test_removing_tags_follows_the_scope_rules(
    client_for: ClientFor, seeded: Seeded, backends: Backends
) -> None:
    alice = client_for("alice")
    tags = await alice.add_job_tags(seeded.alice_running, [Tag(type="n", name="a", scope="alice")])
    private = next(t.id for t in tags if t.scope == "alice")
    assert private is not None

    with pytest.raises(PermissionDenied):
        await alice.remove_job_tags(seeded.alice_running, [private, seeded.tag_id])
    assert len(await alice.remove_job_tags(seeded.alice_running, [private])) == 1

    remaining = await client_for("root").remove_job_tags(seeded.alice_running, [seeded.tag_id])
    assert remaining == []
    with pytest.raises(NotFound):
        await client_for("bob").remove_job_tags(seeded.alice_running, [seeded.tag_id])


@pytest.mark.parametrize(
    "site_config",
    [{"main": {"emission-constant": 317, "resampling": {"trigger": 30, "resolutions": [600, 60]}}}],
)
async def test_display_settings_come_from_the_site_config(
    backends: Backends, api_client: HttpClient
) -> None:
    settings = await LocalClient(backends, backends.users.get("bob")).display_config()

    assert isinstance(settings, DisplayConfig)
    assert settings.emission_constant == 317
    assert settings.resampling is not None
    assert settings.resampling.zoom_resolution(600, 3) == 60
    with pytest.raises(NotSupported, match="display"):
        await api_client.display_config()


async def test_without_settings_there_is_no_estimate_and_no_resampling(backends: Backends) -> None:
    settings = await LocalClient(backends, backends.users.get("bob")).display_config()
    assert settings == DisplayConfig(short_running_seconds=300)  # the site's default


@pytest.mark.parametrize("site_config", [{"main": {"short-running-jobs-duration": 0}}])
async def test_a_site_may_list_even_the_newest_jobs(backends: Backends) -> None:
    settings = await LocalClient(backends, backends.users.get("bob")).display_config()
    assert settings.short_running_seconds == 0


async def _until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.005)


async def test_prefetched_job_data_is_read_once_for_the_requests_that_follow(
    backends: Backends, seeded: Seeded
) -> None:
    client = LocalClient(backends, backends.users.get("root"))
    cache = backends.job_metric_data.archive_cache
    cache.clear()
    misses = cache.misses

    client.prefetch_job_data(seeded.archived)  # returns at once; the read goes on
    await _until(lambda: cache.misses == misses + 1)
    metrics = await client.job_metrics(seeded.archived, resolution=0)
    stats = await client.job_stats(seeded.archived)

    assert cache.misses == misses + 1
    job = backends.jobs.get(seeded.archived)
    assert metrics == backends.job_metric_data.load(job, resolution=0)
    assert set(stats) == set(metrics.metrics())


async def test_prefetching_reads_nothing_of_a_job_the_user_may_not_see(
    backends: Backends, seeded: Seeded
) -> None:
    owner = backends.jobs.get(seeded.archived).user
    outsider = next(name for name in ("alice", "bob") if name != owner)
    cache = backends.job_metric_data.archive_cache
    cache.clear()
    misses = cache.misses

    LocalClient(backends, backends.users.get(outsider)).prefetch_job_data(seeded.archived)
    await asyncio.sleep(0.3)

    assert cache.misses == misses


async def test_prefetching_a_missing_job_does_not_fail(client_for: ClientFor) -> None:
    client = client_for("root")
    client.prefetch_job_data(987_654)
    with pytest.raises(NotFound):
        await client.job_metrics(987_654)
