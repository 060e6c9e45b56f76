"""The GraphQL shapes the HTTP client asks for, and their conversion to domain objects.

The API's ``Job`` and ``Cluster`` types differ a little from the domain's JSON (times as
RFC 3339 text, footprints as lists, subclusters with their metric configuration already
resolved); the functions here turn them back into :class:`Job`, :class:`Cluster` and
:class:`JobData`, so that both clients hand out the same types.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import numpy as np

from cc_backend.domain.cluster import Cluster
from cc_backend.domain.errors import (
    AlreadyExists,
    BackendUnavailable,
    CCError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData
from cc_backend.domain.units import Unit
from cc_backend.repository.nodes import HealthState, SchedulerState, StatesOverTime
from cc_backend.services.cluster_status import ClusterMetric, ClusterMetrics
from cc_backend.services.node_overview import NodeMetrics, NodeMetricsPage, NodeReport
from cc_backend.stats.statistics_results import (
    Footprints,
    JobStats,
    MetricFootprints,
    MetricStatistics,
    NamedStats,
    TimeWeights,
)

__all__ = [
    "CLUSTER_FIELDS",
    "FOOTPRINTS_FIELDS",
    "JOB_FIELDS",
    "JOB_STATS_FIELDS",
    "ROOFLINE_HEATMAP_QUERY",
    "cluster_from_graphql",
    "error_from_graphql",
    "footprints_from_graphql",
    "job_data_from_graphql",
    "job_from_graphql",
    "job_stats_from_graphql",
]

#: The fields of a ``Job`` the client reads.
JOB_FIELDS = """
  id jobId user project cluster subCluster partition arrayJobId
  startTime duration walltime numNodes numHWThreads numAcc energy SMT shared
  monitoringStatus state metaData
  resources { hostname hwthreads accelerators configuration }
  tags { id type name scope }
  footprint { name stat value }
  energyFootprint { metric value }
"""

_UNIT = "unit { base prefix }"
_METRIC_CONFIG = f"""
  name {_UNIT} scope aggregation timestep peak normal caution alert lowerIsBetter
"""
#: The fields of a ``Cluster`` the client reads.
CLUSTER_FIELDS = f"""
  name
  subClusters {{
    name nodes processorType socketsPerNode coresPerSocket threadsPerCore
    flopRateScalar {{ {_UNIT} value }}
    flopRateSimd {{ {_UNIT} value }}
    memoryBandwidth {{ {_UNIT} value }}
    topology {{ node socket memoryDomain die core accelerators {{ id type model }} }}
    metricConfig {{ {_METRIC_CONFIG} }}
    footprint
  }}
"""

_ERRORS: dict[str, type[CCError]] = {
    "NOT_FOUND": NotFound,
    "FORBIDDEN": PermissionDenied,
    "BAD_USER_INPUT": InvalidInput,
    "GRAPHQL_VALIDATION_FAILED": InvalidInput,
    "GRAPHQL_PARSE_FAILED": InvalidInput,
    "UNAUTHENTICATED": Unauthenticated,
    "ALREADY_EXISTS": AlreadyExists,
    "CONFLICT": Conflict,
    "BACKEND_UNAVAILABLE": BackendUnavailable,
}


def error_from_graphql(errors: list[dict[str, Any]]) -> CCError:
    """The domain error for the first of a response's ``errors``."""
    first = errors[0] if errors else {}
    code = str((first.get("extensions") or {}).get("code", ""))
    message = str(first.get("message") or "the server reported an error")
    if code == "NOT_SUPPORTED":
        from cc_backend.client.base import NotSupported  # noqa: PLC0415 - no import cycle

        return NotSupported(message)
    return _ERRORS.get(code, CCError)(message)


def _unix(value: Any) -> int:
    if isinstance(value, int | float):
        return int(value)
    return int(datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp())


def job_from_graphql(data: dict[str, Any]) -> Job:
    """A :class:`Job` from the API's ``Job`` object (with :data:`JOB_FIELDS`)."""
    footprint = data.get("footprint")
    energy = data.get("energyFootprint")
    fields: dict[str, Any] = {
        "id": int(data["id"]),
        "jobId": data["jobId"],
        "user": data["user"],
        "project": data["project"],
        "cluster": data["cluster"],
        "subCluster": data.get("subCluster") or "",
        "partition": data.get("partition") or "",
        "arrayJobId": data.get("arrayJobId") or 0,
        "startTime": _unix(data["startTime"]),
        "duration": data.get("duration") or 0,
        "walltime": data.get("walltime") or 0,
        "numNodes": data["numNodes"],
        "numHwthreads": data.get("numHWThreads") or 0,
        "numAcc": data.get("numAcc") or 0,
        "energy": data.get("energy") or 0.0,
        "smt": data.get("SMT") or 0,
        "shared": data.get("shared") or "none",
        "monitoringStatus": data.get("monitoringStatus", 1),
        "jobState": data["state"],
        "metaData": data.get("metaData"),
        "resources": data["resources"],
        "tags": data.get("tags") or None,
        "footprint": (
            {f"{e['name']}_{e['stat']}": e["value"] for e in footprint} if footprint else None
        ),
        "energyFootprint": {e["metric"]: e["value"] for e in energy} if energy else None,
    }
    return Job.model_validate(fields)


