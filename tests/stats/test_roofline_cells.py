"""Roofline time steps on the fine grid, and heatmaps made of them, against cc-backend's
binning of the raw time steps computed here in plain Python."""

from __future__ import annotations

import math
import random
from typing import Any

import numpy as np
import pytest

from cc_backend.domain.jobdata import JobData
from cc_backend.stats.roofline_cells import FINE, JobCells, job_cells, tiles_from_cells
from cc_backend.stats.statistics_results import RooflineGrid

#: cc-backend's x axis (0.01 to 1000 flop/byte in 50 tiles) with a y axis aligned with the
#: fine grid (1 to 10^4 GFlop/s in 50 rows of 0.08 decades).
ALIGNED = RooflineGrid(rows=50, cols=50, min_x=0.01, min_y=1.0, max_x=1000.0, max_y=1e4)


def metric(series: dict[str, list[float | None]], prefix: str = "G") -> dict[str, Any]:
    return {
        "node": {
            "unit": {"base": "F/s", "prefix": prefix},
            "timestep": 60,
            "series": [{"hostname": h, "data": d} for h, d in series.items()],
        }
    }


def job_data(
    flops: dict[str, list[float | None]],
    bandwidth: dict[str, list[float | None]],
    *,
    flops_prefix: str = "G",
    bw_prefix: str = "G",
) -> JobData:
    return JobData.from_json(
        {
            "flops_any": metric(flops, flops_prefix),
            "mem_bw": metric(bandwidth, bw_prefix),
        }
    )


def fine_cell(flops: float, bandwidth: float) -> int:
    """The fine cell of one time step, by the documented rule."""
    col = math.floor((math.log10(flops / bandwidth) + 4) * 50)
    row = math.floor((math.log10(flops) + 3) * 50)
    return row * 400 + col


def cc_backend_tiles(points: list[tuple[float, float]], grid: RooflineGrid) -> list[list[float]]:
    """cc-backend's rooflineHeatmap binning of raw (flops, bandwidth) time steps."""
    tiles = [[0.0] * grid.cols for _ in range(grid.rows)]
    lo_x, lo_y = math.log10(grid.min_x), math.log10(grid.min_y)
    hi_x, hi_y = math.log10(grid.max_x), math.log10(grid.max_y)
    for flops, bandwidth in points:
        with np.errstate(divide="ignore", invalid="ignore"):
            x = float(np.log10(np.float64(flops) / np.float64(bandwidth)))
            y = float(np.log10(np.float64(flops)))
        if math.isnan(x) or math.isnan(y) or x < lo_x or x >= hi_x or y < lo_y or y > hi_y:
            continue
        col = math.floor((x - lo_x) / (hi_x - lo_x) * grid.cols)
        row = math.floor((y - lo_y) / (hi_y - lo_y) * grid.rows)
        if 0 <= col < grid.cols and 0 <= row < grid.rows:
            tiles[row][col] += 1
    return tiles


def as_dict(found: JobCells) -> dict[int, int]:
    return dict(zip(found.cells.tolist(), found.counts.tolist(), strict=True))


def test_every_node_time_step_lands_in_its_fine_cell() -> None:
    data = job_data(
        {"n1": [150.0, 150.0, 40.0], "n2": [900.0, 2.5]},
        {"n1": [30.0, 30.0, 80.0], "n2": [45.0, 0.7]},
    )
    found = job_cells(data)
    assert as_dict(found) == {
        fine_cell(150.0, 30.0): 2,
        fine_cell(40.0, 80.0): 1,
        fine_cell(900.0, 45.0): 1,
        fine_cell(2.5, 0.7): 1,
    }
    assert found.steps == 5
    assert found.cells.tolist() == sorted(found.cells.tolist())


def test_series_pair_by_host_and_the_shorter_one_decides() -> None:
    data = job_data({"n1": [100.0, 100.0, 100.0], "n2": [50.0]}, {"n2": [10.0], "n1": [20.0, 20.0]})
    assert as_dict(job_cells(data)) == {fine_cell(100.0, 20.0): 2, fine_cell(50.0, 10.0): 1}


def test_unknown_zero_negative_and_infinite_values_count_nowhere() -> None:
    data = job_data(
        {"n1": [None, 0.0, -5.0, 100.0, 100.0, 100.0]},
        {"n1": [10.0, 10.0, 10.0, None, 0.0, 10.0]},
    )
    assert as_dict(job_cells(data)) == {fine_cell(100.0, 10.0): 1}


