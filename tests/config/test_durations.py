"""Go-style durations: the format of every interval in cc-backend's config."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cc_backend.config import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2m", timedelta(minutes=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("2000h", timedelta(hours=2000)),
        ("48h", timedelta(hours=48)),
        ("300ms", timedelta(milliseconds=300)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        (".5s", timedelta(milliseconds=500)),
        ("1m30s500ms", timedelta(minutes=1, seconds=30, milliseconds=500)),
        ("10us", timedelta(microseconds=10)),
        ("10µs", timedelta(microseconds=10)),
        ("1500ns", timedelta(microseconds=2)),
        ("0", timedelta(0)),
        ("0s", timedelta(0)),
        ("-5m", timedelta(minutes=-5)),
        ("+5m", timedelta(minutes=5)),
    ],
)
def test_parses_go_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "5 m", "m", "1d", "1h-5m", "five minutes", "1..5s"])
def test_rejects_what_go_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(minutes=2), "2m"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(hours=2000), "2000h"),
        (timedelta(milliseconds=300), "300ms"),
        (timedelta(seconds=1, milliseconds=500), "1.5s"),
        (timedelta(microseconds=7), "7us"),
        (timedelta(0), "0s"),
        (timedelta(minutes=-5), "-5m"),
    ],
)
def test_formats_compact_go_durations(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@given(st.timedeltas(min_value=timedelta(days=-3650), max_value=timedelta(days=3650)))
def test_format_then_parse_is_identity(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value
