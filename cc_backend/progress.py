"""Progress of long work over the jobs of an archive (imports, checks, index builds), drawn
on stderr so that a command's own output stays clean."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

__all__ = ["job_progress", "tracked"]

T = TypeVar("T")


class _RateColumn(ProgressColumn):
    """Jobs done and jobs per second."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.completed:,.0f} jobs, {task.speed or 0:,.0f} jobs/s")


@contextmanager
def job_progress(description: str, *, enabled: bool) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr counting jobs and their rate, gone when the work ends;
    yields the function that counts one more job. Draws nothing unless ``enabled``."""
    if not enabled:
        yield lambda: None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), _RateColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=None)
        yield lambda: bar.advance(task)


def tracked(items: Iterable[T], advance: Callable[[], None]) -> Iterator[T]:
    """``items``, calling ``advance`` after each."""
    for item in items:
        yield item
        advance()
