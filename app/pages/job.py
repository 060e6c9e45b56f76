"""``/monitoring/job/{id}``: one job — facts, tags, footprint, roofline, energy, metric
plots at every scope, statistics, job script and scheduler information.

The page is on screen at once with its frame. The job's series start loading in the
background before the page is built (the client's ``prefetch_job_data``), and the store
starts loading the job as soon as the page is built (:meth:`JobStore.load`), while the
browser is still starting the page: what has loaded when the browser connects comes with
the page, the rest follows. A job the user may not open gets the 403 content: every job
but their own (or, for managers, their projects') is refused alike, whether it exists or
not, so the page never tells which job ids exist. Support and admins see every job, so
for them a missing job is simply not found (404 content).
"""

from __future__ import annotations

from typing import Any

import panel as pn

from app.context import PageContext
from app.routing import STAFF_ROLES
from app.stores.job import JobStore
from app.template import Sections
from app.views.bokeh_css_cache import CssValueCache
from app.views.job_energy import EnergySummary
from app.views.job_footprint import JobFootprint
from app.views.job_info import JobInfo, MonitoringNotice
from app.views.job_meta import JobScript, SchedulerInfo
from app.views.job_metric_grid import MetricGrid
from app.views.job_roofline import JobRoofline
from app.views.job_statistics import StatisticsTable
from app.views.job_tags import JobTags
from app.views.messages import StoreStatus, forbidden, not_found
from cc_backend.domain.errors import NotFound
from cc_backend.domain.user import User

__all__ = ["JobPage", "job_page"]


def _card(title: str, content: Any, flex: str | None = None) -> pn.Card:
    """A titled card; ``flex``: its share of a row of cards (CSS ``flex``)."""
    styles = {"flex": flex, "min-width": "0"} if flex else {}
    return pn.Card(
        content, title=title, collapsible=False, sizing_mode="stretch_width", styles=styles,
        margin=(5, 5),
    )  # fmt: skip


class JobPage(Sections):
    """The job view of ``store``'s job for ``user`` (see the module docstring).

    Three sections: the job's facts, footprint, roofline and energy; the metric plots,
    which draw more rows as the page scrolls; the details (statistics, job script,
    scheduler information)."""

    def __init__(self, store: JobStore, user: User, **params: Any) -> None:
        grid = MetricGrid(store)
        bottom = pn.Tabs(
            ("Statistics", StatisticsTable(store)),
            ("Job script", JobScript(store)),
            ("Scheduler info", SchedulerInfo(store)),
            sizing_mode="stretch_width",
            dynamic=True,  # only the shown tab is drawn in the browser
            name="job-tabs",
        )
        top = pn.Column(
            CssValueCache(),  # before the plots: BokehJS reads its CSS variables once a task
            StoreStatus(store),
            MonitoringNotice(store),
            pn.FlexBox(
                _card("Job", JobInfo(store, JobTags(store, user)), flex="1 1 380px"),
                _card("Footprint", JobFootprint(store), flex="1 1 380px"),
                _card("Roofline", JobRoofline(store), flex="1.4 1 420px"),
                sizing_mode="stretch_width",
            ),
            _card("Energy", EnergySummary(store)),
            sizing_mode="stretch_width",
            name="job",
        )
        super().__init__(top, _card("Metrics", grid), _card("Details", bottom), **params)
        self.store = store
        self.user = user
        self.grid = grid
        self.bottom = bottom
        self._top = top
        store.param.watch(self._hidden, ["hidden"])

    def _hidden(self, *_events: Any) -> None:
        if not self.store.hidden:
            return
        if self.user.has_any_role(STAFF_ROLES):
            content = not_found(f"There is no job with id {self.store.db_id}.")
        else:
            content = forbidden(
                f"You may not open job {self.store.db_id}: only your own jobs (and, for "
                "managers, the jobs of their projects) can be viewed."
            )
        self._top.objects = [content]
        for section in self.sections[1:]:
            section.visible = False


def job_page(context: PageContext) -> JobPage:
    """The page of the job ``{id}``; its data starts loading at once (in a session)."""
    raw = context.path_params.get("id", "")
    if not raw.isdigit():
        raise NotFound(f"There is no job with id {raw!r}.")
    store = JobStore(context.client, db_id=int(raw))
    in_session = pn.state.curdoc is not None
    if in_session:
        # The series are read in the background while the page is built and sent; the
        # store's requests, which start once it is sent, then find them read.
        context.client.prefetch_job_data(store.db_id)
    page = JobPage(store, context.user)
    if in_session:
        pn.state.execute(store.load)  # on the session's event loop, not awaited here
    return page
