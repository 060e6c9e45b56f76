"""Job metric data (data.json): reading, NaN <-> null, writing, schema conformance."""

from __future__ import annotations

import gzip
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from cc_backend.domain.cluster import MetricScope
from cc_backend.domain.errors import InvalidInput, NotFound
from cc_backend.domain.jobdata import (
    JobData,
    JobMetric,
    JobStatistics,
    MetricStatistics,
    Series,
    StatsSeries,
)
from cc_backend.domain.units import Unit

#: The `schema_validator` fixture: a validator for a reference schema by file name.
SchemaValidator = Callable[[str], Draft202012Validator]

JOBS = ["1403/244/1608923076", "1404/397/1609300556"]


def violations(validator: Draft202012Validator, document: Any) -> set[tuple[str, str]]:
    return {
        ("/".join(str(p) for p in list(e.absolute_path)[:2]), e.message)
        for e in validator.iter_errors(document)
    }


def job_dir(reference_dir: Path, job: str) -> Path:
    return reference_dir / "job-archive" / "emmy" / job


def raw_data(reference_dir: Path, job: str) -> bytes:
    with gzip.open(job_dir(reference_dir, job) / "data.json.gz") as fh:
        return fh.read()


def series(hostname: str, data: list[Any], **extra: Any) -> dict[str, Any]:
    return {"hostname": hostname, "data": data, **extra}


@pytest.mark.reference
@pytest.mark.parametrize("job", JOBS)
class TestReferenceJobs:
    def test_parses_into_arrays_with_nan_for_null(self, reference_dir: Path, job: str) -> None:
        raw = raw_data(reference_dir, job)
        original = orjson.loads(raw)
        data = JobData.from_json(raw)
        assert len(data) == 9
        flops = data.get("flops_any", MetricScope.NODE)
        assert flops.timestep == 60
        assert flops.unit == Unit(base="F/s", prefix="G")
        assert len(flops.series) == 32
        first = flops.series[0]
        source = original["flops_any"]["node"]["series"][0]["data"]
        assert first.data.dtype == np.float64
        assert first.data.shape == (len(source),)
        assert len(source) >= 1441
        assert int(np.isnan(first.data).sum()) == source.count(None) > 0

    def test_round_trip_reads_back_equal(self, reference_dir: Path, job: str) -> None:
        raw = raw_data(reference_dir, job)
        original = orjson.loads(raw)
        data = JobData.from_json(raw)
        written = orjson.loads(data.to_json())
        assert JobData.from_json(data.to_json()) == data
        assert written.keys() == original.keys()
        for metric, scopes in original.items():
            for scope, block in scopes.items():
                out = written[metric][scope]
                assert (out["unit"], out["timestep"]) == (block["unit"], block["timestep"])
                for before, after in zip(block["series"], out["series"], strict=True):
                    assert after["hostname"] == before["hostname"]
                    assert after["data"] == before["data"]  # null stays null
                    if "statistics" in before:
                        assert after["statistics"] == before["statistics"]

    def test_missing_series_statistics_are_computed(self, reference_dir: Path, job: str) -> None:
        # The reference jobs' ipc series carry no statistics; the schema requires them.
        original = orjson.loads(raw_data(reference_dir, job))
        assert "statistics" not in original["ipc"]["node"]["series"][0]
        data = JobData.from_json(original)
        ipc = data.get("ipc", MetricScope.NODE).series[0]
        samples = np.array(original["ipc"]["node"]["series"][0]["data"], dtype=float)
        assert ipc.statistics.avg == pytest.approx(np.nanmean(samples))
        assert ipc.statistics.max == np.nanmax(samples)

    @pytest.mark.slow
    def test_output_adds_no_schema_violation(
        self, reference_dir: Path, job: str, schema_validator: SchemaValidator
    ) -> None:
        validator = schema_validator("job-data.schema.json")
        original = orjson.loads(raw_data(reference_dir, job))
        written = orjson.loads(JobData.from_json(original).to_json())
        before, after = violations(validator, original), violations(validator, written)
        assert after < before
        # What remains is in the input itself: metrics the schema requires but this old
        # job lacks, and cpu_load's unit base "load".
        assert {(path, message.split(" is ")[0]) for path, message in after} == {
            ("", "'cpu_user'"),
            ("", "'net_bw'"),
            ("", "'filesystems'"),
            ("cpu_load/node", "'load'"),
        }

    def test_job_statistics_match_meta_json(self, reference_dir: Path, job: str) -> None:
        meta = json.loads((job_dir(reference_dir, job) / "meta.json").read_text())
        derived = JobData.from_json(raw_data(reference_dir, job)).job_statistics(meta["numNodes"])
        for metric, stats in meta["statistics"].items():
            if metric == "ipc":  # series without statistics in data.json
                continue
            assert derived[metric].max == stats["max"]
            assert derived[metric].avg == pytest.approx(stats["avg"], abs=0.1)


