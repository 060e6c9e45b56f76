"""The ``main`` section: web server, database and general behaviour (cc-backend 1.4 and 1.5)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    Field,
    FieldSerializationInfo,
    ValidationInfo,
    field_serializer,
    model_validator,
)

from cc_backend.config.base import ConfigModel, Problem
from cc_backend.config.fields import (
    OptionalDuration,
    OptionalPath,
    one_of,
    relative_to_base,
    resolve_path,
)
from cc_backend.config.targets import TransferTarget

__all__ = [
    "ApiSubjects",
    "DbConfig",
    "DbDriver",
    "FooterLinks",
    "MainConfig",
    "NodeStateRetention",
    "ResamplingConfig",
]

_URL_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")
_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.IGNORECASE)


def mask_dsn_password(dsn: str) -> str:
    """``dsn`` with a password (URL or ``password=`` form) replaced by ``***``."""
    return _KEYWORD_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1***@", dsn))


DbDriver = Literal["sqlite3", "postgres"]
ResamplePolicy = Literal["low", "medium", "high"]
ResampleAlgo = Literal["lttb", "average", "simple"]
NodeStatePolicy = Literal["delete", "move"]
_SQLITE_SPECIAL = (":memory:", "file:")


class ResamplingConfig(ConfigModel):
    """Dynamic zoom of metric plots: serve down-sampled data first, finer data on zoom."""

    minimum_points: int | None = Field(
        default=None,
        alias="minimumPoints",
        description="Minimum number of points a series needs before it is resampled.",
    )
    trigger: int | None = Field(
        default=None,
        description="Load the next finer resolution when fewer than this many points are visible.",
    )
    resolutions: list[int] | None = Field(
        default=None,
        description="Resampling target resolutions in seconds, coarsest first, e.g. [600, 60].",
    )
    default_policy: Annotated[
        ResamplePolicy | None, one_of("resampling policy", ResamplePolicy)
    ] = Field(
        default=None,
        description="Default resampling policy when a user has set none (cc-backend 1.5).",
    )
    default_algo: Annotated[ResampleAlgo | None, one_of("resampling algorithm", ResampleAlgo)] = (
        Field(
            default=None,
            description="Default resampling algorithm when a user has set none (cc-backend 1.5).",
        )
    )


class ApiSubjects(ConfigModel):
    """NATS subjects on which the job and node-state APIs are also offered (cc-backend 1.5)."""

    subject_job_event: str | None = Field(
        default=None, description="Subject for job start/stop events."
    )
    subject_node_state: str | None = Field(
        default=None, description="Subject for node state updates."
    )
    job_concurrency: int | None = Field(
        default=None, description="Number of job events processed concurrently."
    )
    node_concurrency: int | None = Field(
        default=None, description="Number of node state messages processed concurrently."
    )


class NodeStateRetention(TransferTarget):
    """What happens to old rows of the node state table (cc-backend 1.5)."""

    policy: Annotated[NodeStatePolicy, one_of("node state retention policy", NodeStatePolicy)] = (
        Field(description="'delete' old node states, or 'move' them to a Parquet target.")
    )
    age: int | None = Field(default=None, description="Age in hours after which to act (24).")


class DbConfig(ConfigModel):
    """Database tuning (cc-backend 1.5); unset values keep the driver's defaults."""

    cache_size_mb: int | None = Field(default=None, description="SQLite page cache size in MB.")
    soft_heap_limit_mb: int | None = Field(
        default=None, description="SQLite soft heap limit in MB."
    )
    max_open_connections: int | None = Field(
        default=None, description="Maximum number of open database connections."
    )
    max_idle_connections: int | None = Field(
        default=None, description="Maximum number of idle database connections."
    )
    max_idle_time_minutes: int | None = Field(
        default=None, description="Close connections idle for longer than this many minutes."
    )
    busy_timeout_ms: int | None = Field(
        default=None, description="How long SQLite waits for a lock, in milliseconds."
    )


class FooterLinks(ConfigModel):
    """Targets of the legal links in the web UI's footer (cc-backend 1.5)."""

    imprint: str = Field(default="/imprint", description="URL or path of the imprint page.")
    privacy: str = Field(default="/privacy", description="URL or path of the privacy policy.")


