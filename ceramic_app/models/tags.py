"""Tags and their assignment to profiles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, SQLModel

from ceramic_app.models._types import bigint_pk, timestamp, workspace_key


class Tag(SQLModel, table=True):
    """A coloured label; names are unique per workspace, ignoring case."""

    __tablename__ = "tags"

    workspace_id: int = Field(sa_column=workspace_key())
    id: int | None = Field(default=None, sa_column=bigint_pk())
    name: str
    color: str = "gray"
    created_at: datetime | None = Field(default=None, sa_column=timestamp())


class ProfileTag(SQLModel, table=True):
    """A tag on a profile."""

    __tablename__ = "profile_tags"

    workspace_id: int = Field(sa_column=workspace_key())
    profile_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    tag_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    created_at: datetime | None = Field(default=None, sa_column=timestamp())
