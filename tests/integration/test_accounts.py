"""Sign-up, sign-in, sessions and tenant isolation against the real database."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from ceramic_app.accounts import service as accounts
from ceramic_app.db import tenant_connection
from ceramic_app.models import Role


def test_sign_up_makes_admin(principal: accounts.Principal) -> None:
    assert principal.role is Role.ADMIN
    assert principal.workspace_slug.startswith("workspace-")


def test_duplicate_sign_up_rejected(principal: accounts.Principal) -> None:
    with pytest.raises(accounts.AccountError, match="already exists"):
        accounts.sign_up(
            principal.user_email.upper(), "X", "correct horse battery", "W"
        )


def test_wrong_password_rejected(principal: accounts.Principal) -> None:
    with pytest.raises(accounts.AccountError, match="incorrect"):
        accounts.authenticate(principal.user_email, "wrong password!!")


def test_unknown_email_same_message(database: str) -> None:
    with pytest.raises(accounts.AccountError, match="incorrect"):
        accounts.authenticate("nobody@example.com", "whatever password")


def test_revoked_session_stops_working(principal: accounts.Principal) -> None:
    user_id, workspace_id = accounts.authenticate(
        principal.user_email, "correct horse battery"
    )
    token = accounts.create_session(user_id, workspace_id)
    assert accounts.resolve_session(token) is not None
    accounts.revoke_session(token)
    assert accounts.resolve_session(token) is None


def test_garbage_token_resolves_to_none(database: str) -> None:
    assert accounts.resolve_session("not-a-token") is None
    assert accounts.resolve_session("") is None


def test_member_role_is_read_live(make_principal) -> None:
    owner = make_principal()
    member = make_principal(Role.MEMBER, workspace_id=owner.workspace_id)
    assert member.role is Role.MEMBER
    assert not member.can(Role.ADMIN)
    with pytest.raises(accounts.PermissionDenied):
        member.require(Role.ADMIN)


def test_row_security_hides_other_workspace(make_principal) -> None:
    first = make_principal()
    second = make_principal()
    with tenant_connection(first.workspace_id) as conn:
        conn.execute(
            text(
                "INSERT INTO profiles (workspace_id, email, email_key)"
                " VALUES (:w, 'a@example.com', 'a@example.com')"
            ),
            {"w": first.workspace_id},
        )
    with tenant_connection(second.workspace_id) as conn:
        rows = conn.execute(text("SELECT count(*) FROM profiles")).scalar_one()
        assert rows == 0
        with pytest.raises(Exception, match="row-level security"):
            conn.execute(
                text(
                    "INSERT INTO profiles (workspace_id, email, email_key)"
                    " VALUES (:w, 'b@example.com', 'b@example.com')"
                ),
                {"w": first.workspace_id},
            )
