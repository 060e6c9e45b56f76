"""The job list page's views as objects: footprint bars, sparklines, the table, the
controls, the filter form and the page itself, against a real site."""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable
from typing import Any

import panel as pn
import pytest

from app.context import PageContext
from app.filters import JobQuery, ListOptions, SortKey, Span, StartWindow, StatSpan
from app.pages import PAGES
from app.pages.jobs import job_list_store, jobs_page, location_search, plot_when_listed
from app.routing import find_page
from app.stores.jobs import JobListStore, Sparkline
from app.views.footprint import (
    FootprintView,
    Level,
    Thresholds,
    classify,
    footprint_bars,
    footprint_html,
    job_thresholds,
)
from app.views.job_list import (
    COLUMNS,
    JobTable,
    duration_text,
    job_info_html,
    job_rows,
    metric_column,
)
from app.views.job_list_controls import JobListControls, Pager, sort_choices
from app.views.job_list_export import ExportButton
from app.views.job_list_filters import FilterForm
from app.views.job_list_plots import sparkline_svg
from app.views.job_list_summary import JobListSummary
from cc_backend.client import HttpClient, LocalClient
from cc_backend.demo import demo_clusters
from cc_backend.domain.cluster import Cluster
from cc_backend.domain.job import Job, JobState
from cc_backend.domain.tag import Tag
from cc_backend.server import Backends

LIMITS = Thresholds(peak=100, normal=80, caution=40, alert=10)


@pytest.fixture(scope="module")
def fritz() -> Cluster:
    return next(c for c in demo_clusters() if c.name == "fritz")


async def until(condition: Callable[[], bool], attempts: int = 500) -> None:
    """Let the event loop run the widgets' callbacks until ``condition`` holds."""
    for _ in range(attempts):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


# -- footprint bars ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "level"),
    [
        (5, Level.ALERT),
        (10, Level.ALERT),
        (30, Level.CAUTION),
        (60, Level.NORMAL),
        (90, Level.HIGH),
        (150, Level.ABOVE_PEAK),
        (math.nan, Level.UNKNOWN),
    ],
)
def test_higher_is_better_levels(value: float, level: Level) -> None:
    assert classify(value, LIMITS) is level


@pytest.mark.parametrize(
    ("value", "level"),
    [(5, Level.NORMAL), (40, Level.CAUTION), (60, Level.ALERT), (100, Level.ALERT)],
)
def test_lower_is_better_levels(value: float, level: Level) -> None:
    # mem_used-like: normal below caution (40), caution below alert (here 10 < 40, so the
    # thresholds of a lower-is-better metric rise: caution 40, alert 60, peak 100)
    limits = Thresholds(peak=100, normal=20, caution=40, alert=60)
    assert classify(value, limits, lower_is_better=True) is level


def test_footprint_bars_use_the_subclusters_thresholds(
    fritz: Cluster, make_job: Callable[..., Job]
) -> None:
    job = make_job(
        footprint={"cpu_load_avg": 70.0, "flops_any_avg": 30.0, "mem_used_max": 250.0},
        numHwthreads=72,
    )
    bars = {b.key: b for b in footprint_bars(job, fritz)}

    assert bars["cpu_load_avg"].level is Level.NORMAL  # caution 36 < 70 <= normal 72
    assert bars["flops_any_avg"].level is Level.ALERT  # below the alert threshold 50
    assert bars["flops_any_avg"].thresholds == Thresholds(4675, 800, 200, 50)  # 85 % of peak
    assert bars["mem_used_max"].level is Level.ALERT  # lower is better: alert 245 to peak 256
    assert bars["mem_used_max"].lower_is_better
    assert bars["mem_used_max"].unit == "GB"
    order = [b.key for b in footprint_bars(job, fritz)]
    assert order == ["cpu_load_avg", "flops_any_avg", "mem_used_max"]  # by level, then name


def test_a_shared_job_is_measured_against_its_share_of_the_node(
    fritz: Cluster, make_job: Callable[..., Job]
) -> None:
    job = make_job(shared="multi_user", numHwthreads=18)  # a quarter of a 72-thread node
    limits = job_thresholds(job, fritz, fritz.metric_config("main", "cpu_load"))

    assert limits == Thresholds(peak=18, normal=18, caution=9, alert=4)


