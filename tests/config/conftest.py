"""Fixtures of the config tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

WriteConfig = Callable[..., Path]


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    """Write a config.json (from a dict, or raw text) into a fresh site folder; return its path."""

    def write(content: dict[str, Any] | str, name: str = "config.json") -> Path:
        path = tmp_path / "site" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = content if isinstance(content, str) else json.dumps(content, indent=2)
        path.write_text(text, encoding="utf-8")
        return path

    return write
