"""Application settings, read once from the environment (and an optional .env file)."""

from __future__ import annotations

import functools
import secrets
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Values that must never reach production as a secret key.
_PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "dev", "test"}


class Settings(BaseSettings):
    """Every tunable of the web app, the workers and the command line."""

    model_config = SettingsConfigDict(
        env_file=PROJECT_ROOT / ".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    database_url: str = Field(
        default="postgresql://ceramic_app@127.0.0.1:5432/ceramic",
        description="Connection used by the web app and workers (the app role).",
    )
    database_admin_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/ceramic",
        description=(
            "Owner connection for creating the database, migrating, building"
            " sort indexes and copying imported profiles."
        ),
    )
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Prefix for RQ queue names and pub/sub channels, so that several
    # installations (or test runs) can share one Redis without stealing jobs.
    redis_namespace: str = "ceramic"
    data_dir: Path = PROJECT_ROOT / "data"
    upload_dir: Path | None = None
    secret_key: str = ""
    # Upload cap in bytes; 2 GiB holds about 20M ten-column rows.
    max_upload_bytes: int = 2 * 1024**3
    # Longest single cell value an import accepts, in characters.
    max_value_chars: int = 10_000
    session_days: int = 14
    cookie_secure: bool = False
    app_host: str = "127.0.0.1"
    app_port: int = 3000
    import_batch_rows: int = 50_000
    # Attempts allowed per client (IP and e-mail) in 15 minutes.
    sign_in_attempts: int = 10
    sign_up_attempts: int = 20
    log_level: str = "INFO"

    @field_validator("redis_namespace")
    @classmethod
    def _check_namespace(cls, value: str) -> str:
        if not value.replace("_", "").replace("-", "").isalnum():
            raise ValueError(
                f"REDIS_NAMESPACE {value!r} may only contain letters, digits, - and _"
            )
        return value

    @property
    def uploads_path(self) -> Path:
        """Folder for uploaded import files and error reports (never served)."""
        return self.upload_dir or self.data_dir / "uploads"

    @property
    def app_role(self) -> str:
        """Database role of the app connection; migrations grant rights to it."""
        return urlsplit(self.database_url).username or "ceramic_app"

    @property
    def database_name(self) -> str:
        """Name of the application database."""
        return urlsplit(self.database_url).path.lstrip("/") or "ceramic"

    def sqlalchemy_url(self, admin: bool = False) -> str:
        """Return the URL with SQLAlchemy's psycopg 3 driver name."""
        return to_sqlalchemy_url(
            self.database_admin_url if admin else self.database_url
        )

    def effective_secret_key(self) -> str:
        """Return SECRET_KEY, or a random one persisted under data_dir.

        A persisted key keeps sessions valid across restarts of a local
        install; production sets SECRET_KEY explicitly.
        """
        if self.secret_key.strip().lower() not in _PLACEHOLDER_SECRETS:
            return self.secret_key
        key_file = self.data_dir / "secret_key"
        if key_file.exists():
            return key_file.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key


def to_sqlalchemy_url(url: str) -> str:
    """Rewrite a postgresql:// URL to name SQLAlchemy's psycopg 3 driver."""
    parts = urlsplit(url)
    if parts.scheme in ("postgresql", "postgres"):
        parts = parts._replace(scheme="postgresql+psycopg")
    return urlunsplit(parts)


def to_libpq_url(url: str) -> str:
    """Rewrite a SQLAlchemy URL back to a plain libpq URL."""
    parts = urlsplit(url)
    if parts.scheme.startswith("postgresql+"):
        parts = parts._replace(scheme="postgresql")
    return urlunsplit(parts)


@functools.cache
def get_settings() -> Settings:
    """Return the process-wide settings object."""
    return Settings()
