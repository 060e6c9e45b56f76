"""The config models document themselves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, get_args

from pydantic import BaseModel

from cc_backend.config import Config


def models_below(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
    yield model
    for field in model.model_fields.values():
        yield from _models_in(field.annotation)


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield from models_below(annotation)
    for argument in get_args(annotation):
        yield from _models_in(argument)


def test_every_field_of_every_section_has_a_description() -> None:
    undocumented = [
        f"{model.__name__}.{name}"
        for model in set(models_below(Config))
        for name, field in model.model_fields.items()
        if not field.description
    ]

    assert undocumented == []


def test_a_json_schema_can_be_generated_for_editors_and_docs() -> None:
    schema = Config.model_json_schema(by_alias=True)

    main = schema["$defs"]["MainConfig"]["properties"]
    assert "apiAllowedIPs" in main
    assert "short-running-jobs-duration" in main
