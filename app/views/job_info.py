"""The job view's first card: what the job is, the jobs that shared its nodes, the note
administrators left on it, and whether it was monitored at all.

Everything is drawn as escaped HTML from the store's job (no script). Links lead to the
pages cc-backend has for them: the user, the project's and the node's job lists, the
concurrent jobs and a job list of all of them.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import panel as pn

from app.stores.job import JobStore
from cc_backend.client.base import JobLinks
from cc_backend.domain.job import Job, JobState, MonitoringStatus

__all__ = [
    "ADMIN_NOTE_KEY",
    "INFO_STYLE",
    "JobInfo",
    "MonitoringNotice",
    "admin_note_html",
    "concurrent_html",
    "format_duration",
    "job_info_html",
    "monitoring_message",
]

#: The meta data key the job classifier writes its findings to (as cc-backend's tagger).
ADMIN_NOTE_KEY = "message"
#: Hosts listed by name before the list is shortened.
_SHOWN_HOSTS = 8

INFO_STYLE = """
table.cc-info { border-collapse: collapse; width: 100%; font-size: .9rem; }
table.cc-info th { text-align: left; font-weight: 600; padding: .2rem .6rem .2rem 0;
  white-space: nowrap; vertical-align: top; opacity: .8; }
table.cc-info td { padding: .2rem 0; }
.cc-info a, .cc-links a { color: var(--design-primary-color, #0072b5); text-decoration: none; }
.cc-info a:hover, .cc-links a:hover { text-decoration: underline; }
.state { display: inline-block; padding: 0 .45rem; border-radius: .6rem; font-size: .8rem;
  color: #fff; background: #6c757d; }
.state.running { background: #198754; } .state.completed { background: #0d6efd; }
.state.failed, .state.out_of_memory, .state.node_fail, .state.boot_fail
  { background: #dc3545; }
.state.timeout, .state.cancelled, .state.preempted { background: #fd7e14; }
ul.cc-links { padding-left: 1.2rem; margin: .3rem 0; columns: 2; }
.note { white-space: pre-wrap; }
"""


def format_duration(seconds: int) -> str:
    """``seconds`` as ``[Dd ]HH:MM:SS``."""
    days, rest = divmod(max(seconds, 0), 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}d {clock}" if days else clock


def _time(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _link(href: str, text: str) -> str:
    return f'<a href="{html.escape(href)}">{html.escape(text)}</a>'


def _hosts(job: Job) -> str:
    names = job.hostnames
    links = [_link(f"/monitoring/node/{quote(job.cluster)}/{quote(h)}", h) for h in names]
    if len(links) <= _SHOWN_HOSTS:
        return ", ".join(links)
    return ", ".join(links[:_SHOWN_HOSTS]) + f", … ({len(links)} nodes)"


def job_info_html(job: Job, duration: int | None = None) -> str:
    """The job's facts as a table (``duration``: the run time to show, if not the job's)."""
    name = (job.meta_data or {}).get("jobName", "")
    jobs = "/monitoring/jobs/?"
    rows = [
        ("Job ID", html.escape(str(job.job_id))
         + (f" (array {job.array_job_id})" if job.array_job_id else "")),
        ("Name", html.escape(name) if name else "-"),
        ("User", _link(f"/monitoring/user/{quote(job.user)}", job.user)),
        ("Project", _link(jobs + urlencode({"project": job.project}), job.project)),
        ("Cluster", html.escape(" / ".join(p for p in (job.cluster, job.sub_cluster) if p))),
        ("Partition", html.escape(job.partition or "-")),
        ("State", f'<span class="state {html.escape(job.job_state.value)}">'
                  f"{html.escape(job.job_state.value)}</span>"),
        ("Start", _time(job.start_time)),
        ("Duration", format_duration(job.duration if duration is None else duration)
         + (f" of {format_duration(job.walltime)}" if job.walltime else "")),
        ("Resources", f"{job.num_nodes} nodes, {job.num_hwthreads} hwthreads"
         + (f", {job.num_acc} accelerators" if job.num_acc else "")),
        ("Shared", html.escape(job.shared.value)),
        ("Hosts", _hosts(job)),
    ]  # fmt: skip
    body = "".join(f"<tr><th>{label}</th><td>{value}</td></tr>" for label, value in rows)
    return f'<table class="cc-info">{body}</table>'


def concurrent_html(links: JobLinks) -> str:
    """The jobs that shared the job's nodes as links, and a link to list them all."""
    if not links.items:
        return "<p>No other jobs shared the nodes of this job.</p>"
    items = "".join(
        f"<li>{_link(f'/monitoring/job/{j.id}', str(j.job_id))}</li>" for j in links.items
    )
    listing = _link(f"/monitoring/jobs/?{links.list_query}", "Show all in the job list")
    return (
        f"<p>{len(links.items)} jobs ran on the same nodes at the same time:</p>"
        f'<ul class="cc-links">{items}</ul><p>{listing}</p>'
    )


def admin_note_html(job: Job) -> str | None:
    """The note administrators (or the job classifier) left on the job, escaped."""
    note = (job.meta_data or {}).get(ADMIN_NOTE_KEY, "").strip()
    if not note:
        return None
    return (
        f'<p>This note was added by the administrators:</p><p class="note">{html.escape(note)}</p>'
    )


def monitoring_message(job: Job) -> str | None:
    """Why the job's metric data may be missing: not monitored, or archiving failed."""
    if job.monitoring_status is MonitoringStatus.DISABLED:
        return "This job was not monitored: there is no metric data for it."
    if job.monitoring_status is MonitoringStatus.ARCHIVING_FAILED:
        return (
            "Archiving this job failed: its metric data may be incomplete or missing. "
            "What the metric store still holds is shown."
        )
    return None


class MonitoringNotice(pn.viewable.Viewer):
    """A warning for jobs without (complete) metric data."""

    def __init__(self, store: JobStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self._alert = pn.pane.Alert(
            "", alert_type="warning", visible=False, sizing_mode="stretch_width",
            name="monitoring-notice",
        )  # fmt: skip
        store.param.watch(self._update, ["job"])
        self._update()

    def _update(self, *_events: Any) -> None:
        job = self.store.job
        text = monitoring_message(job) if job is not None else None
        self._alert.object = html.escape(text or "")
        self._alert.visible = text is not None

    def __panel__(self) -> pn.pane.Alert:
        return self._alert


class JobInfo(pn.viewable.Viewer):
    """Tabs: the job's facts, its tags (``tags``: the tag editor), the concurrent jobs
    and the admin note (the last two only when there are any)."""

    def __init__(self, store: JobStore, tags: Any, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.info = pn.pane.HTML("", stylesheets=[INFO_STYLE], sizing_mode="stretch_width",
                                 name="job-info")  # fmt: skip
        self.concurrent = pn.pane.HTML("", stylesheets=[INFO_STYLE], sizing_mode="stretch_width")
        self.note = pn.pane.HTML("", stylesheets=[INFO_STYLE], sizing_mode="stretch_width")
        self.refresh = pn.widgets.Button(label="Reload data", color="light", visible=False)
        self.refresh.on_click(self._refresh)
        self._base: list[tuple[str, Any]] = [
            ("Job info", pn.Column(self.info, self.refresh, sizing_mode="stretch_width")),
            ("Tags", tags),
        ]
        #: The titles of the tabs shown.
        self.tab_names = [name for name, _ in self._base]
        self.tabs = pn.Tabs(
            *self._base,
            sizing_mode="stretch_width",
            dynamic=True,  # only the shown tab is drawn in the browser
            name="job-info-tabs",
        )
        store.param.watch(self._update, ["job", "concurrent"])
        self._update()

    def _update(self, *_events: Any) -> None:
        job = self.store.job
        if job is None:
            self.info.object = "<p>Loading the job…</p>"
            return
        self.info.object = job_info_html(job, self.store.running_duration())
        self.refresh.visible = job.job_state is JobState.RUNNING
        wanted = list(self._base)
        links = self.store.concurrent
        if links.items:
            self.concurrent.object = concurrent_html(links)
            wanted.append((f"{len(links.items)} concurrent jobs", self.concurrent))
        note = admin_note_html(job)
        if note is not None:
            self.note.object = note
            wanted.append(("Admin note", self.note))
        names = [name for name, _ in wanted]
        if names != self.tab_names:
            self.tab_names = names
            active = self.tabs.active
            self.tabs.clear()
            self.tabs.extend(wanted)
            self.tabs.active = min(active, len(wanted) - 1)

    async def _refresh(self, _event: Any) -> None:
        await self.store.refresh()

    def __panel__(self) -> pn.Tabs:
        return self.tabs
