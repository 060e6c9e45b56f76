"""InfluxDB line protocol as ClusterCockpit's metric collectors send it.

One sample per line::

    <metric>,cluster=<c>,hostname=<h>,type=<scope>,type-id=<id>[,stype=<s>,stype-id=<id>] \
        value=<num> [<ts>]

(one line, broken here for width).

``type`` is a metric scope (``node``, ``socket``, ``memoryDomain``, ``core``, ``hwthread``,
``accelerator``); ``type=node`` and a missing ``type`` both mean the node itself (see
:mod:`cc_backend.metricstore.keys` for how tags name a series). ``subtype`` is accepted for
``stype``, and ``host`` for ``hostname``; other tags are ignored. The value may be a float,
an integer (``5i``) or an unsigned integer (``5u``); a missing timestamp means "now". Blank
lines and ``#`` comments are skipped.

The parser is built for throughput: the part before the first space (metric and tags) is
resolved once per distinct text and cached, and a payload is taken apart and converted with
C-level calls over whole lists instead of Python steps per line. Every line that cannot be
stored is reported with its number and the reason; the other lines of the payload are kept.
"""

from __future__ import annotations

import itertools
import operator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from cc_backend.metricstore.catalog import Catalog
from cc_backend.metricstore.keys import SeriesKey, parse_head, show

__all__ = [
    "PRECISIONS",
    "LineError",
    "LineProtocolParser",
    "ParsedLines",
    "Precision",
]

#: Units a timestamp may be given in (the ``precision`` query parameter of a write).
Precision = Literal["s", "ms", "us", "ns"]
PRECISIONS: dict[str, int] = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}

# Without an explicit precision a timestamp is read the way cc-metric-store reads it: as
# seconds unless that does not fit an int64 of nanoseconds, then as milliseconds, and so on.
_INT64_LIMIT = 2**63
_AUTO_LIMITS = (_INT64_LIMIT // 10**9, _INT64_LIMIT // 10**6, _INT64_LIMIT // 10**3)

_FORMAT = "expected '<metric>,<tags> value=<number> [<timestamp>]'"


@dataclass(frozen=True, slots=True)
class LineError:
    """A line that was not stored."""

    #: 1-based line number in the payload.
    line: int
    reason: str


@dataclass(slots=True)
class ParsedLines:
    """The good samples of a payload, as parallel arrays, and the rejected lines."""

    #: Index of each sample's series in :attr:`LineProtocolParser.keys`.
    keys: npt.NDArray[np.int64]
    #: Unix time in seconds.
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    #: 1-based line number of each sample.
    lines: npt.NDArray[np.int64]
    errors: list[LineError] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.values)

    def select(self, mask: npt.NDArray[np.bool_]) -> ParsedLines:
        """The samples where ``mask`` is true (errors are kept as they are)."""
        return ParsedLines(
            self.keys[mask], self.timestamps[mask], self.values[mask], self.lines[mask], self.errors
        )


