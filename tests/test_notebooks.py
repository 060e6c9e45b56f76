"""The notebooks run top to bottom against a generated site, as Jupyter runs them (a cell
may ``await`` at its top level): the archive statistics against the site's folder, the
API notebook against the site served on a loopback port."""

from __future__ import annotations

import ast
import inspect
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from cc_backend.archive import open_archive
from cc_backend.config import load_config
from cc_backend.demo import generate_demo_archive
from cc_backend.server import Backends
from cc_backend.services.importer import import_archive
from tests.conftest import Api

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
#: The notebooks the tests below run (a new notebook needs a test of its own).
TESTED = {"archive_statistics.ipynb", "jobs_over_the_api.ipynb"}


def code_cells(notebook: Path) -> list[str]:
    document = json.loads(notebook.read_text())
    return ["".join(c["source"]) for c in document["cells"] if c["cell_type"] == "code"]


async def run_notebook(notebook: Path) -> dict[str, object]:
    """Run the code cells of ``notebook`` in one namespace; the namespace afterwards."""
    namespace: dict[str, object] = {"__name__": "__notebook__"}
    for number, source in enumerate(code_cells(notebook), start=1):
        try:
            code = compile(
                source,
                f"{notebook.name}[{number}]",
                "exec",
                flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
            )
            outcome = eval(code, namespace)  # a cell may await: its code is a coroutine
            if inspect.iscoroutine(outcome):
                await outcome
        except Exception as exc:  # pragma: no cover - the failure message is the point
            pytest.fail(f"{notebook.name}, code cell {number}: {type(exc).__name__}: {exc}")
    return namespace


def test_every_notebook_has_a_test() -> None:
    assert {path.name for path in NOTEBOOKS.glob("*.ipynb")} == TESTED


@pytest.mark.slow
async def test_the_archive_statistics_notebook_runs(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = open_archive(load_config(site / "config.json").archive)
    generate_demo_archive(archive, jobs=60, seed=7, with_data=False)
    archive.close()
    monkeypatch.setenv("CC_SITE", str(site))

    namespace = await run_notebook(NOTEBOOKS / "archive_statistics.ipynb")

    assert getattr(namespace["totals"], "jobs", None) == 60


@pytest.mark.slow
async def test_the_api_notebook_runs_against_a_served_site(
    backends: Backends,
    api: Api,
    token_for: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    generate_demo_archive(backends.archive, jobs=30, seed=7, with_data=True)
    assert import_archive(backends.archive, backends.jobs, backends.tags, workers=1).ok
    backends.clusters.refresh()
    monkeypatch.setenv("CC_URL", api.base)
    monkeypatch.setenv("CC_TOKEN", token_for("root"))

    namespace = await run_notebook(NOTEBOOKS / "jobs_over_the_api.ipynb")

    finished = getattr(namespace["found"], "count", None)
    assert finished
    per_cluster = namespace["per_cluster"]
    assert isinstance(per_cluster, dict)
    assert sum(row["totalJobs"] for row in per_cluster["jobsStatistics"]) == finished
