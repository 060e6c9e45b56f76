"""Terminal output of cc-archive: tables, JSON and progress bars (on stderr)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

T = TypeVar("T")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def when(timestamp: int | None) -> str:
    """A Unix time as ``YYYY-MM-DD HH:MM`` UTC, or ``-``."""
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M")


def size(num_bytes: int) -> str:
    """Bytes in a human unit."""
    value = float(num_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def print_json(data: Any) -> None:
    """Print ``data`` as indented JSON on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print a table; columns whose name starts with ``#`` are right-aligned numbers."""
    result = Table(title=title, title_justify="left")
    for column in columns:
        numeric = column.startswith("#")
        result.add_column(column.lstrip("#"), justify="right" if numeric else "left")
    for row in rows:
        result.add_row(*(str(cell) for cell in row))
    out.print(result)


@contextmanager
def progress(description: str, total: int | None, *, enabled: bool = True) -> Iterator[Any]:
    """A progress bar on stderr; yields a callable ``advance(n=1)``."""
    if not enabled or not err.is_terminal:
        yield lambda n=1: None
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    with bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)


def tracked(
    items: Iterable[T], description: str, total: int | None, *, enabled: bool
) -> Iterator[T]:
    """Iterate ``items`` with a progress bar."""
    with progress(description, total, enabled=enabled) as advance:
        for item in items:
            yield item
            advance()
