"""The root of config.json: :class:`Config`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Self

from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    model_validator,
)

from cc_backend.config.archive import ArchiveConfig
from cc_backend.config.auth import AuthConfig
from cc_backend.config.base import ConfigModel, JsonPath, Problem, squash
from cc_backend.config.clusters import ClusterConfig
from cc_backend.config.fields import BASE_DIR_KEY
from cc_backend.config.main_section import MainConfig
from cc_backend.config.services import CronConfig, MetricStoreConfig, NatsConfig

__all__ = ["Config"]


class Config(ConfigModel):
    """A validated config.json.

    Build one with :func:`~cc_backend.config.loader.load_config` (from a file) or
    :func:`~cc_backend.config.loader.load_config_data` (from parsed JSON). Relative paths in it
    have been resolved against :attr:`base_dir`, the directory of the config file.
    """

    LEGACY_KEYS = {"ui-defaults": "ui"}
    #: Sections that older cc-backend versions had at the top level instead of in ``auth``.
    AUTH_SECTIONS: ClassVar[tuple[str, ...]] = ("jwts", "ldap", "oidc")

    # Sections default to ``{}`` validated like user input (not to a model instance), so that
    # their own defaults, such as relative paths, see the validation context.
    main: MainConfig = Field(
        default_factory=dict, validate_default=True, description="Server and database."
    )
    archive: ArchiveConfig = Field(
        default_factory=dict, validate_default=True, description="The job archive backend."
    )
    auth: AuthConfig = Field(
        default_factory=dict,
        validate_default=True,
        description="JWT, LDAP and OpenID Connect settings.",
    )
    clusters: list[ClusterConfig] = Field(
        default_factory=list, description="Metric data source and UI ranges per cluster."
    )
    nats: NatsConfig | None = Field(default=None, description="Connection to a NATS server.")
    cron: CronConfig = Field(
        default_factory=dict,
        validate_default=True,
        description="Intervals of the background workers.",
    )
    ui: dict[str, Any] | None = Field(
        default=None, description="Defaults of the web UI's settings (free-form, see the UI)."
    )
    metric_store: MetricStoreConfig | None = Field(
        default=None, description="The built-in metric store (cc-metric-store-internal)."
    )

    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @classmethod
    def prepare_input(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Move top-level ``jwts``/``ldap``/``oidc`` (cc-backend before 1.5) into ``auth``.

        A section given both ways is left at the top level, where it is reported.
        """
        moved = {key: value for key, value in data.items() if _squash(key) in cls.AUTH_SECTIONS}
        if not moved:
            return data
        auth_key = next((key for key in data if _squash(key) == "auth"), "auth")
        auth = data.get(auth_key, {})
        if not isinstance(auth, dict):
            return data
        present = {squash(key) for key in auth}
        result = dict(data)
        merged = dict(auth)
        for key, value in moved.items():
            if squash(key) not in present:
                merged[key] = value
                del result[key]
        result[auth_key] = merged
        return result

    @classmethod
    def check_input(cls, data: dict[str, Any]) -> list[Problem]:
        """Cluster names must be unique."""
        clusters = data.get("clusters")
        if not isinstance(clusters, list):
            return []
        first: dict[str, int] = {}
        problems: list[Problem] = []
        for index, cluster in enumerate(clusters):
            name = _get(cluster, "name")
            if not isinstance(name, str):
                continue
            if name in first:
                message = f"duplicate cluster name '{name}' (see clusters[{first[name]}])"
                problems.append((("clusters", index, "name"), message))
            else:
                first[name] = index
        return problems

    @model_validator(mode="after")
    def _remember_base_dir(self, info: ValidationInfo) -> Self:
        context = info.context if isinstance(info.context, dict) else {}
        base = context.get(BASE_DIR_KEY)
        self._base_dir = Path(base) if base is not None else Path.cwd()
        return self

    @property
    def base_dir(self) -> Path:
        """The directory relative paths in the config were resolved against."""
        return self._base_dir

    def cluster_config(self, name: str) -> ClusterConfig | None:
        """The ``clusters`` entry named ``name``, or ``None``."""
        return next((cluster for cluster in self.clusters if cluster.name == name), None)

    def dump(self, *, include_secrets: bool = False) -> dict[str, Any]:
        """The config as a cc-backend compatible JSON object (keys spelled as cc-backend does).

        Only keys that were given (or set) are written, paths inside :attr:`base_dir` are
        written relative to it, and credentials (tokens, passwords, S3 keys) are left out
        unless ``include_secrets`` is true.
        """
        data: dict[str, Any] = self.model_dump(
            mode="json",
            by_alias=True,
            exclude_unset=True,
            context={BASE_DIR_KEY: self._base_dir},
        )
        for path, secret in _secrets_in(self):
            parent: Any = data
            for part in path[:-1]:
                parent = parent[part]
            if include_secrets:
                parent[path[-1]] = secret.get_secret_value()
            else:
                del parent[path[-1]]
        return data

    def to_json(self, *, include_secrets: bool = False, indent: int = 2) -> str:
        """:meth:`dump` as JSON text, ready to be written to a config.json."""
        return json.dumps(self.dump(include_secrets=include_secrets), indent=indent) + "\n"


def _squash(key: Any) -> str:
    return squash(key) if isinstance(key, str) else ""


def _get(data: Any, key: str) -> Any:
    """The value of ``key`` (any spelling) in the raw object ``data``, or ``None``."""
    if not isinstance(data, dict):
        return None
    return next((value for name, value in data.items() if _squash(name) == key), None)


def _secrets_in(value: Any, path: JsonPath = ()) -> Iterator[tuple[JsonPath, SecretStr]]:
    """Every set :class:`SecretStr` below ``value``, with its path in the by-alias dump."""
    if isinstance(value, BaseModel):
        fields = type(value).model_fields
        for name in value.model_fields_set:
            if name in fields:
                alias = fields[name].alias or name
                yield from _secrets_in(getattr(value, name), (*path, alias))
        for key, extra in (value.model_extra or {}).items():
            yield from _secrets_in(extra, (*path, key))
    elif isinstance(value, SecretStr):
        yield path, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _secrets_in(item, (*path, index))