@pytest.mark.reference
@pytest.mark.slow
def test_each_metric_of_a_written_job_matches_the_metric_schema(
    reference_dir: Path, schema_validator: SchemaValidator
) -> None:
    validator = schema_validator("job-metric-data.schema.json")
    data = JobData.from_json(raw_data(reference_dir, JOBS[0]))
    for metric, scopes in orjson.loads(data.to_json()).items():
        if metric == "cpu_load":  # unit base "load" is outside the schema's enum
            continue
        for block in scopes.values():
            assert violations(validator, block) == set()


@pytest.mark.reference
def test_parsing_is_fast(reference_dir: Path) -> None:
    raw = raw_data(reference_dir, JOBS[0])  # 32 nodes x 9 metrics x 1441 samples
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        JobData.from_json(raw)
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.5


class TestNullAndNaN:
    def test_null_reads_as_nan_and_writes_as_null(self) -> None:
        s = Series.model_validate(series("h1", [1.0, None, 3]))
        assert s.data[0] == 1.0
        assert math.isnan(s.data[1])
        assert s.model_dump(mode="json")["data"] == [1.0, None, 3.0]
        metric = JobMetric(unit=Unit(base="W"), timestep=60, series=[s])
        written = orjson.loads(JobData({"power": {MetricScope.NODE: metric}}).to_json())
        assert written["power"]["node"]["series"][0]["data"] == [1.0, None, 3.0]

    def test_series_compare_nan_aware(self) -> None:
        a = Series.model_validate(series("h", [1.0, None]))
        assert a == Series.model_validate(series("h", [1.0, None]))
        assert a != Series.model_validate(series("h", [1.0, 0.0]))
        assert a != Series.model_validate(series("h", [1.0]))
        assert a != Series.model_validate(series("h", [1.0, None], id="0"))

    def test_statistics_are_computed_when_absent(self) -> None:
        s = Series.model_validate(series("h", [1, None, 3]))
        assert s.statistics == MetricStatistics(avg=2.0, min=1.0, max=3.0)
        given = {"avg": 9.0, "min": 9.0, "max": 9.0}
        assert Series.model_validate(series("h", [1], statistics=given)).statistics.avg == 9.0

    def test_a_series_without_samples_has_nan_statistics_written_as_null(self) -> None:
        s = Series.model_validate(series("h", [None, None]))
        assert math.isnan(s.statistics.avg)
        assert s.model_dump(mode="json")["statistics"] == {"avg": None, "min": None, "max": None}
        assert s == Series.model_validate(series("h", [None, None]))

    def test_numeric_scope_ids_of_older_archives_become_strings(self) -> None:
        assert Series.model_validate(series("h", [1.0], id=3)).id == "3"


class TestTrustedSeries:
    """Series built from arrays the project made itself skip validation, and equal the
    validated ones."""

    def test_a_trusted_series_equals_a_validated_one_and_keeps_its_array(self) -> None:
        data = np.array([1.0, np.nan, 3.0])
        stats = MetricStatistics(avg=2.0, min=1.0, max=3.0)
        trusted = Series.trusted("h1", "0", stats, data)
        assert trusted.data is data
        assert trusted == Series.model_validate(series("h1", [1.0, None, 3.0], id="0"))
        assert trusted.model_copy(update={"id": "1"}).id == "1"

    def test_a_trusted_series_writes_as_json_like_any_other(self) -> None:
        nan = MetricStatistics(avg=math.nan, min=math.nan, max=math.nan)
        trusted = Series.trusted("h1", None, nan, np.full(2, np.nan))
        metric = JobMetric(unit=Unit(base="W"), timestep=60, series=[trusted])
        written = orjson.loads(JobData({"power": {MetricScope.NODE: metric}}).to_json())
        assert written["power"]["node"]["series"] == [
            {
                "hostname": "h1",
                "statistics": {"avg": None, "min": None, "max": None},
                "data": [None, None],
            }
        ]

    @pytest.mark.parametrize(
        "data",
        [
            pytest.param(np.ones((2, 2)), id="two-dimensional"),
            pytest.param(np.arange(3), id="integers"),
            pytest.param(np.arange(6, dtype=np.float64)[::2], id="not contiguous"),
        ],
    )
    def test_only_flat_contiguous_float_arrays_are_taken(self, data: np.ndarray) -> None:
        with pytest.raises(ValueError, match="flat, contiguous float64 array"):
            Series.trusted("h1", None, MetricStatistics(avg=1.0, min=1.0, max=1.0), data)


