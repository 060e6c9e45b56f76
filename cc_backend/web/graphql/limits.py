"""Limits on what one GraphQL request may ask for, checked before anything runs.

- **Depth**: selections may nest at most :data:`MAX_DEPTH` levels, leaf fields included
  (fragments count where they are spread). The deepest query of the web interface nests
  seven (``nodeMetricsList.items.metrics.metric.series.statistics.avg``). Introspection fields are
  left to graphql-core's own introspection depth rule, so GraphiQL keeps working.
- **Cost**: every selected field counts one, aliases and fragment spreads included, at
  most :data:`MAX_COST` per request (ariadne's cost validator); this stops one request
  from asking for the same list under a thousand aliases.

A request over a limit gets ``GRAPHQL_VALIDATION_FAILED`` naming the limit and is not
executed.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from ariadne.validation import cost_validator
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

__all__ = ["MAX_COST", "MAX_DEPTH", "depth_limit", "validate_with_codes", "validation_rules"]

#: Deepest nesting of selections a request may use.
MAX_DEPTH = 10
#: Most fields one request may select (after expanding fragments).
MAX_COST = 1000


def depth_limit(max_depth: int) -> type[ASTValidationRule]:
    """A validation rule refusing operations nested deeper than ``max_depth`` levels."""

    class DepthLimit(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            depth = _depth(self.context, node.selection_set, frozenset())
            if depth > max_depth:
                name = node.name.value if node.name else "anonymous operation"
                self.report_error(
                    GraphQLError(
                        f"{name} nests {depth} levels deep; at most {max_depth} are allowed",
                        node,
                        extensions={"code": VALIDATION_FAILED},
                    )
                )

    return DepthLimit


def _depth(context: ValidationContext, selections: SelectionSetNode, seen: frozenset[str]) -> int:
    """The nesting depth below ``selections`` (introspection fields do not count)."""
    deepest = 0
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value.startswith("__"):
                continue
            below = selection.selection_set
            deepest = max(deepest, 1 + (_depth(context, below, seen) if below else 0))
        elif isinstance(selection, InlineFragmentNode):
            deepest = max(deepest, _depth(context, selection.selection_set, seen))
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = context.get_fragment(name)
            if fragment is not None and name not in seen:  # cycles are another rule's error
                deepest = max(deepest, _depth(context, fragment.selection_set, seen | {name}))
    return deepest


def validation_rules(
    _context: Any, _document: DocumentNode, data: dict[str, Any]
) -> list[type[ASTValidationRule]]:
    """The extra rules for one request (ariadne calls this with the request's data)."""
    variables = data.get("variables")
    return [
        depth_limit(MAX_DEPTH),
        cost_validator(
            maximum_cost=MAX_COST,
            default_cost=1,
            variables=variables if isinstance(variables, dict) else None,
        ),
    ]


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
