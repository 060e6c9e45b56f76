"""Metric units as cc-backend writes them: ``{"base": "B/s", "prefix": "G"}``.

The base is free text (the schema lists ``B``, ``F``, ``B/s``, ``F/s``, ``CPI``, ``IPC``,
``Hz``, ``W``, ``J``, ``°C`` and the empty string, but real files also use ``Flops/s`` or
``packets/s``). The prefix is one of the prefixes cc-lib's unit package knows: decimal
``K M G T P E Z Y``, fractional ``m u n`` and binary ``Ki Mi Gi Ti Pi Ei Zi Yi``. The
lower-case spellings cc-lib also accepts (``k``, ``g``, ``ki``...) are normalised to the
canonical form; an empty prefix means none.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from cc_backend.domain.errors import InvalidInput

__all__ = ["PREFIXES", "Unit", "prefix_factor"]

_DECIMAL_EXPONENTS = {
    "K": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
    "Z": 21,
    "Y": 24,
    "m": -3,
    "u": -6,
    "n": -9,
}
_BINARY_EXPONENTS = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60, "Zi": 70, "Yi": 80}

#: Every canonical prefix with its exact factor relative to the base unit.
PREFIXES: dict[str, Fraction] = {
    **{p: Fraction(10) ** e for p, e in _DECIMAL_EXPONENTS.items()},
    **{p: Fraction(2) ** e for p, e in _BINARY_EXPONENTS.items()},
}

#: Other spellings cc-lib accepts, mapped to the canonical prefix.
_ALIASES = {
    **{p.lower(): p for p in ("K", "G", "T", "P", "E", "Z", "Y")},
    **{p.lower(): p for p in ("Ki", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi")},
}

#: Prefixes tried by :meth:`Unit.normalized`, smallest first.
_SCALING_PREFIXES = ("", "K", "M", "G", "T", "P", "E")

#: Bases that :meth:`Unit.parse` recognises after a prefix.
_KNOWN_BASES = frozenset(
    {"B", "F", "B/s", "F/s", "CPI", "IPC", "Hz", "W", "J", "°C", "Flops", "Flops/s"}
    | {"bytes", "Bytes", "packets/s", "events/s", "requests/s", "s", "Wh"}
)


def _canonical_prefix(prefix: str | None) -> str | None:
    """The canonical spelling of ``prefix`` (None for no prefix); InvalidInput if unknown."""
    if prefix is None or prefix == "":
        return None
    prefix = _ALIASES.get(prefix, prefix)
    if prefix not in PREFIXES:
        known = ", ".join(PREFIXES)
        raise InvalidInput(f"unknown unit prefix {prefix!r} (known: {known})")
    return prefix


def prefix_factor(source: str | None, target: str | None) -> float:
    """The factor that turns a value with prefix ``source`` into one with ``target``.

    ``prefix_factor("G", "M") == 1000.0``; None or ``""`` stands for no prefix.
    """
    src, dst = _canonical_prefix(source), _canonical_prefix(target)
    factor = PREFIXES.get(src or "", Fraction(1)) / PREFIXES.get(dst or "", Fraction(1))
    return float(factor)


class Unit(BaseModel):
    """A unit: a base (``"B/s"``) with an optional SI or binary prefix (``"G"``)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    base: str
    prefix: str | None = None

    @field_validator("prefix", mode="before")
    @classmethod
    def _check_prefix(cls, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return _canonical_prefix(value)
        return value

    def __str__(self) -> str:
        return f"{self.prefix or ''}{self.base}"

    @classmethod
    def parse(cls, text: str) -> Unit:
        """Read a display string such as ``"GB/s"`` or ``"MHz"``.

        A leading prefix is split off only when what follows is a known base, so that
        ``"packets/s"`` keeps its ``p`` and unknown texts become the base unchanged.
        """
        if text in _KNOWN_BASES:
            return cls(base=text)
        for size in (2, 1):
            head, rest = text[:size], text[size:]
            if rest in _KNOWN_BASES and (head in PREFIXES or head in _ALIASES):
                return cls(base=rest, prefix=head)
        return cls(base=text)

    @property
    def factor(self) -> float:
        """The prefix's factor relative to the bare base (1.0 without prefix)."""
        return float(PREFIXES[self.prefix]) if self.prefix else 1.0

    def with_prefix(self, prefix: str | None) -> Unit:
        """The same base with another prefix."""
        return Unit(base=self.base, prefix=prefix)

    def factor_to(self, target: Unit) -> float:
        """The factor converting values in this unit to ``target`` (same base required)."""
        if target.base != self.base:
            raise InvalidInput(f"cannot convert {self} to {target}: different base units")
        return prefix_factor(self.prefix, target.prefix)

    def convert(self, value: float, target: Unit) -> float:
        """``value`` (in this unit) expressed in ``target``."""
        return value * self.factor_to(target)

    def normalized(self, value: float) -> tuple[float, Unit]:
        """Rescale ``value`` to the largest decimal prefix (up to E) not exceeding it.

        Used for display: ``Unit(base="B").normalized(2.5e9)`` gives
        ``(2.5, Unit(base="B", prefix="G"))``. Values below 1 in the bare base (and zero
        or NaN) come back in the bare base.
        """
        bare = value * self.factor
        best = ""
        for prefix in _SCALING_PREFIXES[1:]:
            if abs(bare) >= float(PREFIXES[prefix]):
                best = prefix
        target = self.with_prefix(best)
        return bare / target.factor, target
