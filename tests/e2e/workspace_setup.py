"""Setup steps for browser flows that need fields, profiles or members up front.

They call the domain layer directly, so they need the database of the app
under test: the one this run migrated, or with E2E_BASE_URL the one that
DATABASE_URL points at.
"""

from __future__ import annotations

import secrets

from ceramic_app.accounts import service as accounts
from ceramic_app.accounts.service import Principal
from ceramic_app.models import Role
from tests.e2e.flows import PASSWORD, Account


def principal_for(email: str) -> Principal:
    """Return the principal of an account's first workspace."""
    user_id, workspace_id = accounts.authenticate(email, PASSWORD)
    principal = accounts.resolve_session(accounts.create_session(user_id, workspace_id))
    assert principal is not None
    return principal


def add_member(owner: Account, role: Role = Role.MEMBER) -> str:
    """Add a new user with role to the owner's workspace; return their e-mail."""
    workspace_id = principal_for(owner.email).workspace_id
    email = f"{role.value}-{secrets.token_hex(4)}@example.com"
    accounts.add_member(workspace_id, email, f"QA {role.value}", PASSWORD, role)
    return email