class LineProtocolParser:
    """Turns payloads into samples of known series.

    ``keys`` lists every series key seen so far; samples refer to it by index. The list and
    the caches behind it are dropped when more than ``max_keys`` distinct ``<metric>,<tags>``
    texts were seen (``generation`` then increases, so that holders of indices know to
    forget them). Not thread-safe: one parser per ingesting thread, or a lock around
    :meth:`parse`.
    """

    def __init__(self, catalog: Catalog, *, max_keys: int = 1_000_000) -> None:
        self._catalog = catalog
        self._max_keys = max_keys
        self.keys: list[SeriesKey] = []
        self._ids: dict[SeriesKey, int] = {}
        # Per default cluster: the key index of each <metric>,<tags> text seen (-1 if it was
        # refused), and the reason for each refused one.
        self._known: dict[str | None, dict[bytes, int]] = {}
        self._refused: dict[str | None, dict[bytes, str]] = {}
        self.generation = 0

    def parse(
        self,
        payload: bytes | bytearray | memoryview,
        *,
        now: int,
        default_cluster: str | None = None,
        precision: Precision | None = None,
    ) -> ParsedLines:
        """The samples of ``payload``; never raises for any content.

        ``now`` (Unix seconds) stands in for missing timestamps; ``default_cluster`` for a
        missing ``cluster`` tag. ``precision`` is the unit of the timestamps; without it a
        timestamp is seconds unless it is too large for that (then ms, us or ns).

        Which lines have the common form (three non-empty parts separated by single
        spaces) is found with NumPy over the whole payload; those lines are taken apart with
        one split and converted with C-level ``map`` calls. Only the other lines go through a
        tolerant line-by-line path.
        """
        if sum(map(len, self._known.values())) > self._max_keys:
            self._forget()
        data = bytes(payload)
        if data.endswith(b"\n"):
            data = data[:-1]
        errors: list[LineError] = []
        regular = _regular_lines(data)
        if bool(regular.all()):
            heads, bodies, stamps = _three_parts(data)
            numbers = np.arange(1, len(heads) + 1)
            keys = self._keys_of(heads, numbers, default_cluster, errors)
        else:
            lines = data.split(b"\n")
            where = np.flatnonzero(regular)
            heads, bodies, stamps = _three_parts(b"\n".join(map(lines.__getitem__, where.tolist())))
            numbers = where + 1
            keys = self._keys_of(heads, numbers, default_cluster, errors)
            others = np.flatnonzero(~regular).tolist()
            extra = self._irregular(
                lines,
                others,
                now=now,
                default_cluster=default_cluster,
                precision=precision,
                errors=errors,
            )
            if extra:
                keys, bodies, stamps, numbers = _merge(keys, bodies, stamps, numbers, extra)
        refused = keys < 0  # already reported: leave them out before converting numbers
        if bool(refused.any()):
            kept = (~refused).tolist()
            bodies = list(itertools.compress(bodies, kept))
            stamps = list(itertools.compress(stamps, kept))
            keys, numbers = keys[~refused], numbers[~refused]
        values, bad = _values(bodies)
        seconds, late = _seconds(stamps, precision)
        bad.extend(late)
        errors.sort(key=lambda error: error.line)
        parsed = ParsedLines(keys, seconds, values, numbers.astype(np.int64), errors)
        return _drop(parsed, bad)

    def _keys_of(
        self,
        heads: list[bytes],
        numbers: npt.NDArray[np.intp],
        default_cluster: str | None,
        errors: list[LineError],
    ) -> npt.NDArray[np.int64]:
        """The key index of each ``<metric>,<tags>`` text; -1 for refused ones, which are
        reported with their line ``numbers``."""
        known = self._known.setdefault(default_cluster, {})
        found = list(map(known.get, heads))
        if None in found:
            for index in _positions_of_none(found):
                found[index] = self._resolve(heads[index], default_cluster)
        keys = np.array(found, dtype=np.int64)
        refused = np.flatnonzero(keys < 0)
        if len(refused):
            reasons = self._refused[default_cluster]
            for index in refused.tolist():
                errors.append(LineError(int(numbers[index]), reasons[heads[index]]))
        return keys

    def _irregular(
        self,
        lines: list[bytes],
        indices: list[int],
        *,
        now: int,
        default_cluster: str | None,
        precision: Precision | None,
        errors: list[LineError],
    ) -> list[tuple[int, int, bytes, bytes | int]]:
        """Samples of the lines at ``indices`` (not in the common form): line number, key
        index, field set, timestamp. Blank lines and comments are skipped, bad lines
        reported."""
        now_raw = now * (PRECISIONS[precision] if precision is not None else 1)
        samples = []
        for index in indices:
            text = lines[index].strip()
            if not text or text.startswith(b"#"):
                continue
            tokens = text.split()
            if len(tokens) not in (2, 3):
                errors.append(LineError(index + 1, _FORMAT))
                continue
            kid = self._resolve(tokens[0], default_cluster)
            if kid < 0:
                reason = self._refused[default_cluster][tokens[0]]
                errors.append(LineError(index + 1, reason))
                continue
            stamp = tokens[2] if len(tokens) == 3 else now_raw
            samples.append((index + 1, kid, tokens[1], stamp))
        return samples

    def _resolve(self, head: bytes, default_cluster: str | None) -> int:
        """The key index for ``<metric>,<tags>``, or -1 if refused (the reason is kept in
        ``_refused``); both are cached in ``_known``."""
        known = self._known.setdefault(default_cluster, {})
        kid = known.get(head)
        if kid is not None:
            return kid
        result = parse_head(head, default_cluster, self._catalog)
        if isinstance(result, str):
            self._refused.setdefault(default_cluster, {})[head] = result
            known[head] = -1
            return -1
        kid = self._ids.get(result)
        if kid is None:
            kid = self._ids[result] = len(self.keys)
            self.keys.append(result)
        known[head] = kid
        return kid

    def _forget(self) -> None:
        self.keys = []
        self._ids = {}
        self._known = {}
        self._refused = {}
        self.generation += 1


