"""A real site served by the API-only Tornado app on a free loopback port."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from dotenv import dotenv_values

from cc_backend.demo.adapter_payloads import start_job_payload
from cc_backend.server import Backends, make_api_app
from tests.web.browser import PASSWORDS, Site, serving


@pytest.fixture
def job_payload() -> Callable[..., dict[str, Any]]:
    """``job_payload(job_id=1000, **overrides)``: a start_job body for cluster fritz."""
    return start_job_payload


@pytest.fixture
async def web_site(backends: Backends, api_site: Path) -> AsyncIterator[Site]:
    """The site served with its SESSION_KEY as cookie secret; root, alice and bob have
    the passwords of :data:`PASSWORDS`."""
    for name, password in PASSWORDS.items():
        backends.users.set_password(name, password)
    key = str(dotenv_values(api_site / ".env")["SESSION_KEY"])
    async with serving(make_api_app(backends, cookie_secret=key)) as base:
        yield Site(base, backends, key)
