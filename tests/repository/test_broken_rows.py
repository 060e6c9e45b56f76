"""Rows written by other tools with odd or broken JSON never break a job list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cc_backend.domain.user import User
from cc_backend.repository.database import Database
from cc_backend.repository.jobs import JobRepository

ADMIN = User.build("admin", ["admin"])


@pytest.mark.parametrize(
    ("column", "stored", "expected"),
    [
        ("meta_data", '{"jobName": "ok"', None),
        ("meta_data", '{"jobName": 5, "tasks": [1, 2]}', {"jobName": "5", "tasks": "[1,2]"}),
        ("footprint", '{"flops_any_avg": "high", "mem_bw_avg": 3}', {"mem_bw_avg": 3.0}),
        ("energy_footprint", "[1, 2]", None),
        ("resources", '[{"hostname": "f0101"}, "f0102"]', [{"hostname": "f0101"}]),
    ],
)
def test_a_broken_json_column_is_repaired_and_the_rest_of_the_page_is_intact(
    empty_db: Database,
    insert_job: Callable[..., int],
    column: str,
    stored: str,
    expected: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    good = [insert_job(empty_db) for _ in range(3)]
    broken = insert_job(empty_db, **{column: stored})
    jobs = JobRepository(empty_db)

    page = jobs.query(actor=ADMIN)

    assert {j.id for j in page.items} == {*good, broken}
    job = jobs.get(broken)
    value = {
        "meta_data": job.meta_data,
        "footprint": job.footprint,
        "energy_footprint": job.energy_footprint,
        "resources": [r.model_dump(exclude_none=True) for r in job.resources],
    }[column]
    assert value == expected
    assert caplog.records, "the problem is logged"
