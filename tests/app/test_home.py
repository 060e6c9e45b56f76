"""The home page's store and views as objects, against a real site."""

from __future__ import annotations

import socket
from collections.abc import Callable

import panel as pn
import pytest

from app.context import PageContext
from app.pages.home import home_page
from app.stores.home import ClusterCounts, HomeStore
from app.views.home import ClusterCountsTable, NoticeBanner, cluster_rows_html
from app.views.messages import StoreStatus, say
from cc_backend.client import HttpClient, LocalClient
from cc_backend.domain.job import Job
from cc_backend.server import Backends


@pytest.fixture
def jobs(backends: Backends, make_job: Callable[..., Job]) -> None:
    backends.jobs.add(make_job(user="alice"))
    backends.jobs.add(make_job(user="alice", jobState="completed", duration=60))
    backends.jobs.add(make_job(user="bob", jobState="failed", duration=60))
    backends.jobs.add(
        make_job(user="bob", cluster="alex", subCluster="a40", resources=[{"hostname": "a0101"}])
    )


def _store(backends: Backends, username: str) -> HomeStore:
    return HomeStore(LocalClient(backends, backends.users.get(username)))


async def test_counts_per_cluster_are_those_the_user_may_see(
    backends: Backends, jobs: None
) -> None:
    admin, alice = _store(backends, "root"), _store(backends, "alice")
    await admin.load()
    await alice.load()

    assert admin.clusters == [ClusterCounts("alex", 1, 1), ClusterCounts("fritz", 1, 3)]
    assert alice.clusters == [ClusterCounts("alex", 0, 0), ClusterCounts("fritz", 1, 2)]
    assert admin.loaded
    assert not admin.loading
    assert admin.error == ""


async def test_the_notice_comes_from_the_site(backends: Backends) -> None:
    notice = backends.config.base_dir / "var" / "notice.txt"
    notice.parent.mkdir(parents=True, exist_ok=True)
    notice.write_text("Maintenance <b>Friday</b>\nall day")
    store = _store(backends, "bob")
    banner = NoticeBanner(store)
    assert not banner.__panel__().visible

    await store.load()

    alert = banner.__panel__()
    assert alert.visible
    assert alert.object == "Maintenance &lt;b&gt;Friday&lt;/b&gt;<br>all day"


async def test_the_table_links_each_count_to_the_job_list(backends: Backends, jobs: None) -> None:
    store = _store(backends, "root")
    table = ClusterCountsTable(store)
    assert "Loading" in table.__panel__().object

    await store.load()

    html = table.__panel__().object
    assert '<a href="/monitoring/jobs/?cluster=fritz&amp;state=running">1</a>' in html
    assert '<a href="/monitoring/jobs/?cluster=fritz">3</a>' in html
    assert '<a href="/monitoring/jobs/?cluster=alex">alex</a>' in html


def test_an_empty_site_says_so() -> None:
    assert "No clusters yet" in cluster_rows_html([], loaded=True)


async def test_a_failing_site_shows_the_error_and_nothing_else() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = HomeStore(HttpClient(f"http://127.0.0.1:{port}", "token", timeout=5))
    status = StoreStatus(store)

    await store.load()

    assert "cannot reach" in store.error
    assert store.clusters == []
    assert store.loaded
    alert = status.__panel__()[1]
    assert alert.visible
    assert "cannot reach" in alert.object


def test_a_message_that_goes_away_is_hidden_not_emptied() -> None:
    pane = pn.pane.Markdown("Loading…")

    say(pane, "")
    assert not pane.visible
    assert pane.object == "Loading…"  # new text would resend the pane's style sheets

    say(pane, "No data.")
    assert pane.visible
    assert pane.object == "No data."


async def test_answers_are_cached_for_a_while(backends: Backends, jobs: None) -> None:
    store = _store(backends, "root")
    await store.load()
    backends.jobs.delete([j.id for j in backends.jobs.query([], actor=None).items if j.id])
    await store.load()
    assert sum(c.total for c in store.clusters) == 4  # still the cached answer
    store.forget()
    await store.load()
    assert sum(c.total for c in store.clusters) == 0


def test_the_home_page_composes_notice_heading_status_and_table(backends: Backends) -> None:
    user = backends.users.get("bob")
    page = home_page(PageContext(user, LocalClient(backends, user)))
    kinds = [type(item).__name__ for item in page]
    assert kinds == ["Alert", "Markdown", "Row", "HTML"]  # notice, heading, status, table
