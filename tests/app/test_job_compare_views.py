"""The job comparison's views as objects: the plot per metric, the table, the labels of
the job axis, the comparison view, the compare buttons and the ticks in the job list's
table, against the seeded site of ``test_job_compare.py``."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from bokeh.models import FactorRange, HoverTool, OpenURL, TapTool

from app.context import PageContext
from app.pages.jobs import job_list_store
from app.stores import job_compare
from app.stores import jobs as jobs_store
from app.stores.job_compare import ComparedJob, JobCompareStore
from app.stores.jobs import JobListStore
from app.views.job_compare import (
    JobComparison,
    compare_figure,
    compare_rows,
    job_labels,
    metric_columns,
    resources_figure,
)
from app.views.job_compare_controls import CompareButtons, compare_label
from app.views.job_list import JobTable
from app.views.job_list_controls import JobListControls
from cc_backend.client import LocalClient
from cc_backend.domain.filters import JobFilter
from cc_backend.domain.job import Job, JobState
from cc_backend.server import Backends
from cc_backend.stats.statistics_results import JobStats, MetricStatistics, NamedStats
from tests.app.test_job_compare import DEMO_JOBS, METRICS, Compared, seed_site, until


@pytest.fixture
def compared(backends: Backends, make_job: Callable[..., Job]) -> Compared:
    return seed_site(backends, make_job)


def _stats(db_id: int, job_id: str, cluster: str = "fritz", **metrics: Any) -> JobStats:
    return JobStats(
        id=db_id,
        job_id=job_id,
        start_time=1_700_000_000 + db_id,
        duration=3600,
        cluster=cluster,
        sub_cluster="main",
        num_nodes=2,
        num_hwthreads=144,
        num_accelerators=0,
        stats=tuple(NamedStats(n, MetricStatistics(*v)) for n, v in metrics.items()),
    )


JOBS = [
    ComparedJob(_stats(1, "100", mem_bw=(50.0, 10.0, 80.0)), "alice", "p1", JobState.COMPLETED),
    ComparedJob(_stats(2, "101", mem_bw=(20.123, 5.0, 30.0)), "bob", "p2", JobState.FAILED),
    ComparedJob(_stats(3, "102"), "carol", "p3", JobState.RUNNING),
]


# -- figures and rows -------------------------------------------------------------------


def test_a_metric_plot_has_a_range_bar_per_job_with_statistics() -> None:
    plot = compare_figure("mem_bw", "GB/s", JOBS)

    [source] = {r.data_source for r in plot.renderers}
    data = source.data
    assert list(data["x"]) == ["100", "101"]  # the running job has no values
    assert list(data["min"]) == [10.0, 5.0]
    assert list(data["avg"]) == [50.0, 20.12]
    assert list(data["max"]) == [80.0, 30.0]
    assert list(data["user"]) == ["alice", "bob"]
    assert list(data["id"]) == [1, 2]
    assert isinstance(plot.x_range, FactorRange)
    assert list(plot.x_range.factors) == ["100", "101", "102"]  # every job keeps its place
    assert plot.yaxis[0].axis_label == "mem_bw [GB/s]"
    [hover] = [t for t in plot.tools if isinstance(t, HoverTool)]
    tooltips = dict(hover.tooltips)  # type: ignore[arg-type]
    assert tooltips["user"] == "@user"
    assert tooltips["job"].startswith("@job_id")
    assert "GB/s" in tooltips["avg"]
    [tap] = [t for t in plot.tools if isinstance(t, TapTool)]
    assert isinstance(tap.callback, OpenURL)
    assert tap.callback.url == "/monitoring/job/@id"


def test_plots_can_share_their_job_axis() -> None:
    shared = FactorRange(factors=job_labels(JOBS))

    first = compare_figure("mem_bw", "", JOBS, shared)
    second = compare_figure("flops_any", "", JOBS, shared)

    assert first.x_range is second.x_range is shared
    assert first.yaxis[0].axis_label == "mem_bw"


def test_the_resources_plot_shows_the_counts_each_job_has() -> None:
    gpu = ComparedJob(JobStats(4, "103", 1_700_000_004, 60, "alex", "a100", 1, 16, 8, ()), "dana")
    plot = resources_figure([*JOBS, gpu])

    sources = {r.data_source.name: r.data_source.data for r in plot.renderers}
    assert list(sources["resources-nodes"]["count"]) == [2, 2, 2, 1]
    assert list(sources["resources-hwthreads"]["count"]) == [144, 144, 144, 16]
    assert list(sources["resources-accelerators"]["x"]) == ["103"]  # only jobs with some
    assert list(sources["resources-accelerators"]["user"]) == ["dana"]
    [tap] = [t for t in plot.tools if isinstance(t, TapTool)]
    assert isinstance(tap.callback, OpenURL)
    assert tap.callback.url == "/monitoring/job/@id"


def test_labels_tell_jobs_with_the_same_id_apart() -> None:
    same = [
        ComparedJob(_stats(1, "7", "fritz")),
        ComparedJob(_stats(2, "7", "alex")),
        ComparedJob(_stats(3, "8")),
    ]
    assert job_labels(same) == ["7 (fritz)", "7 (alex)", "8"]
    twins = [ComparedJob(_stats(1, "7")), ComparedJob(_stats(2, "7"))]
    assert job_labels(twins) == ["7 (fritz) #1", "7 (fritz) #2"]


def test_the_table_rows_link_every_job_and_hold_its_values() -> None:
    rows = compare_rows(JOBS, ["mem_bw"])

    assert (
        list(rows.columns[-3:])
        == metric_columns("mem_bw")
        == [
            "mem_bw:min",
            "mem_bw:avg",
            "mem_bw:max",
        ]
    )
    first = rows.iloc[0]
    assert '<a href="/monitoring/job/1">100</a>' in first["job"]
    assert "completed" in first["job"]
    assert (first["user"], first["project"], first["cluster"]) == ("alice", "p1", "fritz (main)")
    assert (first["nodes"], first["hwthreads"], first["duration"]) == (2, 144, "01:00:00")
    assert (first["mem_bw:min"], first["mem_bw:avg"], first["mem_bw:max"]) == (10, 50, 80)
    assert math.isnan(rows.iloc[2]["mem_bw:avg"])  # no statistics: no value
    assert compare_rows([], ["mem_bw"]).empty


def test_names_are_escaped_in_the_table() -> None:
    evil = ComparedJob(_stats(9, "<b>x</b>"), "u", "p", JobState.COMPLETED)
    assert "&lt;b&gt;x&lt;/b&gt;" in compare_rows([evil], []).iloc[0]["job"]


# -- the comparison view ----------------------------------------------------------------


def _store(compared: Compared, username: str = "root", **params: Any) -> JobCompareStore:
    client = LocalClient(compared.backends, compared.backends.users.get(username))
    return JobCompareStore(client, **params)


async def test_the_view_draws_a_plot_per_metric_and_the_table(compared: Compared) -> None:
    clusters = {c.name: c for c in await _store(compared).client.clusters()}
    store = _store(compared, metrics=[*METRICS, "nonexistent"], clusters=clusters)
    view = JobComparison(store)
    assert view.plots == []
    assert not view.table.visible

    await store.load()

    names = [p.name for p in view.plots]
    assert names == ["compare-resources", "compare-flops_any", "compare-mem_bw"]
    assert view.plots[0].x_range is view.plots[1].x_range is view.plots[2].x_range
    assert len(view.plots[0].x_range.factors) == DEMO_JOBS + 2
    assert view.table.visible
    assert len(view.table.value) == DEMO_JOBS + 2
    assert view.table.groups["mem_bw [GB/s]"] == metric_columns("mem_bw")
    assert view.table.titles["mem_bw:avg"] == "Avg"
    text = view.summary.object
    assert f"Comparing {DEMO_JOBS + 2} jobs." in text
    assert "2 of them have no statistics yet" in text


async def test_too_many_jobs_show_a_warning_instead(
    compared: Compared, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(job_compare, "COMPARE_LIMIT", 5)
    store = _store(compared, metrics=METRICS)
    view = JobComparison(store)

    await store.load()

    assert view.notice.visible
    assert view.notice.alert_type == "warning"
    assert f"{DEMO_JOBS + 2:,} jobs match these filters" in view.notice.object
    assert view.plots == []
    assert not view.table.visible


async def test_no_matching_jobs_say_so(compared: Compared) -> None:
    store = _store(compared, filters=[JobFilter(db_id=[999_999])], metrics=METRICS)
    view = JobComparison(store)

    await store.load()

    assert view.summary.object == "No jobs to compare."
    assert not view.table.visible


# -- ticking jobs in the list and the buttons ------------------------------------------------


def _list(compared: Compared, query: dict[str, list[str]] | None = None) -> JobListStore:
    user = compared.backends.users.get("root")
    context = PageContext(
        user, LocalClient(compared.backends, user), "/monitoring/jobs/", {}, query or {}
    )
    return job_list_store(context)[0]


async def test_ticks_in_the_table_are_the_stores_selection(compared: Compared) -> None:
    store = _list(compared)
    table = JobTable(store)
    await store.load()
    assert table.table.selectable == "checkbox"

    table.table.selection = [0, 2]  # as the browser sends it

    expected = [store.jobs[0].id, store.jobs[2].id]
    assert store.selected == expected
    store.selected = [expected[1]]  # e.g. cleared elsewhere
    assert table.table.selection == [2]
    await store.update(query=store.query.replace(cluster="alex"))  # other rows
    rows = [i for i, j in enumerate(store.jobs) if j.id == expected[1]]
    assert table.table.selection == rows
    assert store.selected == [expected[1]]  # the ticks of hidden jobs stay


async def test_jobs_of_a_link_are_ticked_when_listed(compared: Compared) -> None:
    chosen = compared.archived()[:2]
    store = _list(compared, {"dbId": [str(i) for i in chosen]})
    table = JobTable(store)

    await store.load()

    assert sorted(j.id for j in store.jobs) == sorted(chosen)
    assert table.table.selection == [0, 1]


async def test_the_compare_button_names_what_it_compares(
    compared: Compared, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _list(compared)
    buttons = CompareButtons(store)
    await store.load()
    assert buttons.compare.label == "Compare jobs"
    assert not buttons.compare.disabled
    assert not buttons.clear.visible

    chosen = [j.id for j in store.jobs[:2] if j.id is not None]
    store.selected = chosen
    assert buttons.compare.label == "Compare 2 jobs"
    assert buttons.clear.visible

    controls = JobListControls(store)
    assert not controls.sort.disabled

    buttons.press()
    await until(lambda: store.compare)
    assert store.query.db_ids == tuple(chosen)
    assert buttons.compare.label == "Back to the list"
    assert not buttons.clear.visible
    assert controls.sort.disabled  # as in cc-backend: no sorting while comparing

    buttons.press()
    assert not store.compare
    buttons.clear.clicks += 1
    await until(lambda: not store.query.db_ids and not store.loading)
    assert store.selected == []
    assert buttons.compare.label == "Compare jobs"

    monkeypatch.setattr(jobs_store, "COMPARE_LIMIT", 5)
    store.count = DEMO_JOBS + 2
    assert compare_label(store) == "Compare disabled"
    store.selected = chosen[:1]
    assert compare_label(store) == "Compare 1 job"