class MainConfig(ConfigModel):
    """The ``main`` section of config.json."""

    addr: str = Field(
        default="127.0.0.1:8080", description="Address the HTTP(S) server listens on."
    )
    api_allowed_ips: list[str] = Field(
        default_factory=list,
        alias="apiAllowedIPs",
        description="Addresses allowed to use the secured admin API; '*' allows every address.",
    )
    api_subjects: ApiSubjects | None = Field(
        default=None, description="Offer the job and node-state APIs over NATS as well."
    )
    user: str | None = Field(
        default=None, description="Drop root privileges to this user once the port is bound."
    )
    group: str | None = Field(
        default=None, description="Drop root privileges to this group once the port is bound."
    )
    disable_authentication: bool = Field(
        default=False, description="Disable authentication for everything (API and web UI)."
    )
    embed_static_files: bool = Field(
        default=True, description="Serve the bundled web frontend (else 'static-files')."
    )
    static_files: OptionalPath = Field(
        default=None, description="Folder of frontend files, used if embed-static-files is off."
    )
    db_driver: Annotated[DbDriver, one_of("database driver", DbDriver)] = Field(
        default="sqlite3",
        description="Database driver: 'sqlite3' or 'postgres'.",
    )
    db: str = Field(
        default="./var/job.db",
        description="SQLite: database file (resolved to an absolute path); postgres: a DSN "
        "(prefer PGPASSWORD or ~/.pgpass to a password in it; repr hides it, dump keeps it).",
    )
    db_config: DbConfig | None = Field(default=None, description="Database tuning.")
    disable_archive: bool = Field(
        default=False, description="Keep metric data in the metric stores only, never archive."
    )
    enable_job_taggers: bool = Field(
        default=False, description="Tag finished jobs by application and job class."
    )
    validate_: bool = Field(
        default=False,
        alias="validate",
        description="Validate incoming JSON documents against the job-archive schemas.",
    )
    session_max_age: OptionalDuration = Field(
        default=timedelta(hours=168),
        description="Lifetime of a login session, e.g. '168h'; '0' or '' never expires.",
    )
    https_cert_file: OptionalPath = Field(
        default=None, description="TLS certificate; with https-key-file, serve HTTPS."
    )
    https_key_file: OptionalPath = Field(
        default=None, description="TLS private key; with https-cert-file, serve HTTPS."
    )
    redirect_http_to: str | None = Field(
        default=None, description="Redirect requests on port 80 to this URL."
    )
    machine_state_dir: OptionalPath = Field(
        default=None, description="Folder for per-node machine state files."
    )
    stop_jobs_exceeding_walltime: int = Field(
        default=0,
        description="If > 0, stop jobs running this many seconds past their walltime.",
    )
    short_running_jobs_duration: int = Field(
        default=300, description="Jobs shorter than this many seconds count as short-running."
    )
    emission_constant: int | None = Field(
        default=None,
        description="CO2 emission of the energy mix in g/kWh; shows job emissions if set.",
    )
    resampling: ResamplingConfig | None = Field(
        default=None, description="Enables dynamic zoom of metric plots when set."
    )
    systemd_unit: str | None = Field(
        default=None, description="Systemd unit whose log the admin log viewer shows."
    )
    nodestate_retention: NodeStateRetention | None = Field(
        default=None, description="Retention of the node state table."
    )
    footer_links: FooterLinks | None = Field(default=None, description="Footer link targets.")

    @classmethod
    def check_input(cls, data: dict[str, Any]) -> list[Problem]:
        """A PostgreSQL driver needs a DSN; HTTPS needs both certificate and key."""
        problems: list[Problem] = []
        if data.get("db-driver") == "postgres" and not data.get("db"):
            problems.append(("db", "a PostgreSQL DSN is required when db-driver is 'postgres'"))
        cert, key = data.get("https-cert-file"), data.get("https-key-file")
        if bool(cert) != bool(key):
            missing = "https-cert-file" if key else "https-key-file"
            problems.append((missing, "HTTPS needs both https-cert-file and https-key-file"))
        return problems

    @model_validator(mode="after")
    def _resolve_sqlite_file(self, info: ValidationInfo) -> Self:
        if self.db_driver == "sqlite3" and self.db and not self.db.startswith(_SQLITE_SPECIAL):
            given = "db" in self.model_fields_set
            self.db = str(resolve_path(self.db, info))
            if not given:  # a resolved default is still a default (not written by dump)
                self.model_fields_set.discard("db")
        return self

    @field_serializer("db")
    def _dump_db(self, value: str, info: FieldSerializationInfo) -> str:
        if self.db_driver == "sqlite3" and not value.startswith(_SQLITE_SPECIAL):
            return relative_to_base(Path(value), info.context)
        return value

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, (mask_dsn_password(value) if name == "db" else value)

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database file, or ``None`` for PostgreSQL or an in-memory database."""
        if self.db_driver != "sqlite3" or self.db.startswith(_SQLITE_SPECIAL):
            return None
        return Path(self.db)
