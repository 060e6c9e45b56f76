"""GraphQL's rooflineHeatmap over archived jobs with time steps and running jobs with
metrics in the built-in store: the service's answer, with the caller's visibility and
filters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cc_backend.domain.filters import JobFilter
from cc_backend.domain.job import Job, MonitoringStatus
from cc_backend.domain.jobdata import JobData
from cc_backend.server import Backends
from cc_backend.stats.statistics_results import RooflineGrid
from tests.metric_lines import node_metric, node_samples, recent_start, to_payload
from tests.web.graphql.conftest import PEOPLE, GraphQL, Seeded

HEATMAP = """
query ($filter: [JobFilter!]!, $rows: Int!, $cols: Int!,
       $minX: Float!, $minY: Float!, $maxX: Float!, $maxY: Float!) {
  rooflineHeatmap(filter: $filter, rows: $rows, cols: $cols,
                  minX: $minX, minY: $minY, maxX: $maxX, maxY: $maxY)
}
"""
#: What cc-backend's analysis view asks for (maxY: a peak flop rate, not aligned).
GRID = RooflineGrid(rows=50, cols=50, min_x=0.01, min_y=1.0, max_x=1000.0, max_y=5530.0)


@pytest.fixture
def archived(backends: Backends, seeded: Seeded, make_job: Callable[..., Job]) -> list[Job]:
    """Two archived jobs with time steps (alice's and bob's), and the index built."""
    found = []
    for user, flops, bandwidth in (
        ("alice", [150.0, 150.0, 40.0], [30.0, 30.0, 80.0]),
        ("bob", [900.0, 47.0], [45.0, 2.0]),
    ):
        job = make_job(
            user=user,
            jobState="completed",
            duration=3600,
            monitoringStatus=int(MonitoringStatus.ARCHIVING_SUCCESSFUL),
        )
        meta = job.model_copy(update={"id": backends.jobs.add(job)})
        host = job.resources[0].hostname
        data = JobData.from_json(
            {
                "flops_any": node_metric(flops, "F/s", host),
                "mem_bw": node_metric(bandwidth, "B/s", host),
            }
        )
        backends.archive.import_job(meta, data)
        found.append(meta)
    index = backends.statistics_index.index()
    assert index is not None
    index.build(backends.archive.iter_jobs())
    return found


def variables(filters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "filter": filters,
        "rows": GRID.rows,
        "cols": GRID.cols,
        "minX": GRID.min_x,
        "minY": GRID.min_y,
        "maxX": GRID.max_x,
        "maxY": GRID.max_y,
    }


@pytest.mark.parametrize(
    ("role", "filters"),
    [("admin", []), ("user", []), ("admin", [{"user": {"eq": "bob"}}])],
)
async def test_the_heatmap_is_the_services_answer(
    gql: GraphQL,
    backends: Backends,
    archived: list[Job],
    role: str,
    filters: list[dict[str, Any]],
) -> None:
    tiles = (await gql(HEATMAP, variables(filters), role=role)).ok()["rooflineHeatmap"]
    service = backends.roofline_heatmaps.roofline_heatmap(
        GRID, [JobFilter.model_validate(f) for f in filters], actor=PEOPLE[role]
    )
    assert tiles == service
    expected = {"admin": 5, "user": 3}[role] if not filters else 2
    assert sum(map(sum, tiles)) == expected


async def test_a_grid_without_rows_is_bad_input(gql: GraphQL, archived: list[Job]) -> None:
    wanted = {**variables([]), "rows": 0}
    assert (await gql(HEATMAP, wanted)).codes == ["BAD_USER_INPUT"]


def flops_and_bandwidth(metric: str, _host: str, _position: int, step: int) -> float:
    """Per hardware thread 0.5 GFlop/s times (step + 1), 2 GB/s per socket."""
    return 0.5 * (step + 1) if metric == "flops_any" else 2.0


@pytest.mark.parametrize(("role", "counted"), [("admin", True), ("user", True), ("manager", False)])
async def test_running_jobs_add_their_time_steps_from_the_metric_store(
    gql: GraphQL,
    backends: Backends,
    archived: list[Job],
    make_job: Callable[..., Job],
    role: str,
    counted: bool,
) -> None:
    steps, host = 8, "f0150"
    start = recent_start(steps + 1)
    samples = node_samples(
        backends.clusters.get("fritz"),
        host,
        ["flops_any", "mem_bw"],
        start,
        steps,
        value=flops_and_bandwidth,
    )
    assert backends.metric_store is not None
    assert backends.metric_store.ingest(to_payload(samples)).rejected == 0
    job = make_job(user="alice", startTime=start, resources=[{"hostname": host}])
    backends.jobs.add(job)
    only = [{"jobId": {"eq": str(job.job_id)}}]

    tiles = (await gql(HEATMAP, variables([]), role=role)).ok()["rooflineHeatmap"]
    running = (await gql(HEATMAP, variables(only), role=role)).ok()["rooflineHeatmap"]

    assert sum(map(sum, running)) == (steps if counted else 0)
    before = {"admin": 5, "user": 3, "manager": 0}[role]
    assert sum(map(sum, tiles)) == before + sum(map(sum, running))
    assert tiles == backends.roofline_heatmaps.roofline_heatmap(GRID, [], actor=PEOPLE[role])
