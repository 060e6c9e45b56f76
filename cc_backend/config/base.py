"""The base model of every config section, and the one rule for key spellings.

cc-backend has spelled its config keys in three styles over time: camelCase
(``apiAllowedIPs``, ``metricDataRepository``), kebab-case (``api-allowed-ips``,
``short-running-jobs-duration``) and, in the LDAP section, snake_case (``user_base``). Go's JSON
decoder also matches keys case-insensitively. This module accepts all of them through a single
rule, :func:`squash`: two spellings name the same key when they are equal after dropping ``-``
and ``_`` and lower-casing. Each field's ``alias`` is the spelling cc-backend itself uses, and
is what :meth:`Config.dump <cc_backend.config.model.Config.dump>` writes.

Cross-field rules ("an s3 archive needs a bucket") are written as :meth:`ConfigModel.check_input`
on the key-normalised input, so they are reported together with every other problem of the
section instead of only once the section is otherwise valid.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

__all__ = [
    "ConfigModel",
    "JsonPath",
    "Problem",
    "camel_case",
    "close_match",
    "conflict",
    "json_type",
    "kebab_case",
    "key_lookup",
    "squash",
    "suggest_key",
]

JsonPath = tuple[str | int, ...]
"""A location in a JSON document: object keys and array indices."""

Problem = tuple[str | JsonPath, str]
"""A cross-field problem: where (a key alias, or a path relative to the section) and what."""


def squash(key: str) -> str:
    """The canonical form of a config key: no ``-`` or ``_``, lower case."""
    return key.replace("-", "").replace("_", "").lower()


def kebab_case(name: str) -> str:
    """``short_running_jobs_duration`` -> ``short-running-jobs-duration``."""
    return name.strip("_").replace("_", "-")


def camel_case(name: str) -> str:
    """``short_running_jobs_duration`` -> ``shortRunningJobsDuration``."""
    head, *rest = name.strip("_").split("_")
    return head + "".join(word.capitalize() for word in rest)


def conflict(*problems: Problem, nested: list[Any] | None = None) -> PydanticCustomError:
    """The error carrying a section's cross-field ``problems``.

    ``nested`` holds the section's other validation errors (``ValidationError.errors()``) so
    that both are reported. :mod:`cc_backend.config.problems` expands each into its own line.
    """
    items = [
        ((where,) if isinstance(where, str) else where, message) for where, message in problems
    ]
    summary = "; ".join(message for _, message in items)
    return PydanticCustomError(
        "cross_field",
        "{message}",
        {"message": summary, "items": items, "errors": nested or []},
    )


class ConfigModel(BaseModel):
    """Base of all config sections: strict types, no unknown keys, any key spelling.

    Subclasses may set ``LEGACY_KEYS`` to map an old key (any spelling) to a field name, for
    keys that cc-backend renamed rather than re-spelled (e.g. ``ui-defaults`` -> ``ui``).

    Convention: a sub-section that may be omitted defaults to ``{}`` with
    ``validate_default=True`` rather than to an instance, so that its own defaults (relative
    paths) are resolved with the same validation context as the rest of the file.
    """

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        alias_generator=kebab_case,
        hide_input_in_errors=True,
    )

    LEGACY_KEYS: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def prepare_input(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Hook to restructure raw input before keys are normalised (default: unchanged)."""
        return data

    @classmethod
    def check_input(cls, data: dict[str, Any]) -> list[Problem]:
        """Hook for cross-field rules on the key-normalised (not yet validated) input.

        ``data`` is keyed by field alias; values may have any type, so checks must be
        defensive. Returns the problems found (default: none).
        """
        return []

    @model_validator(mode="wrap")
    @classmethod
    def _validate_section(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        problems: list[Problem] = []
        if isinstance(data, dict):
            data = _normalise_keys(cls, cls.prepare_input(data), problems)
            problems.extend(cls.check_input(data))
        try:
            model = handler(data)
        except ValidationError as exc:
            if not problems:
                raise
            raise conflict(*problems, nested=exc.errors()) from None
        if problems:
            raise conflict(*problems)
        return model


def _normalise_keys(
    model: type[BaseModel], data: dict[str, Any], problems: list[Problem]
) -> dict[str, Any]:
    """Rename every accepted spelling to the field alias; unknown keys are left as they are."""
    lookup = key_lookup(model)
    result: dict[str, Any] = {}
    spelled_as: dict[str, str] = {}
    for key, value in data.items():
        alias = lookup.get(squash(key)) if isinstance(key, str) else None
        if alias is None:
            result[key] = value  # reported by pydantic as extra_forbidden
        elif alias in spelled_as:
            problems.append(
                (alias, f"given twice, as '{spelled_as[alias]}' and '{key}'; keep only one")
            )
        else:
            spelled_as[alias] = key
            result[alias] = value
    return result


@functools.cache
def key_lookup(model: type[BaseModel]) -> dict[str, str]:
    """Map the squashed form of every accepted spelling of ``model``'s keys to the field alias."""
    lookup: dict[str, str] = {}
    aliases: dict[str, str] = {}
    for name, field in model.model_fields.items():
        alias = field.alias or name
        aliases[name] = alias
        lookup[squash(name)] = alias
        lookup[squash(alias)] = alias
    legacy: Mapping[str, str] = getattr(model, "LEGACY_KEYS", {})
    for old, name in legacy.items():
        lookup[squash(old)] = aliases[name]
    return lookup


def suggest_key(model: type[BaseModel], key: str) -> str | None:
    """The valid key of ``model`` that ``key`` is probably a typo of, or ``None``.

    The suggestion is spelled as cc-backend spells it, or in kebab-case if ``key`` is.
    """
    field_of: dict[str, str] = {}
    for name, field in model.model_fields.items():
        for spelling in (field.alias or name, kebab_case(name), camel_case(name)):
            field_of.setdefault(spelling, name)
    match = close_match(key, list(field_of))
    if match is None:
        return None
    name = field_of[match]
    alias = model.model_fields[name].alias or name
    if "-" in key and "-" not in alias:
        return kebab_case(name)
    return alias


def json_type(value: Any) -> str:
    """How a JSON value's type reads in a message: ``a string``, ``a number``, ``null``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def close_match(word: str, candidates: list[str] | tuple[str, ...]) -> str | None:
    """The candidate most similar to ``word`` (difflib), or ``None`` if none is close."""
    matches = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    if matches:
        return matches[0]
    by_squash = {squash(candidate): candidate for candidate in candidates}
    squashed = difflib.get_close_matches(squash(word), list(by_squash), n=1, cutoff=0.6)
    return by_squash[squashed[0]] if squashed else None
