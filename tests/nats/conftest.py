"""The NATS API tests: a real ``nats-server`` (:mod:`tests.nats_server`) and a test site."""

from __future__ import annotations

from tests.nats_server import nats_server, publisher  # noqa: F401

# The start_job payload of the REST tests (the site fixtures come from tests/conftest.py).
from tests.web.conftest import job_payload  # noqa: F401

JOB_SUBJECT = "cc.job.event"
NODE_SUBJECT = "cc.node.state"
