"""Pages of the web app."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import panel as pn


def overview_page(summary: Mapping[str, Any]) -> pn.viewable.Viewable:
    """The start page: what this site holds (until the job views arrive)."""
    clusters = summary.get("clusters") or []
    rows = "\n".join(f"| {name} |" for name in clusters) or "| (none configured yet) |"
    text = (
        f"# ClusterCockpit\n\n"
        f"Version {summary.get('version', '?')}.\n\n"
        f"**Jobs in the database:** {summary.get('jobs', 0)}  \n"
        f"**Users:** {summary.get('users', 0)}\n\n"
        f"| Clusters |\n|---|\n{rows}\n"
    )
    return pn.Column(
        pn.pane.Markdown(text, sizing_mode="stretch_width"), sizing_mode="stretch_width"
    )
