"""The job's script and what its scheduler reported, from the job's meta data.

cc-backend's keys: ``jobScript`` (the batch script) and ``slurmInfo`` (the scheduler's
description of the job). Other meta data keys, except the job name and the admin note
shown elsewhere, are listed below the scheduler's text.
"""

from __future__ import annotations

import html
from typing import Any

import panel as pn

from app.stores.job import JobStore
from app.views.job_info import ADMIN_NOTE_KEY
from cc_backend.domain.job import Job

__all__ = [
    "JOB_SCRIPT_KEY",
    "META_STYLE",
    "SCHEDULER_KEY",
    "JobScript",
    "SchedulerInfo",
    "job_script_html",
    "scheduler_html",
]  # fmt: skip

JOB_SCRIPT_KEY = "jobScript"
SCHEDULER_KEY = "slurmInfo"
_SHOWN_ELSEWHERE = {JOB_SCRIPT_KEY, SCHEDULER_KEY, ADMIN_NOTE_KEY, "jobName"}

META_STYLE = """
pre { font-size: .85rem; padding: .6rem; border: 1px solid rgba(128,128,128,.4);
  border-radius: .3rem; white-space: pre-wrap; word-break: break-word; margin: .3rem 0; }
.missing { opacity: .75; font-style: italic; }
table.cc-meta th { text-align: left; padding-right: 1rem; vertical-align: top; }
"""


def job_script_html(job: Job) -> str:
    """The job script in a ``pre`` block (or a note that there is none)."""
    script = (job.meta_data or {}).get(JOB_SCRIPT_KEY, "")
    if not script:
        return '<p class="missing">No job script available.</p>'
    return f'<pre class="job-script"><code>{html.escape(script)}</code></pre>'


def scheduler_html(job: Job) -> str:
    """The scheduler's description of the job and the other meta data entries."""
    meta = job.meta_data or {}
    info = meta.get(SCHEDULER_KEY, "")
    parts = [
        f'<pre class="scheduler-info"><code>{html.escape(info)}</code></pre>'
        if info
        else '<p class="missing">No information from the scheduler available.</p>'
    ]
    other = sorted((k, v) for k, v in meta.items() if k not in _SHOWN_ELSEWHERE)
    if other:
        rows = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in other
        )
        parts.append(f'<table class="cc-meta">{rows}</table>')
    return "".join(parts)


class _MetaPane(pn.viewable.Viewer):
    render = staticmethod(job_script_html)

    def __init__(self, store: JobStore, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.pane = pn.pane.HTML("", stylesheets=[META_STYLE], sizing_mode="stretch_width",
                                 name=type(self).__name__)  # fmt: skip
        store.param.watch(self._update, ["job"])
        self._update()

    def _update(self, *_events: Any) -> None:
        if self.store.job is not None:
            self.pane.object = type(self).render(self.store.job)

    def __panel__(self) -> pn.pane.HTML:
        return self.pane


class JobScript(_MetaPane):
    """The store's job's script."""

    render = staticmethod(job_script_html)


class SchedulerInfo(_MetaPane):
    """The store's job's scheduler information."""

    render = staticmethod(scheduler_html)
