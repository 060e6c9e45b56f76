"""``clusters``, ``globalMetrics``, ``allocatedNodes`` and the cluster description types.

Clusters come from the job archive's ``cluster.json`` files (through the site's
:class:`~cc_backend.services.clusters.ClusterCatalog`); a subcluster's ``metricConfig`` is
the cluster's metric list with that subcluster's thresholds applied and removed metrics
left out, as cc-backend computes it when it loads a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ariadne import ObjectType, QueryType

from cc_backend.domain.cluster import Cluster, MetricScope, SubCluster
from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.units import Unit
from cc_backend.domain.user import Role, User
from cc_backend.services.clusters import ClusterCatalog
from cc_backend.web.graphql.context import STAFF_ROLES, Info, context_of

__all__ = ["OBJECT_TYPES", "GlobalMetric", "global_metrics", "query", "sees_restricted_metrics"]

query = QueryType()
cluster_type = ObjectType("Cluster")
subcluster_type = ObjectType("SubCluster")
metric_config_type = ObjectType("MetricConfig")
metric_value_type = ObjectType("MetricValue")
topology_type = ObjectType("Topology")


@dataclass
class GlobalMetric:
    """A metric as ``globalMetrics`` lists it: one entry per name over all clusters."""

    name: str
    unit: Unit
    scope: MetricScope
    footprint: str | None
    restrict: bool
    #: ``{"cluster", "subClusters"}`` per cluster that configures the metric.
    availability: list[dict[str, Any]] = field(default_factory=list)


def all_clusters(catalog: ClusterCatalog) -> list[Cluster]:
    """Every cluster the catalog knows, by name."""
    return [catalog.get(name) for name in catalog.names()]


def global_metrics(clusters: list[Cluster]) -> list[GlobalMetric]:
    """The metrics of ``clusters`` by name, sorted: unit, scope and restriction of the first
    cluster that configures one, the footprint statistic last set by any subcluster, and
    per cluster the subclusters where the metric is not removed."""
    found: dict[str, GlobalMetric] = {}
    for cluster in clusters:
        for metric in cluster.metrics:
            entry = found.setdefault(
                metric.name,
                GlobalMetric(
                    metric.name,
                    metric.unit,
                    metric.scope,
                    metric.footprint,
                    bool(metric.restrict),
                ),
            )
            names = []
            for sub in cluster.sub_clusters:
                resolved = metric.resolved_for(sub.name)
                if resolved is None:
                    continue
                names.append(sub.name)
                if resolved.footprint:
                    entry.footprint = resolved.footprint
            entry.availability.append({"cluster": cluster.name, "subClusters": names})
    return [found[name] for name in sorted(found)]


def sees_restricted_metrics(user: User) -> bool:
    """Whether ``user`` sees metrics marked ``restrict``: everybody but those whose highest
    role is user or manager."""
    if user.has_any_role(STAFF_ROLES):
        return True
    return not user.has_any_role((Role.USER, Role.MANAGER))


@query.field("clusters")
async def resolve_clusters(_: Any, info: Info) -> list[Cluster]:
    context = context_of(info)
    return await context.run(all_clusters, context.backends.clusters)


@query.field("globalMetrics")
async def resolve_global_metrics(_: Any, info: Info) -> list[GlobalMetric]:
    context = context_of(info)
    clusters = await context.run(all_clusters, context.backends.clusters)
    metrics = global_metrics(clusters)
    if sees_restricted_metrics(context.user):
        return metrics
    return [m for m in metrics if not m.restrict]


@query.field("allocatedNodes")
async def resolve_allocated_nodes(_: Any, info: Info, cluster: str) -> list[dict[str, Any]]:
    context = context_of(info)
    counts = await context.run(context.backends.jobs.allocated_hosts, cluster)
    return [{"name": name, "count": count} for name, count in counts.items()]


# -- the cluster types --------------------------------------------------------------------


@cluster_type.field("partitions")
async def resolve_partitions(cluster: Cluster, info: Info) -> list[str]:
    context = context_of(info)
    return await context.run(context.backends.nodes.partitions, cluster.name)


@cluster_type.field("subClusters")
def resolve_subclusters(cluster: Cluster, _info: Info) -> list[SubCluster]:
    return [cluster.resolved_subcluster(sub.name) for sub in cluster.sub_clusters]


for _graphql, _python in (
    ("processorType", "processor_type"),
    ("socketsPerNode", "sockets_per_node"),
    ("coresPerSocket", "cores_per_socket"),
    ("threadsPerCore", "threads_per_core"),
    ("flopRateScalar", "flop_rate_scalar"),
    ("flopRateSimd", "flop_rate_simd"),
    ("memoryBandwidth", "memory_bandwidth"),
    ("metricConfig", "metrics"),
):
    subcluster_type.set_alias(_graphql, _python)


@subcluster_type.field("numberOfNodes")
def resolve_number_of_nodes(sub: SubCluster, _info: Info) -> int:
    """The number of hosts the node list names; 0 for the wildcard ``*``."""
    try:
        return sub.number_of_nodes
    except InvalidInput:
        return 0


@subcluster_type.field("footprint")
def resolve_subcluster_footprint(sub: SubCluster, _info: Info) -> list[str]:
    return list(sub.footprint or [])


topology_type.set_alias("memoryDomain", "memory_domain")
metric_config_type.set_alias("lowerIsBetter", "lower_is_better")


@metric_config_type.field("aggregation")
def resolve_aggregation(metric: Any, _info: Info) -> str:
    return str(metric.aggregation.value)


@metric_config_type.field("subClusters")
def resolve_metric_subclusters(metric: Any, _info: Info) -> list[Any]:
    return list(metric.sub_clusters or [])


@metric_value_type.field("name")
def resolve_metric_value_name(_value: Any, _info: Info) -> None:
    """cluster.json gives the peak values no name."""


#: The object types of this module, for the executable schema.
OBJECT_TYPES = (
    cluster_type,
    subcluster_type,
    metric_config_type,
    metric_value_type,
    topology_type,
)
