"""The job list's URL query and the filters it stands for.

cc-backend's job list (``/monitoring/jobs/``) takes its filters from the URL query, and
other pages link to it that way (``?cluster=fritz&state=running``, ``?projectMatch=eq&
project=p1``, ``?startTime=last24h``, ``?user=a&user=b``). :func:`parse_job_query` reads
such a query into a :class:`JobQuery`, :meth:`JobQuery.to_filters` turns that into the
:class:`~cc_backend.domain.filters.JobFilter` list the client takes, and
:meth:`JobQuery.to_pairs` writes it back as a query, so a view is a link and a
cc-backend link opens the same jobs here.

The parameters, as cc-backend's server reads them:

================== ============================================================
``cluster``        cluster name (equal)
``partition``      partition name (equal)
``project``        project; equal unless ``projectMatch`` names another operator
``user``           one: contains (``userMatch`` may say otherwise); several: any of
``jobName``        job name contains
``jobId``          one: equal (``jobIdMatch`` may say otherwise); several: any of
``arrayJobId``     array job id (a number)
``dbId``           database ids (repeated)
``state``          job states (repeated)
``shared``         ``none``, ``single_user`` or ``multi_user``
``schedule``       ``interactive`` (job name "interactive") or ``batch`` (any other)
``tag``            tag ids (repeated)
``node``           host name; equal unless ``nodeMatch`` names another operator
``startTime``      ``FROM-TO`` (Unix seconds) or a named range (``last6h``, ``last24h``,
                   ``last7d``, ``last30d``)
``duration``       ``FROM-TO`` seconds, ``lessthan-N`` (0 to N), ``morethan-N`` (N to 7 days)
``numNodes``,      ``FROM-TO``, ``lessthan-N`` (1 to N), ``morethan-N`` (N and more);
``numHWThreads``,  ``energy`` (kWh) likewise
``numAccelerators``
``stat``           a footprint value's range: ``<metric>_<stat>-FROM-TO`` (repeated;
                   ``lessthan``/``morethan`` as above)
================== ============================================================

cc-backend's server ignores the ``*Match`` parameters that its own pages write; here they
are honoured, which changes nothing for the links cc-backend makes. A value that cannot be
read is left out and reported in :attr:`ParsedQuery.problems` (cc-backend drops it
silently). The list's own settings (sorting, page, page size, hiding short jobs) have
parameters of their own: :class:`ListOptions`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from cc_backend.domain.filters import (
    METRIC_NAME_RE,
    NAMED_RANGES,
    FloatRange,
    IntRange,
    JobFilter,
    OrderBy,
    StringInput,
    TimeRange,
)
from cc_backend.domain.job import JobState

__all__ = [
    "DURATION_CEILING",
    "ITEMS_PER_PAGE",
    "MATCH_OPERATORS",
    "QUICK_RANGES",
    "SHARED_MODES",
    "JobQuery",
    "ListOptions",
    "ParsedQuery",
    "SortKey",
    "Span",
    "StartWindow",
    "StatSpan",
    "merge_problems",
    "parse_job_query",
    "parse_list_options",
    "query_pairs",
]

#: The operators of a text filter, as cc-backend's ``*Match`` parameters name them.
MATCH_OPERATORS = ("eq", "neq", "contains", "startsWith", "endsWith", "in")
#: Sharing modes a job may have (``shared``).
SHARED_MODES = ("none", "single_user", "multi_user")
#: ``schedule`` values and the job names they select.
SCHEDULES = ("interactive", "batch")
#: cc-backend's upper end of ``duration=morethan-N`` (seven days, for very long jobs).
DURATION_CEILING = 7 * 24 * 3600
#: Start-time quick ranges, shortest first, with their labels.
QUICK_RANGES: dict[str, str] = {
    "last6h": "Last 6 hours",
    "last24h": "Last 24 hours",
    "last7d": "Last 7 days",
    "last30d": "Last 30 days",
}
#: Page sizes the list offers.
ITEMS_PER_PAGE = (10, 25, 50, 100)

Match = str
_SPAN = re.compile(r"^(?:(lessthan|morethan)-(\d+(?:\.\d+)?)|(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?))$")
_STAT = re.compile(r"^([A-Za-z0-9_]+)-(.+)$")


@dataclass(frozen=True)
class Span:
    """An inclusive range as cc-backend's filters take it; ``high == 0`` with a positive
    ``low`` leaves the top open."""

    low: float
    high: float

    @property
    def open_top(self) -> bool:
        return self.high == 0 and self.low > 0

    def text(self) -> str:
        """The range as a URL value: ``FROM-TO`` or ``morethan-FROM``."""
        if self.open_top:
            return f"morethan-{_number(self.low)}"
        return f"{_number(self.low)}-{_number(self.high)}"

    def int_range(self) -> IntRange:
        return IntRange.model_validate({"from": int(self.low), "to": int(self.high)})

    def float_range(self) -> FloatRange:
        return FloatRange.model_validate({"from": self.low, "to": self.high})


@dataclass(frozen=True)
class StatSpan:
    """A range on one footprint value, e.g. ``flops_any_avg`` from 10 to 100."""

    field: str
    span: Span


@dataclass(frozen=True)
class StartWindow:
    """A start-time window: a named range (``last24h``) or bounds in Unix seconds."""

    range: str = ""
    start: int | None = None
    stop: int | None = None

    def text(self) -> str:
        if self.range:
            return self.range
        return f"{self.start or 0}-{self.stop or 0}"

    def time_range(self) -> TimeRange:
        if self.range:
            return TimeRange(range=self.range)
        return TimeRange.model_validate(
            {"from": _datetime(self.start or 0), "to": _datetime(self.stop or 0)}
        )


def _datetime(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _text(op: str, values: Sequence[str]) -> StringInput:
    if op == "in":
        return StringInput.model_validate({"in": list(values)})
    return StringInput.model_validate({op: values[0]})


@dataclass(frozen=True)
class JobQuery:
    """The filters of a job list in the terms of its URL (see the module docstring).

    Empty fields filter nothing. Text filters keep their operator (``*_match``); with
    several values (users, job ids) the operator is always ``in``.
    """

    db_ids: tuple[int, ...] = ()
    job_ids: tuple[str, ...] = ()
    job_id_match: Match = "eq"
    array_job_id: int | None = None
    job_name: str = ""
    project: str = ""
    project_match: Match = "eq"
    users: tuple[str, ...] = ()
    user_match: Match = "contains"
    cluster: str = ""
    partition: str = ""
    states: tuple[JobState, ...] = ()
    shared: str = ""
    schedule: str = ""
    start: StartWindow | None = None
    duration: Span | None = None
    tags: tuple[int, ...] = ()
    num_nodes: Span | None = None
    num_hwthreads: Span | None = None
    num_accelerators: Span | None = None
    node: str = ""
    node_match: Match = "eq"
    energy: Span | None = None
    stats: tuple[StatSpan, ...] = ()

    @property
    def is_empty(self) -> bool:
        """True if the query filters nothing."""
        return self == JobQuery()

    def replace(self, **changes: Any) -> JobQuery:
        """A copy with ``changes``."""
        return replace(self, **changes)

    def to_filters(self) -> list[JobFilter]:
        """The client's filters (all must hold), one per restriction as cc-backend sends
        them."""
        items: list[dict[str, Any]] = []
        add = items.append
        if self.db_ids:
            add({"dbId": list(self.db_ids)})
        if self.cluster:
            add({"cluster": StringInput(eq=self.cluster)})
        if self.partition:
            add({"partition": StringInput(eq=self.partition)})
        if self.states:
            add({"state": list(self.states)})
        if self.shared:
            add({"shared": self.shared})
        if self.project:
            add({"project": _text(self.project_match, [self.project])})
        if self.users:
            add({"user": _text(self._many(self.users, self.user_match), self.users)})
        for name, span in (
            ("numNodes", self.num_nodes),
            ("numAccelerators", self.num_accelerators),
            ("numHWThreads", self.num_hwthreads),
            ("duration", self.duration),
        ):
            if span is not None:
                add({name: span.int_range()})
        if self.array_job_id is not None:
            add({"arrayJobId": self.array_job_id})
        if self.tags:
            add({"tags": list(self.tags)})
        if self.start is not None:
            add({"startTime": self.start.time_range()})
        if self.energy is not None:
            add({"energy": self.energy.float_range()})
        if self.job_ids:
            add({"jobId": _text(self._many(self.job_ids, self.job_id_match), self.job_ids)})
        if self.stats:
            add(
                {
                    "metricStats": [
                        {"metricName": s.field, "range": s.span.float_range()} for s in self.stats
                    ]
                }
            )
        if self.node:
            add({"node": _text(self.node_match, [self.node])})
        if self.job_name:
            add({"jobName": StringInput(contains=self.job_name)})
        if self.schedule:
            op = "eq" if self.schedule == "interactive" else "neq"
            add({"jobName": StringInput.model_validate({op: "interactive"})})
        return [JobFilter.model_validate(item) for item in items]

    @staticmethod
    def _many(values: Sequence[str], match: Match) -> Match:
        return "in" if len(values) > 1 else match

    def to_pairs(self) -> list[tuple[str, str]]:
        """The query as URL parameters, in the form cc-backend's server reads; a
        ``*Match`` parameter only where the operator is not the one it assumes."""
        pairs: list[tuple[str, str]] = [("dbId", str(i)) for i in self.db_ids]
        pairs += [("jobId", j) for j in self.job_ids]
        if self.job_ids and self._many(self.job_ids, self.job_id_match) != self._job_id_default:
            pairs.append(("jobIdMatch", self.job_id_match))
        if self.array_job_id is not None:
            pairs.append(("arrayJobId", str(self.array_job_id)))
        if self.job_name:
            pairs.append(("jobName", self.job_name))
        if self.project:
            pairs.append(("project", self.project))
            if self.project_match != "eq":
                pairs.append(("projectMatch", self.project_match))
        pairs += [("user", u) for u in self.users]
        if self.users and self._many(self.users, self.user_match) != self._user_default:
            pairs.append(("userMatch", self.user_match))
        for key, value in (
            ("cluster", self.cluster),
            ("partition", self.partition),
        ):
            if value:
                pairs.append((key, value))
        pairs += [("state", s.value) for s in self.states]
        if self.shared:
            pairs.append(("shared", self.shared))
        if self.schedule:
            pairs.append(("schedule", self.schedule))
        if self.start is not None:
            pairs.append(("startTime", self.start.text()))
        if self.duration is not None:
            pairs.append(("duration", self.duration.text()))
        pairs += [("tag", str(t)) for t in self.tags]
        for key, span in (
            ("numNodes", self.num_nodes),
            ("numHWThreads", self.num_hwthreads),
            ("numAccelerators", self.num_accelerators),
        ):
            if span is not None:
                pairs.append((key, span.text()))
        if self.node:
            pairs.append(("node", self.node))
            if self.node_match != "eq":
                pairs.append(("nodeMatch", self.node_match))
        if self.energy is not None:
            pairs.append(("energy", self.energy.text()))
        pairs += [("stat", f"{s.field}-{s.span.text()}") for s in self.stats]
        return pairs

    @property
    def user_operator(self) -> Match:
        """The operator the user filter applies (``in`` for several users)."""
        return self._many(self.users, self.user_match)

    @property
    def job_id_operator(self) -> Match:
        """The operator the job id filter applies (``in`` for several ids)."""
        return self._many(self.job_ids, self.job_id_match)

    @property
    def _user_default(self) -> Match:
        return "in" if len(self.users) > 1 else "contains"

    @property
    def _job_id_default(self) -> Match:
        return "in" if len(self.job_ids) > 1 else "eq"


# -- reading a query ------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedQuery:
    """What a URL query said: the filters, and why any value was left out."""

    query: JobQuery
    problems: tuple[str, ...] = ()


@dataclass
class _Reader:
    args: Mapping[str, Sequence[str]]
    problems: list[str] = field(default_factory=list)

    def values(self, key: str) -> list[str]:
        return [v.strip() for v in self.args.get(key, ()) if v.strip()]

    def first(self, key: str) -> str:
        found = self.values(key)
        return found[0] if found else ""

    def match(self, key: str, default: Match) -> Match:
        given = self.first(key)
        if not given:
            return default
        if given not in MATCH_OPERATORS:
            self.problems.append(
                f"{key}: unknown operator {given!r} (known: {', '.join(MATCH_OPERATORS)})"
            )
            return default
        return given

    def integers(self, key: str, label: str) -> tuple[int, ...]:
        found: list[int] = []
        for value in self.values(key):
            if value.isdigit():
                found.append(int(value))
            else:
                self.problems.append(f"{key}: {value!r} is not a {label}")
        return tuple(found)

    def span(self, key: str, kind: Literal["count", "duration", "float"]) -> Span | None:
        text = self.first(key)
        if not text:
            return None
        span = _read_span(text, kind)
        if span is None:
            self.problems.append(
                f"{key}: {text!r} is not a range (FROM-TO, lessthan-N or morethan-N)"
            )
        return span

    def choice(self, key: str, allowed: Sequence[str]) -> str:
        value = self.first(key)
        if value and value not in allowed:
            self.problems.append(f"{key}: {value!r} is not one of {', '.join(allowed)}")
            return ""
        return value


def _read_span(text: str, kind: Literal["count", "duration", "float"]) -> Span | None:
    found = _SPAN.fullmatch(text)
    if found is None:
        return None
    word, bound, low, high = found.groups()
    numbers = [float(n) for n in (bound, low, high) if n is not None]
    if kind != "float" and not all(n.is_integer() for n in numbers):
        return None
    if word == "lessthan":
        return Span(0 if kind == "duration" else 1, numbers[0])
    if word == "morethan":
        return Span(numbers[0], DURATION_CEILING if kind == "duration" else 0)
    span = Span(numbers[0], numbers[1])
    if span.high < span.low and not span.open_top:
        return None
    return span


def _read_start(reader: _Reader) -> StartWindow | None:
    text = reader.first("startTime")
    if not text:
        return None
    parts = text.split("-")
    if len(parts) == 2:
        if parts[0].isdigit() and parts[1].isdigit():
            return StartWindow(start=int(parts[0]), stop=int(parts[1]))
        reader.problems.append(f"startTime: {text!r} is not FROM-TO in Unix seconds")
        return None
    if text in NAMED_RANGES:
        return StartWindow(range=text)
    reader.problems.append(
        f"startTime: unknown range {text!r} (known: {', '.join(NAMED_RANGES)} or FROM-TO)"
    )
    return None


def _read_stats(reader: _Reader) -> tuple[StatSpan, ...]:
    stats: list[StatSpan] = []
    for text in reader.values("stat"):
        found = _STAT.fullmatch(text)
        span = _read_span(found.group(2), "float") if found else None
        if found is None or span is None or not METRIC_NAME_RE.fullmatch(found.group(1)):
            reader.problems.append(f"stat: {text!r} is not <metric>_<stat>-FROM-TO")
            continue
        stats.append(StatSpan(found.group(1), span))
    return tuple(stats)


def _read_states(reader: _Reader) -> tuple[JobState, ...]:
    states: list[JobState] = []
    for value in reader.values("state"):
        try:
            state = JobState(value.lower())
        except ValueError:
            reader.problems.append(f"state: unknown job state {value!r}")
            continue
        if state not in states:
            states.append(state)
    return tuple(states)


def parse_job_query(args: Mapping[str, Sequence[str]]) -> ParsedQuery:
    """Read a job list URL query (every value of each parameter, in order)."""
    reader = _Reader(args)
    array_job_id = reader.integers("arrayJobId", "number")
    query = JobQuery(
        db_ids=reader.integers("dbId", "database id"),
        job_ids=tuple(reader.values("jobId")),
        job_id_match=reader.match("jobIdMatch", "eq"),
        array_job_id=array_job_id[0] if array_job_id else None,
        job_name=reader.first("jobName"),
        project=reader.first("project"),
        project_match=reader.match("projectMatch", "eq"),
        users=tuple(reader.values("user")),
        user_match=reader.match("userMatch", "contains"),
        cluster=reader.first("cluster"),
        partition=reader.first("partition"),
        states=_read_states(reader),
        shared=reader.choice("shared", SHARED_MODES),
        schedule=reader.choice("schedule", SCHEDULES),
        start=_read_start(reader),
        duration=reader.span("duration", "duration"),
        tags=reader.integers("tag", "tag id"),
        num_nodes=reader.span("numNodes", "count"),
        num_hwthreads=reader.span("numHWThreads", "count"),
        num_accelerators=reader.span("numAccelerators", "count"),
        node=reader.first("node"),
        node_match=reader.match("nodeMatch", "eq"),
        energy=reader.span("energy", "float"),
        stats=_read_stats(reader),
    )
    return ParsedQuery(_without_idle_operators(query), tuple(reader.problems))


def _without_idle_operators(query: JobQuery) -> JobQuery:
    """``query`` with the default operator for text filters that have no value
    (cc-backend's pages write ``userMatch`` even without a user)."""
    defaults = JobQuery()
    return query.replace(
        job_id_match=query.job_id_match if query.job_ids else defaults.job_id_match,
        project_match=query.project_match if query.project else defaults.project_match,
        user_match=query.user_match if query.users else defaults.user_match,
        node_match=query.node_match if query.node else defaults.node_match,
    )


# -- the list's own settings ------------------------------------------------------------------


@dataclass(frozen=True)
class SortKey:
    """What the list is sorted by: a job column (``startTime``, ``duration``, ...) or a
    footprint value (``flops_any_avg``, with ``footprint`` set)."""

    field: str = "startTime"
    footprint: bool = False
    descending: bool = True

    def order_by(self) -> OrderBy:
        """The client's ordering."""
        return OrderBy.model_validate(
            {
                "field": self.field,
                "type": "foot" if self.footprint else "col",
                "order": "DESC" if self.descending else "ASC",
            }
        )

    def text(self) -> str:
        """The URL value: the column, or ``footprint:<key>``."""
        return f"footprint:{self.field}" if self.footprint else self.field


@dataclass(frozen=True)
class ListOptions:
    """Sorting, paging and the short-job switch of a job list, mirrored in the URL as
    ``sort``, ``order`` (``asc``/``desc``), ``page``, ``itemsPerPage`` and ``hideShort``
    (``1``/``0``; absent: the user's setting)."""

    sort: SortKey = SortKey()
    page: int = 1
    items_per_page: int = 25
    hide_short: bool | None = None

    def to_pairs(self) -> list[tuple[str, str]]:
        """The options that differ from the defaults, as URL parameters."""
        pairs: list[tuple[str, str]] = []
        default = SortKey()
        if (self.sort.field, self.sort.footprint) != (default.field, default.footprint):
            pairs.append(("sort", self.sort.text()))
        if self.sort.descending != default.descending:
            pairs.append(("order", "desc" if self.sort.descending else "asc"))
        if self.page != 1:
            pairs.append(("page", str(self.page)))
        if self.items_per_page != ListOptions.items_per_page:
            pairs.append(("itemsPerPage", str(self.items_per_page)))
        if self.hide_short is not None:
            pairs.append(("hideShort", "1" if self.hide_short else "0"))
        return pairs


def parse_list_options(
    args: Mapping[str, Sequence[str]], problems: list[str] | None = None
) -> ListOptions:
    """Read the list's own settings from a URL query; a value that cannot be read keeps
    the default and is reported in ``problems``."""
    reader = _Reader(args, problems if problems is not None else [])
    sort = SortKey()
    text = reader.first("sort")
    if text:
        footprint = text.startswith("footprint:")
        name = text.removeprefix("footprint:")
        if METRIC_NAME_RE.fullmatch(name):
            sort = SortKey(name, footprint)
        else:
            reader.problems.append(f"sort: {text!r} is not a column or footprint:<metric>_<stat>")
    order = reader.choice("order", ("asc", "desc"))
    if order:
        sort = replace(sort, descending=order == "desc")
    page = _positive(reader, "page", 1)
    per_page = _positive(reader, "itemsPerPage", ListOptions.items_per_page)
    if per_page not in ITEMS_PER_PAGE:
        reader.problems.append(
            f"itemsPerPage: {per_page} is not one of {', '.join(map(str, ITEMS_PER_PAGE))}"
        )
        per_page = ListOptions.items_per_page
    hide = reader.choice("hideShort", ("0", "1"))
    return ListOptions(sort, page, per_page, None if not hide else hide == "1")


def _positive(reader: _Reader, key: str, default: int) -> int:
    text = reader.first(key)
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        reader.problems.append(f"{key}: {text!r} is not a positive number")
        return default
    return int(text)


def query_pairs(query: JobQuery, options: ListOptions) -> list[tuple[str, str]]:
    """The URL parameters of a job list: its filters, then its settings."""
    return query.to_pairs() + options.to_pairs()


def merge_problems(*groups: Iterable[str]) -> tuple[str, ...]:
    """All problems of ``groups``, each once, in order."""
    seen: dict[str, None] = {}
    for group in groups:
        for problem in group:
            seen.setdefault(problem, None)
    return tuple(seen)