def job_data_from_graphql(entries: list[dict[str, Any]]) -> JobData:
    """:class:`JobData` from the API's ``jobMetrics`` list (``{name, scope, metric}``)."""
    document: dict[str, dict[str, Any]] = {}
    for entry in entries:
        metric = dict(entry["metric"])
        if metric.get("statisticsSeries") is None:
            metric.pop("statisticsSeries", None)
        document.setdefault(entry["name"], {})[entry["scope"]] = metric
    return JobData.from_json(document)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def cluster_from_graphql(data: dict[str, Any]) -> Cluster:
    """A :class:`Cluster` from the API's ``Cluster`` object (with :data:`CLUSTER_FIELDS`).

    The API gives each subcluster its metric configuration with the overrides applied;
    those lists become the subclusters' own ``metricConfig``, and the cluster-wide list
    takes each metric from the first subcluster that has it (removed for the subclusters
    that do not list it), so ``metrics_for(subcluster)`` is as on the server. Which
    statistic a metric contributes to the footprint is not part of the API, only the
    subclusters' footprint metric names are.
    """
    subclusters = [_without_nulls(sub) for sub in data["subClusters"]]
    metrics: dict[str, dict[str, Any]] = {}
    for sub in subclusters:
        for metric in sub.get("metricConfig") or []:
            metrics.setdefault(metric["name"], dict(metric))
    for name, metric in metrics.items():  # hidden where a subcluster does not list it
        metric["subClusters"] = [
            {"name": sub["name"], "remove": True}
            for sub in subclusters
            if name not in {m["name"] for m in sub.get("metricConfig") or []}
        ]
    return Cluster.from_json(
        {"name": data["name"], "metricConfig": list(metrics.values()), "subClusters": subclusters}
    )


#: The fields of a ``JobStats`` (``jobsMetricStats``) the client reads.
JOB_STATS_FIELDS = """
  id jobId startTime duration cluster subCluster numNodes numHWThreads numAccelerators
  stats { name data { avg min max } }
"""


def job_stats_from_graphql(data: dict[str, Any]) -> JobStats:
    """:class:`JobStats` from the API's ``JobStats`` object (with :data:`JOB_STATS_FIELDS`);
    the optional counts read 0 when the API leaves them out."""
    return JobStats(
        id=int(data["id"]),
        job_id=str(data["jobId"]),
        start_time=int(data["startTime"]),
        duration=int(data["duration"]),
        cluster=str(data["cluster"]),
        sub_cluster=str(data.get("subCluster") or ""),
        num_nodes=int(data["numNodes"]),
        num_hwthreads=int(data.get("numHWThreads") or 0),
        num_accelerators=int(data.get("numAccelerators") or 0),
        stats=tuple(
            NamedStats(
                str(s["name"]),
                MetricStatistics(
                    avg=float(s["data"]["avg"]),
                    min=float(s["data"]["min"]),
                    max=float(s["data"]["max"]),
                ),
            )
            for s in data.get("stats") or []
        ),
    )


#: The fields of ``Footprints`` (``jobsFootprints``) the client reads.
FOOTPRINTS_FIELDS = "timeWeights { nodeHours accHours coreHours } metrics { metric data }"


