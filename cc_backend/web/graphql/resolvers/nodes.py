"""``node``, ``nodes``, ``nodeStates`` and ``nodeStatesTimed``: nodes and their states.

Node data is for support and admins only (cc-backend's rule for the node queries); anybody
else gets ``FORBIDDEN``. A node is shown with its latest state report; state filters apply
to that latest report.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ariadne import ObjectType, QueryType

from cc_backend.domain.errors import NotFound
from cc_backend.repository.nodes import NodeFilter, NodeStatus, StatesOverTime
from cc_backend.services.cluster_status import state_column
from cc_backend.web.graphql.context import Info, context_of
from cc_backend.web.graphql.resolvers.common import parse_id, selects, validated_list

__all__ = ["node_type", "query"]

query = QueryType()
node_type = ObjectType("Node")

for _graphql, _python in (
    ("subCluster", "subcluster"),
    ("jobsRunning", "jobs_running"),
    ("cpusAllocated", "cpus_allocated"),
    ("memoryAllocated", "memory_allocated"),
    ("gpusAllocated", "gpus_allocated"),
    ("schedulerState", "node_state"),
    ("healthState", "health_state"),
):
    node_type.set_alias(_graphql, _python)


@node_type.field("id")
def resolve_node_id(status: NodeStatus, _info: Info) -> str:
    return str(status.id)


@node_type.field("metaData")
async def resolve_node_meta_data(status: NodeStatus, info: Info) -> Any:
    context = context_of(info)
    if status.id not in context.node_meta:
        found = await context.run(context.backends.nodes.meta_data_of, [status.id])
        context.node_meta.update(found)
    return context.node_meta.get(status.id)


@query.field("node")
async def resolve_node(_: Any, info: Info, id: str) -> NodeStatus:
    context = context_of(info)
    context.require_staff("node data")
    node_id = parse_id(id, "node id")
    found = await context.run(context.backends.nodes.latest_matching, node_id=node_id)
    if not found:
        raise NotFound(f"no node with id {node_id} (or it never reported a state)")
    return found[0]


@query.field("nodes")
async def resolve_nodes(
    _: Any,
    info: Info,
    filter: list[dict[str, Any]] | None = None,
    order: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Nodes ordered by cluster and host name (``order`` is accepted and, as in
    cc-backend, not used)."""
    context = context_of(info)
    context.require_staff("node data")
    filters = validated_list(NodeFilter, filter, "filter")
    nodes = context.backends.nodes
    with_meta = selects(info, "items.metaData")

    def load() -> tuple[list[NodeStatus], dict[int, Any]]:
        found = nodes.latest_matching(filters)
        meta = nodes.meta_data_of([n.id for n in found]) if with_meta else {}
        return found, meta

    items, meta = await context.run(load)
    context.node_meta.update(meta)
    return {"items": items, "count": len(items)}


@query.field("nodeStates")
async def resolve_node_states(
    _: Any, info: Info, filter: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Counts of the latest scheduler states, then of the latest health states."""
    context = context_of(info)
    context.require_staff("node data")
    filters = validated_list(NodeFilter, filter, "filter")
    latest = await context.run(context.backends.nodes.latest_matching, filters)
    scheduler = Counter(n.node_state.value for n in latest)
    health = Counter(n.health_state.value for n in latest)
    return [
        {"state": state, "count": count}
        for counts in (scheduler, health)
        for state, count in sorted(counts.items())
    ]


@query.field("nodeStatesTimed")
async def resolve_node_states_timed(
    _: Any, info: Info, type: str, filter: list[dict[str, Any]] | None = None
) -> list[StatesOverTime]:
    context = context_of(info)
    context.require_staff("node data")
    column = state_column(type)
    filters = validated_list(NodeFilter, filter, "filter")
    return await context.run(context.backends.nodes.state_counts_over_time, filters, column)
