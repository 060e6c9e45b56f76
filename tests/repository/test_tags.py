"""Tags: scopes, links to jobs and per-user counts."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from cc_backend.domain.errors import AlreadyExists, NotFound, PermissionDenied
from cc_backend.domain.tag import Tag
from cc_backend.domain.user import User
from cc_backend.repository.database import Database
from cc_backend.repository.schema import jobtag
from cc_backend.repository.tags import TagRepository

ADMIN = User.build("root", ["admin"])
SUPPORT = User.build("helpdesk", ["support"])
API = User.build("scheduler", ["api"])
ALICE = User.build("alice", ["user"])
BOB = User.build("bob", ["user"])
MANAGER = User.build("boss", ["manager"], projects=["project-b"])


@pytest.fixture
def tags(empty_db: Database) -> TagRepository:
    return TagRepository(empty_db)


@pytest.fixture
def jobs(empty_db: Database, insert_job: Callable[..., int]) -> dict[str, int]:
    """One job each for alice (project-a), bob (project-b), carol (project-c) and boss."""
    return {
        "alice": insert_job(empty_db, hpc_user="alice", project="project-a"),
        "bob": insert_job(empty_db, hpc_user="bob", project="project-b"),
        "carol": insert_job(empty_db, hpc_user="carol", project="project-c"),
        "boss": insert_job(empty_db, hpc_user="boss", project="project-z"),
    }


def new(type_: str, name: str, scope: str = "global") -> Tag:
    return Tag(type=type_, name=name, scope=scope)


def tid(saved: Tag) -> int:
    """The database id of a stored tag."""
    assert saved.id is not None
    return saved.id


def ids(found: list[Tag]) -> list[int | None]:
    return [t.id for t in found]


@pytest.fixture
def statements(empty_db: Database) -> Iterator[list[str]]:
    """The SQL statements run while the test runs."""
    seen: list[str] = []

    def record(*args: object) -> None:
        seen.append(str(args[2]))

    sa.event.listen(empty_db.engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(empty_db.engine, "before_cursor_execute", record)


# --- creating and reading ------------------------------------------------------------------


def test_created_tag_gets_an_id_and_reads_back_equal(tags: TagRepository) -> None:
    created = tags.create(new("app", "python"), ADMIN)
    assert tags.get(tid(created), ALICE) == created


def test_pure_api_client_may_write_global_tags(tags: TagRepository) -> None:
    assert tags.create(new("jobClass", "memoryBound"), API).scope == "global"


def test_a_plain_user_may_not_create_global_or_admin_tags(tags: TagRepository) -> None:
    for scope in ("global", "admin"):
        with pytest.raises(PermissionDenied):
            tags.create(new("app", "python", scope), ALICE)


def test_support_reads_admin_tags_but_may_not_create_them(tags: TagRepository) -> None:
    hidden = tags.create(new("review", "suspicious", "admin"), ADMIN)
    assert tags.get(tid(hidden), SUPPORT) == hidden
    with pytest.raises(PermissionDenied):
        tags.create(new("review", "fine", "admin"), SUPPORT)


def test_users_create_private_tags_only_in_their_own_scope(tags: TagRepository) -> None:
    assert tags.create(new("note", "check", "alice"), ALICE).scope == "alice"
    with pytest.raises(PermissionDenied):
        tags.create(new("note", "other", "bob"), ALICE)


def test_a_type_and_name_pair_exists_once_across_scopes(tags: TagRepository) -> None:
    tags.create(new("app", "python"), ADMIN)
    with pytest.raises(AlreadyExists, match="python"):
        tags.create(new("app", "python", "alice"), ALICE)


def test_private_tag_is_invisible_to_other_users(tags: TagRepository) -> None:
    private = tags.create(new("note", "mine", "alice"), ALICE)
    with pytest.raises(NotFound):
        tags.get(tid(private), BOB)
    with pytest.raises(NotFound):
        tags.get(tid(private), ADMIN)
    assert tags.list(BOB) == []


def test_getting_an_unknown_tag_raises_not_found(tags: TagRepository) -> None:
    with pytest.raises(NotFound):
        tags.get(42, ADMIN)


def test_list_shows_global_own_and_for_admins_admin_tags(tags: TagRepository) -> None:
    shared = tags.create(new("app", "python"), ADMIN)
    hidden = tags.create(new("review", "bad", "admin"), ADMIN)
    mine = tags.create(new("note", "mine", "alice"), ALICE)
    tags.create(new("note", "his", "bob"), BOB)
    assert ids(tags.list(ALICE)) == ids([shared, mine])
    assert ids(tags.list(SUPPORT)) == ids([shared, hidden])


def test_find_matches_type_name_and_scope(tags: TagRepository) -> None:
    created = tags.create(new("app", "python"), ADMIN)
    assert tags.find("app", "python", "global") == created
    assert tags.find("app", "python", "alice") is None


def test_get_or_create_returns_the_same_tag_the_second_time(tags: TagRepository) -> None:
    first = tags.get_or_create("note", "todo", "alice", ALICE)
    assert tags.get_or_create("note", "todo", "alice", ALICE) == first


def test_get_or_create_requires_write_access_even_for_an_existing_tag(
    tags: TagRepository,
) -> None:
    tags.create(new("app", "python"), ADMIN)
    with pytest.raises(PermissionDenied):
        tags.get_or_create("app", "python", "global", ALICE)


# --- attaching to jobs ---------------------------------------------------------------------


def test_attaching_returns_the_readable_tags_of_the_job_and_is_idempotent(
    tags: TagRepository, jobs: dict[str, int]
) -> None:
    shared = tags.create(new("app", "python"), ADMIN)
    hidden = tags.create(new("review", "bad", "admin"), ADMIN)
    mine = tags.create(new("note", "mine", "alice"), ALICE)
    tags.attach(jobs["alice"], tid(shared), ADMIN)
    tags.attach(jobs["alice"], tid(hidden), ADMIN)
    assert tags.attach(jobs["alice"], tid(mine), ALICE) == [shared, mine]
    assert tags.attach(jobs["alice"], tid(mine), ALICE) == [shared, mine]
    assert tags.all_tags_of_job(jobs["alice"]) == [shared, mine, hidden]


def test_attaching_to_an_unknown_job_or_an_unknown_tag_raises_not_found(
    tags: TagRepository, jobs: dict[str, int]
) -> None:
    shared = tags.create(new("app", "python"), ADMIN)
    with pytest.raises(NotFound, match="job"):
        tags.attach(999_999, tid(shared), ADMIN)
    with pytest.raises(NotFound, match="tag"):
        tags.attach(jobs["alice"], 999_999, ADMIN)


def test_a_user_cannot_tag_a_job_they_may_not_see(
    tags: TagRepository, jobs: dict[str, int]
) -> None:
    mine = tags.create(new("note", "mine", "alice"), ALICE)
    with pytest.raises(NotFound, match="job"):
        tags.attach(jobs["bob"], tid(mine), ALICE)


def test_attaching_a_tag_of_a_scope_the_actor_may_not_write_is_refused(
    tags: TagRepository, jobs: dict[str, int]
) -> None:
    shared = tags.create(new("app", "python"), ADMIN)
    with pytest.raises(PermissionDenied):
        tags.attach(jobs["alice"], tid(shared), ALICE)
    assert tags.all_tags_of_job(jobs["alice"]) == []


def test_detaching_removes_only_that_link(tags: TagRepository, jobs: dict[str, int]) -> None:
    one = tags.create(new("app", "python"), ADMIN)
    two = tags.create(new("app", "julia"), ADMIN)
    tags.attach(jobs["bob"], tid(one), ADMIN)
    tags.attach(jobs["bob"], tid(two), ADMIN)
    tags.attach(jobs["carol"], tid(one), ADMIN)
    assert tags.detach(jobs["bob"], tid(one), ADMIN) == [two]
    assert tags.detach(jobs["bob"], tid(one), ADMIN) == [two]
    assert tags.all_tags_of_job(jobs["carol"]) == [one]


def test_tags_of_a_page_of_jobs_come_from_one_query(
    tags: TagRepository, jobs: dict[str, int], statements: list[str]
) -> None:
    shared = tags.create(new("app", "python"), ADMIN)
    mine = tags.create(new("note", "mine", "alice"), ALICE)
    tags.attach(jobs["alice"], tid(shared), ADMIN)
    tags.attach(jobs["alice"], tid(mine), ALICE)
    tags.attach(jobs["bob"], tid(shared), ADMIN)
    page = [jobs["alice"], jobs["bob"], jobs["carol"]]
    statements.clear()
    assert tags.tags_of_jobs(page, ALICE) == {
        jobs["alice"]: [shared, mine],
        jobs["bob"]: [shared],
        jobs["carol"]: [],
    }
    assert len(statements) == 1
    assert tags.tags_of_jobs(page, BOB)[jobs["alice"]] == [shared]
    assert tags.tags_of_jobs([], BOB) == {}


# --- deleting ------------------------------------------------------------------------------


def test_deleting_tags_removes_them_and_their_job_links(
    empty_db: Database, tags: TagRepository, jobs: dict[str, int]
) -> None:
    one = tags.create(new("app", "python"), ADMIN)
    two = tags.create(new("app", "julia"), ADMIN)
    tags.attach(jobs["bob"], tid(one), ADMIN)
    assert tags.delete([tid(one), tid(two), 999_999], ADMIN) == 2
    assert tags.list(ADMIN) == []
    with empty_db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(jobtag)).scalar_one() == 0


def test_deleting_a_tag_the_actor_may_not_write_deletes_nothing(tags: TagRepository) -> None:
    mine = tags.create(new("note", "mine", "alice"), ALICE)
    shared = tags.create(new("app", "python"), ADMIN)
    with pytest.raises(PermissionDenied):
        tags.delete([tid(mine), tid(shared)], ALICE)
    assert tags.list(ALICE) == [shared, mine]
    assert tags.delete([tid(mine)], ALICE) == 1


# --- counts --------------------------------------------------------------------------------


@pytest.fixture
def tagged(tags: TagRepository, jobs: dict[str, int]) -> dict[str, int]:
    """``python`` on every job, ``julia`` on carol's, admin tag ``bad`` on bob's."""
    python = tags.create(new("app", "python"), ADMIN)
    julia = tags.create(new("app", "julia"), ADMIN)
    bad = tags.create(new("review", "bad", "admin"), ADMIN)
    for job_id in jobs.values():
        tags.attach(job_id, tid(python), ADMIN)
    tags.attach(jobs["carol"], tid(julia), ADMIN)
    tags.attach(jobs["bob"], tid(bad), ADMIN)
    return {"python": tid(python), "julia": tid(julia), "bad": tid(bad)}


def test_an_admin_counts_tags_on_all_jobs(tags: TagRepository, tagged: dict[str, int]) -> None:
    assert tags.counts(ADMIN) == {tagged["python"]: 4, tagged["julia"]: 1, tagged["bad"]: 1}


def test_a_user_counts_tags_on_own_jobs_only(tags: TagRepository, tagged: dict[str, int]) -> None:
    assert tags.counts(ALICE) == {tagged["python"]: 1, tagged["julia"]: 0}


def test_a_manager_counts_tags_on_jobs_of_managed_projects_and_own_jobs(
    tags: TagRepository, tagged: dict[str, int]
) -> None:
    assert tags.counts(MANAGER) == {tagged["python"]: 2, tagged["julia"]: 0}


def test_counts_refuse_a_user_without_a_role_that_sees_jobs(
    tags: TagRepository, tagged: dict[str, int]
) -> None:
    with pytest.raises(PermissionDenied):
        tags.counts(User.build("guest", ["anonymous"]))


# --- cc-backend's own database -------------------------------------------------------------


@pytest.mark.reference
def test_demo_sees_its_private_python_tag_on_job_525(reference_db: Database) -> None:
    tags = TagRepository(reference_db)
    demo = User.build("demo", ["admin", "api"])
    python = Tag(id=1, type="app", name="python", scope="demo")
    assert tags.list(demo) == [python]
    assert tags.tags_of_jobs([525], demo) == {525: [python]}
    assert tags.counts(demo) == {1: 1}


@pytest.mark.reference
def test_a_new_tag_in_the_reference_database_gets_the_next_id(reference_db: Database) -> None:
    assert TagRepository(reference_db).create(new("app", "julia"), ADMIN).id == 2


@pytest.mark.reference
def test_the_private_reference_tag_is_hidden_from_other_admins_but_kept_for_the_archive(
    reference_db: Database,
) -> None:
    tags = TagRepository(reference_db)
    assert tags.list(ADMIN) == []
    assert tags.tags_of_jobs([525], ADMIN) == {525: []}
    assert [t.name for t in tags.all_tags_of_job(525)] == ["python"]
