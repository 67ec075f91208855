"""Custom field definitions: a field is a row, never DDL on profiles."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from ceramic_app.models._types import bigint_pk, jsonb, timestamp, workspace_key


class FieldType(enum.StrEnum):
    """Value types a custom field can hold."""

    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    BOOLEAN = "boolean"
    ARRAY = "array"
    JSON = "json"


class CustomField(SQLModel, table=True):
    """A workspace's custom field with its validation rules.

    status is "active", or "converting" / "deleting" while a job rewrites values.
    expression is set for calculated fields.
    """

    __tablename__ = "custom_fields"

    workspace_id: int = Field(sa_column=workspace_key())
    id: int | None = Field(default=None, sa_column=bigint_pk())
    key: str
    label: str
    description: str = ""
    type: FieldType
    rules: dict[str, Any] = Field(default_factory=dict, sa_column=jsonb())
    expression: str | None = None
    status: str = "active"
    position: int = 0
    created_by: int | None = None
    created_at: datetime | None = Field(default=None, sa_column=timestamp())
    updated_at: datetime | None = Field(default=None, sa_column=timestamp())
