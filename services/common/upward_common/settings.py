"""Settings shared by every part; each service subclasses with its own env prefix."""

from __future__ import annotations

from typing import Literal

from pydantic import AnyHttpUrl, Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

# The development signing secret is public by design: anything signed with it
# is forgeable, so it is refused outside development.
DEV_JWT_SECRET = "upward-development-secret-change-me-0123456789"

Environment = Literal["development", "test", "production"]

SHARED_PREFIX = "UPWARD_"


class UpwardSettings(BaseSettings):
    """Base settings: `<SERVICE>_X` overrides `UPWARD_X`, which overrides the default."""

    model_config = SettingsConfigDict(extra="ignore", env_prefix=SHARED_PREFIX)

    environment: Environment = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"

    nats_url: str = "nats://127.0.0.1:4222"
    nats_reconnect_wait_seconds: float = 1.0
    # Replicas of the JetStream stream; 1 for a single dev server, 3 in a cluster.
    stream_replicas: int = 1

    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_issuer: str = "upward-dev"
    jwt_audience: str = "upward"
    # When set, tokens are RS256 and verified against the issuer's JWKS.
    jwks_url: AnyHttpUrl | None = None
    jwks_cache_seconds: int = 300

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> UpwardSettings:
        if (
            self.environment != "development"
            and self.jwks_url is None
            and self.jwt_secret.get_secret_value() == DEV_JWT_SECRET
        ):
            raise ValueError(
                "UPWARD_JWT_SECRET is the public development default; set a real secret "
                "or UPWARD_JWKS_URL before running outside development"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        shared = EnvSettingsSource(settings_cls, env_prefix=SHARED_PREFIX)
        return init_settings, env_settings, shared, dotenv_settings, file_secret_settings


class ServiceSettings(UpwardSettings):
    """Settings of a service that owns a database and talks to NATS."""

    database_url: str = Field(default="sqlite+aiosqlite:///var/service.db")
    migrate_on_start: bool = True
    # On SQLite, how often the service checkpoints its write-ahead log, so no
    # request's commit pays for copying the log into the database (`WalCheckpointer`).
    sqlite_checkpoint_seconds: float = Field(default=1.0, gt=0)
    outbox_batch_size: int = 500
    # The relay wakes on every commit; this poll only covers other replicas' commits.
    outbox_poll_seconds: float = 1.0
    # Sent rows are kept this long for inspection; the stream is the durable record.
    outbox_retention_hours: float = 7 * 24
    # Not ready (503) once the first unsent event has waited longer than this.
    outbox_max_age_seconds: float = Field(default=300.0, gt=0)
    # Messages per fetch, applied in one transaction: a transaction's fixed cost (its
    # statements, its commit) is shared by this many events of a flood.
    consumer_batch_size: int = 512
    consumer_max_deliver: int = 5
    consumer_backoff_seconds: list[float] = [0.5, 2.0, 10.0, 30.0]
    consumer_ack_wait_seconds: float = 30.0
    # Fetch the next full batch while this one is applied. Off: since the kernel's own
    # fetch, the overlap gains nothing on an import and slows a mixed history down,
    # on either database (docs/architecture.md, "Consumer").
    consumer_read_ahead: bool = False
