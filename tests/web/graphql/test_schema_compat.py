"""Our SDL is compatible with cc-backend's: every type, field, argument, input field and enum
value of the reference schema exists in ours, with a type a client of the reference can use
unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLType,
    build_schema,
)

from cc_backend.web.graphql.schema import executable_schema, schema_sdl

pytestmark = pytest.mark.reference


def _same_named(ours: GraphQLType, theirs: GraphQLType) -> bool:
    return getattr(ours, "name", None) == getattr(theirs, "name", None)


def output_compatible(ours: GraphQLOutputType, theirs: GraphQLOutputType) -> bool:
    """A client expecting ``theirs`` can read ``ours`` (ours may be non-null where theirs
    is nullable, never the other way round)."""
    if isinstance(ours, GraphQLNonNull):
        inner = theirs.of_type if isinstance(theirs, GraphQLNonNull) else theirs
        return output_compatible(ours.of_type, inner)
    if isinstance(theirs, GraphQLNonNull):
        return False
    if isinstance(ours, GraphQLList) or isinstance(theirs, GraphQLList):
        return (
            isinstance(ours, GraphQLList)
            and isinstance(theirs, GraphQLList)
            and output_compatible(ours.of_type, theirs.of_type)
        )
    return _same_named(ours, theirs)


def input_compatible(ours: GraphQLInputType, theirs: GraphQLInputType) -> bool:
    """Every value a client sends for ``theirs`` is valid for ``ours`` (ours may accept null
    where theirs requires a value, never the other way round)."""
    if isinstance(theirs, GraphQLNonNull):
        inner = ours.of_type if isinstance(ours, GraphQLNonNull) else ours
        return input_compatible(inner, theirs.of_type)
    if isinstance(ours, GraphQLNonNull):
        return False
    if isinstance(ours, GraphQLList) or isinstance(theirs, GraphQLList):
        return (
            isinstance(ours, GraphQLList)
            and isinstance(theirs, GraphQLList)
            and input_compatible(ours.of_type, theirs.of_type)
        )
    return _same_named(ours, theirs)


def incompatibilities(ours: GraphQLSchema, theirs: GraphQLSchema) -> list[str]:
    """Everything of ``theirs`` that ``ours`` lacks or types incompatibly."""
    problems: list[str] = []
    for name, their_type in theirs.type_map.items():
        if name.startswith("__"):
            continue
        our_type = ours.type_map.get(name)
        if our_type is None:
            problems.append(f"type {name} is missing")
            continue
        if type(our_type) is not type(their_type):
            problems.append(f"type {name} is a {type(our_type).__name__}")
            continue
        if isinstance(their_type, GraphQLObjectType | GraphQLInterfaceType):
            assert isinstance(our_type, GraphQLObjectType | GraphQLInterfaceType)
            for field_name, field in their_type.fields.items():
                ours_field = our_type.fields.get(field_name)
                where = f"{name}.{field_name}"
                if ours_field is None:
                    problems.append(f"field {where} is missing")
                    continue
                if not output_compatible(ours_field.type, field.type):
                    problems.append(f"field {where}: {ours_field.type} for {field.type}")
                for arg_name, arg in field.args.items():
                    ours_arg = ours_field.args.get(arg_name)
                    if ours_arg is None:
                        problems.append(f"argument {where}({arg_name}) is missing")
                    elif not input_compatible(ours_arg.type, arg.type):
                        problems.append(f"argument {where}({arg_name}): {ours_arg.type}")
                    elif arg.default_value != ours_arg.default_value:
                        problems.append(f"argument {where}({arg_name}): other default")
                for arg_name, ours_arg in ours_field.args.items():
                    if arg_name not in field.args and isinstance(ours_arg.type, GraphQLNonNull):
                        problems.append(f"argument {where}({arg_name}) is required in ours")
        elif isinstance(their_type, GraphQLInputObjectType):
            assert isinstance(our_type, GraphQLInputObjectType)
            for field_name, field in their_type.fields.items():
                ours_input = our_type.fields.get(field_name)
                where = f"{name}.{field_name}"
                if ours_input is None:
                    problems.append(f"input field {where} is missing")
                elif not input_compatible(ours_input.type, field.type):
                    problems.append(f"input field {where}: {ours_input.type} for {field.type}")
                elif field.default_value != ours_input.default_value:
                    problems.append(f"input field {where}: other default")
        elif isinstance(their_type, GraphQLEnumType):
            assert isinstance(our_type, GraphQLEnumType)
            missing = set(their_type.values) - set(our_type.values)
            problems += [f"enum value {name}.{value} is missing" for value in sorted(missing)]
        elif not isinstance(their_type, GraphQLScalarType):  # pragma: no cover - unions
            problems.append(f"type {name}: {type(their_type).__name__} is not compared")
    return problems


@pytest.fixture(scope="module")
def reference_schema(reference_dir: Path) -> GraphQLSchema:
    return build_schema((reference_dir / "api" / "schema.graphqls").read_text())


def test_every_type_field_argument_and_enum_value_of_cc_backend_is_ours(
    reference_schema: GraphQLSchema,
) -> None:
    assert incompatibilities(executable_schema(), reference_schema) == []


def test_the_reference_has_21_queries_and_6_mutations_and_so_do_we(
    reference_schema: GraphQLSchema,
) -> None:
    ours = executable_schema()
    assert reference_schema.query_type is not None
    assert reference_schema.mutation_type is not None
    assert ours.query_type is not None
    assert ours.mutation_type is not None
    assert len(reference_schema.query_type.fields) == 21
    assert len(reference_schema.mutation_type.fields) == 6
    assert set(ours.query_type.fields) == set(reference_schema.query_type.fields)
    assert set(ours.mutation_type.fields) == set(reference_schema.mutation_type.fields)


def test_the_check_notices_a_missing_field_a_weaker_type_and_a_missing_enum_value() -> None:
    theirs = build_schema(
        "type Query { a: Int!, b: [String!]!, c(x: Int!): Int } enum E { X Y } input I { f: Int! }"
    )
    ours = build_schema(
        "type Query { b: [String]!, c(x: Int, y: Int!): Int } enum E { X } input I { f: Int }"
    )
    assert incompatibilities(ours, theirs) == [
        "field Query.a is missing",
        "field Query.b: [String]! for [String!]!",
        "argument Query.c(y) is required in ours",
        "enum value E.Y is missing",
    ]


def test_our_sdl_is_our_own_text_with_descriptions(reference_dir: Path) -> None:
    reference = (reference_dir / "api" / "schema.graphqls").read_text()
    ours = schema_sdl()
    assert ours != reference
    assert '"A point in time, written as an RFC 3339 string' in ours
