"""One settings object: ``CONNECTOR_*`` environment variables, a secrets dir, an optional TOML file.

Precedence (highest first): explicit arguments, environment, secrets dir
(``CONNECTOR_SECRETS_DIR``, one file per setting), the TOML file named by
``CONNECTOR_CONFIG_FILE`` (keys without the prefix, e.g. ``port = 8181``), defaults.

Built by the CLI or the app factory, never at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from connector.errors import Invalid

CommaList = Annotated[list[str], NoDecode]

_DEFAULT_SECRETS = {"changeme", "change-me", "secret", "password", "admin", ""}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CONNECTOR_",
        extra="ignore",
        case_sensitive=False,
    )

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path("./var")
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8181, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    """Server processes sharing the port and the database (``connector serve``); with SQLite
    they take turns on an inter-process write lock. More than one uses more than one core."""
    public_url: str | None = None
    dsp_path: str = "/api/dsp"
    management_api_key: SecretStr | None = None
    auditor_api_key: SecretStr | None = None
    allow_insecure_did_web: bool = False
    trusted_participants: CommaList = Field(default_factory=list)
    trusted_issuers: CommaList = Field(default_factory=list)
    allow_private_addresses: CommaList = Field(default_factory=list)
    source_dirs: CommaList = Field(default_factory=list)
    self_descriptions_dir: Path = Path("./self-descriptions")
    participant_config: Path | None = None
    did_cache_ttl_seconds: int = Field(default=300, ge=0)
    participant_facts_cache_seconds: float = Field(default=60.0, ge=0)
    """How long a caller's verified credentials are reused before the DCP flow runs again (a
    revocation takes effect after at most this long; failures are kept at most 10 s)."""
    http_timeout_seconds: float = Field(default=5.0, gt=0)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    rsa_key: bool = False
    audit_checkpoint_interval_seconds: int = Field(default=3600, ge=0)
    """Sign an audit checkpoint this often when the chain moved (0: only every 1,000 entries)."""
    audit_retention: CommaList = Field(default_factory=list)
    """Per event type, days after which an entry's content is removed (``data.accessed=90``)."""
    audit_delete_after_days: int | None = Field(default=None, ge=1)
    """Delete whole audit entries older than this (a signed "pruned up to N" checkpoint stays)."""
    data_token_ttl_seconds: int = Field(default=300, ge=10, le=86_400)
    """Lifetime of a pull token (renewable while the transfer is STARTED)."""
    upstream_secrets_dir: Path | None = None
    """Files named in HTTP source headers as ``{{secret:NAME}}`` (default: <data dir>/secrets)."""
    upstream_max_bytes: int | None = Field(default=None, ge=1)
    """Largest HTTP upstream answer streamed through (None: no limit)."""
    log_level: str = "info"

    @field_validator(
        "trusted_participants",
        "trusted_issuers",
        "allow_private_addresses",
        "audit_retention",
        "source_dirs",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("CONNECTOR_PUBLIC_URL must be an absolute http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.environment != "production":
            return self
        for name in ("management_api_key", "auditor_api_key"):
            secret: SecretStr | None = getattr(self, name)
            if secret is None or secret.get_secret_value().strip().lower() in _DEFAULT_SECRETS:
                raise ValueError(
                    f"CONNECTOR_{name.upper()} must be set to a real secret in production"
                )
            if len(secret.get_secret_value()) < 16:
                raise ValueError(f"CONNECTOR_{name.upper()} must have at least 16 characters")
        if self.public_url is None or not self.public_url.startswith("https://"):
            raise ValueError("CONNECTOR_PUBLIC_URL must be an https URL in production")
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
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        secrets_dir = os.environ.get("CONNECTOR_SECRETS_DIR")
        if secrets_dir:
            from pydantic_settings import SecretsSettingsSource

            sources.append(SecretsSettingsSource(settings_cls, secrets_dir=secrets_dir))
        config_file = os.environ.get("CONNECTOR_CONFIG_FILE")
        if config_file:
            if not Path(config_file).is_file():
                raise Invalid(f"CONNECTOR_CONFIG_FILE not found: {config_file}", reason="config")
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    # Derived values -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The URL partners reach this connector at (``CONNECTOR_PUBLIC_URL`` or host:port)."""
        if self.public_url:
            return self.public_url
        host = "127.0.0.1" if self.host in {"0.0.0.0", "::"} else self.host  # noqa: S104
        return f"http://{host}:{self.port}"

    @property
    def participant_config_path(self) -> Path:
        """The self-description config (``CONNECTOR_PARTICIPANT_CONFIG``; default: Hagen demo)."""
        return self.participant_config or Path("self-descriptions/hagen.toml")

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'connector.db').resolve()}"
