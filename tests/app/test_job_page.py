"""The job page as the server builds it: registered at cc-backend's route, composed of the
job view's parts, and refusing jobs the user may not open."""

from __future__ import annotations

from collections.abc import Callable

import panel as pn
import pytest

from app.context import PageContext
from app.pages import PAGES
from app.pages.job import JobPage, job_page
from app.routing import find_page
from app.site import build_content
from app.stores.job import JobStore
from app.views.bokeh_css_cache import CssValueCache
from cc_backend.client import LocalClient
from cc_backend.domain.errors import NotFound
from cc_backend.domain.job import Job
from cc_backend.server import Backends
from tests.app.test_job_store import run_job


def _context(backends: Backends, username: str, job_id: str) -> PageContext:
    user = backends.users.get(username)
    return PageContext(
        user,
        LocalClient(backends, user),
        path=f"/monitoring/job/{job_id}",
        path_params={"id": job_id},
    )


def _texts(viewable: pn.viewable.Viewable) -> str:
    """The text of every Markdown, HTML and Alert pane below ``viewable``."""
    panes = viewable.select(
        lambda o: isinstance(o, pn.pane.Markdown | pn.pane.HTML | pn.pane.Alert)
    )
    return "\n".join(str(p.object) for p in panes)


def _shown(page: JobPage) -> list[str]:
    """The names of what the page shows: the first section's parts, the other sections."""
    first, *others = page.sections
    return [part.name for part in first.objects] + [s.name for s in others if s.visible]


def test_the_page_is_registered_at_cc_backends_route() -> None:
    found = find_page(PAGES, "/monitoring/job/42")
    assert found is not None
    page, params = found
    assert page.build is job_page
    assert params == {"id": "42"}
    assert page.title_for(params) == "Job 42"


def test_an_id_that_is_no_number_is_not_found(backends: Backends) -> None:
    with pytest.raises(NotFound, match="no job with id 'abc'"):
        job_page(_context(backends, "alice", "abc"))
    spec = find_page(PAGES, "/monitoring/job/abc")
    assert spec is not None
    content = build_content(spec[0], _context(backends, "alice", "abc"))
    assert content.name == "not-found"


async def test_the_page_shows_every_part_of_the_job(
    backends: Backends, make_job: Callable[..., Job]
) -> None:
    job = run_job(backends, make_job, metaData={"jobScript": "#!/bin/bash\nsrun ./sim"})
    page = job_page(_context(backends, "alice", str(job.id)))
    assert isinstance(page, JobPage)

    await page.store.load()

    text = _texts(page.__panel__())
    assert "srun ./sim" in text
    assert "Total energy so far (estimate)" in text
    assert 'class="cc-info"' in text
    plots = page.grid.plots
    assert list(plots) == page.store.selected[: page.store.plots_per_row]  # the first row
    assert all(p.plot is not None for p in plots.values())
    assert page.store.error == ""
    # Before the plots: the browser then reads BokehJS's CSS variables once per task.
    assert isinstance(page.sections[0].objects[0], CssValueCache)


@pytest.mark.parametrize(
    ("username", "expected", "message"),
    [("bob", "forbidden", "may not open job"), ("root", "not-found", "no job with id")],
)
async def test_a_job_the_user_may_not_see_is_refused(
    backends: Backends,
    make_job: Callable[..., Job],
    username: str,
    expected: str,
    message: str,
) -> None:
    alices = run_job(backends, make_job)
    wanted = str(alices.id) if username == "bob" else "999"
    page = job_page(_context(backends, username, wanted))

    await page.store.load()

    assert _shown(page) == [expected]
    assert message in _texts(page.sections[0])
    assert page.store.job is None


async def test_the_same_refusal_for_a_missing_and_a_hidden_job(backends: Backends) -> None:
    """A user cannot tell from the page whether a job id exists."""
    bob = backends.users.get("bob")
    store = JobStore(LocalClient(backends, bob), db_id=123_456)
    page = JobPage(store, bob)

    await store.load()

    assert _shown(page) == ["forbidden"]
