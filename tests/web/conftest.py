"""A real site served by the API-only Tornado app on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from dotenv import dotenv_values

from cc_backend.server import Backends, make_api_app
from tests.web.browser import PASSWORDS, Site, serving


def _job_payload(job_id: int = 1000, **overrides: Any) -> dict[str, Any]:
    """A start_job body for a one-node job on cluster fritz (as the adapter sends it)."""
    payload: dict[str, Any] = {
        "jobId": job_id,
        "user": "alice",
        "project": "project-a",
        "cluster": "fritz",
        "subCluster": "main",
        "partition": "work",
        "arrayJobId": 0,
        "numNodes": 1,
        "numHwthreads": 72,
        "numAcc": 0,
        "shared": "none",
        "monitoringStatus": 1,
        "smt": 1,
        "jobState": "running",
        "startTime": 1_700_000_000,
        "submitTime": 1_699_999_000,
        "walltime": 3600,
        "resources": [{"hostname": "f0101"}],
        "metaData": {"jobName": "test", "jobScript": "#!/bin/sh"},
    }
    payload.update(overrides)
    return payload


@pytest.fixture
def job_payload() -> Callable[..., dict[str, Any]]:
    """``job_payload(job_id=1000, **overrides)``: a start_job body for cluster fritz."""
    return _job_payload


@pytest.fixture
async def web_site(backends: Backends, api_site: Path) -> AsyncIterator[Site]:
    """The site served with its SESSION_KEY as cookie secret; root, alice and bob have
    the passwords of :data:`PASSWORDS`."""
    for name, password in PASSWORDS.items():
        backends.users.set_password(name, password)
    key = str(dotenv_values(api_site / ".env")["SESSION_KEY"])
    async with serving(make_api_app(backends, cookie_secret=key)) as base:
        yield Site(base, backends, key)
