"""Statistics across series per time step: min/median/max and percentiles."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.jobdata import JobMetric, StatsSeries
from cc_backend.metricdata.statistics_series import (
    JOB_MIN_SERIES,
    NODE_LIST_MIN_SERIES,
    SCHEMA_PERCENTILES,
    add_statistics_series,
    statistics_series,
)

NAN = math.nan


def same(actual: object, expected: list[float]) -> bool:
    return bool(np.array_equal(np.asarray(actual), np.asarray(expected), equal_nan=True))


def metric(n_series: int, length: int = 5) -> JobMetric:
    series = [
        {"hostname": f"f{i:04d}", "data": [float(i + t) for t in range(length)]}
        for i in range(n_series)
    ]
    return JobMetric.model_validate({"unit": {"base": "W"}, "timestep": 60, "series": series})


class TestStatisticsSeries:
    def test_four_series(self) -> None:
        stats = statistics_series([[1, 5], [2, 6], [3, 7], [4, 8]])
        assert stats is not None
        assert same(stats.min, [1, 5])
        assert same(stats.median, [2.5, 6.5])
        assert same(stats.max, [4, 8])
        assert stats.mean is None
        assert stats.percentiles is None

    def test_the_order_of_the_series_does_not_matter(self) -> None:
        stats = statistics_series([[9], [1], [5], [3], [7]])
        assert stats is not None
        assert same(stats.median, [5])
        assert same(stats.min, [1])
        assert same(stats.max, [9])

    @pytest.mark.parametrize("count", [0, 1, 3])
    def test_fewer_than_four_series_give_none(self, count: int) -> None:
        assert statistics_series([[1.0, 2.0]] * count) is None

    def test_gaps_are_left_out(self) -> None:
        stats = statistics_series([[1, NAN], [NAN, 2], [3, 4], [8, 6]])
        assert stats is not None
        # Step 0: samples 1, 3, 8. Step 1: samples 2, 4, 6.
        assert same(stats.min, [1, 2])
        assert same(stats.median, [3, 4])
        assert same(stats.max, [8, 6])

    def test_a_step_with_fewer_than_three_samples_is_a_gap_in_every_line(self) -> None:
        stats = statistics_series([[1, 1], [2, NAN], [NAN, NAN], [4, 7]], percentiles=[50])
        assert stats is not None
        assert stats.percentiles is not None
        # Step 0: samples 1, 2, 4. Step 1: only 1 and 7.
        assert same(stats.min, [1, NAN])
        assert same(stats.median, [2, NAN])
        assert same(stats.max, [4, NAN])
        assert same(stats.percentiles[50], [2, NAN])

    def test_shorter_series_count_as_gaps_past_their_end(self) -> None:
        stats = statistics_series([[1, 2, 3], [4, 5, 6], [7, 8], [9]])
        assert stats is not None
        assert same(stats.min, [1, 2, NAN])
        assert same(stats.median, [5.5, 5, NAN])
        assert same(stats.max, [9, 8, NAN])

    def test_percentiles_are_nearest_rank_rounded_down(self) -> None:
        stats = statistics_series([[float(v)] for v in range(1, 11)], [10, 25, 50, 90, 99])
        assert stats is not None
        assert stats.percentiles is not None
        # Ten samples 1..10: rank 10 * p // 100 of the sorted samples.
        assert {p: line.tolist() for p, line in stats.percentiles.items()} == {
            10: [2.0],
            25: [3.0],
            50: [6.0],
            90: [10.0],
            99: [10.0],
        }

    def test_the_schema_percentiles(self) -> None:
        stats = statistics_series([[float(v)] for v in range(100)], SCHEMA_PERCENTILES)
        assert stats is not None
        assert stats.percentiles is not None
        assert sorted(stats.percentiles) == sorted(SCHEMA_PERCENTILES)
        assert all(stats.percentiles[p].tolist() == [float(p)] for p in SCHEMA_PERCENTILES)

    @pytest.mark.parametrize("bad", [0, 100, -5, 50.5, True, "50"])
    def test_bad_percentiles_are_refused(self, bad: object) -> None:
        with pytest.raises(InvalidInput, match="integer from 1 to 99"):
            statistics_series([[1.0]] * 4, [bad])  # type: ignore[list-item]

    def test_a_nested_series_is_refused(self) -> None:
        with pytest.raises(InvalidInput, match="flat list"):
            statistics_series([[[1.0]]] * 4)

    @given(
        st.lists(
            st.lists(st.one_of(st.floats(-1e9, 1e9), st.just(NAN)), min_size=6, max_size=6),
            min_size=4,
            max_size=20,
        )
    )
    def test_agrees_with_numpy_per_step(self, rows: list[list[float]]) -> None:
        stats = statistics_series(rows, [50])
        assert stats is not None
        assert stats.percentiles is not None
        table = np.array(rows)
        for step in range(table.shape[1]):
            column = table[:, step]
            present = np.sort(column[~np.isnan(column)])
            lines = (stats.min, stats.median, stats.max, stats.percentiles[50])
            values = [float(line[step]) for line in lines if line is not None]
            if present.size < 3:
                assert all(math.isnan(v) for v in values)
                continue
            low, median, high, p50 = values
            assert low == present[0]
            assert high == present[-1]
            assert median == pytest.approx(float(np.median(present)), rel=1e-12, abs=1e-6)
            assert low <= median <= high
            assert p50 == present[present.size // 2]


class TestAddStatisticsSeries:
    def test_job_data_with_more_than_15_series(self) -> None:
        assert JOB_MIN_SERIES == 16
        few, many = metric(15), metric(16)
        assert add_statistics_series(few) is few
        enriched = add_statistics_series(many)
        assert enriched is not many
        assert many.statistics_series is None  # the original is not modified
        assert isinstance(enriched.statistics_series, StatsSeries)
        assert same(enriched.statistics_series.min, [0, 1, 2, 3, 4])
        assert same(enriched.statistics_series.median, [7.5, 8.5, 9.5, 10.5, 11.5])
        assert same(enriched.statistics_series.max, [15, 16, 17, 18, 19])

    def test_node_lists_from_8_series(self) -> None:
        assert NODE_LIST_MIN_SERIES == 8
        assert (
            add_statistics_series(metric(7), min_series=NODE_LIST_MIN_SERIES).statistics_series
            is None
        )
        assert (
            add_statistics_series(metric(8), min_series=NODE_LIST_MIN_SERIES).statistics_series
            is not None
        )

    def test_never_below_four_series(self) -> None:
        assert add_statistics_series(metric(3), min_series=1).statistics_series is None

    def test_an_existing_statistics_series_is_kept(self) -> None:
        archived = metric(20).model_copy(
            update={"statistics_series": StatsSeries(mean=np.ones(5), min=np.zeros(5))}
        )
        assert add_statistics_series(archived) is archived

    def test_with_percentiles(self) -> None:
        enriched = add_statistics_series(metric(20), percentiles=[25, 75])
        assert enriched.statistics_series is not None
        assert enriched.statistics_series.percentiles is not None
        assert sorted(enriched.statistics_series.percentiles) == [25, 75]

    def test_bad_percentiles_are_refused_even_without_enough_series(self) -> None:
        with pytest.raises(InvalidInput):
            add_statistics_series(metric(2), percentiles=[0])

    def test_the_result_writes_as_job_data_json(self) -> None:
        enriched = add_statistics_series(metric(16, length=2), percentiles=[50])
        document = enriched.model_dump(mode="json", by_alias=True, exclude_none=True)
        assert document["statisticsSeries"] == {
            "median": [7.5, 8.5],
            "min": [0.0, 1.0],
            "max": [15.0, 16.0],
            "percentiles": {"50": [8.0, 9.0]},
        }
