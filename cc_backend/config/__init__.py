"""The site configuration: ``config.json`` (validated models) and secrets (environment/.env).

Typical use::

    from cc_backend.config import load_config, load_secrets

    config = load_config()  # ./config.json; raises ConfigError listing every problem
    secrets = load_secrets()  # environment, then ./.env
    archive_root = config.archive.path  # an absolute Path
"""

from cc_backend.config.archive import ArchiveConfig, RetentionConfig
from cc_backend.config.auth import AuthConfig, JwtConfig, LdapConfig, OidcConfig
from cc_backend.config.clusters import (
    ClusterConfig,
    FilterRanges,
    IntRange,
    MetricDataRepository,
    TimeRange,
)
from cc_backend.config.durations import format_duration, parse_duration
from cc_backend.config.loader import (
    DEFAULT_CONFIG_PATH,
    load_config,
    load_config_data,
    parse_config_text,
)
from cc_backend.config.main_section import MainConfig, ResamplingConfig
from cc_backend.config.model import Config
from cc_backend.config.secrets import Secrets, load_secrets
from cc_backend.config.services import CronConfig, MetricStoreConfig, NatsConfig

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "ArchiveConfig",
    "AuthConfig",
    "ClusterConfig",
    "Config",
    "CronConfig",
    "FilterRanges",
    "IntRange",
    "JwtConfig",
    "LdapConfig",
    "MainConfig",
    "MetricDataRepository",
    "MetricStoreConfig",
    "NatsConfig",
    "OidcConfig",
    "ResamplingConfig",
    "RetentionConfig",
    "Secrets",
    "TimeRange",
    "format_duration",
    "load_config",
    "load_config_data",
    "load_secrets",
    "parse_config_text",
    "parse_duration",
]
