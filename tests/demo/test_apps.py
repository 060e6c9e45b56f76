"""Job scripts name their application so that cc-backend's application rules detect it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cc_backend.demo import APPS, App
from cc_backend.demo.apps import ScriptRequest, job_script
from cc_backend.domain.job import Job
from cc_backend.domain.jobdata import JobData

#: The `detect` fixture: the app tag cc-backend's rules give a job script.
Detect = Callable[[str], str | None]


def requests(app: App) -> list[ScriptRequest]:
    """Requests of every shape the generator writes for ``app``."""
    name = app.names[0]
    result = []
    if app.cpu_lines:
        result += [
            ScriptRequest(name, "singlenode", 1, 72, 1, 3600),
            ScriptRequest(name, "multinode", 16, 1, 72, 86400),
            ScriptRequest(name, "singlenode", 1, 1, 36, 7200, array_size=20),
        ]
    if app.gpu_lines:
        result += [
            ScriptRequest(name, "a40", 1, 1, 16, 3600, gpus=1, gpu_model="a40"),
            ScriptRequest(name, "a100", 2, 8, 16, 86400, gpus=8, gpu_model="a100"),
        ]
    return result


def test_every_app_runs_somewhere_and_has_names() -> None:
    for app in APPS:
        assert app.cpu_lines or app.gpu_lines, app.label
        assert app.names
        assert sum(w for _, w in app.behaviours) > 0


def test_the_script_asks_for_what_the_job_got() -> None:
    app = next(a for a in APPS if a.tag == "gromacs")
    request = ScriptRequest("md_prod", "a100", 2, 8, 16, 90000, gpus=8, gpu_model="a100")
    script = job_script(app, request)
    assert script.startswith("#!/bin/bash -l\n")
    for line in (
        "#SBATCH --job-name=md_prod",
        "#SBATCH --partition=a100",
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks-per-node=8",
        "#SBATCH --time=25:00:00",
        "#SBATCH --gres=gpu:a100:8",
        "module load gromacs/2024.1-gcc12-mkl-cuda",
    ):
        assert line in script.splitlines()
    assert "--array" not in script


@pytest.mark.reference
@pytest.mark.parametrize("app", APPS, ids=lambda app: app.tag or "in-house")
def test_every_script_of_an_app_is_detected_as_that_app(app: App, detect: Detect) -> None:
    for request in requests(app):
        assert detect(job_script(app, request)) == app.tag, request


@pytest.mark.reference
def test_the_apps_cover_the_common_simulation_codes(detect: Detect) -> None:
    tags = {app.tag for app in APPS}
    expected = {"gromacs", "lammps", "vasp", "openfoam", "python", "julia", "cp2k", "matlab"}
    assert expected <= tags


@pytest.mark.reference
def test_app_tags_in_generated_jobs_agree_with_the_detection(
    jobs_with_data: list[tuple[Job, JobData]], detect: Detect
) -> None:
    detected = set()
    for job, _ in jobs_with_data:
        assert job.meta_data is not None
        tag = detect(job.meta_data["jobScript"])
        detected.add(tag)
        app_tags = [t.name for t in job.tags or [] if t.type == "app"]
        assert app_tags in ([], [tag])
        assert job.meta_data["jobName"] in job.meta_data["jobScript"]
        assert f"JobId={job.job_id} " in job.meta_data["slurmInfo"]
    assert None in detected  # in-house codes no rule knows
    assert len(detected) >= 8
