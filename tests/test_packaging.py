"""Packaging rules that keep the project installable and its layers apart."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent

#: conda-forge names of PyPI packages whose names differ.
CONDA_NAMES = {"duckdb": "python-duckdb", "psycopg": "psycopg"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!\[ ;]", requirement, maxsplit=1)[0].strip().lower()


def _bound(requirement: str) -> str:
    return requirement.split(">=", 1)[1].strip() if ">=" in requirement else ""


def test_environment_yml_lists_the_same_dependencies_as_pyproject() -> None:
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r): _bound(r) for r in project["dependencies"]}
    for extra in ("test", "postgres"):
        wanted |= {_name(r): _bound(r) for r in project["optional-dependencies"][extra]}
    listed = {}
    text = (PROJECT / "environment.yml").read_text()
    for line in text.split("dependencies:", 1)[1].splitlines():
        match = re.match(r"\s+- ([a-z0-9_.-]+)(?:>=(\S+))?\s*$", line)
        if match and match.group(1) not in ("python", "pip"):
            listed[match.group(1)] = match.group(2) or ""
    assert listed == {CONDA_NAMES.get(n, n): bound for n, bound in wanted.items()}


def test_every_dependency_has_a_lower_bound() -> None:
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    assert [r for r in requirements if ">=" not in r] == []


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_library_code_never_imports_the_web_app() -> None:
    """Only the composition root joins the backend and the Panel app."""
    allowed = {PROJECT / "cc_backend" / "server.py"}
    offenders = {
        str(path.relative_to(PROJECT)): sorted(
            n for n in _imports(path) if n.split(".")[0] in ("app", "panel")
        )
        for path in (PROJECT / "cc_backend").rglob("*.py")
        if path not in allowed
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_domain_depends_on_nothing_but_the_standard_library_and_pydantic() -> None:
    third_party_allowed = {"pydantic", "numpy", "orjson", "cc_backend"}
    stdlib = set(__import__("sys").stdlib_module_names)
    offenders = {}
    for path in (PROJECT / "cc_backend" / "domain").rglob("*.py"):
        roots = {n.split(".")[0] for n in _imports(path)}
        bad = sorted(r for r in roots if r not in stdlib and r not in third_party_allowed)
        if bad:
            offenders[path.name] = bad
    assert offenders == {}
