"""The search box leads where cc-backend's search leads."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.search import SearchMessage, resolve_search
from cc_backend.client import LocalClient
from cc_backend.domain.job import Job
from cc_backend.server import Backends

NOW = 1_700_000_000
RECENT = f"{NOW - 30 * 24 * 3600}-{NOW}"


@pytest.fixture
def as_user(backends: Backends, make_job: Callable[..., Job]) -> Callable[[str], LocalClient]:
    backends.jobs.add(make_job(user="alice", project="project-a"))
    backends.users.update("alice", name="Alice Liddell")
    return lambda name: LocalClient(backends, backends.users.get(name))


async def _search(client: LocalClient, text: str) -> str | SearchMessage:
    return await resolve_search(text, client.user, client, now=NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jobId:123", "/monitoring/jobs/?jobId=123"),
        (" jobId : 123 ", "/monitoring/jobs/?jobId=123"),
        ("jobName:my job", f"/monitoring/jobs/?startTime={RECENT}&jobName=my+job"),
        ("projectId:abc", "/monitoring/jobs/?projectMatch=eq&project=abc"),
        ("arrayJobId:77", f"/monitoring/jobs/?startTime={RECENT}&arrayJobId=77"),
        ("4711", "/monitoring/jobs/?jobId=4711"),
        ("lammps", f"/monitoring/jobs/?startTime={RECENT}&jobName=lammps"),
    ],
)
async def test_every_user_searches_jobs(
    as_user: Callable[[str], LocalClient], text: str, expected: str
) -> None:
    assert await _search(as_user("bob"), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("username:alice", "/monitoring/users/?user=alice&startTime=last30d"),
        ("name:liddell", "/monitoring/users/?user=alice&startTime=last30d"),
        ("name:nobody", "/monitoring/users/?user=NoUserNameFound&startTime=last30d"),
        ("alice", "/monitoring/user/alice"),
        ("Liddell", "/monitoring/user/alice"),
        ("project-a", "/monitoring/jobs/?projectMatch=eq&project=project-a"),
        ("unknown-thing", f"/monitoring/jobs/?startTime={RECENT}&jobName=unknown-thing"),
    ],
)
async def test_managers_and_up_also_find_people_and_projects(
    as_user: Callable[[str], LocalClient], text: str, expected: str
) -> None:
    assert await _search(as_user("root"), text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", SearchMessage("warning", "Empty search")),
        ("   ", SearchMessage("warning", "Empty search")),
        ("a:b:c", SearchMessage("error", "Searchbar query parameters malformed")),
        ("color:red", SearchMessage("warning", "Unknown search type: color")),
        ("username:alice", SearchMessage("error", "Missing Access Rights")),
        ("name:alice", SearchMessage("error", "Missing Access Rights")),
    ],
)
async def test_searches_that_lead_nowhere_say_why(
    as_user: Callable[[str], LocalClient], text: str, message: SearchMessage
) -> None:
    assert await _search(as_user("bob"), text) == message


async def test_a_user_name_is_no_guess_for_plain_users(
    as_user: Callable[[str], LocalClient],
) -> None:
    found = await _search(as_user("bob"), "alice")
    assert found == f"/monitoring/jobs/?startTime={RECENT}&jobName=alice"
