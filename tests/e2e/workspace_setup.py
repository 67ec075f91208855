"""Setup steps for browser flows that need accounts, fields or profiles up front.

They call the domain layer directly, so they need the database of the app
under test: the one this run migrated, or with E2E_BASE_URL the one that
DATABASE_URL points at. Accounts are created here rather than through the
sign-up form, because the form allows 20 sign-ups per client in 15 minutes
and the whole browser suite signs up from one address.
"""

from __future__ import annotations

import secrets

from playwright.sync_api import Page

from ceramic_app.accounts import service as accounts
from ceramic_app.accounts.service import Principal
from ceramic_app.models import Role
from tests.e2e.flows import PASSWORD, Account, sign_in


def create_account(label: str) -> Account:
    """Create a user with a workspace of their own, as the sign-up form does."""
    tag = secrets.token_hex(4)
    account = Account(
        name=f"QA {label} {tag}",
        email=f"{label}-{tag}@example.com",
        workspace=f"QA {label} {tag}",
    )
    accounts.sign_up(account.email, account.name, PASSWORD, account.workspace)
    return account


def signed_in_account(page: Page, base_url: str, label: str) -> Account:
    """Create an account with its own workspace and sign in to it in page."""
    account = create_account(label)
    sign_in(page, base_url, account.email)
    return account


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
