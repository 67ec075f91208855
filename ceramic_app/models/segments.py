"""Saved segments: named filter trees over profiles."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from ceramic_app.models._types import bigint_pk, jsonb, timestamp, workspace_key


class Segment(SQLModel, table=True):
    """A saved filter tree (nested AND/OR conditions) with a name."""

    __tablename__ = "segments"

    workspace_id: int = Field(sa_column=workspace_key())
    id: int | None = Field(default=None, sa_column=bigint_pk())
    name: str
    filter: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb())
    created_by: int | None = None
    created_at: datetime | None = Field(default=None, sa_column=timestamp())
    updated_at: datetime | None = Field(default=None, sa_column=timestamp())
