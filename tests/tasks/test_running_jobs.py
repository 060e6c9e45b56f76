"""Running jobs are kept current: durations and live footprints."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from cc_backend.domain.job import Job
from cc_backend.domain.user import User
from cc_backend.server import Backends
from cc_backend.tasks.running_jobs import refresh_durations, refresh_footprints
from tests.services.test_archiving import CPU_LOAD, FLOPS_PER_THREAD, HOST, push_job_metrics

ADAPTER = User.build("adapter", ["api"])


def test_durations_of_running_jobs_count_up_to_now(
    backends: Backends, make_job: Callable[..., Job]
) -> None:
    now = 1_700_010_000
    running = backends.jobs.add(make_job(startTime=now - 600))
    later = backends.jobs.add(make_job(startTime=now + 600))  # clocks disagree: left alone
    done = backends.jobs.add(make_job(startTime=now - 900, jobState="completed", duration=60))

    assert refresh_durations(backends.jobs, clock=lambda: now) == 1

    assert backends.jobs.get(running).duration == 600
    assert backends.jobs.get(later).duration == 0
    assert backends.jobs.get(done).duration == 60


def test_footprints_of_running_jobs_come_from_the_metric_store(
    backends: Backends, make_job: Callable[..., Job]
) -> None:
    start = int(time.time()) // 60 * 60 - 1200
    job = make_job(startTime=start, resources=[{"hostname": HOST}])
    started = backends.lifecycle.start_job(job, ADAPTER)
    push_job_metrics(backends, HOST, start, start + 1200)
    unknown_host = backends.lifecycle.start_job(
        make_job(startTime=start, resources=[{"hostname": "f0102"}]), ADAPTER
    )

    updated = refresh_footprints(backends.jobs, backends.clusters, backends.metric_data)

    assert updated == 1
    footprint = backends.jobs.get(started.id or 0).footprint or {}
    assert footprint["flops_any_avg"] == pytest.approx(72 * FLOPS_PER_THREAD)
    assert footprint["cpu_load_avg"] == pytest.approx(CPU_LOAD)
    # A node without data yet: no made-up zeros, and no failure either.
    assert backends.jobs.get(unknown_host.id or 0).footprint is None