def test_footprint_html_escapes_and_says_when_there_is_nothing(
    fritz: Cluster, make_job: Callable[..., Job]
) -> None:
    unknown = make_job(footprint={"<b>odd</b>_avg": 1.0})
    text = footprint_html(footprint_bars(unknown, fritz))

    assert "<b>odd" not in text
    assert "&lt;b&gt;odd" in text
    assert 'data-level="unknown"' in text
    assert "No footprint" in footprint_html(footprint_bars(make_job(), fritz))
    view = FootprintView(make_job(footprint={"cpu_load_avg": 70.0}), fritz)
    assert 'data-metric="cpu_load_avg"' in view.__panel__().object
    view.draw(None, None)
    assert view.__panel__().object == ""


# -- sparklines -------------------------------------------------------------------------


def test_a_sparkline_is_an_svg_coloured_by_the_level_of_its_average() -> None:
    line = Sparkline((50.0, 70.0, math.nan, 60.0), (40.0, 60.0, math.nan, 50.0), None, 60, "GB/s")
    text = sparkline_svg(line, "mem_bw", LIMITS)

    assert text.count("<svg") == 1
    assert 'data-level="normal"' in text  # average 60: between caution and normal
    assert Level.NORMAL.colour in text
    assert re.search(r'<path d="M[^"]*L[^"]*M[^"]*"', text)  # the gap splits the line
    assert "avg 60 GB/s" in text


def test_a_sparkline_cell_says_why_there_is_no_plot() -> None:
    assert "loading" in sparkline_svg(None, "x")
    assert "no data: &lt;archive&gt; gone" in sparkline_svg("no data: <archive> gone", "x")
    empty = Sparkline((math.nan,), None, None, 60, "W")
    assert "no samples" in sparkline_svg(empty, "x")


# -- rows -------------------------------------------------------------------------------


def test_rows_hold_the_jobs_facts_links_and_plots(
    fritz: Cluster, make_job: Callable[..., Job]
) -> None:
    job = make_job(
        id=7,
        jobState="completed",
        duration=3725,
        arrayJobId=99,
        metaData={"jobName": "<script>x</script>"},
        tags=[{"id": 1, "type": "app", "name": "gromacs"}],
    )
    line = Sparkline((1.0, 2.0), None, None, 60, "")
    rows = job_rows([job], {"fritz": fritz}, ["cpu_load"], {7: {"cpu_load": line}})

    assert list(rows.columns) == [*COLUMNS, metric_column("cpu_load")]
    row = rows.iloc[0]
    assert '<a class="job-link" href="/monitoring/job/7">' in row["job"]
    assert "&lt;script&gt;" in row["job"]
    assert "<script>" not in row["job"]
    assert "app: gromacs" in row["job"]
    assert "/monitoring/jobs/?arrayJobId=99" in row["job"]
    assert row["duration"] == "01:02:05"
    assert row["user"] == "alice"  # plain text unless the viewer may open user pages
    assert "/monitoring/jobs/?project=project-a" in row["project"]
    assert "<svg" in row[metric_column("cpu_load")]
    staff = job_rows([job], {}, [], {}, link_users=True)
    assert staff.iloc[0]["user"] == '<a href="/monitoring/user/alice">alice</a>'


def test_durations_read_as_clock_times() -> None:
    assert duration_text(59) == "00:00:59"
    assert duration_text(90_061) == "1d 01:01:01"
    assert "state-running" in job_info_html(
        Job.model_validate(
            {
                "id": 1,
                "jobId": 5,
                "user": "u",
                "project": "p",
                "cluster": "c",
                "numNodes": 1,
                "jobState": "running",
                "startTime": 0,
                "resources": [{"hostname": "h"}],
            }
        )
    )


# -- the views on a real site -----------------------------------------------------------


@pytest.fixture
def jobs(backends: Backends, make_job: Callable[..., Job]) -> list[int]:
    now = int(time.time())
    ids = [
        backends.jobs.add(
            make_job(
                user="alice" if n % 2 else "bob",
                startTime=now - 3600 * (n + 1),
                duration=600 * (n + 1),
                jobState="completed",
                numNodes=n + 1,
                footprint={"cpu_load_avg": float(n * 10), "flops_any_avg": float(100 - n)},
            )
        )
        for n in range(12)
    ]
    root = backends.users.get("root")
    tag = backends.tags.create(Tag(type="app", name="vasp"), root)
    assert tag.id is not None
    backends.tags.attach(ids[0], tag.id, root)
    return ids


def _store(backends: Backends, username: str = "root", **params: Any) -> JobListStore:
    return JobListStore(LocalClient(backends, backends.users.get(username)), **params)


