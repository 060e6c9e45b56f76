"""Decoding of JSON payloads sent by scheduler adapters, the same for REST and NATS.

Types are strict as in Go (``"1"`` is no number); ``null`` object members count as absent
(Go's decoder, which cc-backend's clients are written against, treats them so); unknown
fields are refused where the model forbids them. Problems become :class:`InvalidInput`
naming each offending field, never echoing the input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from pydantic import TypeAdapter, ValidationError

from cc_backend.domain.errors import InvalidInput

T = TypeVar("T")


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(target: type[T]) -> TypeAdapter[T]:
    """One validator per model class (building a ``TypeAdapter`` costs more than using it)."""
    found = _ADAPTERS.get(target)
    if found is None:
        found = _ADAPTERS.setdefault(target, TypeAdapter(target))
    return found


def drop_nulls(value: Any) -> Any:
    """``value`` without ``null`` object members, recursively."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def describe(exc: ValidationError, root: str = "body") -> str:
    """A short message naming each offending field (at most five)."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(p) for p in error["loc"]) or root
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - len(parts)
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def decode_payload(
    raw: bytes | str,
    target: type[T] | TypeAdapter[T],
    what: str,
    *,
    adjust: Callable[[Any], Any] | None = None,
) -> T:
    """Parse ``raw`` JSON into ``target``; ``what`` starts every error message.

    ``adjust`` may change the decoded data before validation (e.g. force a field).
    """
    if not raw.strip():
        raise InvalidInput(f"{what}: the payload is empty")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{what}: malformed JSON ({exc})") from None
    data = drop_nulls(data)
    if adjust is not None:
        data = adjust(data)
    adapter = target if isinstance(target, TypeAdapter) else _adapter(target)
    try:
        return adapter.validate_json(orjson.dumps(data), strict=True)
    except ValidationError as exc:
        raise InvalidInput(f"{what}: {describe(exc)}") from None
