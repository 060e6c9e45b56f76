"""Both clients answer the analysis page's question alike: every matching job's averages
of chosen metrics with its time weights (``jobsFootprints``), as the user may see them.

Each test runs in process and over HTTP (``client_for`` in conftest.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.filters import JobFilter
from cc_backend.server import Backends
from tests.client.conftest import ClientFor, Seeded

METRICS = ["flops_any", "mem_bw"]


async def test_footprints_are_the_services_for_every_job_with_metric_data(
    client_for: ClientFor, seeded: Seeded, backends: Backends
) -> None:
    found = await client_for("root").jobs_footprints(METRICS)
    expected = backends.job_statistics.footprints(METRICS, actor=None)

    assert [m.metric for m in found.metrics] == METRICS
    for mine, theirs in zip(found.metrics, expected.metrics, strict=True):
        np.testing.assert_allclose(mine.data, theirs.data, equal_nan=True)
    weights, wanted = found.time_weights, expected.time_weights
    np.testing.assert_allclose(weights.node_hours, wanted.node_hours)
    np.testing.assert_allclose(weights.core_hours, wanted.core_hours)
    np.testing.assert_allclose(weights.acc_hours, wanted.acc_hours)
    assert len(weights.node_hours) > 0
    assert np.isfinite(found.metrics[0].data).any()  # the archived demo jobs have averages


async def test_footprints_follow_the_filters_and_the_users_visibility(
    client_for: ClientFor, seeded: Seeded, backends: Backends
) -> None:
    alice = backends.users.get("alice")
    cluster = [JobFilter.model_validate({"cluster": {"eq": "alex"}})]

    mine = await client_for("alice").jobs_footprints(METRICS)
    on_alex = await client_for("root").jobs_footprints(METRICS, cluster)

    expected = backends.job_statistics.footprints(METRICS, actor=alice)
    assert len(mine.time_weights.node_hours) == len(expected.time_weights.node_hours)
    alex = backends.job_statistics.footprints(METRICS, cluster, actor=None)
    assert len(on_alex.time_weights.node_hours) == len(alex.time_weights.node_hours)


async def test_a_malformed_metric_name_is_invalid_input(
    client_for: ClientFor, seeded: Seeded
) -> None:
    with pytest.raises(InvalidInput):
        await client_for("root").jobs_footprints(["flops any; drop"])
