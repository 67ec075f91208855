"""Create the database and app role when missing, then apply Alembic migrations."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from alembic.config import Config
from psycopg import sql

from alembic import command
from ceramic_app.settings import PROJECT_ROOT, Settings, get_settings, to_libpq_url

logger = logging.getLogger(__name__)


def _maintenance_url(admin_url: str) -> str:
    """Return the owner URL pointed at the `postgres` maintenance database."""
    parts = urlsplit(to_libpq_url(admin_url))
    return urlunsplit(parts._replace(path="/postgres"))


def ensure_database(settings: Settings) -> bool:
    """Create the application database and app role if missing.

    Returns:
        True when the database was created by this call.
    """
    name = settings.database_name
    role = settings.app_role
    password = urlsplit(settings.database_url).password
    with psycopg.connect(
        _maintenance_url(settings.database_admin_url), autocommit=True
    ) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)
        ).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
            logger.info("created database role %s", role)
        if password:
            conn.execute(
                sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(password)
                )
            )
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        logger.info("created database %s", name)
        return True


def alembic_config(settings: Settings) -> Config:
    """Build the Alembic configuration for the owner URL of these settings."""
    config = Config(str(Path(PROJECT_ROOT) / "alembic.ini"))
    config.set_main_option("script_location", str(Path(PROJECT_ROOT) / "alembic"))
    config.attributes["url"] = settings.sqlalchemy_url(admin=True)
    config.attributes["configure_logger"] = False
    return config


def upgrade(settings: Settings | None = None) -> None:
    """Bring the database to the newest schema."""
    settings = settings or get_settings()
    ensure_database(settings)
    command.upgrade(alembic_config(settings), "head")
    logger.info("database %s is at the newest schema", settings.database_name)
