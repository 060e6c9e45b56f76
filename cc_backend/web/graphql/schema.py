"""The executable schema: our SDL (``schema.graphql``) bound to the scalars and resolvers.

The SDL is compatible with cc-backend's: the same types, fields, arguments and enum values
(a test checks this against the reference schema). It is built once per process.
"""

from __future__ import annotations

import functools
from importlib import resources

from ariadne import make_executable_schema
from graphql import GraphQLSchema

from cc_backend.web.graphql.resolvers import BINDABLES
from cc_backend.web.graphql.scalars import SCALARS

__all__ = ["executable_schema", "schema_sdl"]


def schema_sdl() -> str:
    """The text of ``schema.graphql``."""
    return resources.files(__package__).joinpath("schema.graphql").read_text(encoding="utf-8")


@functools.cache
def executable_schema() -> GraphQLSchema:
    """The schema with every resolver bound (built on first use, then shared)."""
    return make_executable_schema(schema_sdl(), *SCALARS, *BINDABLES)
