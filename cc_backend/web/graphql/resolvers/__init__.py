"""The resolvers of the GraphQL API, one module per area; :data:`BINDABLES` binds them all."""

from __future__ import annotations

from ariadne.types import SchemaBindable

from cc_backend.web.graphql.resolvers import clusters, jobs, metrics, nodes, statistics, tags, users

__all__ = ["BINDABLES"]

#: Every query, mutation and object type resolver, for ``make_executable_schema``.
BINDABLES: tuple[SchemaBindable, ...] = (
    clusters.query,
    *clusters.OBJECT_TYPES,
    jobs.query,
    jobs.job_type,
    metrics.query,
    nodes.query,
    nodes.node_type,
    statistics.query,
    tags.query,
    tags.mutation,
    users.query,
    users.mutation,
)
