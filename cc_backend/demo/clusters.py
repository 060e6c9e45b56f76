"""The demo site: a CPU cluster ``fritz`` and a GPU cluster ``alex``.

Both are described as :class:`~cc_backend.domain.cluster.Cluster` objects in the shape of a
job archive's ``cluster.json``: metrics with units, native scopes, a 60 s time step,
thresholds, footprint and energy roles, per-subcluster overrides and node topologies
(sockets, memory domains, cores and, on ``alex``, eight GPUs per node). Every unit base
is one the cluster schema lists.
"""

from __future__ import annotations

from typing import Any

from cc_backend.domain.cluster import Accelerator, Cluster, MetricConfig, SubCluster, Topology

__all__ = ["TIMESTEP", "demo_clusters"]

#: Seconds between two samples of every demo metric.
TIMESTEP = 60

_NONE: dict[str, str] = {"base": ""}
_GB = {"base": "B", "prefix": "G"}
_GBS = {"base": "B/s", "prefix": "G"}
_MBS = {"base": "B/s", "prefix": "M"}
_GFS = {"base": "F/s", "prefix": "G"}
_MHZ = {"base": "Hz", "prefix": "M"}
_W = {"base": "W"}


#: A metric row: name, unit, native scope, aggregation, (peak, normal, caution, alert), extras.
_Row = tuple[str, dict[str, str], str, str, tuple[float, float, float, float], dict[str, Any]]
#: Per-subcluster thresholds of a metric (None removes the metric there).
_Overrides = dict[str, dict[str, tuple[float, float, float, float] | None]]


def _metrics(rows: list[_Row], overrides: _Overrides) -> list[MetricConfig]:
    """Metric configs from table rows.

    An override keeps the metric's footprint, energy and lower-is-better settings, since
    a subcluster entry replaces all of them as a whole.
    """
    result = []
    for name, unit, scope, aggregation, limits, extra in rows:
        entries: list[dict[str, Any]] = []
        for subcluster, values in overrides.get(name, {}).items():
            if values is None:
                entries.append({"name": subcluster, "remove": True})
                continue
            kept = {k: v for k, v in extra.items() if k in ("footprint", "energy", "lowerIsBetter")}
            entries.append({"name": subcluster, **_limits(values), **kept})
        document = {
            "name": name,
            "unit": unit,
            "scope": scope,
            "aggregation": aggregation,
            "timestep": TIMESTEP,
            **_limits(limits),
            **extra,
            "subClusters": entries or None,
        }
        result.append(MetricConfig.model_validate(document))
    return result


def _limits(values: tuple[float, float, float, float]) -> dict[str, float]:
    return dict(zip(("peak", "normal", "caution", "alert"), values, strict=True))


def _topology(
    sockets: int, cores_per_socket: int, domains: int, gpus: list[Accelerator] | None = None
) -> Topology:
    """One hardware thread per core, numbered socket by socket; equal memory domains."""
    threads = sockets * cores_per_socket
    per_domain = threads // domains
    return Topology(
        node=list(range(threads)),
        socket=[
            list(range(s * cores_per_socket, (s + 1) * cores_per_socket)) for s in range(sockets)
        ],
        memory_domain=[list(range(d * per_domain, (d + 1) * per_domain)) for d in range(domains)],
        core=[[t] for t in range(threads)],
        accelerators=gpus,
    )


def _subcluster(
    name: str, nodes: str, processor: str, topology: Topology, peaks: tuple[float, float, float]
) -> SubCluster:
    """A subcluster; ``peaks`` are the scalar and SIMD GFlop/s and the GB/s of a node."""
    sockets = len(topology.socket)
    return SubCluster.model_validate(
        {
            "name": name,
            "nodes": nodes,
            "processorType": processor,
            "socketsPerNode": sockets,
            "coresPerSocket": len(topology.node) // sockets,
            "threadsPerCore": 1,
            "flopRateScalar": {"unit": _GFS, "value": peaks[0]},
            "flopRateSimd": {"unit": _GFS, "value": peaks[1]},
            "memoryBandwidth": {"unit": _GBS, "value": peaks[2]},
            "topology": topology,
        }
    )


_FOOT_AVG = {"footprint": "avg"}
_POWER = {"energy": "power"}
_LOWER = {"lowerIsBetter": True}

#: Interconnect and NFS traffic, the same on both clusters.
_IO_ROWS: list[_Row] = [
    ("net_bw", _MBS, "node", "sum", (12500, 2000, 100, 10), {}),
    ("nfs4_read", _MBS, "node", "sum", (1250, 50, 300, 800), _LOWER),
    ("nfs4_write", _MBS, "node", "sum", (1250, 50, 300, 800), _LOWER),
]

