"""The notebooks run top to bottom against a generated site."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cc_backend.archive import open_archive
from cc_backend.config import load_config
from cc_backend.demo import generate_demo_archive

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def code_cells(notebook: Path) -> list[str]:
    document = json.loads(notebook.read_text())
    return ["".join(c["source"]) for c in document["cells"] if c["cell_type"] == "code"]


@pytest.mark.slow
@pytest.mark.parametrize("notebook", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_notebook_runs(notebook: Path, site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = open_archive(load_config(site / "config.json").archive)
    generate_demo_archive(archive, jobs=60, seed=7, with_data=False)
    archive.close()
    monkeypatch.setenv("CC_SITE", str(site))
    namespace: dict[str, object] = {"__name__": "__notebook__"}
    for number, source in enumerate(code_cells(notebook), start=1):
        try:
            exec(compile(source, f"{notebook.name}[{number}]", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the failure message is the point
            pytest.fail(f"{notebook.name}, code cell {number}: {type(exc).__name__}: {exc}")
