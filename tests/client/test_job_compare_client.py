"""Both clients answer the job comparison's question alike: every matching job with the
minimum, average and maximum of chosen metrics, in one answer (``jobsMetricStats``).

Each test runs in process and over HTTP (``client_for`` in conftest.py), on the seeded
site with its statistics index built (the archived jobs' statistics come from there).
"""

from __future__ import annotations

import pytest

from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.filters import JobFilter, StringInput
from cc_backend.server import Backends
from cc_backend.stats.statistics_results import JobStats
from tests.client.conftest import DEMO_JOBS, ClientFor, Seeded

METRICS = ["flops_any", "mem_bw"]


@pytest.fixture
def indexed(seeded: Seeded, backends: Backends) -> Seeded:
    """The seeded site with its archive's statistics index built."""
    index = backends.statistics_index.index()
    assert index is not None
    assert index.build(backends.archive.iter_jobs()).jobs == DEMO_JOBS
    return seeded


def _summary(found: list[JobStats]) -> list[tuple[int, str, dict[str, tuple[float, ...]]]]:
    return [
        (j.id, j.job_id, {s.name: (s.data.min, s.data.avg, s.data.max) for s in j.stats})
        for j in found
    ]


async def test_every_job_comes_with_its_statistics_in_start_order(
    client_for: ClientFor, indexed: Seeded, backends: Backends
) -> None:
    found = await client_for("root").job_metric_stats(metrics=METRICS)

    expected = backends.job_metric_stats.job_metric_stats(actor=None, metrics=METRICS)
    assert _summary(found) == _summary(expected)
    assert found == expected  # every field, the counts of resources too
    assert len(found) == DEMO_JOBS + 1
    starts = [j.start_time for j in found]
    assert starts == sorted(starts)
    archived = [j for j in found if j.id != indexed.alice_running]
    assert all({s.name for s in j.stats} == set(METRICS) for j in archived)
    for job in archived:
        for stat in job.stats:
            assert stat.data.min <= stat.data.avg <= stat.data.max
    [running] = [j for j in found if j.id == indexed.alice_running]
    assert running.stats == ()  # running, nothing in the metric store: none


async def test_filters_choose_the_jobs_and_metrics_the_statistics(
    client_for: ClientFor, indexed: Seeded
) -> None:
    client = client_for("root")
    everything = await client.job_metric_stats(metrics=METRICS)
    chosen = [j.id for j in everything if j.cluster == "fritz" and j.stats][:2]

    found = await client.job_metric_stats([JobFilter(db_id=chosen)], ["mem_bw"])

    assert sorted(j.id for j in found) == sorted(chosen)
    assert all([s.name for s in j.stats] == ["mem_bw"] for j in found)
    on_alex = await client.job_metric_stats([JobFilter(cluster=StringInput(eq="alex"))], METRICS)
    assert on_alex
    assert {j.cluster for j in on_alex} == {"alex"}


async def test_a_user_gets_only_their_own_jobs(client_for: ClientFor, indexed: Seeded) -> None:
    everything = [j.id for j in await client_for("root").job_metric_stats(metrics=METRICS)]

    mine = await client_for("alice").job_metric_stats(metrics=METRICS)
    asked_for_all = await client_for("alice").job_metric_stats(
        [JobFilter(db_id=everything)], METRICS
    )

    assert [j.id for j in mine] == [indexed.alice_running]
    assert [j.id for j in asked_for_all] == [indexed.alice_running]
    assert await client_for("bob").job_metric_stats(metrics=METRICS) == []


async def test_a_malformed_metric_name_is_refused(client_for: ClientFor, indexed: Seeded) -> None:
    with pytest.raises(InvalidInput):
        await client_for("root").job_metric_stats(metrics=["flops_any; drop table job"])
