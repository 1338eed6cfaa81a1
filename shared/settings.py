"""Settings: one shared class plus one per service, all read from TRUENORTH_* env vars.

Bad values fail at start with a message naming the variable (see `load`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, TypeVar

import platformdirs
from pydantic import AwareDatetime, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from truenorth.bus.streams import Limits
from truenorth.contract.envelope import Slug

PRIVATE_UMASK = 0o077
"""Files truenorth creates (SQLite ledgers and projections, the token store, the data dir) are
readable by their owner only: they hold every workspace's figures and the token hashes."""
SERVICES = ("strategy", "campaigns", "metrics", "alignment")
DEFAULT_PORTS = {"strategy": 8101, "campaigns": 8102, "metrics": 8103, "alignment": 8104}


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("truenorth", appauthor=False))


class SharedSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRUENORTH_", extra="ignore", frozen=True)

    nats_url: str = Field(default="nats://127.0.0.1:4222", pattern=r"^(nats|tls|ws|wss)://")
    nats_user: str | None = None
    nats_password: str | None = None
    nats_inbox_prefix: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]+$")
    """Where this process receives replies and deliveries; default `_INBOX_<nats_user>`, the
    prefix the server lets that user subscribe to (`truenorth.bus.permissions`)."""
    nats_provisioner_user: str | None = None
    """Set with its password: streams are created/updated as this user, on a short separate
    connection at start (the service's own user may not). Unset: with the service's user."""
    nats_provisioner_password: str | None = None
    nats_tls_ca: Path | None = None
    """PEM CA bundle that signs the server's certificate: turns on TLS to NATS."""
    nats_tls_cert: Path | None = None
    """Client certificate (PEM) for servers that verify clients; needs nats_tls_key."""
    nats_tls_key: Path | None = None
    dlq_max_bytes: int = Field(default=1024**3, gt=0)
    """Size bound of the DLQ stream; when full the oldest dead letters are dropped."""
    dlq_max_age_days: float = Field(default=90, gt=0)
    intake_max_bytes: int = Field(default=1024**3, gt=0)
    """Size bound of the INTAKE work queue; when full, tools' publishes are refused."""
    intake_max_age_days: float = Field(default=7, gt=0)
    """A message no service took from INTAKE within this is dropped."""
    nats_replicas: int = Field(default=1, ge=1, le=5)
    """Stream replicas: 1 embedded, 3 on the compose cluster."""
    data_dir: Path = Field(default_factory=default_data_dir)
    workspace: Slug = "default"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["console", "json"] = "console"
    auth: Literal["off", "required"] = "off"
    """HTTP API tokens: `required` (compose) or `off` (`truenorth up` on loopback)."""
    require_strategy: bool | None = None
    """Refuse metrics and campaigns for a workspace without a strategy (404 / dead letter);
    default: on when `auth` is required, off on the loopback `truenorth up`."""
    auth_cache_seconds: float = Field(default=30.0, ge=0, le=3600)
    """How long a token key the store does not know is remembered as unknown (known tokens
    are read on every request: a revocation takes effect at once)."""
    tokens_database_url: str | None = None
    """Where API tokens live (hashed); default: SQLite `tokens.db` under the data dir."""
    clock_origin: AwareDatetime | None = None
    """Simulated time at clock_started_at (the demo plays a quarter at accelerated speed)."""
    clock_speed: float = Field(default=1.0, gt=0, le=1e7)
    clock_started_at: AwareDatetime | None = None
    """Wall time the simulated clock started; shared so every service reads the same time."""
    clock_file: Path | None = None
    """A stepped clock: the simulated time is read from this file, which `truenorth demo`
    writes; time stands still between its steps (a deterministic quarter)."""

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("auth", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _pairs(self) -> SharedSettings:
        if bool(self.nats_provisioner_user) != bool(self.nats_provisioner_password):
            raise ValueError(
                "set both TRUENORTH_NATS_PROVISIONER_USER and TRUENORTH_NATS_PROVISIONER_PASSWORD"
            )
        if bool(self.nats_tls_cert) != bool(self.nats_tls_key):
            raise ValueError("set both TRUENORTH_NATS_TLS_CERT and TRUENORTH_NATS_TLS_KEY")
        return self

    @property
    def nats_tls(self) -> bool:
        return bool(self.nats_tls_ca or self.nats_tls_cert) or self.nats_url.startswith("tls://")

    def stream_limits(self) -> dict[str, Limits]:
        day = 86_400.0
        return {
            "DLQ": Limits(self.dlq_max_bytes, self.dlq_max_age_days * day),
            "INTAKE": Limits(self.intake_max_bytes, self.intake_max_age_days * day),
        }

    @property
    def strategy_required(self) -> bool:
        return (
            self.require_strategy if self.require_strategy is not None else self.auth == "required"
        )

    def tokens_url(self) -> str:
        return self.tokens_database_url or sqlite_url(self.data_dir, "tokens")


class ServiceSettings(BaseSettings):
    """Common shape of every service's settings; subclasses set the env prefix and port."""

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    shutdown_grace_seconds: float = Field(default=10, gt=0, le=300)
    max_request_bytes: int = Field(default=10 * 1024 * 1024, gt=0)
    keep_alive_seconds: float = Field(default=5, gt=0, le=300)
    """An idle keep-alive connection is closed after this."""
    header_timeout_seconds: float = Field(default=10, gt=0, le=300)
    """Request line and headers must arrive within this (slow clients are disconnected)."""
    body_timeout_seconds: float = Field(default=60, gt=0, le=3600)
    """The body must arrive within this after the headers."""
    max_concurrency: int = Field(default=256, gt=0, le=100_000)
    """Connections and requests at once; beyond it, 503."""


class StrategySettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRUENORTH_STRATEGY_", extra="ignore", frozen=True)
    port: int = Field(default=DEFAULT_PORTS["strategy"], ge=0, le=65535)
    cors_origins: str = ""
    """Comma-separated origins whose pages may call this API from a browser (the alignment
    page's, e.g. `http://127.0.0.1:8104`); `truenorth up` sets the page's. Empty: none."""

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in (part.strip() for part in value.split(",")):
            if origin and not re.fullmatch(r"https?://[^/\s]+", origin):
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port], no path)")
        return value

    @property
    def allowed_origins(self) -> list[str]:
        return [part.strip() for part in self.cors_origins.split(",") if part.strip()]


class CampaignsSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="TRUENORTH_CAMPAIGNS_", extra="ignore", frozen=True
    )
    port: int = Field(default=DEFAULT_PORTS["campaigns"], ge=0, le=65535)


class MetricsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRUENORTH_METRICS_", extra="ignore", frozen=True)
    port: int = Field(default=DEFAULT_PORTS["metrics"], ge=0, le=65535)
    database_url: str | None = None
    """Observation ledger (restatement detection); default: SQLite under the data dir."""
    max_rows_per_request: int = Field(default=50_000, gt=0)
    max_in_flight_publishes: int = Field(default=4_096, gt=0, le=1_000_000)


class AlignmentSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="TRUENORTH_ALIGNMENT_", extra="ignore", frozen=True
    )
    port: int = Field(default=DEFAULT_PORTS["alignment"], ge=0, le=65535)
    database_url: str | None = None
    """Projection store; default: SQLite under the data dir. PostgreSQL by URL."""
    batch_size: int = Field(default=1_000, gt=0, le=100_000)
    tick_seconds: float = Field(default=5.0, gt=0, le=3600)
    tick_cost_spacing: float = Field(default=4.0, ge=0, le=100)
    """Drift evaluations are at least this many times the last one's cost apart, so a large
    projection is not judged back to back; 0: every `tick_seconds` (the demo's lockstep)."""
    ack_wait_seconds: float = Field(default=5.0, gt=0, le=3600)
    """Redelivery latency after a crash (docs/design.md#known-traps); a batch must commit well
    within it."""
    stall_seconds: float = Field(default=30.0, gt=0, le=3600)
    partitioned: bool = False
    """Run as one of several workers over the partitions (leases in NATS KV, PostgreSQL
    shared by all): compose sets it; the embedded default is one process over everything."""
    strategy_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$")
    """The strategy service as a browser reaches it: the page sends acknowledgements,
    check-ins and applied recommendations there (the strategy service must allow the page's
    origin, TRUENORTH_STRATEGY_CORS_ORIGINS). Unset: the page only reads. `truenorth up` sets
    both."""
    partitions: int = Field(default=8, ge=1, le=1024)
    """Alignment's input is split into this many partitions by workspace (`truenorth.bus.
    partitions`); fixed when the streams are provisioned: changing it is a re-partition
    (docs/design.md, "Partitions and leases"). More partitions than workers, so leases can
    spread evenly."""


SERVICE_SETTINGS: dict[str, type[ServiceSettings]] = {
    "strategy": StrategySettings,
    "campaigns": CampaignsSettings,
    "metrics": MetricsSettings,
    "alignment": AlignmentSettings,
}


class SettingsError(ValueError):
    """A bad TRUENORTH_* value, with one line per offending variable."""


S = TypeVar("S", bound=BaseSettings)


def load(cls: type[S]) -> S:
    """Instantiate settings, turning pydantic's error into one naming each env var."""
    try:
        return cls()
    except ValidationError as exc:
        prefix = str(cls.model_config.get("env_prefix", ""))
        lines = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"])
            if not field:  # a check across fields: its message names the variables
                lines.append(str(error["msg"]).removeprefix("Value error, "))
                continue
            lines.append(f"{prefix}{field.upper()}: {error['msg']} (got {error.get('input')!r})")
        raise SettingsError("invalid settings:\n  " + "\n  ".join(lines)) from None


def sqlite_url(data_dir: Path, service: str) -> str:
    return f"sqlite:///{data_dir / f'{service}.db'}"
