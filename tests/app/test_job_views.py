"""The job view's views as objects: what they compute and what their figures hold, from
hand-made data and from a store loaded from a real site."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from bokeh.models import GlyphRenderer

from app.stores.job import JobStore
from app.views.footprint import Thresholds
from app.views.job_energy import EnergySummary, job_energy
from app.views.job_footprint import JobFootprint, footprint_of, polar_axes, polar_figure
from app.views.job_info import (
    JobInfo,
    MonitoringNotice,
    admin_note_html,
    concurrent_html,
    format_duration,
    job_info_html,
    monitoring_message,
)
from app.views.job_meta import job_script_html, scheduler_html
from app.views.job_metric_grid import CELL_WIDTHS, ROW_HEIGHT, MetricGrid
from app.views.job_metric_plot import MetricPlot
from app.views.job_plot_figure import (
    SharedAxes,
    band_columns,
    band_data,
    line_data,
    metric_figure,
    scope_thresholds,
    threshold_bands,
)
from app.views.job_roofline import JobRoofline
from app.views.job_statistics import STATS, StatisticsTable, statistics_frame
from app.views.job_tags import JobTags, parse_tag, tag_scopes, tags_html
from app.views.roofline import Ceilings, ceilings_of, job_points, roofline_figure
from cc_backend.client import LocalClient
from cc_backend.client.base import JobLink, JobLinks
from cc_backend.domain.cluster import MetricScope
from cc_backend.domain.job import Job, MonitoringStatus
from cc_backend.domain.jobdata import JobMetric, SeriesStatistics
from cc_backend.domain.tag import Tag
from cc_backend.domain.user import User
from cc_backend.server import Backends
from tests.app.test_job_store import HOSTS, RESAMPLING, archive, run_job, store_for

START = 1_700_000_000


def _metric(
    rows: list[list[float]], hosts: list[str], *, prefix: str = "G", **extra: Any
) -> JobMetric:
    return JobMetric.model_validate(
        {
            "unit": {"base": "F/s", "prefix": prefix},
            "timestep": 60,
            "series": [{"hostname": h, "data": r} for h, r in zip(hosts, rows, strict=True)],
            **extra,
        }
    )


def _renderers(plot: Any, glyph: str) -> list[GlyphRenderer]:
    return [r for r in plot.renderers if type(r.glyph).__name__ == glyph]


# -- roofline ------------------------------------------------------------------------------


def test_roofline_points_are_flops_over_bandwidth_per_node_and_step() -> None:
    flops = _metric([[100.0, 200.0, np.nan], [50.0, 0.0, 30.0]], ["n1", "n2"])
    bandwidth = _metric([[10.0, 20.0, 30.0], [5.0, 5.0, 0.0]], ["n1", "n2"])

    points = job_points(flops, bandwidth)

    # NaN flops, zero flops and zero bandwidth are left out.
    assert sorted(zip(points.intensity.tolist(), points.performance.tolist(), strict=True)) == [
        (10.0, 50.0),
        (10.0, 100.0),
        (10.0, 200.0),
    ]
    assert sorted(points.time.tolist()) == [0.0, 0.0, 0.5]


def test_roofline_points_convert_prefixes_match_hosts_and_thin_out() -> None:
    flops = _metric([[1.0] * 4], ["n1"], prefix="T")
    bandwidth = _metric([[500.0] * 4, [1.0] * 4], ["n9", "n1"])
    points = job_points(flops, bandwidth)
    assert points.performance.tolist() == [1000.0] * 4
    assert points.intensity.tolist() == [1000.0] * 4

    many = _metric([[1.0] * 1000] * 30, [f"n{i}" for i in range(30)])
    assert len(job_points(many, many, max_points=3000)) == 30 * 100
    assert len(job_points(None, many)) == 0


def test_the_roofline_figure_has_the_ceilings_and_a_point_per_step() -> None:
    ceilings = Ceilings(scalar=346, simd=5530, bandwidth=330)
    flops = _metric([[100.0, 200.0]], ["n1"])
    points = job_points(flops, _metric([[10.0, 10.0]], ["n1"]))

    plot = roofline_figure(ceilings, points)

    lines = _renderers(plot, "Line")
    roof = lines[0].data_source.data
    assert list(roof["y"]) == pytest.approx([0.01 * 330, 5530, 5530])
    assert ceilings.ridge == pytest.approx(5530 / 330)
    assert list(lines[1].data_source.data["y"]) == [346, 346]
    scatter = _renderers(plot, "Scatter")[0].data_source.data
    assert list(scatter["y"]) == [100.0, 200.0]
    assert list(scatter["time"]) == [0.0, 1.0]


def test_ceilings_come_from_the_subcluster(backends: Backends) -> None:
    main = backends.clusters.get("fritz").subcluster("main")
    assert ceilings_of(main) == Ceilings(scalar=346, simd=5530, bandwidth=330)


# -- metric plots --------------------------------------------------------------------------


def test_few_series_are_lines_labelled_by_host_and_id() -> None:
    metric = _metric([[1.0, 2.0, 3.0], [4.0, 5.0]], ["n1", "n2"])
    metric.series[1].id = "3"

    columns = line_data(metric, MetricScope.CORE)

    assert columns["label"] == ["n1", "n2 core3"]
    assert columns["xs"][0].tolist() == [0.0, 60.0, 120.0]  # seconds since the start
    assert len(columns["xs"][1]) == 2
    assert len(set(columns["colour"])) == 2


def test_many_series_are_a_band_with_the_median() -> None:
    metric = _metric(
        [[1.0, 2.0]] * 2,
        ["n1", "n2"],
        statisticsSeries={"min": [0.0, 1.0], "median": [1.0, 2.0], "max": [3.0, 4.0]},
    )

    columns = band_data(metric)
    assert columns is not None
    assert columns["min"].tolist() == [0.0, 1.0]
    assert "mean" not in columns
    plot, source = metric_figure("cpu_load", metric, MetricScope.NODE, duration=60)
    assert "median" in source.data
    assert len(_renderers(plot, "VArea")) == 1
    assert not _renderers(plot, "MultiLine")
    assert band_data(_metric([[1.0]], ["n1"])) is None


def test_threshold_bands_colour_the_background() -> None:
    higher = threshold_bands(Thresholds(peak=72, normal=72, caution=36, alert=18), False)
    assert [(b.name, b.bottom, b.top) for b in higher] == [
        ("alert", 0.0, 18),
        ("caution", 18, 36),
        ("normal", 36, None),
    ]
    lower = threshold_bands(Thresholds(peak=256, normal=128, caution=220, alert=245), True)
    assert [(b.name, b.bottom, b.top) for b in lower] == [
        ("normal", 0.0, 220),
        ("caution", 220, 245),
        ("alert", 245, None),
    ]
    metric = _metric([[1.0, 2.0]], ["n1"])
    limits = Thresholds(peak=72, normal=72, caution=36, alert=18)
    axes = SharedAxes()
    plot, source = metric_figure(
        "x", metric, MetricScope.NODE, duration=600, limits=limits, axes=axes
    )
    strips = _renderers(plot, "HStrip")[0]
    assert strips.level == "underlay"
    assert strips.data_source.data == band_columns(limits, lower_is_better=False)
    assert strips.data_source.data["band"] == ["alert", "caution", "normal"]
    assert strips.data_source.data["y1"][0] == 18
    assert strips not in plot.y_range.renderers  # the bands do not stretch the axis
    assert (plot.x_range.start, plot.x_range.end) == (0.0, 600.0)
    assert "xs" in source.data
    assert plot.below[0].ticker is axes.time_ticker
    assert plot.toolbar.active_drag.dimensions == "width"  # drag to zoom into time
    assert plot.js_event_callbacks["doubletap"]  # double click to zoom out


def test_the_plots_of_a_page_share_their_stateless_models() -> None:
    band = _metric(
        [[1.0, 2.0]] * 2,
        ["n1", "n2"],
        statisticsSeries={"min": [0.0, 1.0], "median": [1.0, 2.0], "max": [3.0, 4.0]},
    )
    limits = Thresholds(peak=72, normal=72, caution=36, alert=18)
    axes = SharedAxes()
    plots = [
        metric_figure(name, band, MetricScope.NODE, duration=600, limits=limits, axes=axes)[0]
        for name in ("cpu_load", "mem_bw")
    ]

    for plot in plots:
        assert {a.major_label_policy for a in [*plot.below, *plot.left]} == {axes.label_policy}
        assert plot.js_event_callbacks["doubletap"] == [axes.zoom_out]
        renderers = plot.renderers
        assert {r.view.filter for r in renderers} == {axes.all_rows}
        assert {r.data_source.selection_policy for r in renderers} == {axes.selection_policy}
        assert plot.x_scale is plot.y_scale is axes.scale
        assert plot.toolbar.active_drag.overlay.handles is axes.zoom_handles
        data = [r for r in renderers if r.name != "bands"]
        assert len({r.view for r in data}) == 1  # the renderers of one source share its view
        # The browser does not send sizes and ranges back; zooms arrive as events.
        assert [plot.syncable, plot.x_range.syncable, plot.y_range.syncable] == [False] * 3


@pytest.mark.parametrize("many", [False, True], ids=["lines", "band"])
def test_every_property_of_a_plot_is_valid(many: bool) -> None:
    # metric_figure skips Bokeh's validation for speed; this is the check it skips.
    stats = {"min": [0.0, 1.0], "median": [1.0, 2.0], "max": [3.0, 4.0], "mean": [1.0, 2.5]}
    metric = _metric(
        [[1.0, 2.0], [2.0, 3.0]],
        ["n1", "n2"],
        **({"statisticsSeries": stats} if many else {}),
    )
    limits = Thresholds(peak=72, normal=72, caution=36, alert=18)
    plot, _ = metric_figure("cpu_load", metric, MetricScope.NODE, duration=600,
                            limits=limits, width=430)  # fmt: skip

    checked = 0
    for model in plot.references():
        for name, value in model.properties_with_values(include_defaults=False).items():
            model.lookup(name).property.validate(value)  # raises ValueError when invalid
            checked += 1
    assert checked > 50


def test_thresholds_follow_the_scope(backends: Backends, make_job: Callable[..., Job]) -> None:
    fritz = backends.clusters.get("fritz")
    main = fritz.resolved_subcluster("main")
    job = make_job()
    flops = fritz.metric_config("main", "flops_any")  # summed, 72 threads, 2 sockets
    clock = fritz.metric_config("main", "clock")  # averaged

    at_socket = scope_thresholds(job, fritz, main, flops, MetricScope.SOCKET)
    assert at_socket.alert == pytest.approx(flops.alert / 2)
    at_thread = scope_thresholds(job, fritz, main, flops, MetricScope.HWTHREAD)
    assert at_thread.caution == pytest.approx(flops.caution / 72)
    assert scope_thresholds(job, fritz, main, clock, MetricScope.HWTHREAD).alert == clock.alert
    shared = make_job(shared="multi_user", numHwthreads=36)
    assert scope_thresholds(shared, fritz, main, flops, MetricScope.NODE).alert == round(
        flops.alert / 2
    )


# -- views on a loaded store ---------------------------------------------------------------


@pytest.fixture
async def running_store(backends: Backends, make_job: Callable[..., Job]) -> JobStore:
    job = run_job(
        backends, make_job, metaData={"jobName": "<b>sim</b>", "jobScript": "#!/bin/sh\necho <hi>"}
    )
    store = store_for(backends, "alice", job)
    await store.load()
    return store


async def test_the_grid_draws_its_first_row_and_the_rest_when_asked(
    running_store: JobStore,
) -> None:
    grid = MetricGrid(running_store)

    first = running_store.selected[:3]
    assert list(grid.plots) == first  # one row of three cells
    assert [p.width for p in grid.plots.values()] == [CELL_WIDTHS[3]] * 3
    assert not grid.spinner.visible
    cpu_load = grid.plots["cpu_load"]
    assert cpu_load.select.disabled  # node scope only
    assert cpu_load.select.title == "cpu_load"
    assert cpu_load.plot is not None
    assert cpu_load.cell.children == [cpu_load.select, cpu_load.plot]  # no message
    assert cpu_load.source is not None
    assert sorted(cpu_load.source.data["label"]) == HOSTS
    layout = grid.grid.object  # one Bokeh layout: rows of three cells
    assert [len(row.children) for row in layout.children] == [3]
    assert layout.children[0].children[1] is cpu_load.cell
    rows = grid.row_count
    assert rows == 5
    assert grid.pending.visible
    assert (grid.pending.shown, grid.pending.height) == (1, 4 * ROW_HEIGHT)

    grid.pending.requested = 3  # the browser scrolled near the space of rows 2 and 3
    assert list(grid.plots) == running_store.selected[:9]
    assert [len(row.children) for row in layout.children] == [3, 3, 3]
    assert layout.children[0].children[1] is cpu_load.cell  # drawn rows stay
    assert grid.plots["mem_bw"].axes is cpu_load.axes
    assert (grid.pending.shown, grid.pending.height) == (3, 2 * ROW_HEIGHT)

    grid.pending.requested = 9  # a jump to the end asks for more rows than there are
    assert list(grid.plots) == running_store.selected
    assert [len(row.children) for row in layout.children] == [3, 3, 3, 3, 3]
    assert not grid.pending.visible

    await grid.show_metrics(["mem_bw"])
    assert list(grid.plots) == ["mem_bw"]
    assert grid.choice.value == ["mem_bw"]
    assert not grid.pending.visible


async def test_a_new_grid_keeps_the_rows_the_browser_asked_for(running_store: JobStore) -> None:
    grid = MetricGrid(running_store)
    grid.pending.requested = 2

    await grid.show_metrics(running_store.selected[::-1])  # another order: a new grid

    assert list(grid.plots) == running_store.selected[:6]
    assert [len(row.children) for row in grid.grid.object.children] == [3, 3]
    assert (grid.pending.shown, grid.pending.visible) == (2, True)


async def test_a_plot_switches_to_a_finer_scope(running_store: JobStore) -> None:
    plot = MetricPlot(running_store, "mem_bw")
    assert plot.select.options == ["node", "socket"]

    await plot.select_scope(MetricScope.SOCKET)

    assert plot.scope is MetricScope.SOCKET
    assert plot.select.value == "socket"
    assert plot.source is not None
    labels = plot.source.data["label"]
    assert sorted(labels) == [f"{h} socket{i}" for h in HOSTS for i in (0, 1)]
    strips = _renderers(plot.plot, "HStrip")[0].data_source.data
    mem_bw = running_store.metric_configs["mem_bw"]
    assert strips["y1"][0] == pytest.approx(mem_bw.alert / 2)  # two sockets per node


async def test_a_scope_without_data_falls_back_with_a_message(
    backends: Backends, make_job: Callable[..., Job]
) -> None:
    job = archive(backends, run_job(backends, make_job))
    store = store_for(backends, "alice", job)
    await store.load()
    plot = MetricPlot(store, "flops_any")

    await plot.select_scope(MetricScope.HWTHREAD)

    assert "no data at hwthread scope" in plot.message.text
    assert plot.message.visible
    assert "hwthread" not in plot.select.options
    assert plot.scope is MetricScope.NODE
    assert plot.cell.children == [plot.select, plot.message, plot.plot]  # node scope instead


@pytest.mark.parametrize("site_config", [{"main": {"resampling": RESAMPLING}}])
async def test_a_zoom_puts_finer_samples_into_the_same_plot(
    backends: Backends, make_job: Callable[..., Job]
) -> None:
    job = run_job(backends, make_job)
    store = store_for(backends, "alice", job)
    await store.load()
    plot = MetricPlot(store, "cpu_load")
    figure_before, source = plot.plot, plot.source
    assert source is not None
    coarse = len(source.data["xs"][0])

    await plot.zoomed(0.0, 600.0)

    assert plot.plot is figure_before
    assert plot.source is source
    assert len(source.data["xs"][0]) > coarse


async def test_the_roofline_of_the_job(running_store: JobStore) -> None:
    view = JobRoofline(running_store)

    plot = view.figure
    assert plot is not None
    assert view.pane.object.children == [plot]
    scatter = _renderers(plot, "Scatter")[0].data_source.data
    assert len(scatter["x"]) == len(HOSTS) * 30
    # 72 threads x 2 GFlop/s over 2 sockets x 20 GB/s at the first step.
    assert min(scatter["x"]) == pytest.approx(144 / 40)
    assert not view.message.visible


async def test_the_roofline_is_drawn_again_only_when_its_data_changes(
    running_store: JobStore,
) -> None:
    view = JobRoofline(running_store)
    drawn = view.figure

    running_store.revision += 1  # e.g. other metrics shown: flops and bandwidth are the same
    assert view.figure is drawn

    flops = running_store.data["flops_any"][MetricScope.NODE]
    halved = flops.model_copy(
        update={"series": [s.model_copy(update={"data": s.data / 2}) for s in flops.series]}
    )
    running_store.data = {**running_store.data, "flops_any": {MetricScope.NODE: halved}}
    running_store.revision += 1
    assert view.figure is not drawn
    assert view.box.children == [view.figure]
    scatter = _renderers(view.figure, "Scatter")[0].data_source.data
    assert min(scatter["x"]) == pytest.approx(72 / 40)


async def test_the_roofline_says_why_it_is_empty(running_store: JobStore) -> None:
    view = JobRoofline(running_store)
    running_store.data = {k: v for k, v in running_store.data.items() if k != "mem_bw"}
    running_store.revision += 1

    assert view.message.visible
    assert "no `flops_any` or `mem_bw` data" in view.message.object


async def test_footprint_and_polar_plot_of_a_running_job(running_store: JobStore) -> None:
    job, cluster = running_store.job, running_store.cluster
    assert job is not None
    assert cluster is not None

    derived = footprint_of(job, cluster, running_store.statistics)
    assert derived.footprint is not None
    assert set(derived.footprint) == set(cluster.footprint_metrics("main"))
    axes = polar_axes(job, cluster, running_store.statistics)
    mem_bw = next(a for a in axes if a.metric == "mem_bw")
    assert mem_bw.values["avg"] == pytest.approx(40.0 / mem_bw.peak)

    view = JobFootprint(running_store)
    assert 'data-metric="mem_bw_avg"' in view.bars.__panel__().object
    assert view.polar.object is None  # drawn when its tab is shown
    view.tabs.active = 1
    assert len(_renderers(view.polar.object, "Patch")) == 3
    assert _renderers(polar_figure([]), "Text")


@pytest.mark.parametrize("site_config", [{"main": {"emission-constant": 400}}])
async def test_energy_with_a_co2_estimate(backends: Backends, make_job: Callable[..., Job]) -> None:
    job = archive(backends, run_job(backends, make_job))
    store = store_for(backends, "alice", job)
    await store.load()
    assert store.job is not None
    assert store.cluster is not None

    energy = job_energy(store.job, store.cluster, store.statistics, 400, store.job.duration)

    assert energy is not None
    assert not energy.estimate
    assert energy.total == store.job.energy
    assert set(energy.per_metric) == {"cpu_power", "mem_power"}
    assert energy.co2_kg == pytest.approx(store.job.energy * 0.4)
    html = EnergySummary(store).pane.object
    assert "CO2 at 400 g/kWh" in html
    assert "Total energy</div>" in html


async def test_a_running_jobs_energy_is_an_estimate(running_store: JobStore) -> None:
    job, cluster = running_store.job, running_store.cluster
    assert job is not None
    assert cluster is not None
    energy = job_energy(job, cluster, running_store.statistics, None, 3600)
    assert energy is not None
    assert energy.estimate
    assert energy.co2_kg is None
    power = running_store.statistics["cpu_power"].avg  # W per node
    assert energy.per_metric["cpu_power"] == pytest.approx(power * 2 / 1000, abs=0.01)
    assert "so far (estimate)" in EnergySummary(running_store).pane.object


async def test_the_statistics_table_has_a_sortable_row_per_series(
    running_store: JobStore,
) -> None:
    table = StatisticsTable(running_store)

    frame = table.table.value
    mem_bw = frame[frame["metric"] == "mem_bw"]
    assert list(mem_bw["host"]) == HOSTS
    assert list(mem_bw["unit"]) == ["GB/s", "GB/s"]
    assert mem_bw["avg"].tolist() == pytest.approx([40.0, 40.0])
    assert set(frame["metric"]) == set(running_store.selected)
    assert table.table.hidden_columns == ["id"]  # node scope: no ids
    assert table.table.sorters == []  # sorting is the browser's, by any column
    assert table.table.text_align == dict.fromkeys(STATS, "right")
    assert "socket" in table.scope.options

    await table.show_scope(MetricScope.SOCKET)
    frame = table.table.value
    sockets = frame[frame["metric"] == "mem_bw"]
    assert list(zip(sockets["host"], sockets["id"], strict=True)) == [
        (h, i) for h in HOSTS for i in ("0", "1")
    ]
    assert table.table.hidden_columns == []
    assert table.scope.value == "socket"
    assert not table.empty.visible


def test_the_statistics_table_starts_as_at_node_scope(
    backends: Backends, make_job: Callable[..., Job]
) -> None:
    # Its first rows then hide no other columns: a browser's table redraws at once when
    # they change, even while it is still being built.
    table = StatisticsTable(store_for(backends, "alice", run_job(backends, make_job)))
    assert table.table.hidden_columns == ["id"]
    assert table.empty.visible


async def test_the_statistics_table_says_when_a_scope_has_no_rows(
    running_store: JobStore,
) -> None:
    table = StatisticsTable(running_store)
    assert not table.empty.visible  # the node rows are there

    await table.show_scope(MetricScope.ACCELERATOR)

    assert table.table.value.empty
    assert table.empty.visible
    assert table.empty.object == "No statistics at accelerator scope."


def test_statistics_rows_sort_by_metric_host_and_numeric_id() -> None:
    table = {
        "m": [
            SeriesStatistics("n1", "10", 1.0, 0.0, 2.0),
            SeriesStatistics("n1", "2", 3.0, 0.0, 4.0),
        ],
        "a": [SeriesStatistics("n2", None, 5.0, 4.0, 6.0)],
    }
    frame = statistics_frame(table, {"m": "W"})
    assert list(frame.columns) == ["metric", "unit", "host", "id", "avg", "min", "max"]
    assert list(zip(frame["metric"], frame["id"], strict=True)) == [
        ("a", ""),
        ("m", "2"),
        ("m", "10"),
    ]
    assert list(frame["unit"]) == ["", "W", "W"]


# -- info, tags, meta ----------------------------------------------------------------------


def test_job_info_is_escaped_and_links_onwards(make_job: Callable[..., Job]) -> None:
    job = make_job(id=7, project="p&q", metaData={"jobName": "<script>x</script>"}, walltime=3600)

    html = job_info_html(job, duration=90)

    assert "&lt;script&gt;" in html
    assert "<script>" not in html
    assert 'href="/monitoring/user/alice"' in html
    assert 'href="/monitoring/jobs/?project=p%26q"' in html
    assert "00:01:30 of 01:00:00" in html
    assert format_duration(90_061) == "1d 01:01:01"


def test_concurrent_jobs_and_admin_note(make_job: Callable[..., Job]) -> None:
    links = JobLinks([JobLink(5, 1005), JobLink(6, 1006)], "cluster=fritz&jobId=1005&jobId=1006")
    html = concurrent_html(links)
    assert '<a href="/monitoring/job/5">1005</a>' in html
    assert 'href="/monitoring/jobs/?cluster=fritz&amp;jobId=1005&amp;jobId=1006"' in html
    assert "No other jobs" in concurrent_html(JobLinks())

    noted = make_job(metaData={"message": "Low <b>load</b>"})
    assert "Low &lt;b&gt;load&lt;/b&gt;" in (admin_note_html(noted) or "")
    assert admin_note_html(make_job()) is None


def test_unmonitored_and_failed_jobs_say_so(make_job: Callable[..., Job]) -> None:
    assert "not monitored" in (monitoring_message(make_job(monitoringStatus=0)) or "")
    assert "Archiving this job failed" in (monitoring_message(make_job(monitoringStatus=2)) or "")
    assert monitoring_message(make_job()) is None


async def test_a_job_without_monitoring_shows_the_notice(
    backends: Backends, make_job: Callable[..., Job]
) -> None:
    job = backends.jobs.add(make_job(monitoringStatus=MonitoringStatus.DISABLED.value))
    store = JobStore(LocalClient(backends, backends.users.get("alice")), db_id=job)
    notice = MonitoringNotice(store)
    assert not notice.__panel__().visible

    await store.load()

    assert notice.__panel__().visible
    assert "not monitored" in notice.__panel__().object


async def test_info_tabs_show_concurrent_jobs_and_the_note(
    backends: Backends, make_job: Callable[..., Job]
) -> None:
    shared = {"shared": "multi_user", "jobState": "completed", "resources": [{"hostname": "f0150"}]}
    first = backends.jobs.add(
        make_job(startTime=START, duration=7200, metaData={"message": "Check IO"}, **shared)
    )
    backends.jobs.add(make_job(startTime=START + 600, duration=3600, **shared))
    store = JobStore(LocalClient(backends, backends.users.get("alice")), db_id=first)
    alice = backends.users.get("alice")
    info = JobInfo(store, JobTags(store, alice))

    await store.load()

    assert info.tab_names == ["Job info", "Tags", "1 concurrent jobs", "Admin note"]
    assert "Check IO" in info.note.object
    assert not info.refresh.visible


def test_tags_are_written_type_colon_name() -> None:
    assert parse_tag(" app : gromacs ") == ("app", "gromacs")
    for bad in ("gromacs", ":x", "app:"):
        with pytest.raises(ValueError, match="type:name"):
            parse_tag(bad)
    html = tags_html([Tag(id=3, type="app", name="<x>", scope="alice")])
    assert 'href="/monitoring/jobs/?tag=3"' in html
    assert "&lt;x&gt;" in html
    assert 'class="scope-private"' in html


def test_users_write_private_tags_admins_also_shared_ones() -> None:
    assert tag_scopes(User.build("bob", ["user"])) == {"private (bob)": "bob"}
    assert tag_scopes(User.build("root", ["admin"])) == {
        "private (root)": "root",
        "global": "global",
        "admin": "admin",
    }


async def test_the_tag_editor_adds_removes_and_reports(
    backends: Backends, running_store: JobStore
) -> None:
    root = backends.users.get("root")
    glob = backends.tags.create(Tag(type="app", name="python"), root)
    assert running_store.job is not None
    backends.tags.attach(running_store.job.id or 0, glob.id or 0, root)
    await running_store.refresh()
    running_store.job = await running_store.client.job(running_store.db_id)
    editor = JobTags(running_store, backends.users.get("alice"))
    assert editor.removers.objects == []  # alice may not remove a global tag

    assert not await editor.add_tag("nonsense", "alice")
    assert editor.feedback.visible
    assert await editor.add_tag("note:check", "alice")
    assert not editor.feedback.visible
    assert [b.label for b in editor.removers.objects] == ["✕ note: check"]
    assert "app:python" in editor.entry.options

    tag_id = next(t.id for t in running_store.job.tags or [] if t.name == "check")
    assert await running_store.remove_tag(tag_id or 0)
    assert editor.removers.objects == []


def test_job_script_and_scheduler_info(make_job: Callable[..., Job]) -> None:
    job = make_job(metaData={"jobScript": "echo <a>", "slurmInfo": "Partition=x", "qos": "normal"})
    assert "<pre" in job_script_html(job)
    assert "echo &lt;a&gt;" in job_script_html(job)
    info = scheduler_html(job)
    assert "Partition=x" in info
    assert "<th>qos</th><td>normal</td>" in info
    assert "jobName" not in info
    bare = make_job(metaData=None)
    assert "No job script" in job_script_html(bare)
    assert "No information from the scheduler" in scheduler_html(bare)
