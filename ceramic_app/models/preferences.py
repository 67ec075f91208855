"""Per-user, per-workspace table preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

from ceramic_app.models._types import jsonb, timestamp, workspace_key


class ColumnPreference(SQLModel, table=True):
    """The ordered list of visible profile-table columns for one member."""

    __tablename__ = "column_preferences"

    workspace_id: int = Field(sa_column=workspace_key())
    user_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    columns: list[Any] = Field(default_factory=list, sa_column=jsonb("'[]'::jsonb"))
    updated_at: datetime | None = Field(default=None, sa_column=timestamp())
