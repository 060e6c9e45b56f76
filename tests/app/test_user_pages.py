"""The user view, the users and projects lists and the tags page as objects: their stores
against a real site (in-process client), their views' tables and figures, and who may
open them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import holoviews as hv
import pytest

from app.context import PageContext
from app.pages import PAGES
from app.pages.user import user_store, user_view
from app.routing import find_page
from app.site import build_content
from app.stores.tags import TagStore, listed_tags
from app.stores.user import Access, UserStore, footprint_metrics, user_view_access
from app.stores.users import DEFAULT_TIME_RANGE, GroupListStore
from app.views.histograms import (
    FootprintHistograms,
    JobSizeHistograms,
    duration_histogram,
    duration_label,
    metric_histogram,
    size_histogram,
)
from app.views.statistics import StatisticsFilters, UserSummary, summary_html
from app.views.tags import TagDeletion, TagGroups, tag_groups_html
from app.views.users import GroupTable, NewestJobs, format_duration, group_frame
from cc_backend.client import LocalClient
from cc_backend.domain.job import Job
from cc_backend.domain.tag import Tag
from cc_backend.domain.user import User
from cc_backend.server import Backends
from cc_backend.stats.statistics_results import (
    JobsStatistics,
    MetricHistoPoint,
    MetricHistoPoints,
)
from cc_backend.stats.stats_results import GroupBy, HistoPoint

NOW = int(time.time())
#: Footprint values of the finished jobs (cluster fritz, subcluster main).
FOOTPRINT = {"cpu_load_avg": 30.0, "flops_any_avg": 900.0, "mem_bw_avg": 60.0, "mem_used_max": 90.0}


def _client(backends: Backends, username: str) -> LocalClient:
    return LocalClient(backends, backends.users.get(username))


def _context(backends: Backends, username: str, path: str, **query: str) -> PageContext:
    found = find_page(PAGES, path)
    assert found is not None, path
    user = backends.users.get(username)
    args = {key: [value] for key, value in query.items()}
    return PageContext(user, LocalClient(backends, user), path, found[1], args)


def _open(backends: Backends, username: str, path: str, **query: str) -> Any:
    found = find_page(PAGES, path)
    assert found is not None, path
    return build_content(found[0], _context(backends, username, path, **query))


@pytest.fixture
def jobs(backends: Backends, make_job: Callable[..., Job]) -> dict[str, int]:
    """alice: two finished jobs in project-a (one two-node), one running, one a year
    old; bob: one finished job in project-b on alex; mona manages project-a; support
    is staff. Names of the jobs -> database ids."""
    backends.users.update("alice", name="Alice <Liddell>", email="alice@example.org")
    backends.users.add(User.build("mona", ["manager"], ["project-a"], name="Mona"))
    backends.users.add(User.build("sue", ["support"]))

    def add(**fields: Any) -> int:
        return backends.jobs.add(make_job(**fields))

    finished = {"jobState": "completed", "footprint": FOOTPRINT}
    return {
        "short": add(user="alice", startTime=NOW - 4000, duration=1800, **finished),
        "wide": add(
            user="alice",
            startTime=NOW - 20_000,
            duration=7200,
            numNodes=2,
            resources=[{"hostname": "f0201"}, {"hostname": "f0202"}],
            **finished,
        ),
        "running": add(user="alice", startTime=NOW - 600),
        "old": add(user="alice", startTime=NOW - 400 * 86_400, duration=600, **finished),
        "bob": add(
            user="bob",
            project="project-b",
            cluster="alex",
            subCluster="a40",
            resources=[{"hostname": "a0101"}],
            startTime=NOW - 3000,
            duration=2400,
            jobState="failed",
        ),
    }


# -- the user view --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        ("alice", Access.ALLOWED),
        ("root", Access.ALLOWED),
        ("sue", Access.ALLOWED),
        ("mona", Access.IF_JOBS_VISIBLE),
        ("bob", Access.DENIED),
    ],
)
def test_who_may_open_a_user_view(
    backends: Backends, jobs: dict[str, int], viewer: str, expected: Access
) -> None:
    assert user_view_access(backends.users.get(viewer), "alice") is expected


async def test_the_user_view_shows_totals_histograms_and_newest_jobs(
    backends: Backends, jobs: dict[str, int]
) -> None:
    store = UserStore(_client(backends, "root"), username="alice")

    await store.load()

    assert store.error == ""
    assert store.person is not None
    assert (store.person.name, store.person.email) == ("Alice <Liddell>", "alice@example.org")
    totals = store.totals
    assert totals is not None
    assert (totals.total_jobs, totals.running_jobs, totals.total_nodes) == (4, 1, 5)
    assert [j.id for j in store.jobs] == [jobs["running"], jobs["short"], jobs["wide"], jobs["old"]]
    assert store.metric_choices == footprint_metrics(store.clusters)
    assert store.shown_metrics == store.metric_choices  # no setting: every footprint metric
    histograms = store.histograms
    assert histograms is not None
    assert [(p.value, p.count) for p in histograms.num_nodes] == [(1, 3), (2, 1)]
    flops = {h.metric: h for h in histograms.metrics}["flops_any"]
    assert sum(p.count for p in flops.data) == 3  # the running job has no footprint yet


async def test_filters_narrow_the_user_view(backends: Backends, jobs: dict[str, int]) -> None:
    store = UserStore(_client(backends, "root"), username="alice", start_time="last24h")
    await store.load()
    assert store.totals is not None
    assert store.totals.total_jobs == 3  # not the old one
    assert store.query() == {"startTime": "last24h"}

    store.cluster = "alex"
    await store.load()
    assert store.totals is not None
    assert store.totals.total_jobs == 0
    assert store.jobs == []
    assert store.metric_choices == footprint_metrics(store.clusters, "alex")


async def test_the_histogram_setting_picks_the_metrics(
    backends: Backends, jobs: dict[str, int]
) -> None:
    backends.user_config.set("root", "userView_histogramMetrics:fritz", ["mem_used", "nope"])
    store = UserStore(_client(backends, "root"), username="alice", cluster="fritz")

    await store.load()

    assert store.shown_metrics == ["mem_used"]
    assert store.histograms is not None
    assert [(h.metric, h.stat) for h in store.histograms.metrics] == [("mem_used", "max")]


async def test_a_manager_sees_users_of_their_projects_only(
    backends: Backends, jobs: dict[str, int]
) -> None:
    alice = UserStore(_client(backends, "mona"), username="alice", check_access=True)
    bob = UserStore(_client(backends, "mona"), username="bob", check_access=True)

    await alice.load()
    await bob.load()

    assert not alice.forbidden
    assert alice.totals is not None
    assert alice.totals.total_jobs == 4
    assert bob.forbidden
    assert (bob.totals, bob.histograms, bob.jobs) == (None, None, [])


def test_the_user_page_refuses_other_users(backends: Backends, jobs: dict[str, int]) -> None:
    assert _open(backends, "bob", "/monitoring/user/alice").name == "forbidden"
    assert _open(backends, "alice", "/monitoring/user/alice").name == "user"
    assert _open(backends, "sue", "/monitoring/user/bob").name == "user"


async def test_the_user_page_shows_403_to_a_manager_of_other_projects(
    backends: Backends, jobs: dict[str, int]
) -> None:
    store = user_store(_context(backends, "mona", "/monitoring/user/bob"))
    page = user_view(store)
    assert store.check_access
    await store.load()
    assert [item.name for item in page] == ["forbidden"]


def test_the_user_page_reads_its_filters_from_the_url(
    backends: Backends, jobs: dict[str, int]
) -> None:
    context = _context(
        backends, "root", "/monitoring/user/alice", cluster="fritz", startTime="last7d"
    )
    store = user_store(context)
    assert (store.username, store.cluster, store.start_time) == ("alice", "fritz", "last7d")
    assert not store.check_access
    filters = StatisticsFilters(store)
    assert (filters.cluster.value, filters.start_time.value) == ("fritz", "last7d")
    odd = _context(backends, "root", "/monitoring/user/alice", startTime="yesterday")
    assert user_store(odd).start_time == ""


async def test_the_summary_links_counts_to_the_job_list(
    backends: Backends, jobs: dict[str, int]
) -> None:
    store = UserStore(_client(backends, "root"), username="alice", cluster="fritz")
    summary = UserSummary(store)
    await store.load()

    text = summary.__panel__().object
    assert "Alice &lt;Liddell&gt;" in text
    assert '<a href="/monitoring/jobs/?user=alice&amp;userMatch=eq&amp;cluster=fritz">4</a>' in text
    assert "state=running" in text
    assert store.totals is not None
    assert f'<td class="number">{store.totals.total_core_hours} h</td>' in text


def test_a_summary_without_totals_names_the_user_only() -> None:
    text = summary_html("x<y", None, None, {})
    assert "x&lt;y" in text
    assert "Total jobs" not in text


async def test_the_newest_jobs_link_to_their_job_views(
    backends: Backends, jobs: dict[str, int]
) -> None:
    store = UserStore(_client(backends, "root"), username="alice", newest=2)
    table = NewestJobs(store)
    assert "Loading" in table.__panel__().object

    await store.load()

    text = table.__panel__().object
    assert f'href="/monitoring/job/{jobs["running"]}"' in text
    assert f'href="/monitoring/job/{jobs["wide"]}"' not in text  # only the newest two
    assert "Show all 4 jobs in the job list" in text
    assert format_duration(7200) == "2h 00m"
    assert format_duration(600) == "10m"
    assert format_duration(90_000) == "1d 1h"


async def test_the_histograms_are_bar_charts(backends: Backends, jobs: dict[str, int]) -> None:
    store = UserStore(_client(backends, "root"), username="alice", duration_bins="6h")
    sizes, footprints = JobSizeHistograms(store), FootprintHistograms(store)
    assert len(sizes.__panel__()) == 0

    await store.load()

    duration, nodes = (pane.object for pane in sizes.__panel__())
    assert isinstance(duration, hv.Bars)
    assert list(duration.data.iloc[:2, 0]) == ["6h", "12h"]
    assert int(duration.data.iloc[0, 1]) == 4  # every job is shorter than six hours
    assert list(nodes.data.iloc[:, 1]) == [3, 1]
    assert store.histograms is not None
    empty, grid = footprints.__panel__()
    titles = [pane.object.opts.get().kwargs["title"] for pane in grid]
    assert titles == [f"{h.metric} ({h.stat}) footprints" for h in store.histograms.metrics]
    assert not empty.visible

    store.histogram_metrics = []
    await store.load()
    assert store.shown_metrics == []
    assert empty.visible
    store.histogram_metrics = ["unknown", "mem_bw"]
    await store.load()
    assert store.shown_metrics == ["mem_bw"]


def test_histogram_figures_render_with_bokeh() -> None:
    points = [HistoPoint(3600, 2), HistoPoint(7200, 0), HistoPoint(10800, 5)]
    figure = hv.render(duration_histogram(points), backend="bokeh")
    assert figure.title.text == "Duration distribution"
    assert figure.x_range.factors == ["1h", "2h", "3h"]
    assert figure.yaxis[0].ticker.min_interval == 1  # whole jobs only

    metric = MetricHistoPoints(
        "mem_bw", "GB/s", "avg", (MetricHistoPoint(1, 4, 0, 35), MetricHistoPoint(2, 1, 35, 70))
    )
    bars = metric_histogram(metric)
    assert bars.kdims[0].name == "mem_bw bin maximum [GB/s]"
    assert hv.render(bars, backend="bokeh").title.text == "mem_bw (avg) footprints"
    assert size_histogram([HistoPoint(4, 1)]).kdims[0].name == "Nodes"
    assert [duration_label(s) for s in (600, 3600, 5400)] == ["10m", "1h", "1h30m"]


# -- the users and projects lists ----------------------------------------------------------


async def test_totals_per_user_with_names_most_jobs_first(
    backends: Backends, jobs: dict[str, int]
) -> None:
    store = GroupListStore(_client(backends, "root"))
    assert store.start_time == DEFAULT_TIME_RANGE

    await store.load()

    assert [(r.id, r.name, r.total_jobs) for r in store.rows] == [
        ("alice", "Alice <Liddell>", 3),
        ("bob", "", 1),
    ]
    store.name_filter = "LIDD"
    assert [r.id for r in store.visible_rows()] == ["alice"]


async def test_totals_per_project_follow_the_cluster_filter(
    backends: Backends, jobs: dict[str, int]
) -> None:
    store = GroupListStore.from_query(
        _client(backends, "root"), GroupBy.PROJECT, {"cluster": ["alex"], "startTime": ["bad"]}
    )
    assert (store.cluster, store.start_time) == ("alex", DEFAULT_TIME_RANGE)

    await store.load()

    assert [(r.id, r.total_jobs, r.total_users) for r in store.rows] == [("project-b", 1, 1)]
    assert store.query() == {"cluster": "alex", "startTime": "last30d"}


async def test_a_manager_lists_the_users_of_their_projects(
    backends: Backends, jobs: dict[str, int]
) -> None:
    store = GroupListStore(_client(backends, "mona"), start_time="")
    await store.load()
    assert [(r.id, r.total_jobs) for r in store.rows] == [("alice", 4)]


def test_rows_link_users_to_their_view_and_counts_to_the_job_list() -> None:
    row = JobsStatistics("a b", "Ann", 3, 1, 0, 0, 3, 216, 0, 7200, 7200, 518_400, 0)
    users = group_frame([row], GroupBy.USER, {"cluster": "fritz"})
    assert list(users.columns[:3]) == ["User", "Name", "Jobs"]
    assert users.loc[0, "row_url"] == "/monitoring/user/a%20b"
    jobs_url = urlsplit(users.loc[0, "jobs_url"])
    assert jobs_url.path == "/monitoring/jobs/"
    assert parse_qs(jobs_url.query) == {"user": ["a b"], "userMatch": ["eq"], "cluster": ["fritz"]}
    assert (users.loc[0, "Walltime [h]"], users.loc[0, "Core hours"]) == (2, 144)

    projects = group_frame([row], GroupBy.PROJECT, {})
    assert list(projects.columns[:3]) == ["Project", "Users", "Jobs"]
    assert projects.loc[0, "row_url"] == "/monitoring/jobs/?project=a+b"


async def test_the_table_shows_the_rows_the_name_filter_lets_through(
    backends: Backends, jobs: dict[str, int]
) -> None:
    store = GroupListStore(_client(backends, "root"))
    table = GroupTable(store)
    await store.load()
    assert list(table.table.value["User"]) == ["alice", "bob"]

    table.search.value_input = "nobody"
    assert table.table.value.empty
    assert table._empty.visible
    assert table.table.formatters["User"] == {"type": "link", "urlField": "row_url"}


def test_the_lists_are_for_managers_and_up(backends: Backends, jobs: dict[str, int]) -> None:
    assert _open(backends, "bob", "/monitoring/users/").name == "forbidden"
    assert _open(backends, "bob", "/monitoring/projects/").name == "forbidden"
    assert _open(backends, "mona", "/monitoring/users/").name == "user-list"
    assert _open(backends, "root", "/monitoring/projects/").name == "project-list"


# -- the tags page -------------------------------------------------------------------------


@pytest.fixture
def tags(backends: Backends, jobs: dict[str, int]) -> dict[str, Tag]:
    root, alice = backends.users.get("root"), backends.users.get("alice")
    made = {
        "used": backends.tags.create(Tag(type="app", name="gromacs"), root),
        "unused": backends.tags.create(Tag(type="app", name="vasp"), root),
        "admin": backends.tags.create(Tag(type="class", name="memory-bound", scope="admin"), root),
        "private": backends.tags.create(Tag(type="note", name="check<me>", scope="alice"), alice),
    }
    for name in ("used", "admin"):
        backends.tags.attach(jobs["short"], made[name].id or 0, root)
    backends.tags.attach(jobs["short"], made["private"].id or 0, alice)
    backends.tags.attach(jobs["bob"], made["used"].id or 0, root)
    return made


def _listed(groups: dict[str, list[Any]]) -> dict[str, list[tuple[str, int]]]:
    return {kind: [(e.tag.name, e.count) for e in entries] for kind, entries in groups.items()}


async def test_tags_are_listed_by_type_with_their_visible_jobs(
    backends: Backends, tags: dict[str, Tag]
) -> None:
    alice = TagStore(_client(backends, "alice"), backends.users.get("alice"))
    bob = TagStore(_client(backends, "bob"), backends.users.get("bob"))
    root = TagStore(_client(backends, "root"), backends.users.get("root"))

    for store in (alice, bob, root):
        await store.load()

    assert _listed(alice.groups) == {"app": [("gromacs", 1)], "note": [("check<me>", 1)]}
    assert _listed(bob.groups) == {"app": [("gromacs", 1)]}
    assert _listed(root.groups) == {
        "app": [("gromacs", 2), ("vasp", 0)],
        "class": [("memory-bound", 1)],
    }


def test_the_listing_rule_shows_unused_shared_tags_to_staff_only() -> None:
    unused = Tag(id=1, type="app", name="vasp")
    mine = Tag(id=2, type="note", name="todo", scope="ann")
    ann = User.build("ann", ["user"])
    sue = User.build("sue", ["support"])
    assert _listed(listed_tags(ann, [unused, mine], {})) == {"note": [("todo", 0)]}
    assert _listed(listed_tags(sue, [unused], {})) == {"app": [("vasp", 0)]}


async def test_tag_links_open_the_job_list_of_the_tag(
    backends: Backends, tags: dict[str, Tag]
) -> None:
    store = TagStore(_client(backends, "alice"), backends.users.get("alice"))
    view = TagGroups(store)
    assert "Loading" in view.__panel__().object
    await store.load()

    text = view.__panel__().object
    assert f'href="/monitoring/jobs/?tag={tags["used"].id}"' in text
    assert "check&lt;me&gt;" in text
    assert "<h3>note</h3>" in text
    assert "No tags yet" in tag_groups_html({})


async def test_admins_delete_tags_and_others_cannot(
    backends: Backends, jobs: dict[str, int], tags: dict[str, Tag]
) -> None:
    root_user = backends.users.get("root")
    alice = TagStore(_client(backends, "alice"), backends.users.get("alice"))
    await alice.load()
    assert not alice.may_delete
    assert not await alice.delete([tags["used"].id or 0])
    assert alice.error == f"'alice' may not delete tag {tags['used'].id} of scope 'global'"
    assert backends.tags.get(tags["used"].id or 0, root_user).name == "gromacs"

    root = TagStore(_client(backends, "root"), root_user)
    form = TagDeletion(root)
    await root.load()
    assert root.may_delete
    assert tags["private"].id not in form.choice.options.values()  # private: not here
    form.choice.value = [tags["used"].id]
    assert form.button.disabled  # not confirmed yet
    form.confirm.value = True
    assert not form.button.disabled

    await form.delete()

    assert root.message == "Deleted 1 tag (app:gromacs)."
    assert form.outcome.visible
    assert "gromacs" not in [e.tag.name for e in root.entries()]
    assert form.choice.value == []
    assert not backends.tags.tags_of_jobs([jobs["bob"]], root_user).get(jobs["bob"])


async def test_deleting_nothing_says_so(backends: Backends, tags: dict[str, Tag]) -> None:
    store = TagStore(_client(backends, "root"), backends.users.get("root"))
    await store.load()
    assert not await store.delete([tags["private"].id or 0])
    assert store.error == "No deletable tag selected."
