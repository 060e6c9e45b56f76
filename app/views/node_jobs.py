"""The node view's facts and jobs: what the scheduler last reported of the node, and a
table of the jobs that ran on it in the window, each linked to its job view."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import urlencode

import pandas as pd  # type: ignore[import-untyped]
import panel as pn

from app.stores.node import NodeStore
from app.views.job_list import duration_text
from cc_backend.domain.job import Job, JobState

__all__ = ["JOB_COLUMNS", "NodeJobsTable", "NodeSummary", "job_rows", "summary_html"]

#: The table's columns.
JOB_COLUMNS = ["Job", "User", "Project", "Start (UTC)", "Duration", "State", "Nodes"]


def _clock(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M")


def job_rows(jobs: Sequence[Job], now: int | None = None) -> list[dict[str, Any]]:
    """One table row per job (the job column an HTML link to its view)."""
    current = int(time.time()) if now is None else now
    return [
        {
            "Job": f'<a href="/monitoring/job/{job.id}">{job.job_id}</a>',
            "User": job.user,
            "Project": job.project,
            "Start (UTC)": _clock(job.start_time),
            "Duration": duration_text(
                current - job.start_time if job.job_state is JobState.RUNNING else job.duration
            ),
            "State": job.job_state.value,
            "Nodes": job.num_nodes,
        }
        for job in jobs
    ]


def summary_html(store: NodeStore) -> str:
    """The node's name, cluster, subcluster and latest report (HTML)."""
    parts = [
        f"<b>{escape(store.host)}</b> on {escape(store.cluster_name)}"
        + (f" ({escape(store.subcluster.name)})" if store.subcluster is not None else "")
    ]
    report = store.report
    if report is None:
        parts.append("not reported by the scheduler")
    else:
        parts.append(
            f"state <b>{escape(report.node_state.value)}</b>, health "
            f"<b>{escape(report.health_state.value)}</b>, {report.jobs_running} running jobs, "
            f"{report.cpus_allocated} cpus, {report.memory_allocated:,} MB memory and "
            f"{report.gpus_allocated} gpus allocated"
        )
    query = urlencode({"cluster": store.cluster_name, "state": "running", "node": store.host})
    parts.append(f'<a href="/monitoring/jobs/?{escape(query)}">running jobs in the job list</a>')
    return " · ".join(parts)


class NodeSummary(pn.viewable.Viewer):
    """:func:`summary_html` of the store's node, kept current."""

    def __init__(self, store: NodeStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.text = pn.pane.HTML("", sizing_mode="stretch_width", name="node-summary")
        store.param.watch(self._update, ["revision", "subcluster"])
        self._update()

    def _update(self, *_events: Any) -> None:
        self.text.object = summary_html(self.store)

    def __panel__(self) -> pn.pane.HTML:
        return self.text


class NodeJobsTable(pn.viewable.Viewer):
    """The jobs that ran on the store's node in the window."""

    def __init__(self, store: NodeStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.count = pn.pane.HTML("", margin=(0, 10), name="node-job-count")
        self.table = pn.widgets.Tabulator(
            pd.DataFrame(columns=JOB_COLUMNS), show_index=False, disabled=True,
            formatters={"Job": {"type": "html"}}, sizing_mode="stretch_width",
            pagination="local", page_size=20,
        )  # fmt: skip
        self._layout = pn.Column(self.count, self.table, sizing_mode="stretch_width")
        store.param.watch(self._update, ["revision"])
        self._update()

    def _update(self, *_events: Any) -> None:
        jobs = self.store.jobs
        self.count.object = f"{len(jobs)} job{'s' if len(jobs) != 1 else ''} in the window"
        self.table.value = pd.DataFrame(job_rows(jobs), columns=JOB_COLUMNS)

    def __panel__(self) -> pn.Column:
        return self._layout
