"""Workspace members against the real database: roles, safety rules and audit."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text

from ceramic_app.accounts import members
from ceramic_app.accounts import service as accounts
from ceramic_app.accounts.service import PermissionDenied, Principal
from ceramic_app.db import tenant_connection
from ceramic_app.models import Role

MakePrincipal = Callable[..., Principal]


def _audit(principal: Principal, action: str) -> list[dict]:
    with tenant_connection(principal.workspace_id) as conn:
        rows = conn.execute(
            text(
                "SELECT entity_id, before, after, meta, actor_id FROM audit_log"
                " WHERE action = :a ORDER BY id"
            ),
            {"a": action},
        ).mappings()
        return [dict(r) for r in rows]


def test_sign_up_audits_the_founding_admin(principal: Principal) -> None:
    entries = _audit(principal, "membership.create")
    assert len(entries) == 1
    assert entries[0]["entity_id"] == str(principal.user_id)
    assert entries[0]["after"] == {"email": principal.user_email, "role": "admin"}


def test_new_member_uses_temporary_password(
    principal: Principal,
) -> None:
    added = members.add_member(principal, " New.Person@Example.com ", "New", "viewer")
    assert added.temporary_password and len(added.temporary_password) >= 10
    user_id, workspace_id = accounts.authenticate(
        "new.person@example.com", added.temporary_password
    )
    assert (user_id, workspace_id) == (added.user_id, principal.workspace_id)
    listed = {m.email: m.role for m in members.list_members(principal)}
    assert listed == {
        principal.user_email: Role.ADMIN,
        "New.Person@Example.com": Role.VIEWER,
    }
    entry = _audit(principal, "membership.create")[-1]
    assert entry["after"] == {"email": "New.Person@Example.com", "role": "viewer"}
    assert entry["actor_id"] == principal.user_id


def test_existing_account_keeps_its_password(
    make_principal: MakePrincipal,
) -> None:
    first = make_principal()
    second = make_principal()
    added = members.add_member(first, second.user_email, "ignored", "member")
    assert added.temporary_password is None
    user_id, _ = accounts.authenticate(second.user_email, "correct horse battery")
    assert user_id == second.user_id
    with pytest.raises(members.MemberError, match="already a member"):
        members.add_member(first, second.user_email, "again", "member")


@pytest.mark.parametrize(
    ("email", "role", "message"),
    [
        ("not-an-email", "member", "not valid"),
        ("ok@example.com", "owner", "Unknown role 'owner'"),
    ],
)
def test_bad_input_names_the_value(
    principal: Principal, email: str, role: str, message: str
) -> None:
    with pytest.raises(members.MemberError, match=message):
        members.add_member(principal, email, "Someone", role)


def test_only_admins_manage_members(make_principal: MakePrincipal) -> None:
    admin = make_principal()
    member = make_principal(Role.MEMBER, admin.workspace_id)
    for call in (
        lambda: members.list_members(member),
        lambda: members.add_member(member, "x@example.com", "X", "admin"),
        lambda: members.change_role(member, member.user_id, "admin"),
        lambda: members.remove_member(member, admin.user_id),
    ):
        with pytest.raises(PermissionDenied):
            call()


def test_last_admin_stays_admin(
    make_principal: MakePrincipal,
) -> None:
    admin = make_principal()
    with pytest.raises(members.MemberError, match="only admin"):
        members.change_role(admin, admin.user_id, "member")
    other = make_principal(Role.ADMIN, admin.workspace_id)
    with pytest.raises(members.MemberError, match="cannot remove yourself"):
        members.remove_member(admin, admin.user_id)
    members.change_role(other, admin.user_id, "member")
    with pytest.raises(members.MemberError, match="only admin"):
        members.change_role(other, other.user_id, "viewer")
    entry = _audit(admin, "membership.update")[-1]
    assert (entry["before"], entry["after"]) == ({"role": "admin"}, {"role": "member"})


def test_role_change_applies_to_live_sessions(make_principal: MakePrincipal) -> None:
    admin = make_principal()
    member = make_principal(Role.MEMBER, admin.workspace_id)
    token = accounts.create_session(member.user_id, admin.workspace_id)
    members.change_role(admin, member.user_id, "viewer")
    resolved = accounts.resolve_session(token)
    assert resolved is not None and resolved.role is Role.VIEWER


def test_removal_ends_sessions_and_is_audited(make_principal: MakePrincipal) -> None:
    admin = make_principal()
    member = make_principal(Role.MEMBER, admin.workspace_id)
    token = accounts.create_session(member.user_id, admin.workspace_id)
    members.remove_member(admin, member.user_id)
    assert accounts.resolve_session(token) is None
    assert member.user_id not in {m.user_id for m in members.list_members(admin)}
    entry = _audit(admin, "membership.delete")[-1]
    assert entry["before"] == {"email": member.user_email, "role": "member"}
    with pytest.raises(members.MemberError, match="not a member"):
        members.remove_member(admin, member.user_id)


def test_other_workspace_members_unreachable(
    make_principal: MakePrincipal,
) -> None:
    first = make_principal()
    second = make_principal()
    with pytest.raises(members.MemberError, match="not a member"):
        members.change_role(first, second.user_id, "viewer")
    with pytest.raises(members.MemberError, match="not a member"):
        members.remove_member(first, second.user_id)
    assert [m.user_id for m in members.list_members(first)] == [first.user_id]
