"""The one settings class: every variable of the SPEC, read from the environment and `.env`."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AnyHttpUrl,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.fetch import parse_origins
from bot.store.retention import DEFAULT_RETENTION_DAYS

PositiveSeconds = Annotated[float, Field(gt=0)]


class Settings(BaseSettings):
    """Field names are the environment variable names in lower case (matching is case-free)."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,  # `CALLBACK_PUBLIC_URL=` in .env means unset
        extra="ignore",
        case_sensitive=False,
    )

    # The SPEC's public contract.
    discord_token: SecretStr
    suno_api_key: SecretStr | None = None
    suno_api_base_url: AnyHttpUrl = AnyHttpUrl("https://api.api.box")
    database_url: str = "sqlite:///data/backline.db"
    callback_public_url: AnyHttpUrl | None = None
    callback_host: str = "0.0.0.0"  # noqa: S104 - the callback server must be reachable
    callback_port: int = Field(8080, ge=0, le=65535)
    callback_secret: SecretStr | None = None
    metrics_token: SecretStr | None = None  # set: /metrics answers only "Bearer <token>"
    dev_guild_id: int | None = Field(None, gt=0)
    log_level: str = "INFO"

    # Discord sharding (required from 2,500 servers on): how many shards in all, and which
    # of them this process runs (comma-separated). Unset: one process, one shard.
    shard_count: int | None = Field(None, ge=1)
    shard_ids: Annotated[list[int], NoDecode] = []

    # Tuning knobs.
    suno_allowed_models: Annotated[list[str], NoDecode] = ["V4_5PLUS", "V5"]
    suno_default_model: str = "V4_5PLUS"
    default_tags: str = Field("full band arrangement, warm, polished mix", min_length=1)
    default_negative_tags: str = Field("low quality, distortion", min_length=1)
    suno_rate_limit_requests: int = Field(20, ge=1)
    suno_rate_limit_period: PositiveSeconds = 10.0
    suno_request_timeout: PositiveSeconds = 30.0
    suno_max_retries: int = Field(3, ge=0, le=10)
    task_timeout: PositiveSeconds = 20 * 60.0
    poll_interval_max: PositiveSeconds = 60.0
    callback_safety_poll: PositiveSeconds = 180.0
    # Finished tasks (every ready track posted) are kept this long, then purged.
    task_retention_days: int = Field(DEFAULT_RETENTION_DAYS, ge=1)
    input_max_bytes: int = Field(25 * 1024 * 1024, ge=1024)
    input_min_seconds: float = Field(3.0, ge=0)
    input_max_seconds: float = Field(8 * 60.0, gt=0)
    result_max_bytes: int = Field(50 * 1024 * 1024, ge=1024)
    # Per-server limits until moderators choose their own with /config limits (0 = none).
    default_daily_per_member: int = Field(0, ge=0)
    default_cooldown_seconds: int = Field(10, ge=0)
    default_concurrent_per_member: int = Field(3, ge=0)
    default_daily_per_server: int = Field(0, ge=0)
    # Credits one accepted request costs (the API does not report it), for /credits.
    suno_credits_per_task: float = Field(12.0, ge=0)
    # How often the balance is read for the moderators' credit alerts.
    credit_check_interval: PositiveSeconds = 600.0
    # Result downloads refuse private and loopback addresses; these hosts (besides the API's
    # own origin) are trusted anyway. Entries are `host` or `host:port`.
    download_allowed_hosts: Annotated[list[str], NoDecode] = []

    @field_validator("suno_allowed_models", mode="before")
    @classmethod
    def _split_models(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _split_shards(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return [int(part) for part in value.split(",") if part.strip()]
            except ValueError:
                raise ValueError("must be comma-separated shard numbers, e.g. 0,1") from None
        return value

    @field_validator("download_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            try:
                parse_origins(hosts=[str(entry) for entry in value])
            except ValueError:
                raise ValueError("must be comma-separated host or host:port entries") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value.startswith(("postgresql://", "postgres://")):
            return value
        if not value.startswith("sqlite:///") or value == "sqlite:///":
            raise ValueError(
                "must look like sqlite:///path/to/file.db or postgresql://user@host/database"
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in logging.getLevelNamesMapping():
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("callback_secret")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        if not self.suno_allowed_models:
            raise _setting_error("suno_allowed_models", "must name at least one model")
        if self.suno_default_model not in self.suno_allowed_models:
            raise _setting_error("suno_default_model", "must be one of SUNO_ALLOWED_MODELS")
        if self.suno_api_key is None and not self.uses_local_api:
            raise _setting_error("suno_api_key", "is required for the hosted music API")
        if self.shard_ids and self.shard_count is None:
            raise _setting_error("shard_ids", "needs SHARD_COUNT")
        if any(not 0 <= shard < (self.shard_count or 1) for shard in self.shard_ids):
            raise _setting_error("shard_ids", "must be between 0 and SHARD_COUNT - 1")
        if self.input_min_seconds >= self.input_max_seconds:
            raise _setting_error("input_min_seconds", "must be below INPUT_MAX_SECONDS")
        return self

    @property
    def uses_local_api(self) -> bool:
        """True when the API base URL is on this machine (the built-in simulator)."""
        host = self.suno_api_base_url.host or ""
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host.strip("[]")).is_loopback
        except ValueError:
            return False

    @property
    def database_path(self) -> Path:
        """The SQLite file (meaningless for PostgreSQL)."""
        return Path(self.database_url.removeprefix("sqlite:///"))

    @property
    def uses_postgres(self) -> bool:
        return self.database_url.startswith(("postgresql://", "postgres://"))

    @property
    def api_base_url(self) -> str:
        return str(self.suno_api_base_url).rstrip("/")


class SettingError(ValueError):
    """A setting is missing or invalid; `str()` is the one line shown to the operator."""


def _setting_error(field: str, message: str) -> ValueError:
    return ValueError(f"{field.upper()} {message}")


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning pydantic's report into one line that names the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingError(describe_error(exc)) from None


def describe_error(exc: ValidationError) -> str:
    """One line naming the first bad variable; never includes the offending value."""
    error = exc.errors(include_input=False, include_url=False)[0]
    loc = [str(part) for part in error["loc"] if part != "__root__"]
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"setting {loc[0].upper()} is missing"
    if not loc:  # a cross-field check names its variable first
        return f"invalid setting {message}"
    return f"invalid setting {loc[0].upper()}: {message}"
