"""Annotated field types shared by the config sections.

Each type parses cc-backend's JSON representation (a Go duration string, an RFC 3339 time, a
path relative to the config file) and serialises back to it, so that a loaded config can be
written out again in a form cc-backend reads.

Relative paths are resolved against ``base_dir`` from the validation context (the directory of
the config file, see :func:`~cc_backend.config.loader.load_config_data`), or against the
current directory when there is no context, which is what cc-backend does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, get_args

from pydantic import BeforeValidator, PlainSerializer, SecretStr, ValidationInfo
from pydantic_core import PydanticCustomError

from cc_backend.config.base import close_match, json_type
from cc_backend.config.durations import format_duration, parse_duration

__all__ = [
    "ConfigPath",
    "Duration",
    "OptionalDuration",
    "OptionalPath",
    "OptionalSecret",
    "OptionalTimestamp",
    "PositiveDuration",
    "Timestamp",
    "one_of",
]

BASE_DIR_KEY = "base_dir"


def _problem(message: str, error_type: str = "config_value") -> PydanticCustomError:
    # The message goes through the context so that braces in user input are never interpreted.
    return PydanticCustomError(error_type, "{message}", {"message": message})


def one_of(what: str, choices: Any) -> BeforeValidator:
    """Validator for a fixed set of strings with a did-you-mean hint for unknown values.

    ``choices`` is a ``Literal[...]`` type (or a tuple of strings).
    """
    allowed: tuple[str, ...] = tuple(get_args(choices)) or tuple(choices)

    known = ", ".join(allowed)

    def check(value: Any) -> Any:
        if value is None or value in allowed:
            return value  # None is judged by the field type (optional or not)
        if not isinstance(value, str):
            raise _problem(f"{what} must be one of: {known}", "unknown_choice")
        guess = close_match(value, allowed)
        hint = f"; did you mean '{guess}'?" if guess else ""
        raise _problem(f"unknown {what} '{value}'{hint} (known: {known})", "unknown_choice")

    return BeforeValidator(check)


# ---------------------------------------------------------------- durations


def _duration(value: Any, *, allow_zero: bool = True) -> Any:
    if isinstance(value, timedelta):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = parse_duration(value)
        except ValueError as exc:
            raise _problem(str(exc), "duration") from None
    else:
        raise _problem(
            f"expected a duration string like '5m' or '1h30m', got {json_type(value)}",
            "duration",
        )
    if parsed < timedelta(0):
        raise _problem(f"duration {value!r} must not be negative", "duration")
    if not allow_zero and not parsed:
        raise _problem(f"duration {value!r} must be longer than zero", "duration")
    return parsed


def _optional_duration(value: Any) -> Any:
    return None if value is None or value == "" else _duration(value)


def _format_optional_duration(value: timedelta | None) -> str:
    return "" if value is None else format_duration(value)


Duration = Annotated[
    timedelta, BeforeValidator(_duration), PlainSerializer(format_duration, return_type=str)
]
"""A non-negative Go-style duration (``"5m"``), a :class:`~datetime.timedelta` in Python."""

PositiveDuration = Annotated[
    timedelta,
    BeforeValidator(lambda value: _duration(value, allow_zero=False)),
    PlainSerializer(format_duration, return_type=str),
]
"""Like :data:`Duration`, but zero is rejected too (used for worker intervals)."""

OptionalDuration = Annotated[
    timedelta | None,
    BeforeValidator(_optional_duration),
    PlainSerializer(_format_optional_duration, return_type=str),
]
"""A :data:`Duration` that may be absent; ``""`` (cc-backend's "not set") becomes ``None``."""


# ---------------------------------------------------------------- paths


def _base_dir(info: ValidationInfo) -> Path:
    context = info.context if isinstance(info.context, dict) else {}
    base = context.get(BASE_DIR_KEY)
    return Path(base) if base is not None else Path.cwd()


def resolve_path(value: str | Path, info: ValidationInfo) -> Path:
    """``value`` as an absolute path, relative ones taken from the config file's directory."""
    path = Path(value)
    return path if path.is_absolute() else _base_dir(info) / path


def _path(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, str) and not value:
        raise _problem("path must not be empty", "path")
    if isinstance(value, str | Path):
        return resolve_path(value, info)
    return value  # wrong type: reported by the strict Path validation


def _optional_path(value: Any, info: ValidationInfo) -> Any:
    return None if value is None or value == "" else _path(value, info)


def relative_to_base(path: Path, context: Any) -> str:
    """Render ``path`` relative to the serialisation context's ``base_dir`` when inside it."""
    base = context.get(BASE_DIR_KEY) if isinstance(context, dict) else None
    if base is not None and path.is_relative_to(base):
        relative = path.relative_to(base).as_posix()
        return "." if relative == "." else f"./{relative}"
    return str(path)


def _dump_path(value: Path, info: Any) -> str:
    return relative_to_base(value, info.context)


def _dump_optional_path(value: Path | None, info: Any) -> str:
    return "" if value is None else relative_to_base(value, info.context)


ConfigPath = Annotated[Path, BeforeValidator(_path), PlainSerializer(_dump_path, return_type=str)]
"""A file system path; relative values are resolved against the config file's directory."""

OptionalPath = Annotated[
    Path | None,
    BeforeValidator(_optional_path),
    PlainSerializer(_dump_optional_path, return_type=str),
]
"""A :data:`ConfigPath` that may be absent; ``""`` becomes ``None``."""


# ---------------------------------------------------------------- timestamps


def _timestamp(value: Any) -> Any:
    if value is None or isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise _problem(
                f"invalid time {value!r}: expected RFC 3339, e.g. '2022-01-01T00:00:00Z'",
                "timestamp",
            ) from None
    else:
        return value  # wrong type: reported by the strict datetime validation
    if parsed is not None and parsed.tzinfo is None:
        raise _problem(
            f"time {value!r} needs a time zone (RFC 3339), e.g. '2022-01-01T00:00:00Z'",
            "timestamp",
        )
    return parsed


def _format_timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.utcoffset() == timedelta(0):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value.isoformat()


Timestamp = Annotated[
    datetime, BeforeValidator(_timestamp), PlainSerializer(_format_timestamp, return_type=str)
]
"""An RFC 3339 date-time with time zone (``"2022-01-01T00:00:00Z"``)."""

OptionalTimestamp = Annotated[
    datetime | None,
    BeforeValidator(_timestamp),
    PlainSerializer(_format_timestamp, return_type=str | None),
]
"""A :data:`Timestamp` or JSON ``null``."""


# ---------------------------------------------------------------- secrets


def _optional_secret(value: Any) -> Any:
    return None if value is None or value == "" else value


OptionalSecret = Annotated[SecretStr | None, BeforeValidator(_optional_secret)]
"""A credential from config.json: hidden in ``repr``/``str``/logs, left out of dumps."""