_VALUE_TEXT = operator.itemgetter(slice(6, None))


def _regular_lines(data: bytes) -> npt.NDArray[np.bool_]:
    """For each line of ``data``: whether it is ``<a> <b> <c>``, three non-empty parts
    separated by single spaces, and not a comment."""
    raw = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(raw == 10)
    count = len(newlines) + 1
    spaces = np.flatnonzero(raw == 32)
    if len(spaces) == 0:
        return np.zeros(count, dtype=np.bool_)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(raw)]))
    owner = np.searchsorted(newlines, spaces)  # the line of each space
    first = np.searchsorted(owner, np.arange(count))  # each line's first space in ``spaces``
    last = len(spaces) - 1
    one, two = spaces[np.minimum(first, last)], spaces[np.minimum(first + 1, last)]
    regular: npt.NDArray[np.bool_] = np.bincount(owner, minlength=count) == 2
    regular &= (one > starts) & (two > one + 1) & (ends > two + 1)
    regular &= raw[np.minimum(starts, len(raw) - 1)] != ord("#")
    return regular


def _three_parts(data: bytes) -> tuple[list[bytes], list[bytes], list[bytes | int]]:
    """Heads, field sets and timestamps of lines that are all of the common form."""
    if not data:
        return [], [], []
    tokens = data.replace(b"\n", b" ").split(b" ")
    stamps: list[bytes | int] = list(tokens[2::3])
    return tokens[0::3], tokens[1::3], stamps


def _positions_of_none(items: list[int | None]) -> list[int]:
    """Indices of the None entries (found with C-level scans, as there are few)."""
    positions: list[int] = []
    start = 0
    while True:
        try:
            start = items.index(None, start)
        except ValueError:
            return positions
        positions.append(start)
        start += 1


def _merge(
    keys: npt.NDArray[np.int64],
    bodies: list[bytes],
    stamps: list[bytes | int],
    numbers: npt.NDArray[np.intp],
    extra: list[tuple[int, int, bytes, bytes | int]],
) -> tuple[npt.NDArray[np.int64], list[bytes], list[bytes | int], npt.NDArray[np.intp]]:
    """Add the samples of irregular lines, keeping the order of the payload."""
    all_numbers = np.concatenate([numbers, np.array([e[0] for e in extra], dtype=np.intp)])
    all_keys = np.concatenate([keys, np.array([e[1] for e in extra], dtype=np.int64)])
    all_bodies = bodies + [e[2] for e in extra]
    all_stamps = stamps + [e[3] for e in extra]
    order = np.argsort(all_numbers, kind="stable")
    ordered = order.tolist()
    return (
        all_keys[order],
        [all_bodies[i] for i in ordered],
        [all_stamps[i] for i in ordered],
        all_numbers[order],
    )


