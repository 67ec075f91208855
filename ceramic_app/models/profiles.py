"""The profiles table: one unified record per customer."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from ceramic_app.models._types import bigint_pk, jsonb, timestamp, workspace_key


class Profile(SQLModel, table=True):
    """A customer profile; custom field values live in attributes by field key."""

    __tablename__ = "profiles"

    workspace_id: int = Field(sa_column=workspace_key())
    id: int | None = Field(default=None, sa_column=bigint_pk())
    email: str
    # Trimmed, NFC, lower-case, IDNA domain; unique per workspace (C collation).
    email_key: str = Field(sa_column=Column(Text(collation="C"), nullable=False))
    custom_id: str | None = Field(
        default=None, sa_column=Column(Text(collation="C"), nullable=True)
    )
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb())
    created_at: datetime | None = Field(default=None, sa_column=timestamp())
    updated_at: datetime | None = Field(default=None, sa_column=timestamp())
