"""Execution that reads plain field values without graphql-core's per-field machinery.

A page of 50 jobs selects about 1,500 fields; graphql-core resolves and completes each
with a resolve-info object, a resolver call and several completion passes.
:class:`PlainValueExecutor` takes the values that need none of that straight from their
parent and leaves everything else to graphql-core, so results and errors are the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLString,
)
from graphql.execution.collect_fields import GroupedFieldSet
from graphql.execution.executor import default_field_resolver
from graphql.execution.executor_throwing_on_incremental import ExecutorThrowingOnIncremental
from graphql.pyutils import AwaitableOrValue, Path, Undefined, gather_with_cancel, is_awaitable

__all__ = ["PlainValueExecutor"]


#: Marks a field value that is not plain: graphql-core's field execution handles it.
_NOT_PLAIN: Any = object()

#: Reads one field's value from its parent, completed, or :data:`_NOT_PLAIN`.
_Reader = Callable[[Any], Any]
#: One field of a selection: response name, graphql-core's field details, reader or None,
#: the field's name (the key read from a parent dict) and the type of values its scalar
#: type outputs as they are (:data:`_AS_IS_TYPES`; ``None``: none or not known).
_Step = tuple[str, Any, _Reader | None, str, type | None]


def _field_value(source: Any, name: str) -> Any:
    """What graphql-core's default resolver reads: a mapping's key, else an attribute."""
    if type(source) is dict or isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


#: Types whose values graphql-core completes as they are (never called, awaited or raised).
_PLAIN_TYPES = frozenset({str, int, float, bool, dict, list, tuple})


def _is_plain(value: Any) -> bool:
    """Whether graphql-core would complete ``value`` as it is (not call, await or raise it)."""
    if type(value) in _PLAIN_TYPES:
        return True
    return not (callable(value) or isinstance(value, BaseException) or is_awaitable(value))


def _leaf(value: Any, coerce: Callable[[Any], Any], non_null: bool) -> Any:
    """``value`` coerced by a scalar or enum type, or :data:`_NOT_PLAIN` where graphql-core
    would do more (report a null or a refused value, call, await or raise it)."""
    if value is None:
        return _NOT_PLAIN if non_null else None
    if not _is_plain(value):
        return _NOT_PLAIN
    try:
        coerced = coerce(value)
    except Exception:  # graphql-core reports it the way it knows
        return _NOT_PLAIN
    return _NOT_PLAIN if coerced is None or coerced is Undefined else coerced


#: The built-in scalars, each with the Python type of the values it outputs unchanged
#: when :func:`_fits` (checked before calling the scalar's coercion).
_AS_IS_TYPES: dict[GraphQLScalarType | GraphQLEnumType, type] = {
    GraphQLString: str,
    GraphQLID: str,
    GraphQLBoolean: bool,
    GraphQLInt: int,
    GraphQLFloat: float,
}
#: The range of GraphQL's ``Int``.
_INT_MIN: int = -(2**31)
_INT_MAX: int = 2**31 - 1


def _fits(value: object) -> bool:
    """Whether a value of an as-is type is output unchanged: an ``int`` within ``Int``'s
    range, a finite ``float``, any ``str`` or ``bool``."""
    if type(value) is int:
        return _INT_MIN <= value <= _INT_MAX
    if type(value) is float:
        return math.isfinite(value)
    return True


def _object(value: Any, steps: list[_Step], non_null: bool) -> Any:
    """``value`` completed as an object whose fields all have readers.

    A field of a dict whose value is of its scalar's as-is type and fits is taken without
    calling its reader (the step a page of jobs takes about a thousand times).
    """
    if value is None:
        return _NOT_PLAIN if non_null else None
    if type(value) is dict:
        get = value.get
    elif _is_plain(value):
        get = None
    else:
        return _NOT_PLAIN
    completed = {}
    for name, _, read, key, as_is in steps:
        if get is not None and as_is is not None:
            field = get(key)
            if type(field) is as_is and (as_is is str or as_is is bool or _fits(field)):
                completed[name] = field
                continue
        field = read(value) if read is not None else _NOT_PLAIN
        if field is _NOT_PLAIN:
            return _NOT_PLAIN
        completed[name] = field
    return completed


def _unwrapped(field_type: Any) -> tuple[bool, Any]:
    """Whether ``field_type`` is non-null, and the type inside."""
    if isinstance(field_type, GraphQLNonNull):
        return True, field_type.of_type
    return False, field_type


class PlainValueExecutor(ExecutorThrowingOnIncremental):
    """graphql-core's executor, reading plain values of fields without resolver calls.

    A field without a resolver of its own and without arguments is read from its parent as
    graphql-core's default resolver reads it, when its type is a scalar or an enum (coerced
    by the type), an object type whose selected fields are all read that way, or a list of
    those. Everything else, and any value that is not plain (a null where the type forbids
    one, a callable, an awaitable, an exception, a value the type refuses), goes through
    graphql-core's own field execution, so data and errors are the same as without this
    class; what is saved is the per-field cost (a resolve-info object, a resolver call and
    the completion passes), which dominates a page of 50 jobs.

    It overrides graphql-core 3.3's ``execute_fields`` and uses its ``execute_field`` and
    ``collect_subfields``, which are not public API: ``tests/web/graphql/test_plain_values.py``
    holds its answers to graphql-core's own, value by value.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plain_plans: dict[int, tuple[GroupedFieldSet, list[_Step]]] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: None,
    ) -> AwaitableOrValue[dict[str, Any]]:
        """Like graphql-core's ``execute_fields``, reading plain values directly."""
        if self.middleware_manager is not None or self.field_resolver is not default_field_resolver:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        pending: list[str] = []
        try:
            for name, details, read, _, _ in self._plan(parent_type, grouped_field_set):
                if read is not None:
                    value = read(source_value)
                    if value is not _NOT_PLAIN:
                        results[name] = value
                        continue
                field_path = Path(path, name, parent_type.name)
                result = self.execute_field(
                    parent_type, source_value, details, field_path, position_context
                )
                if result is not Undefined:
                    results[name] = result
                    if self.is_awaitable(result):
                        pending.append(name)
        except Exception:
            if pending:
                self.settle_in_background([results[name] for name in pending])
            raise
        if not pending:
            return results

        async def gathered() -> dict[str, Any]:
            values = await gather_with_cancel(*(results[name] for name in pending))
            results.update(zip(pending, values, strict=True))
            return results

        return gathered()

    def _plan(
        self, parent_type: GraphQLObjectType, grouped_field_set: GroupedFieldSet
    ) -> list[_Step]:
        """The steps of a selection set on ``parent_type``, made once per request
        (graphql-core memoizes the grouped field set of a selection, so every item of a
        list shares it)."""
        found = self._plain_plans.get(id(grouped_field_set))
        if found is not None:
            return found[1]
        steps: list[_Step] = []
        for name, details in grouped_field_set.items():
            node = details[0].node
            field = self.schema.get_field(parent_type, node.name.value)
            read, as_is = None, None
            if field is not None and field.resolve is None and not (field.args or node.arguments):
                read = self._reader(node.name.value, field.type, details)
                leaf = _unwrapped(field.type)[1]
                as_is = _AS_IS_TYPES.get(leaf) if read is not None else None
            steps.append((name, details, read, node.name.value, as_is))
        self._plain_plans[id(grouped_field_set)] = (grouped_field_set, steps)
        return steps

    def _reader(self, name: str, field_type: GraphQLOutputType, details: Any) -> _Reader | None:
        """How to read field ``name`` of type ``field_type``; ``None`` if not plain."""
        non_null, inner = _unwrapped(field_type)
        listed = isinstance(inner, GraphQLList)
        item_non_null, item = _unwrapped(inner.of_type) if listed else (non_null, inner)
        read_item: Callable[[Any], Any]
        if isinstance(item, GraphQLScalarType | GraphQLEnumType):
            coerce = item.coerce_output_value
            as_is = _AS_IS_TYPES.get(item)

            def read_item(value: Any) -> Any:
                if type(value) is as_is and _fits(value):
                    return value
                return _leaf(value, coerce, item_non_null)

        elif isinstance(item, GraphQLObjectType) and item.is_type_of is None:
            collected = self.collect_subfields(item, details)
            steps = self._plan(item, collected.grouped_field_set)
            if collected.new_defer_usages:
                return None
            if any(read is None for _, _, read, _, _ in steps):
                return None  # graphql-core completes it (and reads its plain fields here)

            def read_item(value: Any) -> Any:
                return _object(value, steps, item_non_null)

        else:
            return None
        if not listed:
            return lambda source: read_item(_field_value(source, name))

        def read_list(source: Any) -> Any:
            values = _field_value(source, name)
            if values is None:
                return _NOT_PLAIN if non_null else None
            if type(values) is not list and type(values) is not tuple:
                return _NOT_PLAIN
            completed = [read_item(value) for value in values]
            return _NOT_PLAIN if _NOT_PLAIN in completed else completed

        return read_list