async def test_the_table_shows_the_page_and_sorts_by_a_header(
    backends: Backends, jobs: list[int]
) -> None:
    store = _store(backends, metrics=["cpu_load"])
    table = JobTable(store)
    assert not table.table.visible

    await store.load()

    assert table.table.visible
    assert len(table.table.value) == len(jobs)
    assert table.table.titles[metric_column("cpu_load")] == "cpu_load"
    assert table.table.sortable["resources"] is True
    assert table.table.sortable["footprint"] is False
    assert table.table.sorters == [{"field": "start", "dir": "desc"}]
    assert "loading" in table.table.value.iloc[0][metric_column("cpu_load")]
    await store.load_sparklines()
    assert "no data" in table.table.value.iloc[0][metric_column("cpu_load")]

    await table.sort_by_header("resources", descending=False)

    assert store.options.sort == SortKey("numNodes", descending=False)
    assert [j.num_nodes for j in store.jobs] == sorted(j.num_nodes for j in store.jobs)
    assert table.table.sorters == [{"field": "resources", "dir": "asc"}]
    await table.sort_by_header("footprint", descending=True)  # not sortable: nothing happens
    assert store.options.sort == SortKey("numNodes", descending=False)


async def test_a_header_click_in_the_browser_reaches_the_store(
    backends: Backends, jobs: list[int]
) -> None:
    store = _store(backends)
    table = JobTable(store)
    await store.load()

    table.table.sorters = [{"field": "duration", "dir": "asc"}]  # as the browser sends it

    await until(lambda: store.options.sort == SortKey("duration", descending=False))
    await until(lambda: not store.loading)
    assert [j.duration for j in store.jobs] == sorted(j.duration for j in store.jobs)


async def test_sparklines_patch_their_cells_as_they_arrive(
    backends: Backends, jobs: list[int]
) -> None:
    store = _store(backends, metrics=["cpu_load"])
    table = JobTable(store)
    await store.load()
    job = store.jobs[0]
    assert job.id is not None

    store.sparklines = {job.id: {"cpu_load": Sparkline((1.0, 2.0), None, None, 60, "")}}

    assert "<svg" in table.table.value.iloc[0][metric_column("cpu_load")]
    assert "loading" in table.table.value.iloc[1][metric_column("cpu_load")]


async def test_the_pager_moves_through_the_pages(backends: Backends, jobs: list[int]) -> None:
    store = _store(backends, options=ListOptions(items_per_page=10))
    pager = Pager(store)
    await store.load()
    assert pager.previous.disabled
    assert not pager.next.disabled
    assert "Jobs 1 to 10 of 12 (page 1)" in pager.where.object

    pager.next.clicks += 1
    await until(lambda: store.options.page == 2 and not store.loading)

    assert len(store.jobs) == 2
    assert pager.next.disabled
    assert "Jobs 11 to 12 of 12 (page 2)" in pager.where.object

    pager.size.value = 25
    await until(lambda: store.options.items_per_page == 25 and not store.loading)
    assert store.options.page == 1
    assert len(store.jobs) == 12


async def test_controls_sort_by_footprint_and_hide_short_jobs(
    backends: Backends, jobs: list[int]
) -> None:
    store = _store(backends)
    controls = JobListControls(store)
    await store.load()
    choices = sort_choices(store)
    assert choices["Footprint: flops_any (avg)"] == "footprint:flops_any_avg"
    assert choices["Duration"] == "duration"

    controls.sort.value = "footprint:flops_any_avg"
    await until(lambda: store.options.sort.footprint and not store.loading)

    flops = [(j.footprint or {})["flops_any_avg"] for j in store.jobs]
    assert flops == sorted(flops, reverse=True)
    controls.direction.value = "Ascending"
    await until(lambda: not store.options.sort.descending and not store.loading)
    assert [(j.footprint or {})["flops_any_avg"] for j in store.jobs] == sorted(flops)

    assert store.hiding_short  # the site's short-running-jobs duration: 5 minutes
    assert controls.hide_short.value
    controls.hide_short.value = False
    await until(lambda: store.options.hide_short is False and not store.loading)
    assert not store.hiding_short


async def test_controls_follow_a_header_sort_without_changing_it(
    backends: Backends, jobs: list[int]
) -> None:
    store = _store(backends)
    table, controls = JobTable(store), JobListControls(store)
    await store.load()

    await table.sort_by_header("resources", descending=False)
    for _ in range(50):  # give any callback the controls might have started a chance to run
        await asyncio.sleep(0)

    assert store.options.sort == SortKey("numNodes", descending=False)
    assert (controls.sort.value, controls.direction.value) == ("numNodes", "Ascending")


