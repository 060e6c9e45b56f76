"""The built-in metric store: line-protocol ingestion, in-memory series, queries in
cc-metric-store's format, retention and checkpoints.

Typical use (the composition root builds one store per process)::

    store = MetricStore.open(clusters, config.metric_store)   # restores checkpoints
    result = store.ingest(body, cluster="fritz")              # IngestResult
    answer = store.query(ApiQueryRequest.from_json(body)).to_json()
    store.checkpoint()                                        # periodically and at exit
    store.apply_retention()                                   # periodically
"""

from cc_backend.metricstore.catalog import Catalog, MetricInfo
from cc_backend.metricstore.keys import SeriesKey, format_line
from cc_backend.metricstore.lineprotocol import (
    LineError,
    LineProtocolParser,
    ParsedLines,
    Precision,
)
from cc_backend.metricstore.models import (
    ApiMetricData,
    ApiQuery,
    ApiQueryRequest,
    ApiQueryResponse,
    HealthReport,
    HealthStatus,
    IngestResult,
    RestoreReport,
)
from cc_backend.metricstore.resample import Resampler, average
from cc_backend.metricstore.store import MetricStore

__all__ = [
    "ApiMetricData",
    "ApiQuery",
    "ApiQueryRequest",
    "ApiQueryResponse",
    "Catalog",
    "HealthReport",
    "HealthStatus",
    "IngestResult",
    "LineError",
    "LineProtocolParser",
    "MetricInfo",
    "MetricStore",
    "ParsedLines",
    "Precision",
    "Resampler",
    "RestoreReport",
    "SeriesKey",
    "average",
    "format_line",
]
