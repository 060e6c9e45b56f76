"""Cluster descriptions: the content of a job archive's ``cluster.json``.

Reading and writing keep the file's shape: ``Cluster.from_json(x).to_json()`` gives back
JSON equal to ``x``. Everything cc-backend derives at start-up (the metric list of each
subcluster after applying the per-subcluster overrides, the footprint and energy metric
lists) is computed on demand by :class:`Cluster` instead of being stored in the models.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

import orjson
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError
from pydantic.alias_generators import to_camel

from cc_backend.domain.errors import InvalidInput, NotFound
from cc_backend.domain.hostlist import WILDCARD, HostList
from cc_backend.domain.units import Unit

__all__ = [
    "Accelerator",
    "Aggregation",
    "Cluster",
    "EnergyKind",
    "FootprintStat",
    "MetricConfig",
    "MetricScope",
    "MetricValue",
    "SubCluster",
    "SubClusterConfig",
    "Topology",
]


class MetricScope(StrEnum):
    """The resolution a metric is measured or aggregated at."""

    NODE = "node"
    SOCKET = "socket"
    MEMORY_DOMAIN = "memoryDomain"
    CORE = "core"
    HWTHREAD = "hwthread"
    ACCELERATOR = "accelerator"

    @property
    def granularity(self) -> int:
        """cc-lib's ordering value: larger is coarser (node 10 ... accelerator 1).

        Accelerator ranks below hwthread because it cannot be derived from any CPU scope.
        """
        return _GRANULARITY[self]

    def is_finer_than(self, other: MetricScope) -> bool:
        """True if this scope is strictly finer than ``other`` (hwthread < core < node)."""
        return self.granularity < other.granularity

    def is_coarser_than(self, other: MetricScope) -> bool:
        """True if this scope is strictly coarser than ``other``."""
        return self.granularity > other.granularity

    @staticmethod
    def coarsest(scopes: Iterable[MetricScope]) -> MetricScope:
        """The coarsest of ``scopes`` (InvalidInput if there are none)."""
        try:
            return max(scopes, key=lambda scope: scope.granularity)
        except ValueError:
            raise InvalidInput("no metric scopes given") from None


_GRANULARITY = {
    MetricScope.NODE: 10,
    MetricScope.SOCKET: 5,
    MetricScope.MEMORY_DOMAIN: 4,
    MetricScope.CORE: 3,
    MetricScope.HWTHREAD: 2,
    MetricScope.ACCELERATOR: 1,
}


class Aggregation(StrEnum):
    """How values of finer scopes combine into a coarser one."""

    SUM = "sum"
    AVG = "avg"


def _empty_to_none(value: Any) -> Any:
    """cc-backend writes unset strings as ``""``; read them as absent."""
    return None if value == "" else value


#: Which per-job statistic a footprint metric contributes.
FootprintStat = Literal["avg", "min", "max"]
#: Whether an energy metric measures power (W) or energy (J).
EnergyKind = Literal["power", "energy"]
_OptionalFootprint = Annotated[FootprintStat | None, BeforeValidator(_empty_to_none)]
_OptionalEnergy = Annotated[EnergyKind | None, BeforeValidator(_empty_to_none)]
#: Accelerator kinds the schema knows.
AcceleratorType = Literal["Nvidia GPU", "AMD GPU", "Intel GPU"]


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class Accelerator(_Model):
    """One accelerator device of a node."""

    id: str
    type: AcceleratorType
    model: str


def _groups_of(groups: list[list[int]], members: Iterable[int]) -> tuple[list[int], bool]:
    """Indices of ``groups`` that share a member with ``members``, and whether all such
    groups are fully covered by ``members``."""
    wanted = set(members)
    hit = [i for i, group in enumerate(groups) if wanted.intersection(group)]
    return hit, all(wanted.issuperset(groups[i]) for i in hit)


class Topology(_Model):
    """Hardware-thread ids of a node, grouped by socket, memory domain, die and core."""

    node: list[int]
    socket: list[list[int]]
    memory_domain: list[list[int]]
    die: list[list[int]] | None = None
    core: list[list[int]] | None = None
    accelerators: list[Accelerator] | None = None

    def sockets_of(self, hwthreads: Iterable[int]) -> tuple[list[int], bool]:
        """Sockets holding any of ``hwthreads``; True if all their threads are included."""
        return _groups_of(self.socket, hwthreads)

    def memory_domains_of(self, hwthreads: Iterable[int]) -> tuple[list[int], bool]:
        """Memory domains holding any of ``hwthreads``, and whether they are exclusive."""
        return _groups_of(self.memory_domain, hwthreads)

    def cores_of(self, hwthreads: Iterable[int]) -> tuple[list[int], bool]:
        """Cores holding any of ``hwthreads``, and whether they are exclusive."""
        return _groups_of(self.core or [], hwthreads)

    def sockets_of_cores(self, cores: Iterable[int]) -> tuple[list[int], bool]:
        """Sockets holding any of ``cores``; True if every core of them is included."""
        all_cores = self.core or []
        threads = [t for c in cores if 0 <= c < len(all_cores) for t in all_cores[c]]
        return self.sockets_of(threads)

    def hwthreads_of(self, scope: MetricScope, ids: Iterable[int]) -> list[int]:
        """The hardware threads of the given node (id 0), socket, memory-domain, core or
        hardware-thread ids (NotFound for ids the topology lacks)."""
        lists = {
            MetricScope.NODE: [self.node],
            MetricScope.SOCKET: self.socket,
            MetricScope.MEMORY_DOMAIN: self.memory_domain,
            MetricScope.CORE: self.core or [],
        }
        if scope is MetricScope.HWTHREAD:
            groups = {t: [t] for t in self.node}
        elif scope in lists:
            groups = dict(enumerate(lists[scope]))
        else:
            raise InvalidInput(f"scope {scope} has no hardware threads")
        wanted = set(ids)
        missing = sorted(wanted.difference(groups))
        if missing:
            raise NotFound(f"no {scope} with id {missing} in this topology")
        return sorted({t for i in wanted for t in groups[i]})

    def accelerator_ids(self) -> list[str]:
        """The ids of all accelerators, in topology order."""
        return [acc.id for acc in self.accelerators or []]

    def accelerator_id(self, index: int) -> str:
        """The id of the accelerator at position ``index``."""
        ids = self.accelerator_ids()
        if not 0 <= index < len(ids):
            raise NotFound(f"accelerator index {index} out of range ({len(ids)} present)")
        return ids[index]


class MetricValue(_Model):
    """A number with its unit, e.g. a node's peak memory bandwidth."""

    unit: Unit
    value: float