async def test_the_metric_choice_is_shown_and_saved(backends: Backends, jobs: list[int]) -> None:
    store = _store(backends, query=JobQuery(cluster="fritz"))
    controls = JobListControls(store)
    await store.load()
    assert controls.metrics.value == ["cpu_load", "mem_used", "flops_any"]
    assert controls.save.disabled

    controls.metrics.value = ["clock"]
    assert not controls.save.disabled
    controls.save.clicks += 1
    await until(lambda: store.settings.get("metricConfig_jobListMetrics:fritz") == ["clock"])
    assert store.metrics == ["clock"]

    saved = backends.user_config.get_all("root")
    assert saved["metricConfig_jobListMetrics:fritz"] == ["clock"]


async def test_the_summary_counts_describes_and_shows_the_empty_state(
    backends: Backends, jobs: list[int]
) -> None:
    store = _store(backends, query=JobQuery(users=("alice",)))
    summary = JobListSummary(store, problems=("state: unknown job state 'x'",))
    layout = summary.__panel__()
    problems, count, empty = layout.objects
    assert problems.visible
    assert "unknown job state" in problems.object
    assert "Loading" in count.object

    await store.load()
    assert count.object.startswith("<b>6 jobs</b>: user contains alice")
    assert not empty.visible

    await store.update(query=JobQuery(cluster="nowhere"))
    assert empty.visible
    assert "No jobs match these filters" in empty.object


async def test_a_user_without_jobs_is_told_so(backends: Backends) -> None:
    store = _store(backends, "bob")
    summary = JobListSummary(store)
    await store.load()

    empty = summary.__panel__().objects[2]
    assert empty.visible
    assert "no jobs you may see that started at least 5 min ago" in empty.object

    await store.update(options=ListOptions(hide_short=False))
    assert "no jobs you may see yet" in empty.object


async def test_the_export_button_says_what_it_exported(backends: Backends, jobs: list[int]) -> None:
    store = _store(backends, "alice")
    button = ExportButton(store)
    await store.load()

    exported = await button.csv_file()

    assert exported.getvalue().count(b"\n") == 1 + 6
    assert button.note.object == "Exported 6 jobs."
    capped = ExportButton(store, limit=4)
    await capped.csv_file()
    assert capped.note.object == "Exported 4 of 6 jobs (the export stops at 4)."


async def test_a_failed_export_says_why() -> None:
    store = JobListStore(HttpClient("http://127.0.0.1:1", "token"))
    button = ExportButton(store)

    exported = await button.csv_file()

    assert exported.getvalue() == b""
    assert button.note.object.startswith("Export failed: cannot reach")


# -- the filter form --------------------------------------------------------------------


async def test_the_form_goes_into_its_card_when_the_card_is_first_opened(
    backends: Backends, jobs: list[int]
) -> None:
    form = FilterForm(_store(backends))
    card = form.__panel__()
    assert card.collapsed
    assert card.objects == []  # nothing for a browser to build while it is closed

    card.collapsed = False
    assert form.cluster in card.select(pn.widgets.Select)
    assert form.apply in card.select(pn.widgets.Button)

    card.collapsed = True
    card.collapsed = False
    assert len(card.objects) == 1  # put in once


async def test_the_footprint_inputs_are_built_again_only_for_other_footprint_values(
    backends: Backends, jobs: list[int]
) -> None:
    store = _store(backends)
    form = FilterForm(store)
    await store.load()
    inputs = form.stats["cpu_load_avg"]

    store.tags = [*store.tags]  # new tags: the footprint values are the same
    assert form.stats["cpu_load_avg"] is inputs

    store.clusters = {}  # no cluster left: no footprint values
    assert form.stats == {}


