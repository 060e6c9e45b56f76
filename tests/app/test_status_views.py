"""The status dashboards' views as objects: the info table, the stacked node states, the
rooflines, the cluster metric plots, the top lists and the refresh controls."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from bokeh.document import Document
from bokeh.models import GlyphRenderer, Range1d, VArea
from panel.io.state import set_curdoc

from app.stores.status import ClusterStatusStore, StatusRoofline, SubclusterStatus
from app.views.roofline import Ceilings, RooflinePoints
from app.views.status_info import info_html
from app.views.status_metrics import ClusterMetricPlots, metric_figure
from app.views.status_refresh import RefreshControls, start_auto_refresh, updated_text
from app.views.status_roofline import StatusRooflines
from app.views.status_states import NodeStatePlots, held, stacked_counts, states_figure
from app.views.status_top import top_frame
from cc_backend.client import LocalClient
from cc_backend.domain.units import Unit
from cc_backend.repository.nodes import StatesOverTime
from cc_backend.server import Backends
from cc_backend.services.cluster_status import ClusterMetric, ClusterMetrics
from cc_backend.stats.statistics_results import JobsStatistics
from cc_backend.stats.stats_results import GroupBy

MAIN = SubclusterStatus(
    name="main",
    processor_types=("Xeon <8360Y>",),
    running_jobs=3,
    active_users=2,
    nodes_allocated=48,
    nodes_total=192,
    flops=1500.0,
    flops_peak=6000.0,
)
WHOLE = SubclusterStatus(name="", processor_types=("Xeon <8360Y>",), running_jobs=3)


@pytest.fixture
def store(backends: Backends) -> ClusterStatusStore:
    return ClusterStatusStore(LocalClient(backends, backends.users.get("root")), cluster="fritz")


def test_the_info_table_has_a_column_per_subcluster_and_one_for_the_cluster() -> None:
    html = info_html([MAIN, WHOLE], "fritz")

    assert "<th>main</th>" in html
    assert "<th>Cluster fritz</th>" in html
    assert "Xeon &lt;8360Y&gt;" in html  # escaped
    assert "48 / 192" in html
    assert 'style="width:25.0%"' in html  # 48 of 192 nodes
    assert "1,500 / 6,000 GFlop/s" in html
    assert "No cluster information" in info_html([], "fritz")


def test_states_are_stacked_on_the_union_of_report_times() -> None:
    series = [
        StatesOverTime("allocated", [100, 200], [5, 4]),
        StatesOverTime("down", [200, 300], [1, 2]),
    ]

    times, counts = stacked_counts(series)

    assert times.tolist() == [100, 200, 300]
    assert counts["allocated"].tolist() == [5, 4, 0]
    assert counts["down"].tolist() == [0, 1, 2]
    plot = states_figure(series, title="Node states", name="node-states")
    areas = [r for r in plot.renderers if isinstance(r, GlyphRenderer)]
    assert len(areas) == 2
    assert all(isinstance(r.glyph, VArea) for r in areas)
    assert [item.label["value"] for item in plot.legend[0].items] == ["allocated", "down"]
    assert states_figure([], title="empty", name="x").renderers == []


def test_a_report_holds_until_the_next_and_the_last_until_the_end() -> None:
    series = [StatesOverTime("allocated", [100, 200], [5, 4])]

    times, counts = held(*stacked_counts(series), until=500)

    assert times.tolist() == [100, 200, 200, 500]
    assert counts["allocated"].tolist() == [5, 5, 4, 4]
    assert held(*stacked_counts(series), until=150)[0].tolist() == [100, 200, 200, 200]


def test_a_single_report_fills_the_window_to_its_end() -> None:
    window = (1_000_000, 1_086_400)
    plot = states_figure(
        [StatesOverTime("idle", [1_080_000], [3])], title="t", name="n", window=window
    )

    assert isinstance(plot.x_range, Range1d)
    assert (plot.x_range.start, plot.x_range.end) == tuple(
        datetime.fromtimestamp(t, UTC) for t in window
    )
    (area,) = [r for r in plot.renderers if isinstance(r, GlyphRenderer)]
    times = area.data_source.data["time"].astype("datetime64[s]").astype(int).tolist()
    assert times == [1_080_000, 1_086_400]


def test_the_state_plots_follow_the_store(store: ClusterStatusStore) -> None:
    view = NodeStatePlots(store)
    store.node_states = [StatesOverTime("idle", [1], [3])]
    store.revision += 1

    assert view.scheduler.object.name == "node-states"
    assert len(view.scheduler.object.renderers) == 1
    assert view.health.object.renderers == []


def test_a_roofline_per_subcluster(store: ClusterStatusStore) -> None:
    view = StatusRooflines(store)
    points = RooflinePoints(np.array([0.5, 2.0]), np.array([100.0, 800.0]), np.array([0.0, 1.0]))
    store.rooflines = [
        StatusRoofline("main", Ceilings(50.0, 1000.0, 200.0), points),
        StatusRoofline("spr", Ceilings(60.0, 2000.0, 300.0)),
    ]
    store.revision += 1

    names = [pane.object.name for pane in view.__panel__().objects]
    assert names == ["roofline-main", "roofline-spr"]
    sources = [
        r.data_source.data
        for r in view.__panel__().objects[0].object.renderers
        if isinstance(r, GlyphRenderer) and "time" in r.data_source.data
    ]
    assert [list(d["y"]) for d in sources] == [[100.0, 800.0]]


def test_cluster_metrics_are_drawn_up_to_the_load_time(store: ClusterStatusStore) -> None:
    power = ClusterMetric("cpu_power", Unit(base="W"), 60, np.array([100.0, np.nan, 300.0]))
    plot = metric_figure(power, stop=1_000_000)

    [line] = [r for r in plot.renderers if isinstance(r, GlyphRenderer)]
    times = line.data_source.data["x"]
    assert times[-1] == np.datetime64(1_000_000, "s")
    assert times[0] == np.datetime64(1_000_000 - 120, "s")
    assert plot.title.text == "cpu_power [W]"

    view = ClusterMetricPlots(store)
    store.updated = 1_000_000
    store.cluster_metrics = ClusterMetrics(2, [power])
    store.revision += 1
    assert len(view.grid.objects) == 1
    store.cluster_metrics = ClusterMetrics(0, [])
    store.revision += 1
    assert view.message.visible
    assert "No metric data" in view.message.object


def test_top_lists_link_to_the_running_jobs() -> None:
    alice = JobsStatistics("alice", "Alice A", 2, 1, 2, 0, 4, 288, 0, 0, 0, 0, 0)
    project = JobsStatistics("p x", "", 2, 1, 2, 0, 4, 288, 0, 0, 0, 0, 0)

    users = top_frame([alice], GroupBy.USER, "fritz")
    projects = top_frame([project], GroupBy.PROJECT, "fritz")

    assert users.iloc[0].to_dict() == {
        "User": "alice",
        "Nodes": 4,
        "Jobs": 2,
        "Cores": 288,
        "Accelerators": 0,
        "url": "/monitoring/user/alice?cluster=fritz&state=running",
    }
    assert projects.iloc[0]["url"] == "/monitoring/jobs/?cluster=fritz&state=running&project=p+x"


async def test_the_refresh_controls_switch_the_store(store: ClusterStatusStore) -> None:
    controls = RefreshControls(store)
    assert controls.switch.value is True

    controls.switch.value = False
    assert store.auto_refresh is False
    store.auto_refresh = True
    assert controls.switch.value is True
    store.updated = 1_700_000_000
    assert controls.label.object == "Updated 2023-11-14 22:13:20 UTC"
    assert updated_text(0) == "Not loaded yet"
    assert start_auto_refresh(store) is None  # no browser session


def test_auto_refresh_follows_the_stores_switch(store: ClusterStatusStore) -> None:
    store.auto_refresh = False
    with set_curdoc(Document()):
        callback = start_auto_refresh(store)
        assert callback is not None
        assert (callback.running, callback.period) == (False, 60_000)

        store.auto_refresh = True
        assert callback.running
        store.auto_refresh = False
        assert not callback.running