class SubClusterConfig(_Model):
    """A metric's override for one subcluster (an entry of ``metricConfig[].subClusters``).

    When a subcluster has an override, cc-backend replaces the metric's thresholds,
    ``footprint``, ``energy`` and ``lowerIsBetter`` with the override's values as a whole;
    fields the override leaves out become 0, unset and false. ``remove`` hides the
    metric for that subcluster. ``unit`` and ``restrict`` are kept but not applied.
    """

    name: str
    unit: Unit | None = None
    peak: float | None = None
    normal: float | None = None
    caution: float | None = None
    alert: float | None = None
    footprint: _OptionalFootprint = None
    energy: _OptionalEnergy = None
    lower_is_better: bool | None = None
    restrict: bool | None = None
    remove: bool | None = None


def _node_scope_if_empty(value: Any) -> Any:
    return MetricScope.NODE if value in ("", None) else value


class MetricConfig(_Model):
    """A metric of a cluster: unit, native scope, thresholds, footprint/energy role."""

    name: str = Field(min_length=1)
    unit: Unit
    scope: Annotated[MetricScope, BeforeValidator(_node_scope_if_empty)] = MetricScope.NODE
    aggregation: Aggregation
    timestep: int = Field(ge=1)
    peak: float
    normal: float
    caution: float
    alert: float
    footprint: _OptionalFootprint = None
    energy: _OptionalEnergy = None
    lower_is_better: bool | None = None
    restrict: bool | None = None
    sub_clusters: list[SubClusterConfig] | None = None

    @property
    def footprint_key(self) -> str | None:
        """The job footprint key of this metric, e.g. ``mem_used_max`` (None if none)."""
        return f"{self.name}_{self.footprint}" if self.footprint else None

    def override_for(self, subcluster: str) -> SubClusterConfig | None:
        """The override entry for ``subcluster`` (the last one if listed twice)."""
        found = None
        for entry in self.sub_clusters or ():
            if entry.name == subcluster:
                found = entry
        return found

    def resolved_for(self, subcluster: str) -> MetricConfig | None:
        """This metric as it applies to ``subcluster``, or None if removed there."""
        override = self.override_for(subcluster)
        if override is None:
            return self.model_copy(update={"sub_clusters": None})
        if override.remove:
            return None
        return self.model_copy(
            update={
                "sub_clusters": None,
                "peak": override.peak or 0.0,
                "normal": override.normal or 0.0,
                "caution": override.caution or 0.0,
                "alert": override.alert or 0.0,
                "footprint": override.footprint,
                "energy": override.energy,
                "lower_is_better": override.lower_is_better,
            }
        )


