"""The composition root builds every backend of a site from its config."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

from cc_backend.archive import open_archive
from cc_backend.cli import main
from cc_backend.config import load_config, load_secrets
from cc_backend.demo import generate_demo_archive
from cc_backend.domain.errors import ConfigError
from cc_backend.server import build_backends, freeze_startup_objects, parse_addr


def test_a_demo_site_is_summarised_from_its_database_and_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    assert main(["init", str(site)]) == 0
    config = load_config(site / "config.json")
    archive = open_archive(config.archive)
    generate_demo_archive(archive, jobs=40, seed=3, with_data=False)
    archive.close()
    monkeypatch.chdir(site)
    assert main(["init-db"]) == 0

    backends = build_backends(config, load_secrets(site / "config.json"))
    try:
        assert backends.jobs.count(actor=None) == 40
        assert backends.clusters.names() == ["alex", "fritz"]
        assert backends.users.count() == 0
    finally:
        backends.close()


@pytest.mark.parametrize(
    ("addr", "expected"),
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        (":9000", ("0.0.0.0", 9000)),
        ("[::1]:80", ("::1", 80)),
    ],
)
def test_listen_addresses(addr: str, expected: tuple[str, int]) -> None:
    assert parse_addr(addr) == expected


@pytest.mark.parametrize("addr", ["localhost", "host:http", "h:70000"])
def test_bad_listen_addresses(addr: str) -> None:
    with pytest.raises(ConfigError, match=r"main\.addr"):
        parse_addr(addr)


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_start_up_objects_leave_the_full_collections_but_garbage_does_not_stay() -> None:
    dropped = weakref.ref(_Cycle())  # unreachable already, held only by its own cycle
    try:
        freeze_startup_objects()
        assert dropped() is None  # collected before freezing, not kept forever
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
