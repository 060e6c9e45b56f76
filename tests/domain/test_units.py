"""Metric units: prefixes, conversion, display."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.units import PREFIXES, Unit, prefix_factor


def test_display_string_is_prefix_then_base() -> None:
    assert str(Unit(base="B/s", prefix="G")) == "GB/s"
    assert str(Unit(base="IPC")) == "IPC"
    assert str(Unit(base="", prefix="K")) == "K"


def test_json_shape_matches_the_unit_schema() -> None:
    assert Unit.model_validate({"base": "B", "prefix": "G"}).model_dump(exclude_none=True) == {
        "base": "B",
        "prefix": "G",
    }
    assert Unit.model_validate({"base": "W"}).model_dump(exclude_none=True) == {"base": "W"}


@pytest.mark.parametrize(
    ("source", "target", "factor"),
    [
        ("G", "M", 1000.0),
        ("K", "M", 0.001),
        (None, "K", 0.001),
        ("E", "P", 1000.0),
        ("T", None, 1e12),
        ("m", None, 0.001),
        ("u", "n", 1000.0),
        ("Ki", None, 1024.0),
        ("Gi", "Mi", 1024.0),
        ("Ki", "K", 1.024),
        ("", None, 1.0),
    ],
)
def test_factor_between_prefixes(source: str | None, target: str | None, factor: float) -> None:
    assert prefix_factor(source, target) == pytest.approx(factor, rel=1e-15)


def test_converting_values() -> None:
    gigabytes = Unit(base="B", prefix="G")
    megabytes = Unit(base="B", prefix="M")
    assert gigabytes.convert(2.5, megabytes) == 2500.0
    assert megabytes.convert(500, gigabytes) == 0.5
    assert gigabytes.factor == 1e9
    assert Unit(base="B").factor == 1.0


def test_converting_between_different_bases_is_refused() -> None:
    with pytest.raises(InvalidInput, match="different base"):
        Unit(base="B", prefix="G").convert(1.0, Unit(base="B/s", prefix="G"))


@pytest.mark.parametrize("prefix", ["X", "KB", "mi", "k i"])
def test_unknown_prefixes_are_invalid_input(prefix: str) -> None:
    with pytest.raises(InvalidInput, match="unknown unit prefix"):
        Unit(base="B", prefix=prefix)


def test_other_spellings_are_normalised_and_empty_means_none() -> None:
    assert Unit(base="B", prefix="k").prefix == "K"
    assert Unit(base="B", prefix="gi").prefix == "Gi"
    assert Unit(base="B", prefix="").prefix is None
    assert Unit(base="Hz", prefix="M").prefix == "M"
    assert Unit(base="s", prefix="m").prefix == "m"


@pytest.mark.parametrize(
    ("text", "base", "prefix"),
    [
        ("GB/s", "B/s", "G"),
        ("MHz", "Hz", "M"),
        ("GFlops/s", "Flops/s", "G"),
        ("KiB", "B", "Ki"),
        ("kB", "B", "K"),
        ("W", "W", None),
        ("°C", "°C", None),
        ("packets/s", "packets/s", None),
        ("IPC", "IPC", None),
        ("load", "load", None),
        ("", "", None),
    ],
)
def test_parsing_display_strings(text: str, base: str, prefix: str | None) -> None:
    assert Unit.parse(text) == Unit(base=base, prefix=prefix)


def test_with_prefix_keeps_the_base() -> None:
    assert Unit(base="F/s", prefix="G").with_prefix("T") == Unit(base="F/s", prefix="T")


def test_normalized_picks_a_readable_prefix() -> None:
    assert Unit(base="B").normalized(2.5e9) == (2.5, Unit(base="B", prefix="G"))
    value, unit = Unit(base="B", prefix="G").normalized(0.5)
    assert value == pytest.approx(500.0)
    assert unit == Unit(base="B", prefix="M")
    assert Unit(base="W").normalized(0.25) == (0.25, Unit(base="W"))
    value, unit = Unit(base="W").normalized(math.nan)
    assert math.isnan(value)
    assert unit == Unit(base="W")


def test_units_are_immutable_and_hashable() -> None:
    unit = Unit(base="B", prefix="G")
    assert {unit: 1}[Unit(base="B", prefix="G")] == 1
    with pytest.raises(ValueError, match="frozen"):
        unit.base = "W"  # type: ignore[misc]


@given(st.sampled_from(list(PREFIXES)), st.sampled_from(list(PREFIXES)))
def test_conversion_there_and_back_is_the_identity(first: str, second: str) -> None:
    a, b = Unit(base="B", prefix=first), Unit(base="B", prefix=second)
    assert a.factor_to(b) * b.factor_to(a) == pytest.approx(1.0, rel=1e-12)