def _values(bodies: list[bytes]) -> tuple[npt.NDArray[np.float64], list[tuple[int, str]]]:
    """The numbers of ``value=<number>`` field sets, and (sample index, reason) of the bad.

    The common case (every field set is ``value=`` and a float) is converted in one go.
    """
    if not bodies:
        return np.empty(0), []
    if (b"\n" + b"\n".join(bodies)).count(b"\nvalue=") == len(bodies):
        try:
            return np.array(list(map(float, map(_VALUE_TEXT, bodies))), dtype=np.float64), []
        except ValueError:
            pass
    values = np.empty(len(bodies))
    bad: list[tuple[int, str]] = []
    for index, body in enumerate(bodies):
        value = _field_value(body)
        if isinstance(value, str):
            bad.append((index, value))
            value = np.nan
        values[index] = value
    return values, bad


def _seconds(
    stamps: list[bytes | int], precision: Precision | None
) -> tuple[npt.NDArray[np.int64], list[tuple[int, str]]]:
    """Timestamps in seconds, and (sample index, reason) of those that are not valid."""
    try:
        if stamps and stamps.count(stamps[0]) == len(stamps):  # one time for the payload
            raw = np.full(len(stamps), int(stamps[0]), dtype=np.int64)
        else:
            raw = np.array(list(map(int, stamps)), dtype=np.int64)
        bad: list[tuple[int, str]] = []
    except (ValueError, OverflowError):
        raw = np.zeros(len(stamps), dtype=np.int64)
        bad = []
        for index, stamp in enumerate(stamps):
            try:
                number = int(stamp)
            except ValueError:
                bad.append((index, f"timestamp {show(stamp)} is not an integer"))  # type: ignore[arg-type]
                continue
            if -_INT64_LIMIT <= number < _INT64_LIMIT:
                raw[index] = number
            else:
                bad.append((index, "timestamp out of range"))
    return _to_seconds(raw, precision), bad


def _drop(parsed: ParsedLines, bad: list[tuple[int, str]]) -> ParsedLines:
    """Report and leave out the samples listed in ``bad`` and those with NaN or infinite
    values (NaN marks a gap in the store)."""
    broken = ~np.isfinite(parsed.values)
    for index, _ in bad:
        broken[index] = True
    if not broken.any():
        return parsed
    reasons = dict(bad)
    for index in np.flatnonzero(broken).tolist():
        reason = reasons.get(index) or f"value {float(parsed.values[index])!r} is not finite"
        parsed.errors.append(LineError(int(parsed.lines[index]), reason))
    parsed.errors.sort(key=lambda error: error.line)
    return parsed.select(~broken)


def _to_seconds(raw: npt.NDArray[np.int64], precision: Precision | None) -> npt.NDArray[np.int64]:
    if precision is not None:
        return raw // PRECISIONS[precision]
    size = np.abs(raw)
    if len(raw) == 0 or bool((size < _AUTO_LIMITS[0]).all()):
        return raw
    return np.where(
        size < _AUTO_LIMITS[0],
        raw,
        np.where(
            size < _AUTO_LIMITS[1],
            raw // 10**3,
            np.where(size < _AUTO_LIMITS[2], raw // 10**6, raw // 10**9),
        ),
    )


def _field_value(body: bytes) -> float | str:
    """The number of a ``value=<number>`` field set, or why there is none."""
    found: float | str = "missing field 'value'"
    for item in body.split(b","):
        name, sep, raw = item.partition(b"=")
        if not sep or name != b"value":
            return f"unknown field {show(name)} (only 'value' is accepted)"
        found = _number(raw)
    return found


def _number(raw: bytes) -> float | str:
    try:
        if raw[-1:] in (b"i", b"u"):
            number = int(raw[:-1])
            if raw[-1:] == b"u" and number < 0:
                raise ValueError(raw)
            return float(number)
        return float(raw)
    except (ValueError, OverflowError):
        return f"value {show(raw)} is not a number"