class SubCluster(_Model):
    """A homogeneous partition of a cluster: hardware description and node list."""

    name: str = Field(min_length=1)
    nodes: str
    processor_type: str
    sockets_per_node: int
    cores_per_socket: int
    threads_per_core: int
    flop_rate_scalar: MetricValue
    flop_rate_simd: MetricValue
    memory_bandwidth: MetricValue
    topology: Topology
    metrics: list[MetricConfig] | None = Field(default=None, alias="metricConfig")
    footprint: list[str] | None = None
    energy_footprint: list[str] | None = None

    _hosts: HostList = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        """Parse the node list once (InvalidInput if it is malformed)."""
        try:
            self._hosts = HostList(self.nodes)
        except InvalidInput as exc:
            raise InvalidInput(f"subcluster {self.name!r}: {exc.message}") from None

    @property
    def hosts(self) -> HostList:
        """The parsed ``nodes`` expression."""
        return self._hosts

    @property
    def number_of_nodes(self) -> int:
        """How many nodes ``nodes`` names (InvalidInput for the wildcard)."""
        return len(self._hosts)


def _invalid(exc: ValidationError, what: str) -> InvalidInput:
    problems = [
        f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()
    ]
    return InvalidInput(f"invalid {what}: " + "; ".join(problems))


class Cluster(_Model):
    """A cluster: its metrics (with per-subcluster overrides) and its subclusters."""

    name: str = Field(min_length=1)
    metrics: list[MetricConfig] = Field(alias="metricConfig", min_length=1)
    sub_clusters: list[SubCluster] = Field(min_length=1)

    _resolved: dict[str, SubCluster] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        """Reject duplicate metric or subcluster names, which make lookups ambiguous."""
        for kind, names in (
            ("metric", [m.name for m in self.metrics]),
            ("subcluster", [s.name for s in self.sub_clusters]),
        ):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise InvalidInput(f"cluster {self.name!r}: duplicate {kind} names {dupes}")

    @classmethod
    def from_json(cls, data: bytes | str | Mapping[str, Any]) -> Cluster:
        """Read a cluster.json document (bytes, text or parsed); InvalidInput if invalid."""
        try:
            obj = data if isinstance(data, Mapping) else orjson.loads(data)
            return cls.model_validate(obj)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"cluster.json is not valid JSON: {exc}") from None
        except ValidationError as exc:
            raise _invalid(exc, "cluster.json") from None

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy (see pydantic); the copy resolves its subclusters afresh."""
        copy = super().model_copy(update=update, deep=deep)
        copy._resolved = {}
        return copy

    def to_dict(self) -> dict[str, Any]:
        """The cluster.json document as plain JSON data."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def to_json(self) -> bytes:
        """The cluster.json document as UTF-8 JSON."""
        return orjson.dumps(self.to_dict())

    def subcluster(self, name: str) -> SubCluster:
        """The subcluster called ``name`` as written in the file (NotFound if unknown)."""
        for sc in self.sub_clusters:
            if sc.name == name:
                return sc
        raise NotFound(f"subcluster {name!r} not found in cluster {self.name!r}")

    def metric(self, name: str) -> MetricConfig:
        """The cluster-wide configuration of metric ``name``, overrides not applied."""
        for mc in self.metrics:
            if mc.name == name:
                return mc
        raise NotFound(f"metric {name!r} not configured for cluster {self.name!r}")

    def resolved_subcluster(self, name: str) -> SubCluster:
        """Subcluster ``name`` with ``metricConfig``, ``footprint`` and ``energyFootprint``
        filled in as cc-backend does when it loads the cluster.

        The metric list starts with the subcluster's own ``metricConfig`` entries, then
        every cluster metric not removed for it, with its override applied. The footprint
        and energy lists start with those given in the file, then add each listed metric
        that has ``footprint`` (or ``energy``) set.
        """
        cached = self._resolved.get(name)
        if cached is not None:
            return cached
        sc = self.subcluster(name)
        metrics = list(sc.metrics or [])
        own = {m.name for m in metrics}
        for mc in self.metrics:
            resolved = mc.resolved_for(sc.name)
            if resolved is not None and resolved.name not in own:
                metrics.append(resolved)
        footprint = list(sc.footprint or [])
        energy = list(sc.energy_footprint or [])
        footprint += [m.name for m in metrics if m.footprint and m.name not in footprint]
        energy += [m.name for m in metrics if m.energy and m.name not in energy]
        result = sc.model_copy(
            update={"metrics": metrics, "footprint": footprint, "energy_footprint": energy}
        )
        self._resolved[name] = result
        return result

    def metrics_for(self, subcluster: str) -> list[MetricConfig]:
        """The metrics available on ``subcluster``, overrides applied, removed ones left out."""
        return list(self.resolved_subcluster(subcluster).metrics or [])

    def metric_config(self, subcluster: str, metric: str) -> MetricConfig:
        """Metric ``metric`` as it applies to ``subcluster`` (NotFound if absent there)."""
        for mc in self.metrics_for(subcluster):
            if mc.name == metric:
                return mc
        self.metric(metric)  # raises NotFound for metrics the cluster does not know
        raise NotFound(f"metric {metric!r} is removed for subcluster {subcluster!r}")

    def footprint_metrics(self, subcluster: str) -> list[str]:
        """The job footprint keys of ``subcluster``: ``<metric>_<stat>``, e.g. ``cpu_load_avg``.

        The statistic is the metric's resolved ``footprint``; a name listed in the file
        without a configured statistic uses ``avg``.
        """
        sc = self.resolved_subcluster(subcluster)
        stats = {m.name: m.footprint for m in sc.metrics or []}
        return [f"{name}_{stats.get(name) or 'avg'}" for name in sc.footprint or []]

    def energy_metrics(self, subcluster: str) -> list[str]:
        """Names of the metrics that feed the job energy on ``subcluster``."""
        return list(self.resolved_subcluster(subcluster).energy_footprint or [])

    def subcluster_of(self, hostname: str) -> SubCluster:
        """The subcluster that ``hostname`` belongs to.

        If several node lists name the host, the smallest one wins (ties: file order).
        Hosts no list names fall to a subcluster whose nodes are ``*``, or to the first
        subcluster if its nodes are empty. NotFound otherwise.
        """
        candidates = [
            sc for sc in self.sub_clusters if not sc.hosts.is_wildcard and hostname in sc.hosts
        ]
        if candidates:
            return min(candidates, key=lambda sc: len(sc.hosts))
        for sc in self.sub_clusters:
            if sc.nodes == WILDCARD:
                return sc
        if self.sub_clusters[0].nodes == "":
            return self.sub_clusters[0]
        raise NotFound(f"host {hostname!r} belongs to no subcluster of cluster {self.name!r}")
