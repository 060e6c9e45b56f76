"""The line-protocol parser: accepted forms, refused lines with reasons, and fuzzing."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cc_backend.demo.clusters import demo_clusters
from cc_backend.metricstore import Catalog, LineProtocolParser, SeriesKey, format_line
from tests.metricstore.conftest import T0

NOW = T0 + 3600


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog(demo_clusters())


@pytest.fixture
def parser(catalog: Catalog) -> LineProtocolParser:
    return LineProtocolParser(catalog)


def samples(parser: LineProtocolParser, payload: bytes, **options: object) -> list[tuple]:
    """(key, value, timestamp, line) of every accepted sample."""
    parsed = parser.parse(payload, now=NOW, **options)  # type: ignore[arg-type]
    return [
        (parser.keys[k], v, t, n)
        for k, v, t, n in zip(
            parsed.keys.tolist(),
            parsed.values.tolist(),
            parsed.timestamps.tolist(),
            parsed.lines.tolist(),
            strict=True,
        )
    ]


def reasons(parser: LineProtocolParser, payload: bytes, **options: object) -> dict[int, str]:
    parsed = parser.parse(payload, now=NOW, **options)  # type: ignore[arg-type]
    return {error.line: error.reason for error in parsed.errors}


NODE = SeriesKey("fritz", "f0101", (), "mem_used")


@pytest.mark.parametrize(
    ("line", "key", "value", "stamp"),
    [
        ("mem_used,cluster=fritz,hostname=f0101,type=node value=1.5 1700000000", NODE, 1.5, T0),
        ("mem_used,cluster=fritz,hostname=f0101 value=2 1700000000", NODE, 2.0, T0),
        ("mem_used,hostname=f0101,cluster=fritz value=-3e2 1700000000", NODE, -300.0, T0),
        ("mem_used,cluster=fritz,host=f0101 value=7i 1700000000", NODE, 7.0, T0),
        ("mem_used,cluster=fritz,hostname=f0101 value=8u 1700000000", NODE, 8.0, T0),
        ("mem_used,cluster=fritz,hostname=f0101,unit=GB value=1 1700000000", NODE, 1.0, T0),
        (
            "cpu_user,cluster=fritz,hostname=f0101,type=hwthread,type-id=12 value=5 1700000000",
            SeriesKey("fritz", "f0101", ("hwthread12",), "cpu_user"),
            5.0,
            T0,
        ),
        (
            "cpu_user,type-id=3,cluster=fritz,type=core,hostname=f0101 value=5 1700000000",
            SeriesKey("fritz", "f0101", ("core3",), "cpu_user"),
            5.0,
            T0,
        ),
        (
            "mem_bw,cluster=fritz,hostname=f0101,type=socket,type-id=0,stype=memoryDomain,"
            "stype-id=1 value=5 1700000000",
            SeriesKey("fritz", "f0101", ("socket0", "memoryDomain1"), "mem_bw"),
            5.0,
            T0,
        ),
        (
            "mem_bw,cluster=fritz,hostname=f0101,type=socket,type-id=0,subtype=memoryDomain,"
            "stype-id=1 value=5 1700000000",
            SeriesKey("fritz", "f0101", ("socket0", "memoryDomain1"), "mem_bw"),
            5.0,
            T0,
        ),
        (
            "acc_power,cluster=alex,hostname=a0101,type=accelerator,"
            "type-id=00000000:07:00.0 value=250 1700000000",
            SeriesKey("alex", "a0101", ("accelerator00000000:07:00.0",), "acc_power"),
            250.0,
            T0,
        ),
        ("mem_used,cluster=fritz,hostname=f0101 value=1 1700000000000", NODE, 1.0, T0),
        ("mem_used,cluster=fritz,hostname=f0101 value=1 1700000000000000", NODE, 1.0, T0),
        ("mem_used,cluster=fritz,hostname=f0101 value=1 1700000000000000000", NODE, 1.0, T0),
        ("mem_used,cluster=fritz,hostname=f0101 value=1", NODE, 1.0, NOW),
        ("mem_used,cluster=fritz,hostname=f0101  value=1\t1700000000", NODE, 1.0, T0),
        ("mem_used,cluster=fritz,hostname=f0101 value=1 1700000000\r", NODE, 1.0, T0),
    ],
)
def test_accepted_forms(
    parser: LineProtocolParser, line: str, key: SeriesKey, value: float, stamp: int
) -> None:
    assert samples(parser, line.encode()) == [(key, value, stamp, 1)]


@pytest.mark.parametrize(
    ("precision", "stamp"),
    [("s", "1700000000"), ("ms", "1700000000123"), ("us", "1700000000123456"), ("ns", "1" * 19)],
)
def test_explicit_precision(parser: LineProtocolParser, precision: str, stamp: str) -> None:
    payload = f"mem_used,cluster=fritz,hostname=f0101 value=1 {stamp}".encode()
    [(_, _, seconds, _)] = samples(parser, payload, precision=precision)
    assert seconds == int(stamp) // {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[precision]


def test_default_cluster_applies_to_lines_without_a_cluster_tag(
    parser: LineProtocolParser,
) -> None:
    payload = b"mem_used,hostname=f0101 value=1 1700000000\n"
    assert samples(parser, payload, default_cluster="fritz")[0][0] == NODE
    assert reasons(parser, payload) == {1: "no cluster tag and no default cluster"}
    tagged = b"mem_used,cluster=fritz,hostname=f0101 value=1 1700000000\n"
    assert samples(parser, tagged, default_cluster="alex")[0][0] == NODE


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("mem_used,cluster=nope,hostname=f0101 value=1 1700000000", "unknown cluster 'nope'"),
        ("nope,cluster=fritz,hostname=f0101 value=1 1700000000", "unknown metric 'nope'"),
        ("mem_used,cluster=fritz value=1 1700000000", "no hostname tag"),
        ("mem_used,cluster=fritz,hostname=../etc value=1 1700000000", "would escape a path"),
        ("mem_used,cluster=fritz,hostname=a/b value=1 1700000000", "would escape a path"),
        ("mem_used,cluster=..,hostname=f0101 value=1 1700000000", "would escape a path"),
        ("mem_used,cluster=fritz,hostname=a\\b value=1 1700000000", "would escape a path"),
        ("mem_used,cluster=fritz,hostname=a\x00b value=1 1700000000", "control character"),
        ("mem_used,cluster=fritz,hostname= value=1 1700000000", "is empty"),
        (
            "cpu_user,cluster=fritz,hostname=f0101,type=hwthread,type-id=../1 value=1 1700000000",
            "would escape a path",
        ),
        ("cpu_user,cluster=fritz,hostname=f0101,type=hwthread value=1 1700000000", "without"),
        ("cpu_user,cluster=fritz,hostname=f0101,type=gpu,type-id=1 value=1 1", "unknown type"),
        ("mem_used,cluster=fritz,hostname=f0101,stype=core,stype-id=1 value=1 1", "stype"),
        ("mem_used,cluster=fritz,hostname=f0101,oops value=1 1700000000", "malformed tag"),
        ("mem_used,cluster=fritz,hostname=f0101 value=abc 1700000000", "is not a number"),
        ('mem_used,cluster=fritz,hostname=f0101 value="1" 1700000000', "is not a number"),
        ("mem_used,cluster=fritz,hostname=f0101 value=true 1700000000", "is not a number"),
        ("mem_used,cluster=fritz,hostname=f0101 value=-1u 1700000000", "is not a number"),
        ("mem_used,cluster=fritz,hostname=f0101 value=nan 1700000000", "not finite"),
        ("mem_used,cluster=fritz,hostname=f0101 value=1e999 1700000000", "not finite"),
        ("mem_used,cluster=fritz,hostname=f0101 other=1 1700000000", "unknown field 'other'"),
        ("mem_used,cluster=fritz,hostname=f0101 value=1,x=2 1700000000", "unknown field 'x'"),
        ("mem_used,cluster=fritz,hostname=f0101 value=1 soon", "is not an integer"),
        ("mem_used,cluster=fritz,hostname=f0101 value=1 1" + "0" * 30, "out of range"),
        ("mem_used,cluster=fritz,hostname=f0101 value=1 1700000000 extra", "expected"),
        ("just-one-word", "expected"),
        (b"mem_used,cluster=fritz,hostname=\xff value=1 1700000000", "UTF-8"),
    ],
)
def test_refused_lines_name_the_reason(
    parser: LineProtocolParser, line: str | bytes, reason: str
) -> None:
    found = reasons(parser, line if isinstance(line, bytes) else line.encode())
    assert list(found) == [1]
    assert reason in found[1]


def test_good_lines_are_kept_next_to_bad_ones_with_line_numbers(
    parser: LineProtocolParser,
) -> None:
    payload = (
        b"# a comment\n"
        b"mem_used,cluster=fritz,hostname=f0101 value=1 1700000000\n"
        b"\n"
        b"mem_used,cluster=nope,hostname=f0101 value=2 1700000000\n"
        b"mem_used,cluster=fritz,hostname=f0101 value=x 1700000060\n"
        b"mem_used,cluster=fritz,hostname=f0102 value=3 1700000060\n"
        b"garbage\n"
    )
    accepted = samples(parser, payload)
    assert [(key.host, value, line) for key, value, _, line in accepted] == [
        ("f0101", 1.0, 2),
        ("f0102", 3.0, 6),
    ]
    assert sorted(reasons(parser, payload)) == [4, 5, 7]


def test_irregular_lines_keep_their_place_in_the_payload(parser: LineProtocolParser) -> None:
    """A later line wins over an earlier one for the same time step, so order matters."""
    payload = (
        b"mem_used,cluster=fritz,hostname=f0101 value=1 1700000000\n"
        b"mem_used,cluster=fritz,hostname=f0101 value=2i 1700000000\n"
        b"mem_used,cluster=fritz,hostname=f0101 value=3 1700000000\n"
    )
    assert [value for _, value, _, _ in samples(parser, payload)] == [1.0, 2.0, 3.0]


def test_empty_and_blank_payloads(parser: LineProtocolParser) -> None:
    for payload in (b"", b"\n", b"\n\n  \n", b"# only a comment"):
        parsed = parser.parse(payload, now=NOW)
        assert len(parsed) == 0
        assert parsed.errors == []


def test_cache_is_dropped_when_it_grows_too_large(catalog: Catalog) -> None:
    parser = LineProtocolParser(catalog, max_keys=10)
    payload = "".join(
        f"mem_used,cluster=fritz,hostname=h{i} value=1 1700000000\n" for i in range(20)
    ).encode()
    first = parser.parse(payload, now=NOW)
    assert len(first) == 20
    second = parser.parse(payload, now=NOW)
    assert parser.generation == 1
    assert [parser.keys[k].host for k in second.keys.tolist()] == [f"h{i}" for i in range(20)]


# -- generated input --------------------------------------------------------------------

_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=12)
_hwthread = st.integers(0, 127).map(lambda i: (f"hwthread{i}",))
_socket = st.tuples(st.integers(0, 3), st.integers(0, 7)).map(
    lambda ids: (f"socket{ids[0]}", f"memoryDomain{ids[1]}")
)
_fritz_metrics = sorted(Catalog(demo_clusters()).metrics("fritz"))


@st.composite
def _samples(draw: st.DrawFn) -> tuple[SeriesKey, float, int]:
    key = SeriesKey(
        "fritz",
        draw(_names),
        draw(st.one_of(st.just(()), _hwthread, _socket)),
        draw(st.sampled_from(_fritz_metrics)),
    )
    value = draw(st.floats(allow_nan=False, allow_infinity=False))
    return key, value, draw(st.integers(0, 2**33))


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_samples(), max_size=30))
def test_formatted_lines_parse_back(
    parser: LineProtocolParser, generated: list[tuple[SeriesKey, float, int]]
) -> None:
    payload = "".join(format_line(*sample) + "\n" for sample in generated).encode()
    parsed = samples(parser, payload)
    assert [(key, value, ts) for key, value, ts, _ in parsed] == generated
    assert [line for *_, line in parsed] == list(range(1, len(generated) + 1))


_pieces = st.sampled_from(
    [
        b"mem_used",
        b"cpu_user",
        b",cluster=fritz",
        b",hostname=f0101",
        b",type=hwthread",
        b",type-id=1",
        b" value=",
        b"1.5",
        b"7i",
        b" ",
        b"1700000000",
        b"\n",
        b"\r",
        b"\\",
        b"=",
        b",",
        b"..",
        b"/",
        b"nan",
    ]
)
_payloads = st.one_of(st.binary(max_size=400), st.lists(_pieces, max_size=40).map(b"".join))


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_payloads)
def test_arbitrary_bytes_never_raise(parser: LineProtocolParser, payload: bytes) -> None:
    parsed = parser.parse(payload, now=NOW)
    lines = payload.count(b"\n") + 1
    assert len(parsed) + len(parsed.errors) <= lines
    assert all(1 <= error.line <= lines for error in parsed.errors)
    assert all(math.isfinite(v) for v in parsed.values.tolist())
    for key in (parser.keys[k] for k in parsed.keys.tolist()):
        assert all(".." not in part and "/" not in part for part in (key.host, *key.path))


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(_pieces, st.binary(max_size=20)), max_size=60).map(b"".join))
def test_a_payload_parses_like_its_lines_one_by_one(
    parser: LineProtocolParser, payload: bytes
) -> None:
    """The whole-payload path (lines sorted into regular and irregular) agrees with parsing
    each line on its own, line numbers included."""
    whole = parser.parse(payload, now=NOW)
    got = (
        [
            (parser.keys[k], v, t, n)
            for k, v, t, n in zip(
                whole.keys.tolist(),
                whole.values.tolist(),
                whole.timestamps.tolist(),
                whole.lines.tolist(),
                strict=True,
            )
        ],
        [(e.line, e.reason) for e in whole.errors],
    )
    expected: tuple[list, list] = ([], [])
    for number, line in enumerate(payload.split(b"\n"), 1):
        single = parser.parse(line, now=NOW)
        expected[0].extend(
            (parser.keys[k], v, t, number)
            for k, v, t in zip(
                single.keys.tolist(),
                single.values.tolist(),
                single.timestamps.tolist(),
                strict=True,
            )
        )
        expected[1].extend((number, e.reason) for e in single.errors)
    assert got == expected