SAMPLES = st.lists(st.none() | st.floats(allow_nan=False, allow_infinity=False), min_size=1)


@given(st.lists(SAMPLES, min_size=1, max_size=4))
def test_any_samples_survive_a_round_trip(samples: list[list[float | None]]) -> None:
    metric = JobMetric.model_validate(
        {
            "unit": {"base": "B"},
            "timestep": 30,
            "series": [series(f"h{i}", data) for i, data in enumerate(samples)],
        }
    )
    data = JobData({"m": {MetricScope.NODE: metric}})
    written = orjson.loads(data.to_json())
    assert [s["data"] for s in written["m"]["node"]["series"]] == samples
    assert JobData.from_json(data.to_json()) == data


class TestStatsSeries:
    def test_percentiles_keys_are_ints_in_memory_and_strings_in_json(self) -> None:
        stats = StatsSeries.model_validate(
            {"min": [0, 1, 2], "max": [2, 3, None], "mean": None, "percentiles": {"10": [1, 2, 3]}}
        )
        assert stats.mean is None
        assert stats.percentiles is not None
        assert list(stats.percentiles) == [10]
        metric = JobMetric(unit=Unit(base=""), timestep=60, series=[], statistics_series=stats)
        written = orjson.loads(JobData({"x": {MetricScope.NODE: metric}}).to_json())
        block = written["x"]["node"]["statisticsSeries"]
        assert block == {
            "min": [0.0, 1.0, 2.0],
            "max": [2.0, 3.0, None],
            "percentiles": {"10": [1.0, 2.0, 3.0]},
        }
        assert JobData.from_json(orjson.dumps(written)) == JobData(
            {"x": {MetricScope.NODE: metric}}
        )


class TestAccess:
    data = JobData.from_json(
        {
            "mem_used": {
                "node": {
                    "unit": {"base": "B", "prefix": "G"},
                    "timestep": 60,
                    "series": [
                        series("a", [1.0, 3.0], statistics={"avg": 2, "min": 1, "max": 3}),
                        series("b", [5.0, 7.0], statistics={"avg": 6, "min": 5, "max": 7}),
                    ],
                }
            },
            "flops_any": {"core": {"unit": {"base": "F/s"}, "timestep": 60, "series": []}},
        }
    )

    def test_lookup(self) -> None:
        assert "mem_used" in self.data
        assert list(self.data.metrics()) == ["mem_used", "flops_any"]
        assert self.data.get("mem_used", MetricScope.NODE).series_of("b")[0].statistics.max == 7
        with pytest.raises(NotFound):
            self.data.get("mem_used", MetricScope.CORE)
        with pytest.raises(NotFound):
            self.data["nosuch"]

    def test_job_statistics_as_cc_backend_archives_them(self) -> None:
        assert self.data.job_statistics(num_nodes=2) == {
            "mem_used": JobStatistics(unit=Unit(base="B", prefix="G"), avg=4.0, min=1.0, max=7.0)
        }
        with pytest.raises(InvalidInput):
            self.data.job_statistics(num_nodes=0)

    def test_to_dict_is_plain_json(self) -> None:
        assert json.loads(json.dumps(self.data.to_dict())) == orjson.loads(self.data.to_json())


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (b"[", "not valid JSON"),
        ({"m": {"rack": {"unit": {"base": ""}, "timestep": 60, "series": []}}}, "m.rack"),
        (
            {
                "m": {
                    "node": {
                        "unit": {"base": ""},
                        "timestep": 60,
                        "series": [{"hostname": "h", "data": 3}],
                    }
                }
            },
            "list of numbers",
        ),
        (
            {"m": {"node": {"unit": {"base": ""}, "timestep": 60, "series": [series("h", ["x"])]}}},
            "numbers or null",
        ),
        ({"m": {"node": {"unit": {"base": ""}, "series": []}}}, "timestep"),
    ],
)
def test_invalid_documents(document: Any, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        JobData.from_json(document)
