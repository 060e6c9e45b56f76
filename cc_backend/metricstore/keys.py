"""The identity of a series and the part of a line-protocol line that names it.

A series is a metric of a host, at the node itself or at a path below it. Path elements are
named like cc-metric-store names them: scope and id glued together (``hwthread12``,
``socket0``, ``accelerator00000000:07:00.0``). Cluster, host and path elements also name
folders of checkpoints, so values that would escape a path are refused.
"""

from __future__ import annotations

from typing import NamedTuple

from cc_backend.domain.cluster import MetricScope
from cc_backend.metricstore.catalog import Catalog

__all__ = [
    "SeriesKey",
    "format_line",
    "parse_head",
    "show",
    "split_path_element",
    "unsafe_name",
]

_SCOPES = frozenset(scope.value for scope in MetricScope)


class SeriesKey(NamedTuple):
    """The identity of one stored series."""

    cluster: str
    host: str
    #: Where below the host: ``()`` for the node itself, ``("hwthread3",)``, or two levels
    #: such as ``("socket0", "memoryDomain1")``.
    path: tuple[str, ...]
    metric: str


def format_line(key: SeriesKey, value: float, timestamp: int) -> str:
    """One line of line protocol for ``key`` (no trailing newline); the inverse of parsing.

    ``key.path`` elements are written back as ``type``/``type-id`` (and ``stype``/``stype-id``)
    by splitting the scope name from the id.
    """
    tags = [f"{key.metric},cluster={key.cluster},hostname={key.host}"]
    labels = ("type", "stype")
    for label, element in zip(labels, key.path, strict=False):
        scope, ident = split_path_element(element)
        tags.append(f"{label}={scope},{label}-id={ident}")
    if not key.path:
        tags.append("type=node")
    return f"{','.join(tags)} value={float(value)!r} {int(timestamp)}"


def split_path_element(element: str) -> tuple[str, str]:
    """``"hwthread12"`` -> ``("hwthread", "12")``: the longest scope name that prefixes it."""
    for scope in sorted(_SCOPES, key=len, reverse=True):
        if element.startswith(scope) and len(element) > len(scope):
            return scope, element[len(scope) :]
    return element, ""


def show(raw: bytes | str, limit: int = 60) -> str:
    """``raw`` quoted for a message, shortened to ``limit`` characters."""
    text = raw.decode("utf-8", "backslashreplace") if isinstance(raw, bytes) else raw
    return repr(text if len(text) <= limit else text[:limit] + "...")


def unsafe_name(value: str) -> str | None:
    """Why ``value`` may not name a cluster, host or series (None if it may)."""
    if not value:
        return "is empty"
    if ".." in value or "/" in value or "\\" in value:
        return "would escape a path"
    if any(ch < " " or ch == "\x7f" for ch in value):
        return "contains a control character"
    return None


def parse_head(head: bytes, default_cluster: str | None, catalog: Catalog) -> SeriesKey | str:
    """The series named by ``<metric>,<tags>`` (the part of a line before the first space),
    or why it cannot be stored: unknown cluster or metric, a missing tag, a bad scope, or a
    name that would escape a path."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "metric and tags are not valid UTF-8"
    metric, *pairs = text.split(",")
    tags: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            return f"malformed tag {show(pair)}"
        tags[name] = value
    cluster = tags.get("cluster", default_cluster)
    if cluster is None:
        return "no cluster tag and no default cluster"
    host = tags.get("hostname", tags.get("host"))
    if host is None:
        return "no hostname tag"
    for label, value in (("cluster", cluster), ("hostname", host)):
        problem = unsafe_name(value)
        if problem:
            return f"tag {label} {show(value)} {problem}"
    path = _series_path(tags)
    if isinstance(path, str):
        return path
    if catalog.cluster(cluster) is None:
        return f"unknown cluster {show(cluster)}"
    if catalog.metric(cluster, metric) is None:
        return f"unknown metric {show(metric)} for cluster {show(cluster)}"
    return SeriesKey(cluster, host, path, metric)


def _series_path(tags: dict[str, str]) -> tuple[str, ...] | str:
    """The path below the host named by the ``type``/``stype`` tags, or why it is invalid."""
    scope = tags.get("type")
    subscope = tags.get("stype", tags.get("subtype"))
    if scope is None or scope == MetricScope.NODE:
        if subscope is not None or "stype-id" in tags:
            return "stype without a type below the node"
        return ()
    first, problem = _element("type", scope, tags.get("type-id"))
    if problem is not None:
        return problem
    if subscope is None:
        if "stype-id" in tags:
            return "stype-id without stype"
        return (first,)
    second, problem = _element("stype", subscope, tags.get("stype-id"))
    if problem is not None:
        return problem
    return (first, second)


def _element(label: str, scope: str, ident: str | None) -> tuple[str, str | None]:
    """``scope`` + ``ident`` as a path element, and the problem with them (None if fine)."""
    if scope not in _SCOPES:
        return "", f"unknown {label} {show(scope)}"
    if not ident:
        return "", f"{label} {show(scope)} without {label}-id"
    problem = unsafe_name(ident)
    if problem:
        return "", f"tag {label}-id {show(ident)} {problem}"
    return scope + ident, None
