"""State of Settings > Members: admins add members, change roles and remove them.

Each handler re-checks the session and the admin role against Postgres.
The temporary password of a new account is held only until the admin
closes the notice that shows it.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import reflex as rx

from ceramic_app.accounts import members
from ceramic_app.accounts.service import Principal
from ceramic_app.db import run_sync
from ceramic_app.models import Role
from ceramic_app.state.base import AppState
from ceramic_app.state.fields import parse_id

logger = logging.getLogger(__name__)

ROLE_CHOICES = [r.value for r in Role]
MAX_INPUT_CHARS = 254


@dataclasses.dataclass
class MemberRow:
    """One member as the table shows it."""

    user_id: int = 0
    name: str = ""
    email: str = ""
    role: str = ""
    joined_at: str = ""
    is_you: bool = False


class MembersState(AppState):
    """The workspace's members and the add, role and remove actions."""

    rows: list[MemberRow] = []
    loading: bool = True
    error: str = ""

    new_email: str = ""
    new_name: str = ""
    new_role: str = Role.MEMBER.value
    add_error: str = ""
    adding: bool = False

    added_email: str = ""
    added_password: str = ""

    remove_open: bool = False
    remove_id: int = 0
    remove_label: str = ""

    async def _admin(self) -> Principal | None:
        return await self._authorize(Role.ADMIN)

    @rx.event
    async def load_page(self) -> Any:
        """On_load: list the members (admins only)."""
        principal = await self._authorize()
        if principal is None:
            return rx.redirect("/login")
        if not principal.can(Role.ADMIN):
            return rx.redirect("/profiles")
        self.loading = True
        self.added_email = ""
        self.added_password = ""
        await self._load(principal)
        return None

    @rx.event
    async def refresh(self) -> Any:
        """Reload the list (the retry button)."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        await self._load(principal)
        return None

    async def _load(self, principal: Principal) -> None:
        try:
            views = await run_sync(members.list_members, principal)
        except Exception:
            logger.exception(
                "loading members failed in workspace %s", principal.workspace_id
            )
            self.error = (
                "The members could not be loaded. Check the connection and retry."
            )
            self.loading = False
            return
        self.rows = [
            MemberRow(
                user_id=v.user_id,
                name=v.name,
                email=v.email,
                role=v.role.value,
                joined_at=v.joined_at.isoformat(),
                is_you=v.user_id == principal.user_id,
            )
            for v in views
        ]
        self.error = ""
        self.loading = False

    # --- add -----------------------------------------------------------------------

    @rx.event
    async def set_new_email(self, value: str) -> Any:
        """Store the e-mail of the person to add."""
        if await self._admin() is None:
            return await self._reject()
        self.new_email = str(value)[:MAX_INPUT_CHARS]
        self.add_error = ""
        return None

    @rx.event
    async def set_new_name(self, value: str) -> Any:
        """Store the display name of the person to add."""
        if await self._admin() is None:
            return await self._reject()
        self.new_name = str(value)[:120]
        self.add_error = ""
        return None

    @rx.event
    async def set_new_role(self, value: str) -> Any:
        """Store the role the new member gets."""
        if await self._admin() is None:
            return await self._reject()
        if value in ROLE_CHOICES:
            self.new_role = value
        return None

    @rx.event
    async def add(self) -> Any:
        """Add the member; show a new account's temporary password once."""
        principal = await self._admin()
        if principal is None:
            yield await self._reject()
            return
        if self.adding:
            return
        email = self.new_email.strip()
        if not email:
            self.add_error = "Enter the e-mail of the person to add."
            return
        name = self.new_name.strip() or email.split("@")[0]

        self.adding = True
        yield
        try:
            added = await run_sync(
                members.add_member, principal, email, name, self.new_role
            )
        except members.MemberError as exc:
            logger.info(
                "adding a member to workspace %s failed: %s",
                principal.workspace_id,
                exc,
            )
            self.add_error = str(exc)
            return
        finally:
            self.adding = False

        self.new_email = ""
        self.new_name = ""
        self.add_error = ""
        self.added_email = added.email
        self.added_password = added.temporary_password or ""
        await self._load(principal)
        yield rx.toast.success(f"{added.email} was added as {added.role.value}.")

    @rx.event
    async def dismiss_password(self) -> Any:
        """Forget the temporary password once the admin has copied it."""
        if await self._admin() is None:
            return await self._reject()
        self.added_email = ""
        self.added_password = ""
        return None

    # --- change role ---------------------------------------------------------------

    @rx.event
    async def change_role(self, user_id: Any, role: str) -> Any:
        """Give a member another role."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        target = parse_id(user_id)
        try:
            await run_sync(members.change_role, principal, target, str(role))
        except members.MemberError as exc:
            logger.info(
                "role change of user %s in workspace %s failed: %s",
                target,
                principal.workspace_id,
                exc,
            )
            await self._load(principal)
            return rx.toast.error(str(exc))
        await self._load(principal)
        row = next((r for r in self.rows if r.user_id == target), None)
        if row is not None and row.is_you and row.role != Role.ADMIN.value:
            return rx.redirect("/profiles")
        return rx.toast.success("The role was changed.")

    # --- remove --------------------------------------------------------------------

    @rx.event
    async def ask_remove(self, user_id: Any) -> Any:
        """Ask for confirmation before removing a member."""
        if await self._admin() is None:
            return await self._reject()
        target = parse_id(user_id)
        row = next((r for r in self.rows if r.user_id == target), None)
        if row is None:
            return None
        self.remove_id = row.user_id
        self.remove_label = f"{row.name} ({row.email})"
        self.remove_open = True
        return None

    @rx.event
    async def set_remove_open(self, value: bool) -> Any:
        """Close the remove confirmation (or keep it open)."""
        if await self._admin() is None:
            return await self._reject()
        self.remove_open = bool(value) and self.remove_id > 0
        return None

    @rx.event
    async def confirm_remove(self) -> Any:
        """Remove the member and end their sessions in this workspace."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        self.remove_open = False
        try:
            await run_sync(members.remove_member, principal, self.remove_id)
        except members.MemberError as exc:
            logger.info(
                "removing user %s from workspace %s failed: %s",
                self.remove_id,
                principal.workspace_id,
                exc,
            )
            return rx.toast.error(str(exc))
        await self._load(principal)
        return rx.toast.success(f"{self.remove_label} was removed.")
