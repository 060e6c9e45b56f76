"""Limits on what one GraphQL request may ask for, checked before anything runs.

- **Depth**: selections may nest at most :data:`MAX_DEPTH` levels, leaf fields included
  (fragments count where they are spread). The deepest query of the web interface nests
  seven (``nodeMetricsList.items.metrics.metric.series.statistics.avg``). Introspection fields are
  left to graphql-core's own introspection depth rule, so GraphiQL keeps working.
- **Cost**: every selected field counts one, aliases and fragment spreads included (a
  fragment spread twice counts twice), at most :data:`MAX_COST` per request; this stops one
  request from asking for the same list under a thousand aliases. Introspection fields do
  not count.

Both depend on the document alone (not on the variables), so :class:`RequestLimits` is a
rule whose verdict may be cached with the document, under :meth:`RequestLimits.settings`.
Each fragment is measured once, however often it is spread, so measuring takes time linear
in the document's size. A request over a limit gets ``GRAPHQL_VALIDATION_FAILED`` naming
the limit and is not executed.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    TypeInfo,
    ValidationContext,
    ValidationRule,
    validate,
)

from cc_backend.web.graphql.errors import VALIDATION_FAILED

__all__ = [
    "MAX_COST",
    "MAX_DEPTH",
    "RequestLimits",
    "validate_with_codes",
    "validation_rules",
]

#: Deepest nesting of selections a request may use.
MAX_DEPTH = 10
#: Most fields one request may select (after expanding fragments).
MAX_COST = 1000


class RequestLimits(ValidationRule):
    """Refuses operations nested deeper than :data:`MAX_DEPTH` or costing more than
    :data:`MAX_COST` (see the module docstring)."""

    @staticmethod
    def settings() -> tuple[int, int]:
        """The limits in force: a verdict of this rule holds while they stay the same."""
        return MAX_DEPTH, MAX_COST

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        depth, cost = _measure(self.context, node.selection_set, frozenset(), {})
        name = node.name.value if node.name else "anonymous operation"
        if depth > MAX_DEPTH:
            self._refuse(f"{name} nests {depth} levels deep; at most {MAX_DEPTH} are allowed", node)
        if cost > MAX_COST:
            self._refuse(f"{name} costs {cost}, more than the maximum cost of {MAX_COST}", node)

    def _refuse(self, message: str, node: OperationDefinitionNode) -> None:
        self.report_error(GraphQLError(message, node, extensions={"code": VALIDATION_FAILED}))


def _measure(
    context: ValidationContext,
    selections: SelectionSetNode,
    seen: frozenset[str],
    fragments: dict[str, tuple[int, int]],
) -> tuple[int, int]:
    """Depth and cost of ``selections``; ``fragments`` memoizes each fragment's measures
    (spreads inside ``seen`` are cycles, another rule's error, and count nothing)."""
    depth = cost = 0
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value.startswith("__"):
                continue
            below = selection.selection_set
            inner_depth, inner_cost = _measure(context, below, seen, fragments) if below else (0, 0)
            depth = max(depth, 1 + inner_depth)
            cost += 1 + inner_cost
        elif isinstance(selection, InlineFragmentNode):
            inner_depth, inner_cost = _measure(context, selection.selection_set, seen, fragments)
            depth = max(depth, inner_depth)
            cost += inner_cost
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in seen:
                continue
            measured = fragments.get(name)
            if measured is None:
                fragment = context.get_fragment(name)
                if fragment is None:  # an unknown fragment is another rule's error
                    continue
                measured = _measure(context, fragment.selection_set, seen | {name}, fragments)
                fragments[name] = measured
            depth = max(depth, measured[0])
            cost += measured[1]
    return depth, cost


def validation_rules(
    _context: Any, _document: DocumentNode, _data: dict[str, Any]
) -> list[type[ASTValidationRule]]:
    """The extra rules of every request (ariadne calls this with the request's data)."""
    return [RequestLimits]


def validate_with_codes(
    schema: GraphQLSchema,
    document_ast: DocumentNode,
    rules: Collection[type[ASTValidationRule]] | None = None,
    max_errors: int | None = None,
    type_info: TypeInfo | None = None,
) -> list[GraphQLError]:
    """graphql-core's ``validate`` whose errors carry ``GRAPHQL_VALIDATION_FAILED``
    (``type_info`` is ariadne's argument that graphql-core 3.3 no longer takes)."""
    errors = validate(schema, document_ast, rules, max_errors)
    for error in errors:
        extensions = dict(error.extensions or {})
        extensions.setdefault("code", VALIDATION_FAILED)
        error.extensions = extensions
    return errors
