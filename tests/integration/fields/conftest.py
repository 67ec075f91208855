"""Helpers for the field domain's integration tests: roles and direct row access."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from ceramic_app.accounts.service import Principal
from ceramic_app.models import Role
from ceramic_app.settings import get_settings


@pytest.fixture
def admin(make_principal: Callable[..., Principal]) -> Principal:
    """An admin of a fresh workspace."""
    return make_principal()


@pytest.fixture
def member(make_principal: Callable[..., Principal], admin: Principal) -> Principal:
    """A member of the admin's workspace."""
    return make_principal(Role.MEMBER, workspace_id=admin.workspace_id)


@pytest.fixture
def viewer(make_principal: Callable[..., Principal], admin: Principal) -> Principal:
    """A viewer of the admin's workspace."""
    return make_principal(Role.VIEWER, workspace_id=admin.workspace_id)


@pytest.fixture
def outsider(make_principal: Callable[..., Principal]) -> Principal:
    """An admin of another workspace."""
    return make_principal()


@pytest.fixture
def owner_sql(database: str) -> Callable[..., list[tuple[Any, ...]]]:
    """Return a function that runs SQL as the database owner (bypassing row security)."""

    def run(sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(
            get_settings().database_admin_url, autocommit=True
        ) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    return run
