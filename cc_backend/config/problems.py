"""Turn pydantic validation errors into ``"<json.path>: <message>"`` lines for humans.

Paths use the keys as they are spelled in the user's file (``main.apiAllowedIPs`` or
``main.api-allowed-ips``), list indices in brackets (``clusters[1].metricDataRepository.kind``)
and, for sections an older layout has at the top level (``jwts``), the place where the user
wrote them. Unknown keys get a did-you-mean hint.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from cc_backend.config.base import JsonPath, json_type, key_lookup, squash, suggest_key

__all__ = ["ROOT_PATH", "format_path", "problems_from_error"]

ROOT_PATH = "(root)"
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-]+")

_EXPECTED: dict[str, str] = {
    "model_type": "expected a JSON object",
    "model_attributes_type": "expected a JSON object",
    "dict_type": "expected a JSON object",
    "list_type": "expected a JSON array",
    "string_type": "expected a string",
    "int_type": "expected an integer",
    "bool_type": "expected true or false",
    "datetime_type": "expected an RFC 3339 time string",
    "path_type": "expected a path string",
    "timedelta_type": "expected a duration string like '5m'",
}


def format_path(segments: Sequence[str | int]) -> str:
    """Render ``("clusters", 1, "name")`` as ``clusters[1].name``."""
    text = ""
    for segment in segments:
        if isinstance(segment, int):
            text += f"[{segment}]"
        elif _PLAIN_KEY.fullmatch(segment):
            text += f".{segment}" if text else segment
        else:
            text += f"[{json.dumps(segment)}]"
    return text or ROOT_PATH


def problems_from_error(error: ValidationError, data: Any, root: type[BaseModel]) -> list[str]:
    """One ``"<path>: <message>"`` line per problem in ``error``, in document order.

    ``data`` is the raw input that was validated against ``root``; it is used to spell each
    path as the user did.
    """
    problems = _describe(error.errors(), (), data, root)
    return list(dict.fromkeys(problems))


def _describe(
    details: Sequence[ErrorDetails], prefix: JsonPath, data: Any, root: type[BaseModel]
) -> list[str]:
    problems: list[str] = []
    for detail in details:
        loc = (*prefix, *detail["loc"])
        if detail["type"] == "cross_field":
            context = detail.get("ctx") or {}
            problems.extend(_describe(context.get("errors", []), loc, data, root))
            for where, message in context.get("items", []):
                problems.append(f"{_locate(root, data, (*loc, *where)).path}: {message}")
            continue
        location = _locate(root, data, loc)
        problems.append(f"{location.path}: {_message(detail, location)}")
    return problems


@dataclass(frozen=True)
class _Location:
    path: str
    owner: type[BaseModel] | None  # the model whose key is the last path segment
    key: str | int | None


def _message(detail: ErrorDetails, location: _Location) -> str:
    kind = detail["type"]
    if kind == "extra_forbidden" and isinstance(location.key, str):
        return _unknown_key(location.owner, location.key)
    if kind == "missing":
        return "required key is missing"
    if kind == "string_too_short":
        return "must not be empty"
    if kind in _EXPECTED:
        return f"{_EXPECTED[kind]}, got {json_type(detail.get('input'))}"
    return detail["msg"]


def _unknown_key(owner: type[BaseModel] | None, key: str) -> str:
    if owner is None:
        return "unknown key"
    auth_sections: tuple[str, ...] = getattr(owner, "AUTH_SECTIONS", ())
    if auth_sections:  # the root: older layouts had some keys at the top level
        if squash(key) in auth_sections:
            return "given both here and in 'auth'; keep only the one in 'auth'"
        main_model = _as_model(_field_type(owner, "main"))
        if main_model is not None and squash(key) in key_lookup(main_model):
            return f"unknown key at the top level; did you mean 'main.{key}'?"
    guess = suggest_key(owner, key)
    if guess:
        return f"unknown key, did you mean '{guess}'?"
    known = ", ".join(field.alias or name for name, field in owner.model_fields.items())
    return f"unknown key (known keys here: {known})"


def _locate(root: type[BaseModel], data: Any, loc: tuple[str | int, ...]) -> _Location:
    """Follow ``loc`` through the model types and the raw data at the same time."""
    segments: list[str | int] = []
    annotation: Any = root
    node: Any = data
    owner: type[BaseModel] | None = None
    index = 0
    while index < len(loc):
        part = loc[index]
        model = _as_model(annotation)
        if isinstance(part, int):
            if isinstance(node, list) and 0 <= part < len(node):
                segments.append(part)
                node = node[part]
            annotation = _item_type(annotation)
        elif model is not None:
            owner = model
            if _hoisted(model, node, loc[index:]):
                annotation = _field_type(model, part)  # written at the top level: no segment
                index += 1
                continue
            raw = _raw_key(model, node, part)
            segments.append(raw if raw is not None else part)
            node = node.get(raw) if raw is not None and isinstance(node, dict) else None
            annotation = _field_type(model, part)
        elif isinstance(node, dict):
            segments.append(part)
            node = node.get(part)
            annotation = _item_type(annotation)
        index += 1
    return _Location(format_path(segments), owner, loc[-1] if loc else None)


def _hoisted(model: type[BaseModel], node: Any, rest: tuple[str | int, ...]) -> bool:
    """Whether ``rest`` is ``("auth", "jwts", ...)`` for a ``jwts`` the user wrote at top level."""
    sections: tuple[str, ...] = getattr(model, "AUTH_SECTIONS", ())
    if len(rest) < 2 or rest[0] != "auth" or rest[1] not in sections:
        return False
    if not isinstance(node, dict):
        return False
    at_top = any(isinstance(k, str) and squash(k) == rest[1] for k in node)
    auth = next((v for k, v in node.items() if isinstance(k, str) and squash(k) == "auth"), None)
    in_auth = isinstance(auth, dict) and any(
        isinstance(k, str) and squash(k) == rest[1] for k in auth
    )
    return at_top and not in_auth


def _raw_key(model: type[BaseModel], node: Any, part: str) -> str | None:
    """The key in the raw object ``node`` that the field with alias ``part`` came from."""
    if not isinstance(node, dict):
        return None
    lookup = key_lookup(model)
    for key in node:  # the first spelling wins, as in the key normalisation
        if isinstance(key, str) and lookup.get(squash(key)) == part:
            return key
    return part if part in node else None


def _field_type(model: type[BaseModel], alias: str) -> Any:
    for name, field in model.model_fields.items():
        if alias in (field.alias or name, name):
            return field.annotation
    return None


def _strip(annotation: Any) -> Any:
    """Remove ``Annotated`` and ``| None`` wrappers."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _as_model(annotation: Any) -> type[BaseModel] | None:
    stripped = _strip(annotation)
    if isinstance(stripped, type) and issubclass(stripped, BaseModel):
        return stripped
    return None


def _item_type(annotation: Any) -> Any:
    """The element type of ``list[X]`` or the value type of ``dict[str, X]``."""
    stripped = _strip(annotation)
    args = get_args(stripped)
    origin = get_origin(stripped)
    if origin is list and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None