_FRITZ_ROWS: list[_Row] = [
    ("cpu_load", _NONE, "node", "avg", (72, 72, 36, 18), _FOOT_AVG),
    ("cpu_user", _NONE, "hwthread", "avg", (100, 80, 40, 10), {}),
    ("mem_used", _GB, "node", "sum", (256, 128, 220, 245), {"footprint": "max", **_LOWER}),
    ("flops_any", _GFS, "hwthread", "sum", (5500, 800, 200, 50), _FOOT_AVG),
    ("flops_dp", _GFS, "hwthread", "sum", (2750, 400, 100, 25), {}),
    ("flops_sp", _GFS, "hwthread", "sum", (5500, 800, 200, 50), {}),
    ("mem_bw", _GBS, "socket", "sum", (330, 120, 50, 15), _FOOT_AVG),
    ("clock", _MHZ, "hwthread", "avg", (3500, 2400, 1600, 1000), {}),
    ("ipc", {"base": "IPC"}, "hwthread", "avg", (4, 1.5, 0.8, 0.4), {}),
    ("vectorization_ratio", _NONE, "hwthread", "avg", (100, 60, 30, 10), {}),
    ("cpu_power", _W, "socket", "sum", (500, 350, 150, 80), _POWER),
    ("mem_power", _W, "socket", "sum", (100, 60, 20, 10), _POWER),
    *_IO_ROWS,
]
_FRITZ_OVERRIDES: _Overrides = {
    "cpu_load": {"spr": (104, 104, 52, 26)},
    "mem_used": {"spr": (1024, 512, 900, 990)},
    "flops_any": {"spr": (6600, 1000, 250, 60)},
    "mem_bw": {"spr": (490, 180, 70, 20)},
    "vectorization_ratio": {"spr": None},
    "cpu_power": {"spr": (700, 500, 200, 100)},
}

_ALEX_ROWS: list[_Row] = [
    ("cpu_load", _NONE, "node", "avg", (128, 128, 16, 4), _FOOT_AVG),
    ("cpu_user", _NONE, "hwthread", "avg", (100, 50, 20, 5), {}),
    ("mem_used", _GB, "node", "sum", (512, 256, 450, 500), {"footprint": "max", **_LOWER}),
    ("flops_any", _GFS, "hwthread", "sum", (4600, 500, 100, 20), _FOOT_AVG),
    ("mem_bw", _GBS, "socket", "sum", (380, 100, 30, 10), _FOOT_AVG),
    ("clock", _MHZ, "hwthread", "avg", (3500, 2450, 1500, 1000), {}),
    ("ipc", {"base": "IPC"}, "hwthread", "avg", (4, 1.5, 0.8, 0.4), {}),
    ("cpu_power", _W, "socket", "sum", (560, 300, 150, 80), _POWER),
    ("acc_utilization", _NONE, "accelerator", "avg", (100, 80, 40, 10), _FOOT_AVG),
    ("acc_mem_used", _GB, "accelerator", "sum", (48, 24, 8, 2), {"footprint": "max"}),
    ("acc_power", _W, "accelerator", "sum", (300, 200, 80, 40), _POWER),
    ("nv_mem_util", _NONE, "accelerator", "avg", (100, 50, 10, 2), {}),
    ("nv_temp", {"base": "°C"}, "accelerator", "avg", (90, 60, 80, 85), _LOWER),
    ("nv_sm_clock", _MHZ, "accelerator", "avg", (1740, 1400, 600, 300), {}),
    *_IO_ROWS,
]
_ALEX_OVERRIDES: _Overrides = {
    "mem_used": {"a100": (1024, 512, 900, 1000)},
    "acc_mem_used": {"a100": (80, 40, 12, 4)},
    "acc_power": {"a100": (400, 250, 100, 50)},
    "nv_sm_clock": {"a100": (1410, 1200, 500, 250)},
}

#: PCI bus ids of the eight GPUs of an ``alex`` node, in memory-domain order.
_GPU_BUSES = ("07", "0B", "48", "4C", "88", "8B", "C8", "CB")


def _gpus(model: str) -> list[Accelerator]:
    return [
        Accelerator(id=f"00000000:{bus}:00.0", type="Nvidia GPU", model=model) for bus in _GPU_BUSES
    ]


def demo_clusters() -> list[Cluster]:
    """The demo clusters, CPU cluster first. Each call builds fresh objects.

    ``fritz``: 192 Ice Lake nodes (``main``, 2 x 36 cores) and 32 Sapphire Rapids nodes
    (``spr``, 2 x 52 cores, more memory). ``alex``: 24 nodes with eight A40 and 16 nodes
    with eight A100 GPUs (2 x 64 cores); GPU ``i`` sits at memory domain ``i``.
    """
    fritz = Cluster(
        name="fritz",
        metrics=_metrics(_FRITZ_ROWS, _FRITZ_OVERRIDES),
        sub_clusters=[
            _subcluster("main", "f[0101-0164,0201-0264,0301-0364]", "Intel Xeon Platinum 8360Y",
                        _topology(2, 36, 4), (346, 5530, 330)),
            _subcluster("spr", "f[2101-2116,2201-2216]", "Intel Xeon Platinum 8470",
                        _topology(2, 52, 8), (416, 6656, 490)),
        ],
    )  # fmt: skip
    alex = Cluster(
        name="alex",
        metrics=_metrics(_ALEX_ROWS, _ALEX_OVERRIDES),
        sub_clusters=[
            _subcluster("a40", "a[0101-0112,0201-0212]", "AMD EPYC 7713",
                        _topology(2, 64, 8, _gpus("A40")), (326, 5200, 380)),
            _subcluster("a100", "a[0301-0308,0401-0408]", "AMD EPYC 7713",
                        _topology(2, 64, 8, _gpus("A100")), (326, 5200, 380)),
        ],
    )  # fmt: skip
    return [fritz, alex]
