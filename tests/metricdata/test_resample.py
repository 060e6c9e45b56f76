"""Down-sampling (LTTB, average, simple) and cc-backend's resampling rules."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from cc_backend.config.main_section import ResamplingConfig
from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.jobdata import JobMetric, StatsSeries
from cc_backend.metricdata.resample import (
    DEFAULT_MINIMUM_POINTS,
    Algorithm,
    ResamplingPolicy,
    compute_resolution,
    get_algorithm,
    lttb,
    lttb_indices,
    resample,
    resample_metric,
    resample_metrics,
    resample_step,
)

NAN = math.nan


def naive_lttb(y: list[float], n_out: int) -> list[int]:
    """The positions LTTB keeps, written out point by point from the specification in
    the module docstring (same arithmetic, so that ties break alike)."""
    n = len(y)
    if n_out >= n:
        return list(range(n))
    buckets = n_out - 2
    edges = [1 + (k * (n - 2)) // buckets for k in range(buckets + 1)] if buckets else [1]
    samples = [i for i in range(n) if not math.isnan(y[i])]
    anchor_x, anchor_y = (float(samples[0]), y[samples[0]]) if samples else (0.0, NAN)
    kept = [0]
    for b in range(buckets):
        low, high = edges[b], edges[b + 1]
        next_low, next_high = (edges[b + 1], edges[b + 2]) if b + 1 < buckets else (n - 1, n)
        following = [i for i in range(next_low, next_high) if not math.isnan(y[i])]
        if following:
            cx = sum(float(i) for i in following) / len(following)
            cy = sum(y[i] for i in following) / len(following)
        else:
            cx, cy = (next_low + next_high - 1) / 2.0, anchor_y
        dx, dy = cx - anchor_x, cy - anchor_y
        best, best_area = low, -1.0
        for i in range(low, high):
            if math.isnan(y[i]):
                continue
            area = abs(i * dy - y[i] * dx + (dx * anchor_y - dy * anchor_x))
            if area > best_area:
                best, best_area = i, area
        kept.append(best)
        if best_area >= 0:
            anchor_x, anchor_y = float(best), y[best]
    kept.append(n - 1)
    return kept


def same(a: NDArray[np.float64], b: NDArray[np.float64] | list[float]) -> bool:
    return bool(np.array_equal(a, np.asarray(b, dtype=np.float64), equal_nan=True))


#: Small integers keep centroids exact, so the vectorised and the naive version agree.
samples = st.one_of(st.integers(-50, 50).map(float), st.just(NAN))
series = st.lists(samples, min_size=3, max_size=120)


class TestLttbOnKnownInput:
    def test_a_single_bucket_keeps_the_highest_point_between_two_equal_ends(self) -> None:
        # Anchor (0, 0), next centroid = the last point (4, 0): area grows with |y|.
        assert lttb_indices([0, 1, 3, 2, 0], 3).tolist() == [0, 2, 4]

    def test_spikes_survive(self) -> None:
        y = [0, 0, 0, 10, 0, 0, 0, 0, -5, 0, 0, 0]
        assert lttb_indices(y, 4).tolist() == [0, 3, 8, 11]
        assert lttb(y, 4).tolist() == [0, 10, -5, 0]

    def test_every_isolated_peak_of_a_flat_day_is_kept(self) -> None:
        day = np.zeros(1441)
        peaks = [100, 400, 777, 1200]
        day[peaks] = [50, 80, 20, 65]
        kept = lttb(day, 144)
        assert sorted(kept[kept > 0].tolist()) == [20, 50, 65, 80]

    def test_first_and_last_are_kept_and_the_length_is_n_out(self) -> None:
        y = np.sin(np.linspace(0, 12, 500)) + 2
        positions = lttb_indices(y, 37)
        assert len(positions) == 37
        assert positions[0] == 0
        assert positions[-1] == 499
        assert (np.diff(positions) > 0).all()

    def test_two_points_are_the_ends(self) -> None:
        assert lttb_indices([5, 1, 9, 2], 2).tolist() == [0, 3]

    def test_as_many_points_as_there_are_keeps_everything(self) -> None:
        assert lttb([1, 2, 3], 3).tolist() == [1, 2, 3]
        assert lttb([1, 2, 3], 10).tolist() == [1, 2, 3]

    def test_rows_are_reduced_each_on_their_own(self) -> None:
        rng = np.random.default_rng(7)
        rows = rng.integers(0, 100, size=(5, 300)).astype(np.float64)
        together = lttb_indices(rows, 40)
        assert together.shape == (5, 40)
        for row, positions in zip(rows, together, strict=True):
            assert positions.tolist() == lttb_indices(row, 40).tolist()

    @pytest.mark.parametrize("n_out", [1, 0, -3])
    def test_fewer_than_two_points_is_refused(self, n_out: int) -> None:
        with pytest.raises(InvalidInput, match="at least 2 output points"):
            lttb([1, 2, 3, 4], n_out)

    def test_three_dimensional_input_is_refused(self) -> None:
        with pytest.raises(InvalidInput, match="3 dimensions"):
            lttb(np.zeros((2, 2, 5)), 3)


class TestLttbGaps:
    def test_a_bucket_without_samples_stays_a_gap(self) -> None:
        y = [0, 1, -3, 2, NAN, NAN, NAN, 0]
        # Buckets {1, 2, 3} and {4, 5, 6}; the second has no sample.
        assert lttb_indices(y, 4).tolist() == [0, 2, 4, 7]
        assert same(lttb(y, 4), [0, -3, NAN, 0])

    def test_before_a_gap_the_sample_farthest_from_the_anchor_is_kept(self) -> None:
        # Buckets {1, 2, 3} and {4, 5, 6}; the anchor is the first point, value 1.
        assert lttb([1, 2.5, -0.2, 1.5, NAN, NAN, NAN, 1], 4)[1] == 2.5
        assert lttb([1, 2.5, -0.4, 1.5, NAN, NAN, NAN, 1], 4)[1] == 2.5  # 1.5 > 1.4
        assert lttb([1, 2.5, -0.6, 1.5, NAN, NAN, NAN, 1], 4)[1] == -0.6  # 1.6 > 1.5

    def test_a_gap_never_gets_a_value_and_values_never_vanish_into_gaps(self) -> None:
        y = np.arange(100.0)
        y[40:60] = NAN
        kept = lttb(y, 20)
        positions = lttb_indices(y, 20)
        assert np.isnan(kept).sum() == int(np.isnan(y[positions]).sum())
        assert all(np.isnan(y[p]) == np.isnan(k) for p, k in zip(positions, kept, strict=True))

    def test_leading_and_trailing_gaps_stay(self) -> None:
        y = [NAN, NAN, 3, 4, 5, 6, 7, 8, 9, NAN]
        kept = lttb(y, 4)
        assert math.isnan(kept[0])
        assert math.isnan(kept[-1])
        assert not np.isnan(kept[1:-1]).any()

    def test_an_empty_series_stays_empty_everywhere(self) -> None:
        assert np.isnan(lttb([NAN] * 50, 10)).all()

    def test_an_infinite_sample_is_kept_not_hidden(self) -> None:
        # Its triangle has no finite area; the plot must still show it.
        y = [0.0, 1.0, math.inf, 2.0, 1.0, 0.0, 3.0, 0.0]
        assert lttb_indices(y, 4).tolist()[1] == 2
        assert lttb(y, 4)[1] == math.inf

    def test_rows_cut_from_a_larger_array_are_reduced_alike(self) -> None:
        rng = np.random.default_rng(3)
        table = rng.normal(size=(6, 400))
        columns = table[::2, 100:300]  # neither row- nor column-contiguous
        assert not columns.flags.c_contiguous
        assert np.array_equal(lttb_indices(columns, 30), lttb_indices(columns.copy(), 30))

    @settings(max_examples=300)
    @given(series, st.integers(2, 40))
    @example(y=[-3.0, 0.0, 1.0, NAN], n_out=3)  # the only gap is the last point
    def test_matches_the_point_by_point_specification(self, y: list[float], n_out: int) -> None:
        assert lttb_indices(y, n_out).tolist() == naive_lttb(y, n_out)


class TestLttbProperties:
    @given(series, st.integers(2, 60))
    def test_positions_increase_from_first_to_last(self, y: list[float], n_out: int) -> None:
        positions = lttb_indices(y, n_out)
        assert len(positions) == min(n_out, len(y))
        assert positions[0] == 0
        assert positions[-1] == len(y) - 1
        assert (np.diff(positions) > 0).all()

    @given(series, st.integers(3, 60))
    def test_every_value_kept_is_a_sample_of_its_bucket_or_a_gap(
        self, y: list[float], n_out: int
    ) -> None:
        n = len(y)
        if n_out >= n:
            return
        kept = lttb(y, n_out)
        edges = [1 + (k * (n - 2)) // (n_out - 2) for k in range(n_out - 1)]
        for b in range(n_out - 2):
            bucket = np.asarray(y[edges[b] : edges[b + 1]])
            if np.isnan(bucket).all():
                assert math.isnan(kept[b + 1])
            else:
                assert kept[b + 1] in bucket[~np.isnan(bucket)]

    @given(st.floats(-1e6, 1e6), st.integers(3, 200), st.integers(2, 50))
    def test_a_constant_series_stays_constant(self, value: float, n: int, n_out: int) -> None:
        assert (lttb([value] * n, n_out) == value).all()


class TestResampleRules:
    DAY = np.sin(np.linspace(0, 30, 1441)) + 1.5  # 24 h at 60 s

    def test_a_day_at_60_s_to_240_s(self) -> None:
        values, timestep = resample(self.DAY, 60, 240, minimum_points=600)
        assert timestep == 240
        assert len(values) == 1441 // 4
        assert values[0] == self.DAY[0]
        assert values[-1] == self.DAY[-1]

    @pytest.mark.parametrize(
        ("length", "timestep", "resolution", "minimum", "step"),
        [
            (1441, 60, 240, 600, 4),
            (1441, 60, 600, 600, 10),
            (599, 60, 240, 600, None),  # fewer points than minimumPoints
            (600, 60, 240, 600, 4),  # exactly minimumPoints
            (1441, 60, 60, 600, None),  # not coarser
            (1441, 60, 30, 600, None),  # finer
            (1441, 60, 90, 600, None),  # not a multiple
            (1441, 0, 240, 600, None),  # no timestep
            (1441, 60, 0, 600, None),  # native resolution asked
            (3, 60, 240, 1, None),  # would give no point at all
            (999, 60, 240, DEFAULT_MINIMUM_POINTS, None),
            (1000, 60, 240, DEFAULT_MINIMUM_POINTS, 4),
        ],
    )
    def test_when_to_resample(
        self, length: int, timestep: int, resolution: int, minimum: int, step: int | None
    ) -> None:
        assert resample_step(length, timestep, resolution, minimum) == step

    def test_unchanged_data_keeps_its_timestep(self) -> None:
        values, timestep = resample(self.DAY[:500], 60, 240, minimum_points=600)
        assert timestep == 60
        assert same(values, self.DAY[:500])

    def test_a_huge_step_keeps_first_and_last(self) -> None:
        values, timestep = resample(self.DAY, 60, 60 * 1000, minimum_points=100)
        assert timestep == 60_000
        assert values.tolist() == [self.DAY[0], self.DAY[-1]]

    def test_rows_resample_together(self) -> None:
        rows = np.vstack([self.DAY, -self.DAY])
        values, timestep = resample(rows, 60, 600, minimum_points=600)
        assert values.shape == (2, 144)
        assert timestep == 600

    def test_average(self) -> None:
        y = np.array([1, 3, 2, 2, NAN, NAN, 5, 7, 1, 2, 3], dtype=np.float64)
        values, timestep = resample(y, 10, 20, minimum_points=1, algorithm="average")
        # Pairs, the last group takes the remainder: [1,3] [2,2] [nan,nan] [5,7] [1,2,3].
        assert timestep == 20
        assert same(values, [2, 2, NAN, 6, 2])

    def test_simple(self) -> None:
        y = np.arange(11.0)
        values, _ = resample(y, 10, 30, minimum_points=1, algorithm="simple")
        assert values.tolist() == [0, 3, 6]

    def test_an_unknown_algorithm(self) -> None:
        with pytest.raises(InvalidInput, match="unknown resampling algorithm 'cubic'"):
            resample(self.DAY, 60, 240, minimum_points=1, algorithm="cubic")  # type: ignore[arg-type]

    def test_an_unknown_algorithm_is_refused_even_when_nothing_would_change(self) -> None:
        with pytest.raises(InvalidInput, match="unknown resampling algorithm"):
            resample(self.DAY[:10], 60, 240, algorithm="cubic")  # type: ignore[arg-type]
        metric = JobMetric(unit={"base": "W"}, timestep=60, series=[])
        with pytest.raises(InvalidInput, match="unknown resampling algorithm"):
            resample_metric(metric, 240, algorithm="cubic")  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("name", "algorithm"),
        [(None, "lttb"), ("", "lttb"), ("LTTB", "lttb"), ("average", "average")],
    )
    def test_algorithm_names(self, name: str | None, algorithm: str) -> None:
        assert get_algorithm(name) == algorithm

    def test_an_unknown_algorithm_name(self) -> None:
        with pytest.raises(InvalidInput, match="known: lttb, average, simple"):
            get_algorithm("spline")


class TestResampleMetric:
    def metric(self, *lengths: int, stats: bool = False) -> JobMetric:
        rng = np.random.default_rng(3)
        series = [
            {"hostname": f"f{i:04d}", "data": rng.random(n).tolist()} for i, n in enumerate(lengths)
        ]
        document: dict[str, object] = {"unit": {"base": "W"}, "timestep": 60, "series": series}
        if stats:
            line = rng.random(max(lengths)).tolist()
            document["statisticsSeries"] = {"min": line, "median": line, "max": line}
        return JobMetric.model_validate(document)

    def test_all_series_move_to_the_new_timestep(self) -> None:
        metric = self.metric(1441, 1441, 1441)
        resampled = resample_metric(metric, 600, minimum_points=600)
        assert resampled.timestep == 600
        assert [s.data.size for s in resampled.series] == [144, 144, 144]
        assert [s.statistics for s in resampled.series] == [s.statistics for s in metric.series]
        assert metric.timestep == 60  # the original is not modified
        assert metric.series[0].data.size == 1441

    def test_shorter_series_end_where_their_data_ends(self) -> None:
        resampled = resample_metric(self.metric(1441, 700), 600, minimum_points=600)
        full, short = (s.data for s in resampled.series)
        assert full.size == 144
        assert 60 < short.size < 80
        assert not np.isnan(short).any()

    def test_statistics_series_are_resampled_too(self) -> None:
        resampled = resample_metric(self.metric(1441, 1441, stats=True), 240, minimum_points=600)
        stats = resampled.statistics_series
        assert isinstance(stats, StatsSeries)
        assert stats.min is not None
        assert stats.min.size == 360
        assert stats.mean is None

    def test_too_short_to_resample_is_returned_as_is(self) -> None:
        metric = self.metric(500, 500)
        assert resample_metric(metric, 600, minimum_points=600) is metric

    @pytest.mark.parametrize("algorithm", ["average", "simple"])
    def test_other_algorithms(self, algorithm: Algorithm) -> None:
        resampled = resample_metric(
            self.metric(1441, 700, stats=True), 600, minimum_points=600, algorithm=algorithm
        )
        assert [s.data.size for s in resampled.series] == [144, 70]
        assert resampled.statistics_series is not None
        assert resampled.statistics_series.max is not None
        assert resampled.statistics_series.max.size == 144

    def test_a_job_batch_gives_what_each_metric_gives_alone(self) -> None:
        metrics = [
            self.metric(1441, 1441),
            self.metric(300),  # too short: unchanged
            self.metric(1441, 900, stats=True),
            self.metric(2881).model_copy(update={"timestep": 30}),
        ]
        together = resample_metrics(metrics, 600, minimum_points=600)
        assert together[1] is metrics[1]
        for batched, metric in zip(together, metrics, strict=True):
            alone = resample_metric(metric, 600, minimum_points=600)
            assert batched.timestep == alone.timestep
            assert batched.series == alone.series
            assert batched.statistics_series == alone.statistics_series
        assert [m.timestep for m in together] == [600, 60, 600, 600]
        assert together[3].series[0].data.size == 2881 // 20

    def test_no_series(self) -> None:
        metric = JobMetric(unit={"base": "W"}, timestep=60, series=[])
        assert resample_metric(metric, 600) is metric


class TestComputeResolution:
    @pytest.mark.parametrize(
        ("duration", "timestep", "target", "resolution"),
        [
            (86_400, 60, 500, 180),  # 1440 points: 173 s per point, up to a multiple of 60
            (86_400, 60, 200, 480),
            (86_400, 60, 1000, 120),
            (30_000, 60, 200, 180),
            (3_600, 60, 500, 0),  # 60 points are few enough
            (30_000, 60, 500, 0),  # exactly 500 points
            (0, 60, 500, 0),
            (86_400, 0, 500, 0),
            (86_400, 60, 0, 0),
        ],
    )
    def test_resolution(self, duration: int, timestep: int, target: int, resolution: int) -> None:
        assert compute_resolution(duration, timestep, target) == resolution


class TestPolicy:
    def config(self, **fields: object) -> ResamplingConfig:
        return ResamplingConfig.model_validate(fields)

    def test_no_section_means_no_resampling(self) -> None:
        assert ResamplingPolicy.from_config(None) is None

    @pytest.mark.reference
    def test_the_reference_configuration(self, reference_dir: Path) -> None:
        document = orjson.loads((reference_dir / "configs" / "config.json").read_bytes())
        config = ResamplingConfig.model_validate(document["main"]["resampling"])
        policy = ResamplingPolicy.from_config(config)
        assert policy == ResamplingPolicy(resolutions=(240, 60), trigger=180, minimum_points=600)
        assert policy.initial_resolution(86_400, 60) == 240

    def test_first_load_is_at_the_coarsest_resolution(self) -> None:
        policy = ResamplingPolicy(resolutions=(60, 600, 240), trigger=30)
        assert policy.initial_resolution(600, 60) == 600

    @pytest.mark.parametrize(
        ("timestep", "visible", "resolution"),
        [
            (240, 100, 60),  # aim: 100 * 240 / 180 = 133 s, nearest of 240 and 60
            (240, 180, 240),  # aim 240: already there
            (240, 181, None),  # more than trigger visible
            (60, 10, None),  # already at the finest resolution
        ],
    )
    def test_zoom(self, timestep: int, visible: int, resolution: int | None) -> None:
        policy = ResamplingPolicy(resolutions=(240, 60), trigger=180, minimum_points=600)
        expected = None if resolution == timestep else resolution
        assert policy.zoom_resolution(timestep, visible) == expected

    def test_zoom_jumps_straight_to_the_nearest_level(self) -> None:
        policy = ResamplingPolicy(resolutions=(600, 300, 120, 60), trigger=30)
        assert policy.zoom_resolution(600, 6) == 120  # aim 120, not 300 first
        assert policy.zoom_resolution(600, 15) == 300

    def test_a_tie_goes_to_the_first_listed_resolution(self) -> None:
        policy = ResamplingPolicy(resolutions=(100, 200), trigger=100)
        assert policy.zoom_resolution(300, 50) == 100  # aim 150

    def test_default_policy_without_resolutions(self) -> None:
        policy = ResamplingPolicy.from_config(self.config(defaultPolicy="low"))
        assert policy is not None
        assert (policy.target_points, policy.minimum_points) == (200, 200)
        assert policy.initial_resolution(86_400, 60) == 480
        assert policy.zoom_resolution(480, 5) is None

    def test_an_empty_section_uses_the_medium_policy(self) -> None:
        policy = ResamplingPolicy.from_config(self.config())
        assert policy is not None
        assert policy.initial_resolution(86_400, 60) == 180

    def test_minimum_points_default(self) -> None:
        policy = ResamplingPolicy.from_config(self.config(trigger=30, resolutions=[600, 60]))
        assert policy is not None
        assert policy.minimum_points == DEFAULT_MINIMUM_POINTS

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"resolutions": (600, 0)}, "resolutions must be positive"),
            ({"resolutions": (600,), "trigger": -1}, "trigger must be positive"),
        ],
    )
    def test_bad_values(self, fields: dict[str, object], message: str) -> None:
        with pytest.raises(InvalidInput, match=message):
            ResamplingPolicy(**fields)  # type: ignore[arg-type]
