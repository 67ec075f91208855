"""Message templates made of named blocks that reference fields as {{ key }}."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from ceramic_app.models._types import bigint_pk, timestamp, workspace_key


class Template(SQLModel, table=True):
    """A named template."""

    __tablename__ = "templates"

    workspace_id: int = Field(sa_column=workspace_key())
    id: int | None = Field(default=None, sa_column=bigint_pk())
    name: str
    description: str = ""
    created_by: int | None = None
    created_at: datetime | None = Field(default=None, sa_column=timestamp())
    updated_at: datetime | None = Field(default=None, sa_column=timestamp())


class TemplateBlock(SQLModel, table=True):
    """One named block of a template; content may contain {{ field_key }}."""

    __tablename__ = "template_blocks"

    workspace_id: int = Field(sa_column=workspace_key())
    id: int | None = Field(default=None, sa_column=bigint_pk())
    template_id: int
    name: str
    position: int = 0
    content: str = ""
