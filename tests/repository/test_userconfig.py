"""Per-user interface settings stored as JSON text."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import sqlalchemy as sa

from cc_backend.domain.errors import InvalidInput, NotFound
from cc_backend.domain.user import User
from cc_backend.repository.database import Database
from cc_backend.repository.schema import configuration
from cc_backend.repository.userconfig import UserConfigRepository
from cc_backend.repository.users import UserRepository

KEY = "metricConfig_jobListMetrics:fritz"


@pytest.fixture
def config(empty_db: Database) -> UserConfigRepository:
    UserRepository(empty_db).add(User.build("alice", ["user"]))
    return UserConfigRepository(empty_db)


def insert_raw(db: Database, key: str, value: str | bytes | None) -> None:
    with db.engine.begin() as conn:
        conn.execute(sa.insert(configuration).values(username="alice", confkey=key, value=value))


def stored_text(db: Database, key: str) -> str:
    query = sa.select(configuration.c.value).where(configuration.c.confkey == key)
    with db.engine.connect() as conn:
        return str(conn.execute(query).scalar_one())


@pytest.mark.parametrize(
    "value", [["flops_any", "mem_bw"], False, 12, 2.5, "dark", None, {"a": {"b": [1, None]}}]
)
def test_a_value_reads_back_equal(config: UserConfigRepository, value: Any) -> None:
    config.set("alice", KEY, value)
    assert config.get("alice", KEY) == value
    assert config.get_all("alice") == {KEY: value}


def test_values_are_stored_as_compact_json_text_like_cc_backend(
    empty_db: Database, config: UserConfigRepository
) -> None:
    config.set("alice", KEY, ["flops_any", "mem_bw"])
    assert stored_text(empty_db, KEY) == '["flops_any","mem_bw"]'


def test_setting_a_key_again_replaces_the_value(config: UserConfigRepository) -> None:
    config.set("alice", KEY, ["clock"])
    config.set("alice", KEY, ["mem_used"])
    assert config.get_all("alice") == {KEY: ["mem_used"]}


def test_setting_a_value_for_an_unknown_user_raises_not_found(
    config: UserConfigRepository,
) -> None:
    with pytest.raises(NotFound, match="nobody"):
        config.set("nobody", KEY, True)


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_empty_or_overlong_keys_are_refused(config: UserConfigRepository, key: str) -> None:
    with pytest.raises(InvalidInput, match="255"):
        config.set("alice", key, True)


def test_a_key_of_255_characters_is_accepted(config: UserConfigRepository) -> None:
    config.set("alice", "k" * 255, 1)
    assert config.get("alice", "k" * 255) == 1


def test_a_value_without_a_json_form_is_refused(config: UserConfigRepository) -> None:
    with pytest.raises(InvalidInput, match="JSON"):
        config.set("alice", KEY, {1, 2})


def test_a_stored_value_that_is_not_json_comes_back_as_text_and_is_logged(
    empty_db: Database, config: UserConfigRepository, caplog: pytest.LogCaptureFixture
) -> None:
    insert_raw(empty_db, "broken", "{not json")
    insert_raw(empty_db, "fine", "true")
    with caplog.at_level(logging.WARNING):
        assert config.get_all("alice") == {"broken": "{not json", "fine": True}
    assert "broken" in caplog.text


@pytest.mark.usefixtures("sqlite_only")
def test_values_stored_as_bytes_or_null_are_read(
    empty_db: Database, config: UserConfigRepository
) -> None:
    insert_raw(empty_db, "bytes", b'["a"]')
    insert_raw(empty_db, "null", None)
    assert config.get_all("alice") == {"bytes": ["a"], "null": None}


def test_values_stored_as_null_are_read(empty_db: Database, config: UserConfigRepository) -> None:
    insert_raw(empty_db, "null", None)
    assert config.get_all("alice") == {"null": None}


def test_a_user_without_settings_gets_an_empty_dict(config: UserConfigRepository) -> None:
    assert config.get_all("alice") == {}
    assert config.get_all("nobody") == {}


def test_getting_a_missing_setting_raises_not_found(config: UserConfigRepository) -> None:
    with pytest.raises(NotFound, match=KEY):
        config.get("alice", KEY)


def test_deleting_a_setting_removes_only_that_one(config: UserConfigRepository) -> None:
    config.set("alice", KEY, ["clock"])
    config.set("alice", "plot_general_lineWidth", 2)
    config.delete("alice", KEY)
    assert config.get_all("alice") == {"plot_general_lineWidth": 2}
    with pytest.raises(NotFound):
        config.delete("alice", KEY)


@pytest.mark.reference
def test_configuration_rows_of_the_reference_database_read_back_equal(
    reference_db: Database,
) -> None:
    assert UserConfigRepository(reference_db).get_all("demo") == {
        "jobList_showFootprint:fritz": False,
        "metricConfig_jobListMetrics:fritz": ["flops_any", "mem_bw", "mem_used", "clock"],
    }


@pytest.mark.reference
def test_deleting_the_demo_user_removes_their_configuration(reference_db: Database) -> None:
    UserRepository(reference_db).delete("demo")
    assert UserConfigRepository(reference_db).get_all("demo") == {}