def test_values_are_taken_at_the_giga_prefix() -> None:
    mega = job_data({"n1": [150_000.0]}, {"n1": [30.0]}, flops_prefix="M")
    tera = job_data({"n1": [0.15]}, {"n1": [0.03]}, flops_prefix="T", bw_prefix="T")
    assert as_dict(job_cells(mega)) == {fine_cell(150.0, 30.0): 1}
    assert as_dict(job_cells(tera)) == {fine_cell(150.0, 30.0): 1}


def test_a_job_without_flops_or_bandwidth_at_node_scope_has_no_cells() -> None:
    only_flops = JobData.from_json({"flops_any": metric({"n1": [100.0]})})
    core_scope = JobData.from_json(
        {
            "flops_any": metric({"n1": [100.0]}),
            "mem_bw": {"core": metric({"n1": [10.0]})["node"]},
        }
    )
    assert job_cells(only_flops).steps == 0
    assert job_cells(core_scope).steps == 0
    assert job_cells(JobData.from_json({})).cells.size == 0


def test_time_steps_outside_the_fine_grid_are_left_out() -> None:
    # intensity 10^5 flop/byte and a flop rate of 10^-4 GFlop/s are beyond the fine grid
    data = job_data({"n1": [1e5, 1e-4, 100.0]}, {"n1": [1.0, 1e-5, 10.0]})
    assert as_dict(job_cells(data)) == {fine_cell(100.0, 10.0): 1}


def random_points(seed: int, n: int) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    return [(10 ** rng.uniform(-1, 4.2), 10 ** rng.uniform(-2, 3)) for _ in range(n)]


def test_a_grid_aligned_with_the_fine_grid_is_binned_exactly_as_cc_backend_does() -> None:
    points = random_points(7, 5000)
    flops, bandwidth = (np.array(p, dtype=np.float64) for p in zip(*points, strict=True))
    data = job_data({"n1": flops.tolist()}, {"n1": bandwidth.tolist()})
    found = job_cells(data)
    assert tiles_from_cells(found.cells, found.counts, ALIGNED) == cc_backend_tiles(points, ALIGNED)


def test_other_grids_move_only_time_steps_near_a_tile_edge() -> None:
    # cc-backend's y axis up to a peak of 5,530 GFlop/s: its row edges cut fine cells
    grid = RooflineGrid(rows=50, cols=50, min_x=0.01, min_y=1.0, max_x=1000.0, max_y=5530.0)
    points = random_points(11, 5000)
    flops, bandwidth = (np.array(p, dtype=np.float64) for p in zip(*points, strict=True))
    found = job_cells(job_data({"n1": flops.tolist()}, {"n1": bandwidth.tolist()}))
    ours = np.array(tiles_from_cells(found.cells, found.counts, grid))
    theirs = np.array(cc_backend_tiles(points, grid))
    step = math.log10(grid.max_y) / grid.rows
    near_edge = sum(
        1
        for f, b in points
        if 0 <= math.log10(f) <= math.log10(grid.max_y)
        and -2 <= math.log10(f / b) < 3
        and min((math.log10(f) / step) % 1, 1 - (math.log10(f) / step) % 1) * step
        <= 0.5 / FINE.per_decade
    )
    assert abs(ours.sum() - theirs.sum()) <= 1  # only the point on the top edge may differ
    assert np.abs(ours - theirs).sum() <= 2 * near_edge
    assert np.abs(ours - theirs).sum() > 0  # the grid really is not aligned


@pytest.mark.parametrize(
    "grid",
    [
        RooflineGrid(rows=10, cols=10, min_x=1e-6, min_y=1e-5, max_x=1e-5, max_y=1e-4),
        RooflineGrid(rows=3, cols=3, min_x=1e5, min_y=1e8, max_x=1e6, max_y=1e9),
    ],
)
def test_tiles_beyond_the_fine_grid_stay_empty(grid: RooflineGrid) -> None:
    found = job_cells(job_data({"n1": [100.0]}, {"n1": [10.0]}))
    assert tiles_from_cells(found.cells, found.counts, grid) == [[0.0] * grid.cols] * grid.rows


def test_counts_of_several_jobs_add_up_per_tile() -> None:
    one = job_cells(job_data({"n1": [150.0, 40.0]}, {"n1": [30.0, 80.0]}))
    two = job_cells(job_data({"n9": [150.0]}, {"n9": [30.0]}))
    cells = np.concatenate([one.cells, two.cells])
    counts = np.concatenate([one.counts, two.counts])
    tiles = tiles_from_cells(cells, counts, ALIGNED)
    expected = cc_backend_tiles([(150.0, 30.0), (40.0, 80.0), (150.0, 30.0)], ALIGNED)
    assert tiles == expected
    assert sum(map(sum, tiles)) == 3
