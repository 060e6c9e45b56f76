"""Keeping the browser's address in step with a page's view, so that a link reproduces it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import panel as pn
import param

__all__ = ["mirror_in_url"]


def mirror_in_url(
    store: param.Parameterized, names: Sequence[str], search: Callable[[], str]
) -> None:
    """Whenever one of ``store``'s params ``names`` changes, set the browser's URL query to
    ``search()`` (``"?..."``, or empty), without reloading the page. Outside a browser
    session (no ``pn.state.location``) this does nothing."""
    location = pn.state.location
    if location is None:
        return

    def write(*_events: Any) -> None:
        wanted = search()
        if location.search != wanted:
            location.search = wanted

    store.param.watch(write, list(names))
