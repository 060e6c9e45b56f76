"""Scope selection: which metric-store queries load a job's metrics at the requested scopes.

A metric is measured at its *native* scope (``cluster.json``: ``scope``). A request names
the scopes a client wants; the scope a metric is delivered at is the coarser of the two
(``MetricScope.granularity``): data is never made finer than it was measured. A coarser
scope is served by aggregating native series (``aggregate=True``) over a list of ids.
Accelerator metrics are delivered per accelerator or per node, never at a CPU scope.

:func:`build_queries` follows cc-backend's query building for cc-metric-store, with these
deliberate differences, each where cc-backend's result is accidental:

- ids come in topology order (cc-backend's order follows Go map iteration, i.e. random);
- a host whose ``hwthreads`` list is empty is treated like one without a list (the whole
  node), not as a query that names no thread;
- a core-native metric aggregated to sockets asks, per socket of the job, for the cores of
  that socket (cc-backend reads the job's hardware-thread ids as core ids there, and lists
  hardware-thread ids under ``type: core``);
- accelerator queries are issued only for hosts that list accelerators (cc-backend also
  sends one naming no accelerator when the job has accelerators on other hosts);
- a hardware-thread metric asked per core, where each core of the job holds a single
  hardware thread (no SMT), is one query per host listing those threads, not aggregated,
  its series labelled with the core ids (cc-backend sends one aggregated query per core
  and thread: the same data, many more queries).

Like cc-backend, it raises for the transformations it cannot serve: a ``memoryDomain``
request for a metric measured per hardware thread or per core.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cc_backend.domain.cluster import Cluster, MetricScope, Topology
from cc_backend.domain.errors import InvalidInput, NotFound
from cc_backend.domain.job import Resource

__all__ = ["ScopeQuery", "build_queries", "delivered_scope"]

log = logging.getLogger(__name__)

_NODE = MetricScope.NODE
_SOCKET = MetricScope.SOCKET
_MEMORY_DOMAIN = MetricScope.MEMORY_DOMAIN
_CORE = MetricScope.CORE
_HWTHREAD = MetricScope.HWTHREAD
_ACCELERATOR = MetricScope.ACCELERATOR


@dataclass(frozen=True, slots=True)
class ScopeQuery:
    """One metric-store query and the scope its result has.

    ``type`` is the native scope of the ids in ``type_ids`` (None for a plain node
    query, which names no ids). With ``aggregate`` the store combines the series of all
    ids into one (by the metric's ``aggregation``); without it, it returns one series per
    id, in ``type_ids`` order. ``scope`` is the scope of the resulting series.

    ``result_ids`` gives the id at ``scope`` of each series the store returns, in order
    (``None`` for a node-scope series). Left empty, it is derived: the type ids for a query
    that is not aggregated, ``(None,)`` for one series. ValueError if it does not name one
    id per returned series.
    """

    metric: str
    hostname: str
    scope: MetricScope
    type: MetricScope | None = None
    type_ids: tuple[str, ...] = field(default=())
    aggregate: bool = False
    result_ids: tuple[str | None, ...] = field(default=())

    def __post_init__(self) -> None:
        one = self.aggregate or not self.type_ids
        if not self.result_ids:
            object.__setattr__(self, "result_ids", (None,) if one else self.type_ids)
        returned = 1 if one else len(self.type_ids)
        if len(self.result_ids) != returned:
            raise ValueError(
                f"{len(self.result_ids)} result ids for a query that returns {returned} series"
            )

    @property
    def series_ids(self) -> tuple[str | None, ...]:
        """The id of each series the store returns for this query, in order."""
        return self.result_ids

    def to_json(self, resolution: int = 0) -> dict[str, Any]:
        """The query as cc-metric-store's ``/api/query`` expects it in ``queries[]``.

        ``type`` and ``type-ids`` are left out when unset, as cc-backend sends them;
        ``resolution`` 0 asks for the native resolution.
        """
        query: dict[str, Any] = {
            "metric": self.metric,
            "host": self.hostname,
            "aggreg": self.aggregate,
        }
        if self.type is not None:
            query["type"] = str(self.type)
        if self.type_ids:
            query["type-ids"] = list(self.type_ids)
        query["resolution"] = resolution
        return query


def delivered_scope(native: MetricScope, requested: MetricScope) -> MetricScope:
    """The scope a metric measured at ``native`` is delivered at when ``requested``.

    The coarser of the two; accelerator counts as finer than every CPU scope, so a CPU
    metric asked for at accelerator scope comes at its native scope.
    """
    return native if native.is_coarser_than(requested) else requested


def build_queries(
    resources: Sequence[Resource],
    cluster: Cluster,
    subcluster: str,
    metrics: Iterable[str] | None = None,
    scopes: Iterable[MetricScope | str] | None = None,
) -> list[ScopeQuery]:
    """The queries that load ``metrics`` at ``scopes`` for a job on ``resources``.

    ``metrics`` defaults to every metric of the subcluster, ``scopes`` to node scope.
    Queries come metric by metric (in the given order), then scope by scope, then host
    by host. A requested scope that resolves to a scope already served for the metric
    adds nothing. Metrics removed for the subcluster are skipped silently; metrics the
    cluster does not know are skipped with a warning in the log (as cc-backend does).

    Raises NotFound for an unknown subcluster and InvalidInput when the job has no
    resources, a scope is unknown, or a requested scope cannot be derived from a
    metric's native scope.
    """
    if not resources:
        raise InvalidInput("the job has no resources to query metrics for")
    topology = cluster.subcluster(subcluster).topology
    wanted_scopes = _parse_scopes(scopes) if scopes is not None else [_NODE]
    names = list(metrics) if metrics is not None else _all_metrics(cluster, subcluster)

    queries: list[ScopeQuery] = []
    for name in names:
        native = _native_scope(cluster, subcluster, name)
        if native is None:
            continue
        served: set[MetricScope] = set()
        for requested in wanted_scopes:
            scope = delivered_scope(native, requested)
            if scope in served:
                continue
            served.add(scope)
            for host in resources:
                queries.extend(_host_queries(name, native, scope, host, topology))
    return queries


def _parse_scopes(scopes: Iterable[MetricScope | str]) -> list[MetricScope]:
    parsed = []
    for scope in scopes:
        try:
            parsed.append(MetricScope(scope))
        except ValueError:
            known = ", ".join(s.value for s in MetricScope)
            raise InvalidInput(f"unknown metric scope {scope!r} (known: {known})") from None
    return parsed


def _all_metrics(cluster: Cluster, subcluster: str) -> list[str]:
    return [mc.name for mc in cluster.metrics_for(subcluster)]


def _native_scope(cluster: Cluster, subcluster: str, metric: str) -> MetricScope | None:
    """The metric's native scope on ``subcluster``; None if it is not available there."""
    try:
        return cluster.metric_config(subcluster, metric).scope
    except NotFound:
        if not any(mc.name == metric for mc in cluster.metrics):
            log.warning("metric %r is not configured for cluster %r", metric, cluster.name)
        return None


def _ids(values: Iterable[int]) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


def _host_queries(
    metric: str, native: MetricScope, scope: MetricScope, host: Resource, topology: Topology
) -> list[ScopeQuery]:
    """The queries for one host; ``scope`` is already the delivered scope."""
    if native is _ACCELERATOR:
        return _accelerator_queries(metric, scope, host)
    hwthreads = host.hwthreads or topology.node

    def query(
        kind: MetricScope | None,
        ids: Iterable[int] = (),
        *,
        aggregate: bool,
        results: Iterable[int] = (),
    ) -> ScopeQuery:
        return ScopeQuery(metric, host.hostname, scope, kind, _ids(ids), aggregate, _ids(results))

    if native is scope:
        if native is _NODE:
            return [query(None, aggregate=False)]
        return [query(native, _native_ids(native, hwthreads, topology), aggregate=False)]
    if scope is _NODE:
        return [query(native, _native_ids(native, hwthreads, topology), aggregate=True)]
    if scope is _SOCKET:
        groups = _socket_groups(native, hwthreads, topology, host.hostname, metric)
        return [query(native, ids, aggregate=True, results=[s]) for s, ids in groups]
    if native is _HWTHREAD and scope is _CORE:
        cores, _ = topology.cores_of(hwthreads)
        core_lists = topology.core or []
        if cores and all(len(core_lists[c]) == 1 for c in cores):
            # A core's series is its only thread's: one query lists them all.
            threads = [core_lists[c][0] for c in cores]
            return [query(_HWTHREAD, threads, aggregate=False, results=cores)]
        return [query(_HWTHREAD, core_lists[c], aggregate=True, results=[c]) for c in cores]
    raise InvalidInput(
        f"metric {metric!r} is measured per {native} and cannot be delivered per {scope}"
    )


def _accelerator_queries(metric: str, scope: MetricScope, host: Resource) -> list[ScopeQuery]:
    """Accelerator metrics: per accelerator, or summed up per node; nothing at CPU scopes."""
    accelerators = tuple(host.accelerators or ())
    if not accelerators or scope not in (_ACCELERATOR, _NODE):
        return []
    aggregate = scope is _NODE
    return [ScopeQuery(metric, host.hostname, scope, _ACCELERATOR, accelerators, aggregate)]


def _native_ids(native: MetricScope, hwthreads: Sequence[int], topology: Topology) -> list[int]:
    """The ids, at the native scope, of the units that hold the job's hardware threads."""
    if native is _HWTHREAD:
        return list(hwthreads)
    if native is _CORE:
        return topology.cores_of(hwthreads)[0]
    if native is _MEMORY_DOMAIN:
        return topology.memory_domains_of(hwthreads)[0]
    if native is _SOCKET:
        return topology.sockets_of(hwthreads)[0]
    raise InvalidInput(f"scope {native} has no ids below node level")  # pragma: no cover


def _socket_groups(
    native: MetricScope, hwthreads: Sequence[int], topology: Topology, host: str, metric: str
) -> list[tuple[int, list[int]]]:
    """Per socket of the job: the socket and the native ids to aggregate into its series."""
    if native is _HWTHREAD:
        sockets, _ = topology.sockets_of(hwthreads)
        return [(s, topology.socket[s]) for s in sockets]
    if native is _CORE:
        cores, _ = topology.cores_of(hwthreads)
        sockets, _ = topology.sockets_of_cores(cores)
        return [(s, _cores_in_socket(topology, s)) for s in sockets]
    if native is _MEMORY_DOMAIN:
        domains, _ = topology.memory_domains_of(hwthreads)
        by_socket = _domains_by_socket(topology, domains)
        if by_socket is None:
            log.error("host %s: memory domains of %r not within sockets", host, metric)
            return []
        return [(s, by_socket[s]) for s in sorted(by_socket)]
    raise InvalidInput(  # pragma: no cover - socket and node never reach here
        f"metric {metric!r} is measured per {native} and cannot be delivered per socket"
    )


def _cores_in_socket(topology: Topology, socket: int) -> list[int]:
    threads = set(topology.socket[socket])
    return [c for c, members in enumerate(topology.core or []) if threads.intersection(members)]


def _domains_by_socket(topology: Topology, domains: Iterable[int]) -> dict[int, list[int]] | None:
    """Memory domains grouped by the socket of their first hardware thread (None if one
    has no thread or its first thread is in no socket)."""
    socket_of = {t: s for s, members in enumerate(topology.socket) for t in members}
    grouped: dict[int, list[int]] = {}
    for domain in domains:
        members = topology.memory_domain[domain]
        if not members or members[0] not in socket_of:
            return None
        grouped.setdefault(socket_of[members[0]], []).append(domain)
    return grouped
