"""What the metric store accepts: the clusters and, per cluster, each metric's time step and
aggregation, taken from the clusters' ``cluster.json`` descriptions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cc_backend.domain.cluster import Aggregation, Cluster
from cc_backend.domain.errors import CCError

__all__ = ["Catalog", "MetricInfo"]


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """How the store keeps one metric of one cluster."""

    name: str
    #: Seconds between two samples (the metric's ``timestep``).
    frequency: int
    #: How the values of finer scopes combine when a coarser scope is asked for.
    aggregation: Aggregation


class Catalog:
    """The clusters and metrics the store knows, looked up by name.

    A metric is known to a cluster if the cluster's ``metricConfig`` or the ``metricConfig``
    of one of its subclusters lists it; the cluster-wide entry wins when both do.
    """

    def __init__(self, clusters: Iterable[Cluster]) -> None:
        self._clusters: dict[str, Cluster] = {}
        self._metrics: dict[str, dict[str, MetricInfo]] = {}
        for cluster in clusters:
            self._clusters[cluster.name] = cluster
            metrics: dict[str, MetricInfo] = {}
            configs = [*cluster.metrics]
            for sub in cluster.sub_clusters:
                configs.extend(sub.metrics or ())
            for mc in configs:
                metrics.setdefault(mc.name, MetricInfo(mc.name, mc.timestep, mc.aggregation))
            self._metrics[cluster.name] = metrics

    @property
    def clusters(self) -> list[str]:
        """Names of the known clusters, in the order given."""
        return list(self._clusters)

    def cluster(self, name: str) -> Cluster | None:
        """The description of cluster ``name`` (None if unknown)."""
        return self._clusters.get(name)

    def metrics(self, cluster: str) -> Mapping[str, MetricInfo]:
        """The metrics of ``cluster`` by name (empty if the cluster is unknown)."""
        return self._metrics.get(cluster, {})

    def metric(self, cluster: str, metric: str) -> MetricInfo | None:
        """Metric ``metric`` of ``cluster`` (None if either is unknown)."""
        return self._metrics.get(cluster, {}).get(metric)

    def expected_metrics(self, cluster: str, host: str) -> list[str]:
        """The metrics ``host`` should report: those of its subcluster, removed ones left out.

        Falls back to every metric of the cluster when no subcluster lists the host.
        """
        description = self._clusters.get(cluster)
        if description is None:
            return []
        try:
            subcluster = description.subcluster_of(host)
        except CCError:
            return list(self._metrics[cluster])
        return [mc.name for mc in description.metrics_for(subcluster.name)]
