"""Go-style duration strings (``"2m"``, ``"1h30m"``, ``"300ms"``) as used in cc-backend's config.

cc-backend parses these with Go's ``time.ParseDuration``; :func:`parse_duration` accepts the same
grammar: an optional sign, then one or more ``<number><unit>`` pairs, where the number may have a
decimal fraction and the unit is one of ``ns``, ``us`` (also ``µs``/``μs``), ``ms``, ``s``, ``m``
and ``h``. A bare ``"0"`` is the only value allowed without a unit.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

__all__ = ["format_duration", "parse_duration"]

_NANOS_PER_UNIT: dict[str, int] = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC greek small letter mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60 * 1_000_000_000,
    "h": 3600 * 1_000_000_000,
}

_UNIT = "|".join(sorted(map(re.escape, _NANOS_PER_UNIT), key=len, reverse=True))
_NUMBER = r"(?:\d+\.?\d*|\.\d+)"
_FULL = re.compile(rf"[-+]?(?:{_NUMBER}(?:{_UNIT}))+")
_PART = re.compile(rf"({_NUMBER})({_UNIT})")

_MICROS_PER_HOUR = 3600 * 1_000_000
_MICROS_PER_MINUTE = 60 * 1_000_000
_MICROS_PER_SECOND = 1_000_000


def parse_duration(text: str) -> timedelta:
    """Parse a Go-style duration string such as ``"1h30m"`` into a :class:`~datetime.timedelta`.

    Sub-microsecond parts are rounded to the nearest microsecond (the resolution of
    ``timedelta``). Raises :class:`ValueError` with a message naming the bad input.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected a duration string like '5m', got {type(text).__name__}")
    stripped = text.strip()
    if stripped in {"0", "+0", "-0"}:
        return timedelta(0)
    if not _FULL.fullmatch(stripped):
        raise ValueError(
            f"invalid duration {text!r}: expected a number with a unit (h, m, s, ms, us, ns), "
            "e.g. '90s', '5m' or '1h30m'"
        )
    sign = -1 if stripped.startswith("-") else 1
    nanos = Decimal(0)
    for number, unit in _PART.findall(stripped):
        nanos += Decimal(number) * _NANOS_PER_UNIT[unit]
    micros = int((nanos / Decimal(1000)).to_integral_value())
    return timedelta(microseconds=sign * micros)


def format_duration(value: timedelta) -> str:
    """Render a :class:`~datetime.timedelta` as a compact Go-style duration string.

    The result always parses back to the same value with :func:`parse_duration`, e.g.
    ``timedelta(minutes=90)`` becomes ``"1h30m"`` and ``timedelta(0)`` becomes ``"0s"``.
    """
    micros = value // timedelta(microseconds=1)
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    hours, micros = divmod(micros, _MICROS_PER_HOUR)
    minutes, micros = divmod(micros, _MICROS_PER_MINUTE)
    seconds, micros = divmod(micros, _MICROS_PER_SECOND)
    parts: list[str] = []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if seconds and micros:
        parts.append(f"{seconds}.{micros:06d}".rstrip("0") + "s")
    elif seconds:
        parts.append(f"{seconds}s")
    elif micros and micros % 1000 == 0:
        parts.append(f"{micros // 1000}ms")
    elif micros:
        parts.append(f"{micros}us")
    return sign + ("".join(parts) or "0s")
