"""Workspaces, users, memberships, sessions and API keys."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Column, Text
from sqlmodel import Field, SQLModel

from ceramic_app.models._types import bigint_pk, timestamp, workspace_key


class Role(enum.StrEnum):
    """Membership roles, from most to least privileged."""

    ADMIN = "admin"
    MEMBER = "member"
    VIEWER = "viewer"


class Workspace(SQLModel, table=True):
    """A tenant: every profile, field and job belongs to exactly one."""

    __tablename__ = "workspaces"

    id: int | None = Field(default=None, sa_column=bigint_pk())
    slug: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    name: str
    created_at: datetime | None = Field(default=None, sa_column=timestamp())


class User(SQLModel, table=True):
    """A person who signs in; email_key is the normalized sign-in address."""

    __tablename__ = "users"

    id: int | None = Field(default=None, sa_column=bigint_pk())
    email: str
    email_key: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    name: str
    password_hash: str
    created_at: datetime | None = Field(default=None, sa_column=timestamp())


class Membership(SQLModel, table=True):
    """A user's role in one workspace."""

    __tablename__ = "memberships"

    workspace_id: int = Field(sa_column=workspace_key())
    user_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    role: Role
    created_at: datetime | None = Field(default=None, sa_column=timestamp())


class Session(SQLModel, table=True):
    """A signed-in browser; the primary key is the SHA-256 of the cookie token."""

    __tablename__ = "sessions"

    token_hash: str = Field(primary_key=True)
    user_id: int
    workspace_id: int
    created_at: datetime | None = Field(default=None, sa_column=timestamp())
    last_seen_at: datetime | None = Field(default=None, sa_column=timestamp())
    expires_at: datetime = Field(sa_column=timestamp(default_now=False))
    user_agent: str = ""


class ApiKey(SQLModel, table=True):
    """A REST API credential scoped to one workspace, stored as a hash."""

    __tablename__ = "api_keys"

    workspace_id: int = Field(sa_column=workspace_key())
    id: int | None = Field(default=None, sa_column=bigint_pk())
    name: str
    prefix: str
    key_hash: str
    role: Role
    created_by: int | None = None
    created_at: datetime | None = Field(default=None, sa_column=timestamp())
    last_used_at: datetime | None = Field(
        default=None, sa_column=timestamp(nullable=True, default_now=False)
    )
    revoked_at: datetime | None = Field(
        default=None, sa_column=timestamp(nullable=True, default_now=False)
    )
