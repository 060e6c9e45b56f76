"""The header's search box: ``/search?searchId=<text>`` leads to the page that answers it.

cc-backend's rules. A term is ``type:query`` or a bare query; spaces around both are
ignored.

=============== ============================================================ ==============
type            destination                                                  who
=============== ============================================================ ==============
``jobId``       job list ``?jobId=Q``                                        everybody
``jobName``     job list ``?startTime=<last 30 days>&jobName=Q``             everybody
``projectId``   job list ``?projectMatch=eq&project=Q``                      everybody
``arrayJobId``  job list ``?startTime=<last 30 days>&arrayJobId=Q``          everybody
``username``    users list ``?user=Q&startTime=last30d``                     manager and up
``name``        users list of the users whose name contains Q                manager and up
=============== ============================================================ ==============

A bare query is tried as a job id (all digits), then, for managers and up, as a user
name that has jobs (that user's page), a part of a person's name (that user's page), a
project with jobs (job list); anything else is a job name (job list, last 30 days).

Any other type, more than one colon, an empty search or a search without result is a
message page (:class:`SearchMessage`) instead of a redirect.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlencode

from app.routing import MANAGER_ROLES
from cc_backend.client import Client
from cc_backend.domain.filters import JobFilter, StringInput
from cc_backend.domain.user import User

__all__ = ["SearchMessage", "resolve_search"]

JOB_LIST = "/monitoring/jobs/"
USER_LIST = "/monitoring/users/"
USER_PAGE = "/monitoring/user/"
#: The start-time window of name searches (cc-backend: 30 days, against time-outs).
RECENT_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class SearchMessage:
    """What to show when a search leads nowhere: ``kind`` and the text."""

    kind: Literal["info", "warning", "error"]
    text: str


def _jobs(**query: str) -> str:
    return f"{JOB_LIST}?{urlencode(query)}"


def _recent(now: float) -> str:
    current = int(now)
    return f"{current - RECENT_SECONDS}-{current}"


def _users(names: list[str]) -> str:
    return f"{USER_LIST}?{urlencode([('user', n) for n in names] + [('startTime', 'last30d')])}"


MISSING_RIGHTS = SearchMessage("error", "Missing Access Rights")


async def resolve_search(
    text: str | None, user: User, client: Client, now: float | None = None
) -> str | SearchMessage:
    """Where the search ``text`` of ``user`` leads: a path with its query, or a message."""
    current = time.time() if now is None else now
    search = (text or "").strip()
    if not search:
        return SearchMessage("warning", "Empty search")
    parts = search.split(":")
    if len(parts) > 2:
        return SearchMessage("error", "Searchbar query parameters malformed")
    if len(parts) == 1:
        return await _guess(search, user, client, current)
    kind, query = parts[0].strip(), parts[1].strip()
    staff = user.has_any_role(MANAGER_ROLES)
    if kind == "jobId":
        return _jobs(jobId=query)
    if kind == "jobName":
        return _jobs(startTime=_recent(current), jobName=query)
    if kind == "projectId":
        return _jobs(projectMatch="eq", project=query)
    if kind == "arrayJobId":
        return _jobs(startTime=_recent(current), arrayJobId=query)
    if kind == "username":
        return _users([query]) if staff else MISSING_RIGHTS
    if kind == "name":
        if not staff:
            return MISSING_RIGHTS
        return _users(await client.find_users(query) or ["NoUserNameFound"])
    return SearchMessage("warning", f"Unknown search type: {kind}")


async def _guess(term: str, user: User, client: Client, now: float) -> str | SearchMessage:
    if term.isdigit():
        return _jobs(jobId=term)
    if user.has_any_role(MANAGER_ROLES):
        if await client.count_jobs([JobFilter(user=StringInput(eq=term))]):
            return USER_PAGE + quote(term, safe="")
        named = await client.find_users(term)
        if named:
            return USER_PAGE + quote(named[0], safe="")
        if await client.count_jobs([JobFilter(project=StringInput(eq=term))]):
            return _jobs(projectMatch="eq", project=term)
    return _jobs(startTime=_recent(now), jobName=term)