def _nan_floats(values: list[Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """A float array of the API's ``[NullableFloat!]`` (null becomes NaN)."""
    return np.array(values, dtype=np.float64)


def footprints_from_graphql(data: dict[str, Any]) -> Footprints:
    """:class:`Footprints` from the API's ``Footprints`` (with :data:`FOOTPRINTS_FIELDS`)."""
    weights = data["timeWeights"]
    return Footprints(
        TimeWeights(
            node_hours=_nan_floats(weights["nodeHours"]),
            acc_hours=_nan_floats(weights["accHours"]),
            core_hours=_nan_floats(weights["coreHours"]),
        ),
        tuple(MetricFootprints(str(m["metric"]), _nan_floats(m["data"])) for m in data["metrics"]),
    )


#: ``rooflineHeatmap``: node time steps per tile of a grid (``[[Float!]!]!``).
ROOFLINE_HEATMAP_QUERY = """
query ($filter: [JobFilter!]!, $rows: Int!, $cols: Int!,
       $minX: Float!, $minY: Float!, $maxX: Float!, $maxY: Float!) {
  rooflineHeatmap(filter: $filter, rows: $rows, cols: $cols,
                  minX: $minX, minY: $minY, maxX: $maxX, maxY: $maxY)
}"""


# -- cluster status ----------------------------------------------------------------------

#: ``nodeStatesTimed`` of one cluster after a time.
NODE_STATES_TIMED_QUERY = """
query ($filter: [NodeFilter!], $type: String!) {
  nodeStatesTimed(filter: $filter, type: $type) { state counts times }
}"""
#: ``nodeMetrics`` at node scope.
NODE_METRICS_QUERY = """
query ($cluster: String!, $nodes: [String!], $metrics: [String!], $scopes: [MetricScope!],
       $from: Time!, $to: Time!) {
  nodeMetrics(cluster: $cluster, nodes: $nodes, metrics: $metrics, scopes: $scopes,
              from: $from, to: $to) {
    host
    metrics {
      name scope
      metric {
        unit { base prefix } timestep
        series { hostname id statistics { avg min max } data }
      }
    }
  }
}"""
#: ``clusterMetrics``.
CLUSTER_METRICS_QUERY = """
query ($cluster: String!, $metrics: [String!], $from: Time!, $to: Time!) {
  clusterMetrics(cluster: $cluster, metrics: $metrics, from: $from, to: $to) {
    nodeCount metrics { name unit { base prefix } timestep data }
  }
}"""
#: ``allocatedNodes``.
ALLOCATED_NODES_QUERY = """
query ($cluster: String!) { allocatedNodes(cluster: $cluster) { name count } }"""


def states_timed_from_graphql(entries: list[dict[str, Any]]) -> list[StatesOverTime]:
    """:class:`StatesOverTime` from the API's ``nodeStatesTimed`` list."""
    return [
        StatesOverTime(str(e["state"]), [int(t) for t in e["times"]], [int(c) for c in e["counts"]])
        for e in entries
    ]


def node_data_from_graphql(entries: list[dict[str, Any]]) -> dict[str, JobData]:
    """Host -> :class:`JobData` from the API's ``nodeMetrics`` list."""
    return {str(e["host"]): job_data_from_graphql(e["metrics"]) for e in entries}


def cluster_metrics_from_graphql(data: dict[str, Any]) -> ClusterMetrics:
    """:class:`ClusterMetrics` from the API's ``ClusterMetrics`` (``null`` samples: NaN)."""
    return ClusterMetrics(
        int(data["nodeCount"]),
        [
            ClusterMetric(
                str(m["name"]),
                Unit.model_validate(m.get("unit") or {"base": ""}),
                int(m["timestep"]),
                np.array([math.nan if v is None else float(v) for v in m["data"]], dtype=float),
            )
            for m in data["metrics"]
        ],
    )


# -- systems and node views ------------------------------------------------------------

#: ``nodeMetricsList``: one page of a node list at node scope.
NODE_LIST_QUERY = """
query ($cluster: String!, $subCluster: String!, $stateFilter: String!, $nodeFilter: String!,
       $metrics: [String!], $from: Time!, $to: Time!, $page: PageRequest, $resolution: Int) {
  nodeMetricsList(cluster: $cluster, subCluster: $subCluster, stateFilter: $stateFilter,
                  nodeFilter: $nodeFilter, scopes: ["node"], metrics: $metrics, from: $from,
                  to: $to, page: $page, resolution: $resolution) {
    items {
      host state subCluster
      metrics {
        name scope
        metric {
          unit { base prefix } timestep
          series { hostname id statistics { avg min max } data }
        }
      }
    }
    totalNodes hasNextPage
  }
}"""
#: ``nodes``: the latest report of the nodes a filter selects.
NODE_REPORTS_QUERY = """
query ($filter: [NodeFilter!]) {
  nodes(filter: $filter) {
    items {
      hostname cluster subCluster schedulerState healthState
      cpusAllocated memoryAllocated gpusAllocated jobsRunning
    }
  }
}"""


def node_page_from_graphql(data: dict[str, Any]) -> NodeMetricsPage:
    """:class:`NodeMetricsPage` from the API's ``NodesResultList``."""
    items = [
        NodeMetrics(
            str(e["host"]),
            str(e.get("state") or ""),
            str(e.get("subCluster") or ""),
            job_data_from_graphql(e["metrics"]),
        )
        for e in data["items"]
    ]
    return NodeMetricsPage(items, int(data.get("totalNodes") or 0), bool(data.get("hasNextPage")))


def node_report_from_graphql(data: dict[str, Any]) -> NodeReport:
    """:class:`NodeReport` from the API's ``Node`` (allocations left out read 0)."""
    return NodeReport(
        hostname=str(data["hostname"]),
        cluster=str(data["cluster"]),
        subcluster=str(data.get("subCluster") or ""),
        node_state=SchedulerState(data["schedulerState"]),
        health_state=HealthState(data["healthState"]),
        cpus_allocated=int(data.get("cpusAllocated") or 0),
        memory_allocated=int(data.get("memoryAllocated") or 0),
        gpus_allocated=int(data.get("gpusAllocated") or 0),
        jobs_running=int(data.get("jobsRunning") or 0),
    )
