"""Small helpers shared by the resolvers: ids, input objects, selected fields."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)
from pydantic import BaseModel, ValidationError

from cc_backend.domain.errors import InvalidInput
from cc_backend.web.graphql.context import Info

__all__ = ["parse_id", "parse_ids", "selected_fields", "selects", "validated", "validated_list"]

M = TypeVar("M", bound=BaseModel)

#: Largest database id (SQLite's and PostgreSQL's 64-bit integer).
_MAX_ID = 2**63 - 1


def parse_id(value: Any, what: str = "id") -> int:
    """A GraphQL ``ID`` as database id; :class:`InvalidInput` if it is no such number."""
    text = str(value).strip()
    if not text.isdigit() or int(text) > _MAX_ID:
        raise InvalidInput(f"{what} must be a database id (a non-negative integer), not {value!r}")
    return int(text)


def parse_ids(values: Iterable[Any], what: str = "id") -> list[int]:
    """Every value of ``values`` as database id, in order (see :func:`parse_id`)."""
    return [parse_id(value, what) for value in values]


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(value)'}: {err['msg']}" for err in exc.errors()
    )


def validated(model: type[M], data: Any, what: str) -> M:
    """``data`` (a GraphQL input object) as ``model``; :class:`InvalidInput` naming ``what``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(f"invalid {what}: {_problems(exc)}") from None


def validated_list(model: type[M], items: Sequence[Any] | None, what: str) -> list[M]:
    """Each of ``items`` as ``model`` (``None`` is an empty list); errors name the index."""
    return [validated(model, item, f"{what}[{i}]") for i, item in enumerate(items or ())]


def selects(info: Info, path: str) -> bool:
    """Whether the query selects ``path`` (dotted, e.g. ``items.tags``) below this field,
    through fragments and inline fragments."""
    return _selection_sets(info, path) is not None


def selected_fields(info: Info, path: str = "") -> frozenset[str]:
    """The names of the fields the query selects at ``path`` (dotted, e.g. ``items``;
    empty: directly) below this field, through fragments and inline fragments.

    Directives are not evaluated: a field under ``@skip`` or ``@include`` counts as selected.
    """
    sets = _selection_sets(info, path) or []
    return frozenset(field.name.value for s in sets for field in _fields(info, s))


def _selection_sets(info: Info, path: str) -> list[SelectionSetNode] | None:
    """The selection sets of ``path`` below this field (``None`` if it is not selected)."""
    sets = [node.selection_set for node in info.field_nodes if node.selection_set]
    for name in path.split(".") if path else ():
        sets = [
            field.selection_set if field.selection_set else SelectionSetNode(selections=())
            for selection_set in sets
            for field in _fields(info, selection_set)
            if field.name.value == name
        ]
        if not sets:
            return None
    return sets


def _fields(info: Info, selection_set: SelectionSetNode) -> Iterable[FieldNode]:
    """The fields of a selection set, with fragments expanded."""
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _fields(info, selection.selection_set)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = info.fragments.get(selection.name.value)
            if fragment is not None:
                yield from _fields(info, fragment.selection_set)
