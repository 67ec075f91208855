"""The append-only audit log and per-profile change history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from ceramic_app.models._types import bigint_pk, jsonb, timestamp, workspace_key


class AuditEntry(SQLModel, table=True):
    """One change to profiles, fields, rules, tags, templates or memberships.

    The app's database role may only SELECT and INSERT here.
    actor_type is "user", "api_key", "import_job" or "system".
    """

    __tablename__ = "audit_log"

    workspace_id: int = Field(sa_column=workspace_key())
    id: int | None = Field(default=None, sa_column=bigint_pk())
    at: datetime | None = Field(default=None, sa_column=timestamp())
    actor_type: str
    actor_id: int | None = None
    actor_label: str = ""
    action: str
    entity_type: str
    entity_id: str | None = None
    before: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSONB, nullable=True)
    )
    after: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSONB, nullable=True)
    )
    meta: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb())


class ProfileChange(SQLModel, table=True):
    """Field-level history of one profile: changes maps key to [before, after]."""

    __tablename__ = "profile_changes"

    workspace_id: int = Field(sa_column=workspace_key())
    id: int | None = Field(default=None, sa_column=bigint_pk())
    profile_id: int
    at: datetime | None = Field(default=None, sa_column=timestamp())
    actor_type: str
    actor_id: int | None = None
    actor_label: str = ""
    source: str
    changes: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb())
