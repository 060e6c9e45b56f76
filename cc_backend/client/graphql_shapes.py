"""The GraphQL shapes the HTTP client asks for, and their conversion to domain objects.

The API's ``Job`` and ``Cluster`` types differ a little from the domain's JSON (times as
RFC 3339 text, footprints as lists, subclusters with their metric configuration already
resolved); the functions here turn them back into :class:`Job`, :class:`Cluster` and
:class:`JobData`, so that both clients hand out the same types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

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

__all__ = [
    "CLUSTER_FIELDS",
    "JOB_FIELDS",
    "cluster_from_graphql",
    "error_from_graphql",
    "job_data_from_graphql",
    "job_from_graphql",
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
