"""Which jobs a user may see, as one SQL condition on the ``job`` table.

Every query that returns or counts jobs on behalf of a user adds this condition, so the
rule lives here once:

* admin and support, and a pure API client (only the ``api`` role), see every job;
* a manager sees the jobs of the projects they manage and their own jobs;
* a user sees their own jobs;
* anybody else (no role, only ``anonymous``, ``api`` combined with nothing that sees jobs)
  sees nothing and is refused.
"""

from __future__ import annotations

import sqlalchemy as sa

from cc_backend.domain.errors import PermissionDenied
from cc_backend.domain.user import Role, User
from cc_backend.repository.schema import job


def job_visibility(actor: User) -> sa.ColumnElement[bool] | None:
    """The condition restricting ``job`` rows to those ``actor`` may see.

    Returns ``None`` when ``actor`` may see every job (no restriction to add).
    Raises :class:`PermissionDenied` when ``actor`` holds no role that sees jobs.
    """
    if actor.sees_all_jobs:
        return None
    own_jobs = job.c.hpc_user == actor.username
    if actor.has_role(Role.MANAGER):
        if actor.projects:
            return sa.or_(job.c.project.in_(actor.projects), own_jobs)
        return own_jobs
    if actor.has_role(Role.USER):
        return own_jobs
    raise PermissionDenied(f"user {actor.username!r} has no role that may see jobs")
