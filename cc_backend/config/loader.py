"""Reading config.json: file and JSON errors, then validation, as one :class:`ConfigError`."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cc_backend.config.fields import BASE_DIR_KEY
from cc_backend.config.model import Config
from cc_backend.config.problems import ROOT_PATH, problems_from_error
from cc_backend.config.secrets import Secrets, load_secrets
from cc_backend.domain.errors import ConfigError

__all__ = ["DEFAULT_CONFIG_PATH", "Secrets", "load_config", "load_config_data", "load_secrets"]

logger = logging.getLogger(__name__)

DEFAULT_CONFIG_PATH = Path("config.json")


def load_config(path: Path | str | None = None) -> Config:
    """Read, parse and validate a config file (default: ``./config.json``).

    Relative paths inside the file are resolved against the file's directory. Every problem
    (unreadable file, invalid JSON, or each invalid value) is reported in one
    :class:`~cc_backend.domain.errors.ConfigError`.
    """
    config_path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [
                f"{config_path}: config file not found; create one with `cc-backend init`, "
                "or give the path of an existing config.json"
            ]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{config_path}: cannot read the config file: {exc}"]) from None
    data = parse_config_text(text, source=str(config_path))
    config = load_config_data(data, base_dir=config_path.absolute().parent)
    logger.info("loaded configuration from %s (%d clusters)", config_path, len(config.clusters))
    return config


def parse_config_text(text: str, source: str = "config.json") -> Any:
    """Parse JSON text; a syntax error becomes a ConfigError naming line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            [f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"]
        ) from None


def load_config_data(data: dict[str, Any], base_dir: Path) -> Config:
    """Validate already parsed config JSON; relative paths are resolved against ``base_dir``.

    Raises :class:`~cc_backend.domain.errors.ConfigError` listing every problem as
    ``"<json.path>: <message>"``.
    """
    if not isinstance(data, dict):
        raise ConfigError([f"{ROOT_PATH}: the configuration must be a JSON object"])
    try:
        return Config.model_validate(data, context={BASE_DIR_KEY: Path(base_dir).absolute()})
    except ValidationError as exc:
        # ``from None``: the pydantic error may quote input values, including credentials.
        raise ConfigError(problems_from_error(exc, data, Config)) from None
