"""Host-list expressions, as used in the ``nodes`` field of a cluster.json subcluster.

Grammar (compatible with cc-backend's node lists)::

    expression := "*" | "" | term ("," term)*
    term       := (literal | group)+
    literal    := one or more of [A-Za-z0-9._-]
    group      := "[" item ("," item)* "]"
    item       := number | number "-" number      (both numbers of the same width)

A term stands for the cartesian product of its parts, e.g. ``r[01-02]n[1-2]`` names
``r01n1, r01n2, r02n1, r02n2``. Ranges keep their zero padding: ``w11[01-32]`` holds
``w1101`` but not ``w111``. ``*`` is the wildcard cc-backend uses for "every node"; it
matches any host name but cannot be enumerated. The empty expression holds no host.

Differences to cc-backend, all of them supersets: single numbers are allowed inside
brackets (``n[01,03-05]``), ``.`` and ``_`` are allowed in literals, and expansion handles
any number of bracket groups and literal suffixes.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cc_backend.domain.errors import InvalidInput

__all__ = ["WILDCARD", "HostList", "compress", "expand"]

#: The expression that stands for every host of a cluster.
WILDCARD = "*"

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
_DIGITS = frozenset("0123456789")
_TRAILING_NUMBER = re.compile(r"(.*?)([0-9]+)")


@dataclass(frozen=True, slots=True)
class _Range:
    """An inclusive range of numbers, all written with exactly ``width`` digits."""

    start: int
    end: int
    width: int

    def __len__(self) -> int:
        return self.end - self.start + 1

    def names(self) -> list[str]:
        return [f"{n:0{self.width}d}" for n in range(self.start, self.end + 1)]


_Group = tuple[_Range, ...]
_Part = str | _Group
_Term = tuple[_Part, ...]


def _error(expr: str, pos: int, what: str) -> InvalidInput:
    return InvalidInput(f"invalid host list {expr!r}: {what} at position {pos}")


def _parse_item(expr: str, item: str, pos: int) -> _Range:
    """Parse ``07`` or ``01-32`` found at ``pos`` of ``expr``."""
    first, dash, last = item.partition("-")
    if not dash:
        last = first
    for text, offset in ((first, 0), (last, len(first) + 1)):
        if not text:
            raise _error(expr, pos + offset, "missing number in range")
        bad = next((i for i, c in enumerate(text) if c not in _DIGITS), None)
        if bad is not None:
            raise _error(expr, pos + offset + bad, f"invalid character {text[bad]!r} in range")
    if len(first) != len(last):
        raise _error(expr, pos, f"range bounds {first!r} and {last!r} differ in width")
    start, end = int(first), int(last)
    if start > end:
        raise _error(expr, pos, f"range {item!r} runs backwards")
    return _Range(start, end, len(first))


def _parse_group(expr: str, open_pos: int, close_pos: int) -> _Group:
    """Parse the bracket group whose brackets are at ``open_pos`` and ``close_pos``."""
    body = expr[open_pos + 1 : close_pos]
    if not body:
        raise _error(expr, open_pos, "empty brackets")
    ranges = []
    pos = open_pos + 1
    for item in body.split(","):
        ranges.append(_parse_item(expr, item, pos))
        pos += len(item) + 1
    return tuple(ranges)


def _parse(expr: str) -> tuple[_Term, ...]:
    """Split ``expr`` into terms; raises InvalidInput naming the offending position."""
    terms: list[_Term] = []
    parts: list[_Part] = []
    i, n = 0, len(expr)
    while i < n:
        c = expr[i]
        if c in _NAME_CHARS:
            j = i
            while j < n and expr[j] in _NAME_CHARS:
                j += 1
            parts.append(expr[i:j])
            i = j
        elif c == "[":
            close = expr.find("]", i)
            nested = expr.find("[", i + 1, close if close >= 0 else n)
            if close < 0:
                raise _error(expr, i, "unclosed '['")
            if nested >= 0:
                raise _error(expr, nested, "nested '['")
            parts.append(_parse_group(expr, i, close))
            i = close + 1
        elif c == ",":
            if not parts:
                raise _error(expr, i, "empty host name")
            terms.append(tuple(parts))
            parts = []
            i += 1
        elif c == "]":
            raise _error(expr, i, "unmatched ']'")
        else:
            raise _error(expr, i, f"invalid character {c!r}")
    if parts:
        terms.append(tuple(parts))
    elif terms:
        raise _error(expr, n, "empty host name")
    return tuple(terms)


def _match(term: _Term, index: int, name: str, pos: int) -> bool:
    """Whether ``name[pos:]`` matches ``term[index:]`` (backtracks over range widths)."""
    if index == len(term):
        return pos == len(name)
    part = term[index]
    if isinstance(part, str):
        return name.startswith(part, pos) and _match(term, index + 1, name, pos + len(part))
    for rng in part:
        digits = name[pos : pos + rng.width]
        if (
            len(digits) == rng.width
            and digits.isascii()
            and digits.isdigit()
            and rng.start <= int(digits) <= rng.end
            and _match(term, index + 1, name, pos + rng.width)
        ):
            return True
    return False


def _term_size(term: _Term) -> int:
    size = 1
    for part in term:
        if not isinstance(part, str):
            size *= sum(len(rng) for rng in part)
    return size


def _term_names(term: _Term) -> Iterator[str]:
    choices = [
        [part] if isinstance(part, str) else [n for rng in part for n in rng.names()]
        for part in term
    ]
    for combination in itertools.product(*choices):
        yield "".join(combination)


class HostList:
    """A parsed host-list expression.

    Membership (``"f0105" in hl``) is tested against the parsed ranges without expanding
    them; ``len`` counts without expanding; iteration expands lazily in expression order.
    Overlapping terms are not merged: ``len`` and iteration count a host once per term
    that names it, as cc-backend does.
    """

    __slots__ = ("_expression", "_size", "_terms", "_wildcard")

    def __init__(self, expression: str) -> None:
        """Parse ``expression``; raises InvalidInput (with the position) if malformed."""
        self._expression = expression
        self._wildcard = expression == WILDCARD
        self._terms: tuple[_Term, ...] = () if self._wildcard else _parse(expression)
        self._size = sum(_term_size(term) for term in self._terms)

    @property
    def expression(self) -> str:
        """The expression this list was parsed from."""
        return self._expression

    @property
    def is_wildcard(self) -> bool:
        """True for ``*``, which matches every host name."""
        return self._wildcard

    def __contains__(self, hostname: object) -> bool:
        if not isinstance(hostname, str):
            return False
        if self._wildcard:
            return True
        return any(_match(term, 0, hostname, 0) for term in self._terms)

    def __iter__(self) -> Iterator[str]:
        if self._wildcard:
            raise InvalidInput("the wildcard host list '*' cannot be enumerated")
        for term in self._terms:
            yield from _term_names(term)

    def __len__(self) -> int:
        if self._wildcard:
            raise InvalidInput("the wildcard host list '*' has no defined length")
        return self._size

    def __bool__(self) -> bool:
        return self._wildcard or self._size > 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HostList):
            return NotImplemented
        return self._expression == other._expression

    def __hash__(self) -> int:
        return hash(self._expression)

    def __repr__(self) -> str:
        return f"HostList({self._expression!r})"


def expand(expression: str) -> list[str]:
    """All host names of ``expression``, in expression order (``*`` cannot be expanded)."""
    return list(HostList(expression))


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    """Split sorted distinct numbers into maximal runs of consecutive values."""
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def compress(hostnames: Iterable[str]) -> str:
    """The shortest-form expression naming exactly the distinct ``hostnames``.

    Names are grouped by prefix and width of their trailing number; each group's runs of
    two or more become one bracket group and lone numbers stay plain names, so that the
    result also parses with cc-backend. ``expand(compress(h))`` yields the set of ``h``.
    """
    groups: dict[tuple[str, int], set[int]] = {}
    pieces: list[tuple[tuple[str, int, int], str]] = []
    for name in set(hostnames):
        if not name or any(c not in _NAME_CHARS for c in name):
            raise InvalidInput(f"cannot compress invalid host name {name!r}")
        match = _TRAILING_NUMBER.fullmatch(name)
        if match is None:
            pieces.append(((name, -1, -1), name))
        else:
            prefix, digits = match.groups()
            groups.setdefault((prefix, len(digits)), set()).add(int(digits))
    for (prefix, width), numbers in groups.items():
        runs = _runs(sorted(numbers))
        spans = [f"{a:0{width}d}-{b:0{width}d}" for a, b in runs if a != b]
        if spans:
            first = min(a for a, b in runs if a != b)
            pieces.append(((prefix, width, first), f"{prefix}[{','.join(spans)}]"))
        for a, b in runs:
            if a == b:
                pieces.append(((prefix, width, a), f"{prefix}{a:0{width}d}"))
    return ",".join(text for _, text in sorted(pieces))