async def test_the_form_shows_the_query_and_applies_edits(
    backends: Backends, jobs: list[int]
) -> None:
    query = JobQuery(
        cluster="fritz",
        states=(JobState.COMPLETED,),
        num_nodes=Span(2, 0),
        duration=Span(1800, 7200),
        stats=(StatSpan("cpu_load_avg", Span(10, 50)),),
        db_ids=(jobs[0],),
    )
    store = _store(backends, query=query)
    form = FilterForm(store)
    await store.load()

    assert form.cluster.value == "fritz"
    assert form.states.value == ["completed"]
    assert (form.num_nodes.low.value, form.num_nodes.high.value) == (2, None)
    assert (form.duration.low.value, form.duration.high.value) == (0.5, 2.0)
    assert (form.stats["cpu_load_avg"].low.value, form.stats["cpu_load_avg"].high.value) == (
        10,
        50,
    )
    assert form.read() == query  # nothing edited: the same query

    form.num_nodes.high.value = 6
    form.job_name.value = "job-1"
    form.users.value = "alice, bob"
    form.apply.clicks += 1
    await until(lambda: store.query.num_nodes == Span(2, 6) and not store.loading)

    assert store.query.job_name == "job-1"
    assert store.query.users == ("alice", "bob")
    assert store.query.db_ids == (jobs[0],)  # no widget for it: kept


async def test_the_form_refuses_an_empty_range_and_applies_nothing(
    backends: Backends, jobs: list[int]
) -> None:
    store = _store(backends)
    form = FilterForm(store)
    await store.load()

    form.num_nodes.low.value = 8
    form.num_nodes.high.value = 2
    await form._apply()

    assert form.message.visible
    assert "Nodes: the lower bound 8 is above the upper bound 2" in form.message.object
    assert store.query == JobQuery()


async def test_quick_ranges_and_reset(backends: Backends, jobs: list[int]) -> None:
    store = _store(backends, query=JobQuery(cluster="fritz"))
    form = FilterForm(store)
    await store.load()

    form.quick[1].clicks += 1  # last 24 hours
    await until(lambda: store.query.start == StartWindow(range="last24h") and not store.loading)
    assert store.query.cluster == "fritz"
    assert form.quick[1].color == "primary"
    assert store.count == 12 - 0  # every job started within the last 12 hours

    form.reset.clicks += 1
    await until(lambda: store.query == JobQuery() and not store.loading)
    assert form.cluster.value == ""


async def test_the_user_filter_is_for_managers_and_up(backends: Backends) -> None:
    store = _store(backends, "bob", query=JobQuery(users=("alice",)))
    form = FilterForm(store, may_filter_users=False)

    assert form.users not in _widgets(form.__panel__())
    assert form.read().users == ("alice",)  # kept, and harmless: bob sees only his jobs


def _widgets(layout: Any) -> list[Any]:
    return [w for w in layout.select() if w is not layout]


# -- the page ---------------------------------------------------------------------------


def test_the_page_is_registered_for_every_viewer() -> None:
    found = find_page(PAGES, "/monitoring/jobs/")
    assert found is not None
    assert found[0].title == "Jobs"
    assert found[0].build is jobs_page
    assert find_page(PAGES, "/monitoring/jobs") is not None


def _context(backends: Backends, username: str, query: dict[str, list[str]]) -> PageContext:
    user = backends.users.get(username)
    return PageContext(user, LocalClient(backends, user), "/monitoring/jobs/", {}, query)


def test_the_page_reads_its_query_and_reports_what_it_cannot_use(backends: Backends) -> None:
    context = _context(
        backends, "root", {"cluster": ["fritz"], "state": ["bogus"], "sort": ["duration"]}
    )
    store, problems = job_list_store(context)

    assert store.query == JobQuery(cluster="fritz")
    assert store.options.sort == SortKey("duration")
    assert problems == ("state: unknown job state 'bogus'",)
    assert location_search(store) == "?cluster=fritz&sort=duration"

    page = jobs_page(context)
    assert page.name == "jobs"
    names = {getattr(obj, "name", "") for obj in _widgets(page)}
    assert {"filters", "pager", "controls", "export", "query-problems"} <= names


async def test_sparklines_follow_the_listed_jobs(backends: Backends, jobs: list[int]) -> None:
    store = _store(backends, metrics=["cpu_load"], options=ListOptions(items_per_page=10))
    plot_when_listed(store)
    await store.load()

    await until(lambda: len(store.sparklines) == 10)
    first_page = set(store.sparklines)
    await store.go_to_page(2)
    await until(lambda: len(store.sparklines) == 2)
    assert not first_page & set(store.sparklines)


async def test_the_page_loads_for_a_user_with_their_jobs_only(
    backends: Backends, jobs: list[int]
) -> None:
    store, _ = job_list_store(_context(backends, "alice", {}))
    await store.load()

    assert store.count == 6
    assert {j.user for j in store.jobs} == {"alice"}
