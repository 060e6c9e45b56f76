"""Both clients answer the analysis page's questions alike: every matching job's averages
of chosen metrics with its time weights (``jobsFootprints``), and the roofline heatmap of
every node time step of the matching jobs (``rooflineHeatmap``), as the user may see them.

Each test runs in process and over HTTP (``client_for`` in conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.filters import JobFilter
from cc_backend.domain.job import Job, MonitoringStatus
from cc_backend.domain.jobdata import JobData
from cc_backend.server import Backends
from cc_backend.stats.statistics_results import RooflineGrid
from tests.client.conftest import ClientFor, Seeded

METRICS = ["flops_any", "mem_bw"]
#: cc-backend's analysis grid (50 x 50 tiles up to a peak flop rate).
GRID = RooflineGrid(rows=50, cols=50, min_x=0.01, min_y=1.0, max_x=1000.0, max_y=5530.0)
#: alice's archived job: three node time steps (GFlop/s, GB/s), all inside :data:`GRID`.
ALICE_FLOPS = [150.0, 150.0, 40.0]
ALICE_BANDWIDTH = [30.0, 30.0, 80.0]


async def test_footprints_are_the_services_for_every_job_with_metric_data(
    client_for: ClientFor, seeded: Seeded, backends: Backends
) -> None:
    found = await client_for("root").jobs_footprints(METRICS)
    expected = backends.job_statistics.footprints(METRICS, actor=None)

    assert [m.metric for m in found.metrics] == METRICS
    for mine, theirs in zip(found.metrics, expected.metrics, strict=True):
        np.testing.assert_allclose(mine.data, theirs.data, equal_nan=True)
    weights, wanted = found.time_weights, expected.time_weights
    np.testing.assert_allclose(weights.node_hours, wanted.node_hours)
    np.testing.assert_allclose(weights.core_hours, wanted.core_hours)
    np.testing.assert_allclose(weights.acc_hours, wanted.acc_hours)
    assert len(weights.node_hours) > 0
    assert np.isfinite(found.metrics[0].data).any()  # the archived demo jobs have averages


async def test_footprints_follow_the_filters_and_the_users_visibility(
    client_for: ClientFor, seeded: Seeded, backends: Backends
) -> None:
    alice = backends.users.get("alice")
    cluster = [JobFilter.model_validate({"cluster": {"eq": "alex"}})]

    mine = await client_for("alice").jobs_footprints(METRICS)
    on_alex = await client_for("root").jobs_footprints(METRICS, cluster)

    expected = backends.job_statistics.footprints(METRICS, actor=alice)
    assert len(mine.time_weights.node_hours) == len(expected.time_weights.node_hours)
    alex = backends.job_statistics.footprints(METRICS, cluster, actor=None)
    assert len(on_alex.time_weights.node_hours) == len(alex.time_weights.node_hours)


async def test_a_malformed_metric_name_is_invalid_input(
    client_for: ClientFor, seeded: Seeded
) -> None:
    with pytest.raises(InvalidInput):
        await client_for("root").jobs_footprints(["flops any; drop"])


# -- the roofline heatmap ---------------------------------------------------------------------


def _node_metric(values: list[float], base: str, host: str) -> dict[str, object]:
    series = [{"hostname": host, "data": values}]
    return {"node": {"unit": {"base": base, "prefix": "G"}, "timestep": 60, "series": series}}


@pytest.fixture
def indexed(seeded: Seeded, backends: Backends, make_job: Callable[..., Job]) -> Seeded:
    """The seeded site plus an archived job of alice with three node time steps, with the
    archive's statistics index built (the heatmap counts time steps from there)."""
    job = make_job(
        jobState="completed",
        duration=3600,
        monitoringStatus=int(MonitoringStatus.ARCHIVING_SUCCESSFUL),
    )
    meta = job.model_copy(update={"id": backends.jobs.add(job)})
    host = job.resources[0].hostname
    data = JobData.from_json(
        {
            "flops_any": _node_metric(ALICE_FLOPS, "F/s", host),
            "mem_bw": _node_metric(ALICE_BANDWIDTH, "B/s", host),
        }
    )
    backends.archive.import_job(meta, data)
    index = backends.statistics_index.index()
    assert index is not None
    index.build(backends.archive.iter_jobs())
    return seeded


def _user_is(name: str) -> JobFilter:
    return JobFilter.model_validate({"user": {"eq": name}})


def _steps(tiles: list[list[float]]) -> float:
    return float(np.sum(tiles))


async def test_the_heatmap_is_the_services_answer_on_the_asked_grid(
    client_for: ClientFor, indexed: Seeded, backends: Backends
) -> None:
    found = await client_for("root").roofline_heatmap(GRID)

    assert found == backends.job_statistics.roofline_heatmap(GRID, actor=None)
    assert len(found) == GRID.rows
    assert all(len(row) == GRID.cols for row in found)
    assert _steps(found) > len(ALICE_FLOPS)  # the demo jobs' time steps are counted too


async def test_the_heatmap_counts_only_the_time_steps_of_matching_jobs(
    client_for: ClientFor, indexed: Seeded, backends: Backends
) -> None:
    client = client_for("root")

    alices = await client.roofline_heatmap(GRID, [_user_is("alice")])
    nobodys = await client.roofline_heatmap(GRID, [_user_is("nobody")])

    assert _steps(alices) == len(ALICE_FLOPS)  # the running job has no counted time steps
    assert alices == backends.job_statistics.roofline_heatmap(GRID, [_user_is("alice")], actor=None)
    assert _steps(nobodys) == 0
    per_row = np.asarray(alices).sum(axis=1)
    [low, high] = np.flatnonzero(per_row)
    assert (per_row[low], per_row[high]) == (1, 2)  # row 0 the lowest: 40 below 150 GFlop/s


async def test_a_plain_user_sees_the_time_steps_of_their_own_jobs_only(
    client_for: ClientFor, indexed: Seeded, backends: Backends
) -> None:
    other = backends.jobs.get(indexed.archived, actor=None).user  # a demo job's user
    root, alice = client_for("root"), client_for("alice")

    mine = await alice.roofline_heatmap(GRID)
    theirs = await alice.roofline_heatmap(GRID, [_user_is(other)])

    assert mine == await root.roofline_heatmap(GRID, [_user_is("alice")])
    assert _steps(mine) == len(ALICE_FLOPS) < _steps(await root.roofline_heatmap(GRID))
    assert _steps(await root.roofline_heatmap(GRID, [_user_is(other)])) > 0
    assert _steps(theirs) == 0


@pytest.mark.parametrize(
    "grid",
    [
        RooflineGrid(0, 50, 0.01, 1.0, 1000.0, 5530.0),  # no rows
        RooflineGrid(50, 50, 0.0, 1.0, 1000.0, 5530.0),  # not on a log scale
        RooflineGrid(50, 50, 0.01, 1.0, 0.001, 5530.0),  # max below min
    ],
)
async def test_a_grid_without_tiles_or_with_bad_bounds_is_invalid_input(
    client_for: ClientFor, indexed: Seeded, grid: RooflineGrid
) -> None:
    with pytest.raises(InvalidInput):
        await client_for("root").roofline_heatmap(grid)
