"""Column helpers shared by the table modules."""

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, text
from sqlalchemy.dialects.postgresql import JSONB


def bigint_pk() -> Any:
    """A bigint primary-key column filled by an identity sequence."""
    return Column(BigInteger, primary_key=True, autoincrement=True)


def workspace_key() -> Any:
    """The workspace_id column that leads every tenant table's keys."""
    return Column(BigInteger, primary_key=True, nullable=False)


def timestamp(nullable: bool = False, default_now: bool = True) -> Any:
    """A timestamptz column, by default filled with now()."""
    return Column(
        DateTime(timezone=True),
        nullable=nullable,
        server_default=text("now()") if default_now else None,
    )


def jsonb(default: str = "'{}'::jsonb", nullable: bool = False) -> Any:
    """A JSONB column with a server default."""
    return Column(JSONB, nullable=nullable, server_default=text(default))


__all__ = ["bigint_pk", "datetime", "jsonb", "timestamp", "workspace_key"]
