"""Users: storage compatible with cc-backend, roles, projects and password login."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from cc_backend.domain.errors import AlreadyExists, InvalidInput, NotFound, Unauthenticated
from cc_backend.domain.user import AuthSource, Contact, Role, User
from cc_backend.repository.database import Database
from cc_backend.repository.schema import configuration, hpc_user
from cc_backend.repository.userconfig import UserConfigRepository
from cc_backend.repository.users import LOGIN_FAILED, UserRepository


@pytest.fixture
def users(empty_db: Database) -> UserRepository:
    return UserRepository(empty_db)


def stored_row(db: Database, username: str) -> sa.RowMapping:
    with db.engine.connect() as conn:
        row = conn.execute(sa.select(hpc_user).where(hpc_user.c.username == username)).one()
    return row._mapping


def insert_raw_user(db: Database, **values: object) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.insert(hpc_user).values(**values))


# --- adding and reading --------------------------------------------------------------------


def test_added_user_reads_back_equal_without_password(users: UserRepository) -> None:
    alice = User.build("alice", ["manager"], ["project-a"], name="Alice A", email="a@example.org")
    users.add(alice)
    assert users.get("alice") == alice


def test_roles_and_projects_are_stored_as_compact_json_lists_like_cc_backend(
    empty_db: Database, users: UserRepository
) -> None:
    users.add(User.build("ops", ["api", "admin"]))
    row = stored_row(empty_db, "ops")
    assert row["roles"] == '["admin","api"]'
    assert row["projects"] == "[]"
    assert row["ldap"] == 0
    assert row["name"] is None


def test_password_is_stored_as_a_go_compatible_bcrypt_hash_of_cost_10(
    empty_db: Database, users: UserRepository
) -> None:
    users.add(User.build("alice", ["user"]), password="s3cret")
    hashed = stored_row(empty_db, "alice")["password"]
    assert hashed.startswith("$2a$10$")
    assert "s3cret" not in hashed


def test_adding_a_taken_username_is_refused(users: UserRepository) -> None:
    users.add(User.build("alice", ["user"]))
    with pytest.raises(AlreadyExists, match="alice"):
        users.add(User.build("alice", ["admin"]))


@pytest.mark.parametrize("username", ["", "al ice", "a/b", "x;drop", "ä" * 101, "tab\t"])
def test_invalid_usernames_are_refused(users: UserRepository, username: str) -> None:
    with pytest.raises(InvalidInput, match="invalid username"):
        users.add(User.build(username, ["user"]))


def test_usernames_may_hold_letters_digits_dots_dashes_underscores_and_at(
    users: UserRepository,
) -> None:
    users.add(User.build("Jo.hn-Doe_42@lab", ["user"]))
    assert users.get("Jo.hn-Doe_42@lab").username == "Jo.hn-Doe_42@lab"


def test_projects_for_a_user_who_is_not_a_manager_are_refused(users: UserRepository) -> None:
    with pytest.raises(InvalidInput, match="only managers"):
        users.add(User.build("alice", ["user"], ["project-a"]))


def test_an_overlong_password_is_refused_as_go_bcrypt_does(users: UserRepository) -> None:
    with pytest.raises(InvalidInput, match="72 bytes"):
        users.add(User.build("alice", ["user"]), password="x" * 73)


def test_getting_an_unknown_user_raises_not_found(users: UserRepository) -> None:
    with pytest.raises(NotFound, match="nobody"):
        users.get("nobody")


@pytest.mark.usefixtures("sqlite_only")
def test_rows_written_as_bytes_or_with_empty_projects_by_cc_backend_are_read(
    empty_db: Database, users: UserRepository
) -> None:
    insert_raw_user(empty_db, username="bob", roles=b'["user"]', projects='[""]', ldap=1)
    assert users.get("bob") == User.build("bob", ["user"], auth_source=AuthSource.LDAP)


def test_empty_project_entries_written_by_cc_backend_are_ignored(
    empty_db: Database, users: UserRepository
) -> None:
    insert_raw_user(empty_db, username="bob", roles='["user"]', projects='[""]', ldap=1)
    assert users.get("bob") == User.build("bob", ["user"], auth_source=AuthSource.LDAP)


def test_malformed_or_unknown_roles_grant_nothing(
    empty_db: Database, users: UserRepository
) -> None:
    insert_raw_user(empty_db, username="eve", roles="admin", projects="[]")
    insert_raw_user(empty_db, username="mallory", roles='["root","user"]', projects="[]")
    assert users.get("eve").roles == frozenset()
    assert users.get("mallory").roles == {Role.USER}


# --- listing and counting ------------------------------------------------------------------


def test_list_returns_users_ordered_by_name_and_count_counts_them(users: UserRepository) -> None:
    for name in ("carol", "alice", "bob"):
        users.add(User.build(name, ["user"]))
    assert [u.username for u in users.list()] == ["alice", "bob", "carol"]
    assert users.count() == 3


def test_list_with_roles_only_leaves_out_plain_users_like_not_just_user(
    users: UserRepository,
) -> None:
    users.add(User.build("plain", ["user"]))
    users.add(User.build("norole", []))
    users.add(User.build("boss", ["user", "manager"]))
    users.add(User.build("robot", ["api"]))
    assert [u.username for u in users.list(with_roles_only=True)] == ["boss", "robot"]


def test_list_can_select_users_by_auth_source(users: UserRepository) -> None:
    users.add(User.build("local", ["user"]))
    users.add(User.build("directory", ["user"], auth_source=AuthSource.LDAP))
    assert [u.username for u in users.list(auth_source=AuthSource.LDAP)] == ["directory"]


# --- deleting ------------------------------------------------------------------------------


def test_deleting_a_user_removes_their_configuration(
    empty_db: Database, users: UserRepository
) -> None:
    users.add(User.build("alice", ["user"]))
    users.add(User.build("bob", ["user"]))
    config = UserConfigRepository(empty_db)
    config.set("alice", "plot_general_colorscheme", ["#fff"])
    config.set("bob", "plot_general_colorscheme", ["#000"])
    users.delete("alice")
    with pytest.raises(NotFound):
        users.get("alice")
    with empty_db.engine.connect() as conn:
        owners = conn.scalars(sa.select(configuration.c.username)).all()
    assert owners == ["bob"]


def test_deleting_an_unknown_user_raises_not_found(users: UserRepository) -> None:
    with pytest.raises(NotFound):
        users.delete("nobody")


# --- roles and projects --------------------------------------------------------------------


def test_roles_are_added_by_name_case_insensitively_and_removed(users: UserRepository) -> None:
    users.add(User.build("alice", ["user"]))
    users.add_role("alice", "Support")
    assert users.get("alice").roles == {Role.USER, Role.SUPPORT}
    users.remove_role("alice", Role.USER)
    assert users.get("alice").roles == {Role.SUPPORT}


def test_adding_a_role_the_user_already_has_is_refused(users: UserRepository) -> None:
    users.add(User.build("alice", ["user"]))
    with pytest.raises(InvalidInput, match="already has role 'user'"):
        users.add_role("alice", Role.USER)


def test_removing_a_role_the_user_does_not_have_is_refused(users: UserRepository) -> None:
    users.add(User.build("alice", ["user"]))
    with pytest.raises(InvalidInput, match="does not have role 'admin'"):
        users.remove_role("alice", "admin")


def test_an_unknown_role_name_is_refused(users: UserRepository) -> None:
    users.add(User.build("alice", ["user"]))
    with pytest.raises(InvalidInput, match="unknown role"):
        users.add_role("alice", "superuser")


def test_role_changes_for_an_unknown_user_raise_not_found(users: UserRepository) -> None:
    with pytest.raises(NotFound):
        users.add_role("nobody", Role.USER)


def test_the_manager_role_cannot_be_removed_while_projects_are_assigned(
    users: UserRepository,
) -> None:
    users.add(User.build("boss", ["manager"], ["project-a"]))
    with pytest.raises(InvalidInput, match="still manages"):
        users.remove_role("boss", Role.MANAGER)
    users.remove_project("boss", "project-a")
    users.remove_role("boss", Role.MANAGER)
    assert users.get("boss").roles == frozenset()


def test_managers_gain_and_lose_projects(users: UserRepository) -> None:
    users.add(User.build("boss", ["manager"], ["project-a"]))
    users.add_project("boss", "project-b")
    assert users.get("boss").projects == ("project-a", "project-b")
    users.remove_project("boss", "project-a")
    assert users.get("boss").projects == ("project-b",)


def test_only_managers_may_have_projects(users: UserRepository) -> None:
    users.add(User.build("alice", ["user"]))
    with pytest.raises(InvalidInput, match="not a manager"):
        users.add_project("alice", "project-a")


def test_adding_a_managed_project_again_or_removing_an_unmanaged_one_is_refused(
    users: UserRepository,
) -> None:
    users.add(User.build("boss", ["manager"], ["project-a"]))
    with pytest.raises(InvalidInput, match="already manages"):
        users.add_project("boss", "project-a")
    with pytest.raises(InvalidInput, match="does not manage"):
        users.remove_project("boss", "project-z")


# --- updating and passwords ----------------------------------------------------------------


def test_update_changes_only_the_given_fields(users: UserRepository) -> None:
    users.add(User.build("alice", ["user"], name="Alice", email="old@example.org"))
    users.update("alice", email="new@example.org")
    assert users.get("alice").name == "Alice"
    assert users.get("alice").email == "new@example.org"
    users.update("alice", name="")
    assert users.get("alice").name == ""


def test_updating_an_unknown_user_raises_not_found(users: UserRepository) -> None:
    with pytest.raises(NotFound):
        users.update("nobody", name="X")
    with pytest.raises(NotFound):
        users.update("nobody")


def test_a_user_logs_in_with_the_new_password_after_it_is_changed(users: UserRepository) -> None:
    users.add(User.build("alice", ["user"]), password="old")
    users.set_password("alice", "new")
    assert users.authenticate("alice", "new").username == "alice"
    with pytest.raises(Unauthenticated):
        users.authenticate("alice", "old")


def test_setting_a_password_of_an_unknown_user_raises_not_found(users: UserRepository) -> None:
    with pytest.raises(NotFound):
        users.set_password("nobody", "secret")


def test_an_empty_password_is_refused(users: UserRepository) -> None:
    users.add(User.build("alice", ["user"]))
    with pytest.raises(InvalidInput, match="empty"):
        users.set_password("alice", "")


def test_wrong_password_gives_the_same_message_as_an_unknown_user(users: UserRepository) -> None:
    users.add(User.build("alice", ["user"]), password="right")
    with pytest.raises(Unauthenticated) as wrong:
        users.authenticate("alice", "wrong")
    with pytest.raises(Unauthenticated) as unknown:
        users.authenticate("nobody", "right")
    assert wrong.value.message == unknown.value.message == LOGIN_FAILED


@pytest.mark.parametrize("password", ["", "x" * 100])
def test_empty_or_overlong_passwords_never_log_in(users: UserRepository, password: str) -> None:
    users.add(User.build("alice", ["user"]), password="right")
    with pytest.raises(Unauthenticated, match=LOGIN_FAILED):
        users.authenticate("alice", password)


def test_users_without_a_password_or_from_ldap_cannot_log_in_locally(
    users: UserRepository,
) -> None:
    users.add(User.build("robot", ["api"]))
    users.add(User.build("ldapuser", ["user"], auth_source=AuthSource.LDAP), password="pw")
    with pytest.raises(Unauthenticated, match=LOGIN_FAILED):
        users.authenticate("robot", "")
    with pytest.raises(Unauthenticated, match=LOGIN_FAILED):
        users.authenticate("ldapuser", "pw")


# --- cc-backend's own database -------------------------------------------------------------


@pytest.mark.reference
def test_demo_user_authenticates_with_the_go_bcrypt_hash(reference_db: Database) -> None:
    demo = UserRepository(reference_db).authenticate("demo", "demo")
    assert demo.roles == {Role.ADMIN, Role.API}
    assert demo.auth_source is AuthSource.LOCAL


@pytest.mark.reference
def test_demo_user_with_a_wrong_password_is_refused(reference_db: Database) -> None:
    with pytest.raises(Unauthenticated, match=LOGIN_FAILED):
        UserRepository(reference_db).authenticate("demo", "wrong")


@pytest.mark.reference
def test_reference_database_holds_exactly_the_demo_user(reference_db: Database) -> None:
    users = UserRepository(reference_db)
    assert users.count() == 1
    assert [u.username for u in users.list(with_roles_only=True)] == ["demo"]


def test_contacts_of_many_users_are_read_at_once_leaving_out_unknown_names(
    users: UserRepository,
) -> None:
    alice = User.build("alice", ["user"], name="Alice A", email="alice@example.org")
    bob = User.build("bob", ["manager"], projects=["p1"])
    users.add(alice)
    users.add(bob)

    found = users.contacts(["bob", "nobody", "alice", "bob"])

    assert found == {
        "alice": Contact("alice", "Alice A", "alice@example.org"),
        "bob": Contact("bob", "", ""),
    }
    assert users.contacts([]) == {}


def test_the_contacts_of_many_users_come_from_one_query(users: UserRepository) -> None:
    names = [f"user{n:04d}" for n in range(1_200)]
    insert_many = [{"username": name, "roles": '["user"]', "projects": "[]"} for name in names]
    with users.db.engine.begin() as conn:
        conn.execute(sa.insert(hpc_user), insert_many)
    statements: list[object] = []

    def record(*args: object) -> None:
        statements.append(args[2])

    sa.event.listen(users.db.engine, "before_cursor_execute", record)
    try:
        found = users.contacts([*names, "nobody"])
    finally:
        sa.event.remove(users.db.engine, "before_cursor_execute", record)

    assert sorted(found) == names
    assert len(statements) == 1
