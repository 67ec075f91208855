"""Workspace members: list, add, change roles and remove, each audited.

Only admins manage members. A workspace always keeps at least one admin,
and an admin cannot remove themselves, so no admin locks a workspace out
by accident. Removing a member also ends their sessions in that workspace.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

from ceramic_app import audit
from ceramic_app.accounts.service import (
    AccountError,
    Principal,
    insert_user,
    validate_new_user,
)
from ceramic_app.db import set_workspace, tenant_connection
from ceramic_app.models import Role


class MemberError(ValueError):
    """A member change that cannot be made; the message is for the user."""


@dataclass(frozen=True)
class MemberView:
    """One member of the workspace, for the members page."""

    user_id: int
    name: str
    email: str
    role: Role
    joined_at: datetime


@dataclass(frozen=True)
class AddedMember:
    """Result of adding a member: a temporary password for a new account."""

    user_id: int
    email: str
    role: Role
    temporary_password: str | None


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        allowed = ", ".join(r.value for r in Role)
        raise MemberError(f"Unknown role {value!r}; use one of {allowed}.") from None


def list_members(principal: Principal) -> list[MemberView]:
    """Return the workspace's members, admins first, then by name."""
    principal.require(Role.ADMIN)
    with tenant_connection(principal.workspace_id) as conn:
        rows = conn.execute(
            text(
                "SELECT u.id, u.name, u.email, m.role, m.created_at"
                " FROM memberships m JOIN users u ON u.id = m.user_id"
                " WHERE m.workspace_id = :ws"
                " ORDER BY m.role = 'admin' DESC, lower(u.name), u.id"
            ),
            {"ws": principal.workspace_id},
        ).all()
    return [
        MemberView(int(r.id), r.name, r.email, Role(r.role), r.created_at) for r in rows
    ]


def add_member(principal: Principal, email: str, name: str, role: str) -> AddedMember:
    """Add a user to the principal's workspace with role.

    A new account gets a random temporary password, returned once for the
    admin to hand over; an existing account keeps its password.
    """
    principal.require(Role.ADMIN)
    new_role = _role(role)
    password = secrets.token_urlsafe(12)
    try:
        email_key = validate_new_user(email, name, password)
    except AccountError as exc:
        raise MemberError(str(exc)) from None
    with tenant_connection(principal.workspace_id) as conn:
        user = conn.execute(
            text("SELECT id, email FROM users WHERE email_key = :k"), {"k": email_key}
        ).first()
        temporary: str | None = None
        if user is None:
            user_id = insert_user(conn, email, email_key, name, password)
            if user_id is None:
                raise MemberError(
                    f"{email.strip()} signed up a moment ago. Add them again."
                )
            temporary = password
            stored_email = email.strip()
        else:
            user_id, stored_email = int(user.id), user.email
        inserted = conn.execute(
            text(
                "INSERT INTO memberships (workspace_id, user_id, role)"
                " VALUES (:ws, :u, :r) ON CONFLICT DO NOTHING RETURNING user_id"
            ),
            {"ws": principal.workspace_id, "u": user_id, "r": new_role.value},
        ).scalar()
        if inserted is None:
            raise MemberError(f"{stored_email} is already a member of this workspace.")
        audit.record(
            conn,
            principal,
            "membership.create",
            "membership",
            user_id,
            after={"email": stored_email, "role": new_role.value},
            meta={"new_account": temporary is not None},
        )
    return AddedMember(int(user_id), stored_email, new_role, temporary)


def _locked_members(conn: Connection, workspace_id: int) -> dict[int, tuple[str, str]]:
    """Lock the workspace's memberships; return user id -> (role, e-mail).

    Locking all of them serialises concurrent role changes, so two admins
    demoting each other at once cannot leave the workspace without one.
    """
    rows = conn.execute(
        text(
            "SELECT m.user_id, m.role, u.email FROM memberships m"
            " JOIN users u ON u.id = m.user_id"
            " WHERE m.workspace_id = :ws FOR UPDATE OF m"
        ),
        {"ws": workspace_id},
    ).all()
    return {int(r.user_id): (r.role, r.email) for r in rows}


def _require_other_admin(
    members: dict[int, tuple[str, str]], user_id: int, action: str
) -> None:
    admins = [uid for uid, (role, _) in members.items() if role == Role.ADMIN.value]
    if admins == [user_id]:
        raise MemberError(
            f"Cannot {action} the only admin. Make another member an admin first."
        )


def change_role(principal: Principal, user_id: int, role: str) -> None:
    """Give a member another role; the workspace keeps at least one admin."""
    principal.require(Role.ADMIN)
    new_role = _role(role)
    with tenant_connection(principal.workspace_id) as conn:
        members = _locked_members(conn, principal.workspace_id)
        if user_id not in members:
            raise MemberError("This user is not a member of the workspace.")
        old_role, email = members[user_id]
        if old_role == new_role.value:
            return
        if old_role == Role.ADMIN.value:
            _require_other_admin(members, user_id, "demote")
        conn.execute(
            text(
                "UPDATE memberships SET role = :r WHERE workspace_id = :ws AND user_id = :u"
            ),
            {"r": new_role.value, "ws": principal.workspace_id, "u": user_id},
        )
        audit.record(
            conn,
            principal,
            "membership.update",
            "membership",
            user_id,
            before={"role": old_role},
            after={"role": new_role.value},
            meta={"email": email},
        )


def remove_member(principal: Principal, user_id: int) -> None:
    """Remove a member from the workspace and end their sessions in it."""
    principal.require(Role.ADMIN)
    if user_id == principal.user_id:
        raise MemberError("You cannot remove yourself. Ask another admin.")
    with tenant_connection(principal.workspace_id) as conn:
        members = _locked_members(conn, principal.workspace_id)
        if user_id not in members:
            raise MemberError("This user is not a member of the workspace.")
        role, email = members[user_id]
        _require_other_admin(members, user_id, "remove")
        conn.execute(
            text("DELETE FROM memberships WHERE workspace_id = :ws AND user_id = :u"),
            {"ws": principal.workspace_id, "u": user_id},
        )
        conn.execute(
            text("DELETE FROM sessions WHERE workspace_id = :ws AND user_id = :u"),
            {"ws": principal.workspace_id, "u": user_id},
        )
        audit.record(
            conn,
            principal,
            "membership.delete",
            "membership",
            user_id,
            before={"email": email, "role": role},
        )


def record_founder(conn: Connection, principal: Principal) -> None:
    """Audit the admin membership that sign-up creates with a new workspace."""
    set_workspace(conn, principal.workspace_id)
    audit.record(
        conn,
        principal,
        "membership.create",
        "membership",
        principal.user_id,
        after={"email": principal.user_email, "role": Role.ADMIN.value},
        meta={"sign_up": True},
    )
