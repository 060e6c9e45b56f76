"""The status dashboards' cluster info: per subcluster and for the whole cluster, the
processor types, running jobs, active users, allocated nodes, cores and accelerators, and
the flop rate and memory bandwidth of the last minutes against the peak."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import panel as pn
from tornado.escape import xhtml_escape

from app.stores.status import ClusterStatusStore, SubclusterStatus

__all__ = ["ClusterInfo", "info_html"]

STYLE = """
table.cluster-info { border-collapse: collapse; width: 100%; font-size: .95rem; }
table.cluster-info th, table.cluster-info td { padding: .3rem .6rem; text-align: left;
  border-bottom: 1px solid rgba(128,128,128,.25); vertical-align: middle; }
table.cluster-info thead th { font-size: 1.05rem; }
.bar { display: inline-block; width: 7rem; height: .7rem; margin-right: .4rem;
  background: rgba(128,128,128,.25); border-radius: .35rem; overflow: hidden;
  vertical-align: middle; }
.bar > span { display: block; height: 100%; background: #0d6efd; }
"""


def _number(value: float) -> str:
    if value >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def _share(used: float, total: float, unit: str = "") -> str:
    """``used / total`` with a bar; just ``used`` when there is no total."""
    suffix = f" {unit}" if unit else ""
    if total <= 0:
        return f"{_number(used)}{suffix}"
    width = max(0.0, min(100.0, 100.0 * used / total))
    return (
        f'<span class="bar" title="{width:.0f} %"><span style="width:{width:.1f}%"></span></span>'
        f"{_number(used)} / {_number(total)}{suffix}"
    )


_ROWS: tuple[tuple[str, Any], ...] = (
    ("Processors", lambda r: xhtml_escape(", ".join(r.processor_types))),
    ("Running jobs", lambda r: f"{r.running_jobs:,}"),
    ("Active users", lambda r: f"{r.active_users:,}"),
    ("Allocated nodes", lambda r: _share(r.nodes_allocated, r.nodes_total)),
    ("Allocated cores", lambda r: _share(r.cores_allocated, r.cores_total)),
    ("Allocated accelerators", lambda r: _share(r.accs_allocated, r.accs_total)),
    ("Flop rate (any)", lambda r: _share(r.flops, r.flops_peak, "GFlop/s")),
    ("Memory bandwidth", lambda r: _share(r.mem_bw, r.mem_bw_peak, "GB/s")),
)


def info_html(rows: Sequence[SubclusterStatus], cluster: str) -> str:
    """The info table: one column per subcluster and one for the cluster (the row named
    ``""``), one row per quantity; every text is escaped."""
    if not rows:
        return '<p class="cluster-info">No cluster information yet.</p>'
    heads = "".join(
        f"<th>{xhtml_escape(r.name) if r.name else 'Cluster ' + xhtml_escape(cluster)}</th>"
        for r in rows
    )
    body = "".join(
        f"<tr><th>{label}</th>" + "".join(f"<td>{cell(r)}</td>" for r in rows) + "</tr>"
        for label, cell in _ROWS
    )
    return (
        f'<table class="cluster-info"><thead><tr><th></th>{heads}</tr></thead>'
        f"<tbody>{body}</tbody></table>"
    )


class ClusterInfo(pn.viewable.Viewer):
    """The info table of the store's cluster, redrawn after every load."""

    def __init__(self, store: ClusterStatusStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.pane = pn.pane.HTML(
            info_html([], store.cluster), stylesheets=[STYLE], sizing_mode="stretch_width"
        )
        store.param.watch(self._update, ["revision"])
        self._update()

    def _update(self, *_events: Any) -> None:
        self.pane.object = info_html(self.store.subclusters, self.store.cluster)

    def __panel__(self) -> pn.pane.HTML:
        return self.pane
