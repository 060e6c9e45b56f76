"""Which jobs a user may see."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from cc_backend.domain.errors import PermissionDenied
from cc_backend.domain.user import User
from cc_backend.repository.database import Database
from cc_backend.repository.schema import job
from cc_backend.repository.visibility import job_visibility


@pytest.fixture
def jobs(empty_db: Database, insert_job: Callable[..., int]) -> dict[str, int]:
    """Three jobs: alice's in project-a, bob's in project-b, carol's in project-c."""
    return {
        "alice": insert_job(empty_db, hpc_user="alice", project="project-a"),
        "bob": insert_job(empty_db, hpc_user="bob", project="project-b"),
        "carol": insert_job(empty_db, hpc_user="carol", project="project-c"),
    }


def visible_owners(db: Database, actor: User) -> set[str]:
    query = sa.select(job.c.hpc_user)
    condition = job_visibility(actor)
    if condition is not None:
        query = query.where(condition)
    with db.engine.connect() as conn:
        return set(conn.scalars(query))


@pytest.mark.parametrize("roles", [["admin"], ["support"], ["api"], ["admin", "api"]])
def test_admins_support_and_pure_api_clients_see_every_job(roles: list[str]) -> None:
    assert job_visibility(User.build("someone", roles)) is None


def test_a_user_sees_only_their_own_jobs(empty_db: Database, jobs: dict[str, int]) -> None:
    assert visible_owners(empty_db, User.build("alice", ["user"])) == {"alice"}


def test_an_api_client_that_is_also_a_user_sees_only_its_own_jobs(
    empty_db: Database, jobs: dict[str, int]
) -> None:
    assert visible_owners(empty_db, User.build("bob", ["api", "user"])) == {"bob"}


def test_a_manager_sees_jobs_of_managed_projects_and_own_jobs(
    empty_db: Database, jobs: dict[str, int]
) -> None:
    manager = User.build("alice", ["manager"], projects=["project-b"])
    assert visible_owners(empty_db, manager) == {"alice", "bob"}


def test_a_manager_without_projects_sees_only_own_jobs(
    empty_db: Database, jobs: dict[str, int]
) -> None:
    assert visible_owners(empty_db, User.build("carol", ["manager"])) == {"carol"}


def test_a_manager_role_outranks_the_user_role(empty_db: Database, jobs: dict[str, int]) -> None:
    manager = User.build("alice", ["user", "manager"], projects=["project-c"])
    assert visible_owners(empty_db, manager) == {"alice", "carol"}


@pytest.mark.parametrize("roles", [[], ["anonymous"], ["api", "anonymous"]])
def test_a_user_without_a_role_that_sees_jobs_is_refused(roles: list[str]) -> None:
    with pytest.raises(PermissionDenied, match="no role"):
        job_visibility(User.build("nobody", roles))
