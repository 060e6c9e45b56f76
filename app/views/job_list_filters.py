"""The job list's filter form: every filter of :class:`~app.filters.JobQuery` as a widget.

The form shows the store's query; *Apply* reads the widgets into a new query and hands
it to the store (which loads and, through the page, rewrites the URL), *Reset* clears
every filter, and the start-time quick ranges apply at once. A value the form cannot
use (a range whose start lies after its end, a job id that is not a number) is reported
next to the buttons and nothing is applied. The user filter is offered to managers,
support and admins only: a user sees only their own jobs anyway.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, Protocol

import panel as pn

from app.filters import (
    DURATION_CEILING,
    QUICK_RANGES,
    SHARED_MODES,
    JobQuery,
    Span,
    StartWindow,
    StatSpan,
)
from app.stores.jobs import FootprintField
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.job import JobState
from cc_backend.domain.tag import Tag

__all__ = ["FilterForm", "FilterTarget", "FormError"]


#: How the project filter may match: label -> operator.
PROJECT_MATCHES = {
    "is": "eq",
    "is not": "neq",
    "contains": "contains",
    "starts with": "startsWith",
    "ends with": "endsWith",
}


class FormError(ValueError):
    """A filter value the form cannot use; the message says which and why."""


def _text(widget: pn.widgets.TextInput) -> str:
    return (widget.value or "").strip()


def _words(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.replace(",", " ").split() if part.strip())


def _span(
    label: str, low: float | None, high: float | None, *, duration: bool = False
) -> Span | None:
    """A range from two optional bounds; only a lower bound leaves the top open."""
    if low is None and high is None:
        return None
    if (low is not None and low < 0) or (high is not None and high < 0):
        raise FormError(f"{label}: bounds must not be negative")
    if high is None:
        assert low is not None
        if low == 0:
            return None
        return Span(low, DURATION_CEILING if duration else 0)
    start = 0.0 if low is None else low
    if start > high:
        raise FormError(f"{label}: the lower bound {start:g} is above the upper bound {high:g}")
    return Span(start, high)


def _bounds(span: Span | None, scale: float = 1.0) -> tuple[float | None, float | None]:
    if span is None:
        return None, None
    high = None if span.open_top else span.high / scale
    if high is not None and span.high == DURATION_CEILING and scale != 1.0:
        high = None
    low = span.low / scale if span.low else None
    return low, high


def _int(value: float | None) -> int | None:
    return None if value is None else round(value)


class _RangeInputs:
    """Two number inputs, from and to."""

    def __init__(self, label: str, unit: str = "", integer: bool = True) -> None:
        kind = pn.widgets.IntInput if integer else pn.widgets.FloatInput
        suffix = f" ({unit})" if unit else ""
        self.label = label
        width = max(150, 7 * len(f"{label} from{suffix}"))
        self.low = kind(label=f"{label} from{suffix}", value=None, width=width)
        self.high = kind(label=f"{label} to{suffix}", value=None, width=width)

    def read(self, scale: float = 1.0, duration: bool = False) -> Span | None:
        low = None if self.low.value is None else float(self.low.value) * scale
        high = None if self.high.value is None else float(self.high.value) * scale
        return _span(self.label, low, high, duration=duration)

    def show(self, span: Span | None, scale: float = 1.0) -> None:
        low, high = _bounds(span, scale)
        integer = isinstance(self.low, pn.widgets.IntInput)
        self.low.value = _int(low) if integer else low
        self.high.value = _int(high) if integer else high

    def row(self) -> pn.Row:
        return pn.Row(self.low, self.high)


class FilterTarget(Protocol):
    """What :class:`FilterForm` reads and changes: a store with the job list's filters
    (the job list's store, the analysis page's store)."""

    param: Any
    query: JobQuery
    clusters: dict[str, Cluster]
    tags: list[Tag]

    def footprint_fields(self) -> list[FootprintField]:
        """The footprint values the statistics filters offer."""
        ...

    async def update(self, query: JobQuery | None = None) -> None:
        """Apply ``query`` and load again."""
        ...


class FilterForm(pn.viewable.Viewer):
    """Every filter of the job list as a widget (see the module docstring)."""

    def __init__(self, store: FilterTarget, may_filter_users: bool = True, **params: Any) -> None:
        super().__init__(**params)
        self.store = store
        self.may_filter_users = may_filter_users
        w = pn.widgets
        self.cluster = w.Select(label="Cluster", options={"Any cluster": ""}, width=180)
        self.partition = w.TextInput(label="Partition", width=150)
        self.states = w.MultiChoice(
            label="Job states", options=[s.value for s in JobState], width=330
        )
        self.shared = w.Select(
            label="Node sharing", options={"Any": "", **{m: m for m in SHARED_MODES}}, width=150
        )
        self.start_from = w.DatetimeInput(label="Started from (UTC)", value=None, width=190)
        self.start_to = w.DatetimeInput(label="Started until (UTC)", value=None, width=190)
        self.quick = [
            w.Button(label=label, color="light", margin=(24, 4, 5, 4), width=110)
            for label in QUICK_RANGES.values()
        ]
        self.duration = _RangeInputs("Duration", "hours", integer=False)
        self.tags = w.MultiChoice(label="Tags", options={}, width=330)
        self.users = w.TextInput(label="Users", placeholder="names, comma separated", width=220)
        self.project = w.TextInput(label="Project", width=180)
        self.project_match = w.Select(
            label="Project match", options=PROJECT_MATCHES, value="eq", width=130
        )
        self.job_name = w.TextInput(label="Job name contains", width=200)
        self.job_ids = w.TextInput(label="Job ids", placeholder="comma separated", width=180)
        self.array_job_id = w.IntInput(label="Array job id", value=None, width=150)
        self.node = w.TextInput(label="Node", width=150)
        self.num_nodes = _RangeInputs("Nodes")
        self.num_hwthreads = _RangeInputs("HW threads")
        self.num_accelerators = _RangeInputs("Accelerators")
        self.energy = _RangeInputs("Energy", "kWh", integer=False)
        self.stats: dict[str, _RangeInputs] = {}
        #: The footprint values ``stats`` were built for (None: not built yet).
        self._stats_fields: list[FootprintField] | None = None
        self._stats_column = pn.Column(name="footprint-filters")
        self.apply = w.Button(label="Apply filters", color="primary", width=130)
        self.reset = w.Button(label="Reset", color="light", width=100)
        self.message = pn.pane.Alert(
            "", alert_type="danger", visible=False, sizing_mode="stretch_width", name="form-error"
        )
        self.apply.on_click(self._apply)
        self.reset.on_click(self._reset)
        for button, name in zip(self.quick, QUICK_RANGES, strict=True):
            button.on_click(self._quick_handler(name))
        self._layout = self._build()
        store.param.watch(self._follow_site, ["clusters", "tags"])
        store.param.watch(self._follow_query, "query")
        self._follow_site()
        self._follow_query()

    def _build(self) -> pn.Card:
        """The form's card: collapsed, its body put in when it is first opened (the
        forty-odd widgets of the body are then built for the browser only when used)."""
        who = [self.users] if self.may_filter_users else []
        self._body = pn.Column(
            pn.Row(self.cluster, self.partition, self.states, self.shared),
            pn.Row(self.start_from, self.start_to, *self.quick),
            pn.Row(*who, self.project, self.project_match, self.job_name, self.job_ids),
            pn.Row(self.array_job_id, self.node, self.tags),
            pn.Row(self.duration.row(), self.energy.row()),
            pn.Row(self.num_nodes.row(), self.num_hwthreads.row(), self.num_accelerators.row()),
            pn.pane.HTML("<b>Footprint ranges</b>", margin=(10, 10, 0, 10)),
            self._stats_column,
            pn.Row(self.apply, self.reset),
            self.message,
            sizing_mode="stretch_width",
        )
        card = pn.Card(title="Filters", collapsed=True, sizing_mode="stretch_width", name="filters")
        card.param.watch(self._opened, "collapsed")
        return card

    def _opened(self, event: Any) -> None:
        if not event.new and not self._layout.objects:
            self._layout.objects = [self._body]

    # -- showing the store's state ---------------------------------------------------------

    def _follow_site(self, *_events: Any) -> None:
        store = self.store
        current = store.query.cluster
        clusters = {"Any cluster": "", **{name: name for name in sorted(store.clusters)}}
        if current and current not in clusters.values():
            clusters[current] = current
        self.cluster.options = clusters
        self.tags.options = {
            f"{t.type}: {t.name}" + (f" ({t.scope})" if t.scope != "global" else ""): t.id
            for t in store.tags
            if t.id is not None
        }
        self._build_stats(store.footprint_fields())
        self._follow_query()

    def _build_stats(self, fields: list[FootprintField]) -> None:
        if fields == self._stats_fields:
            return  # e.g. only the tags changed: the inputs stay
        self._stats_fields = fields
        self.stats = {f.key: _RangeInputs(f.label, f.unit, integer=False) for f in fields}
        rows: list[Any] = [
            pn.Row(*(r.row() for r in list(self.stats.values())[i : i + 3]))
            for i in range(0, len(self.stats), 3)
        ]
        self._stats_column.objects = rows or [
            pn.pane.HTML("<i>No footprint values configured.</i>")
        ]

    def _follow_query(self, *_events: Any) -> None:
        q = self.store.query
        self.cluster.value = q.cluster if q.cluster in self.cluster.options.values() else ""
        self.partition.value = q.partition
        self.states.value = [s.value for s in q.states]
        self.shared.value = q.shared
        start = q.start if q.start is not None and not q.start.range else None
        self.start_from.value = _naive(start.start) if start else None
        self.start_to.value = _naive(start.stop) if start else None
        for button, name in zip(self.quick, QUICK_RANGES, strict=True):
            chosen = q.start is not None and q.start.range == name
            button.color = "primary" if chosen else "light"
        self.duration.show(q.duration, 3600)
        known_tags = set(self.tags.options.values())
        self.tags.value = [t for t in q.tags if t in known_tags]
        self.users.value = ", ".join(q.users)
        self.project.value = q.project
        self.project_match.value = q.project_match if q.project_match != "in" else "eq"
        self.job_name.value = q.job_name
        self.job_ids.value = ", ".join(q.job_ids)
        self.array_job_id.value = q.array_job_id
        self.node.value = q.node
        self.num_nodes.show(q.num_nodes)
        self.num_hwthreads.show(q.num_hwthreads)
        self.num_accelerators.show(q.num_accelerators)
        self.energy.show(q.energy)
        stats = {s.field: s.span for s in q.stats}
        for key, inputs in self.stats.items():
            inputs.show(stats.get(key))

    # -- reading the form ------------------------------------------------------------------

    def read(self) -> JobQuery:
        """The query the widgets describe; :class:`FormError` for a value it cannot use.
        Filters the form has no widget for (database ids, schedule) are kept."""
        current = self.store.query
        job_ids = _words(_text(self.job_ids))
        for job_id in job_ids:
            if not job_id.isdigit():
                raise FormError(f"Job ids: {job_id!r} is not a job id")
        users = _words(_text(self.users)) if self.may_filter_users else current.users
        return current.replace(
            cluster=self.cluster.value or "",
            partition=_text(self.partition),
            states=tuple(JobState(s) for s in self.states.value),
            shared=self.shared.value or "",
            start=self._start(current.start),
            duration=self.duration.read(3600, duration=True),
            tags=tuple(int(t) for t in self.tags.value),
            users=users,
            user_match=current.user_match if users == current.users else "contains",
            project=_text(self.project),
            project_match=self.project_match.value,
            job_name=_text(self.job_name),
            job_ids=job_ids,
            job_id_match=current.job_id_match if job_ids == current.job_ids else "eq",
            array_job_id=self.array_job_id.value,
            node=_text(self.node),
            num_nodes=self.num_nodes.read(),
            num_hwthreads=self.num_hwthreads.read(),
            num_accelerators=self.num_accelerators.read(),
            energy=self.energy.read(),
            stats=self._stats(current.stats),
        )

    def _start(self, current: StartWindow | None) -> StartWindow | None:
        low, high = self.start_from.value, self.start_to.value
        if low is None and high is None:
            return current if current is not None and current.range else None
        first = _unix(low) if low is not None else 0
        last = _unix(high) if high is not None else int(datetime.now(tz=UTC).timestamp())
        if first > last:
            raise FormError("Start time: the first moment is after the last")
        return StartWindow(start=first, stop=last)

    def _stats(self, current: tuple[StatSpan, ...]) -> tuple[StatSpan, ...]:
        shown = [
            StatSpan(key, span)
            for key, inputs in self.stats.items()
            if (span := inputs.read()) is not None
        ]
        hidden = [s for s in current if s.field not in self.stats]
        return tuple(hidden + shown)

    # -- actions ---------------------------------------------------------------------------

    async def _apply(self, _event: Any = None) -> None:
        try:
            query = self.read()
        except FormError as exc:
            self.message.object = str(exc)
            self.message.visible = True
            return
        self.message.visible = False
        await self.store.update(query=query)

    async def _reset(self, _event: Any = None) -> None:
        self.message.visible = False
        await self.store.update(query=JobQuery())

    def _quick_handler(self, name: str) -> Any:
        async def choose(_event: Any = None) -> None:
            await self.store.update(query=self.store.query.replace(start=StartWindow(range=name)))

        return choose

    def __panel__(self) -> pn.Card:
        return self._layout


def _unix(moment: date) -> int:
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _naive(seconds: int | None) -> datetime | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC).replace(tzinfo=None)
