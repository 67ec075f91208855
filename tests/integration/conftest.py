"""Fixtures for tests against the real Postgres, Redis and RQ worker."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from ceramic_app.accounts import service as accounts
from ceramic_app.models import Role

_counter = itertools.count(1)


@pytest.fixture
def make_principal(database: str) -> Callable[..., accounts.Principal]:
    """Return a factory that signs up a fresh user with a fresh workspace."""

    def make(
        role: Role = Role.ADMIN, workspace_id: int | None = None
    ) -> accounts.Principal:
        n = next(_counter)
        email = f"owner{n}-{id(make)}@example.com"
        if workspace_id is None:
            accounts.sign_up(
                email, f"Owner {n}", "correct horse battery", f"Workspace {n}"
            )
        else:
            accounts.add_member(
                workspace_id, email, f"Member {n}", "correct horse battery", role
            )
        user_id, first_workspace = accounts.authenticate(email, "correct horse battery")
        token = accounts.create_session(user_id, workspace_id or first_workspace)
        principal = accounts.resolve_session(token)
        assert principal is not None
        return principal

    return make


@pytest.fixture
def principal(make_principal: Callable[..., accounts.Principal]) -> accounts.Principal:
    """An admin of a workspace of its own."""
    return make_principal()
