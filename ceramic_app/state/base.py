"""The signed-in user, as every page state sees it.

Every public method of a state class can be called by any browser with any
arguments, so each handler re-checks the session against Postgres through
_authorize(): a sign-out or a role change takes effect on the next event.
Only non-secret display values are state vars; the session token stays in
the HttpOnly cookie and is never copied into state.
"""

from __future__ import annotations

import logging

import reflex as rx

from ceramic_app.accounts import service as accounts
from ceramic_app.db import run_sync
from ceramic_app.models import Role

logger = logging.getLogger(__name__)


class AppState(rx.State):
    """Identity of the signed-in user and their workspace, for display."""

    signed_in: bool = False
    user_name: str = ""
    user_email: str = ""
    workspace_name: str = ""
    workspace_slug: str = ""
    role: str = ""

    @rx.var
    def is_admin(self) -> bool:
        """Whether the user administers this workspace."""
        return self.role == Role.ADMIN.value

    @rx.var
    def can_edit(self) -> bool:
        """Whether the user may change profiles (admins and members)."""
        return self.role in (Role.ADMIN.value, Role.MEMBER.value)

    @rx.var
    def user_initials(self) -> str:
        """Up to two initials for the avatar."""
        parts = [p for p in self.user_name.split() if p]
        return "".join(p[0] for p in parts[:2]).upper() or "?"

    async def _authorize(self, role: Role = Role.VIEWER) -> accounts.Principal | None:
        """Resolve the session cookie; return the principal if it has role.

        Returns None when there is no live session or the role is too low;
        the caller then returns self._reject().
        """
        token = accounts.token_from_cookie_header(self.router.headers.cookie)
        principal = await run_sync(accounts.resolve_session, token)
        app_state = await self.get_state(AppState)
        if principal is None:
            app_state.signed_in = False
            return None
        app_state._show(principal)
        if not principal.can(role):
            logger.warning(
                "user %s denied %s action in workspace %s",
                principal.user_id,
                role.value,
                principal.workspace_id,
            )
            return None
        return principal

    def _show(self, principal: accounts.Principal) -> None:
        self.signed_in = True
        self.user_name = principal.user_name
        self.user_email = principal.user_email
        self.workspace_name = principal.workspace_name
        self.workspace_slug = principal.workspace_slug
        self.role = principal.role.value

    async def _reject(self) -> rx.event.EventSpec:
        """Send a signed-out browser to sign-in; tell a signed-in one it may not."""
        app_state = await self.get_state(AppState)
        if not app_state.signed_in:
            return rx.redirect("/login")
        return rx.toast.error("Your role does not allow this action.")

    @rx.event
    async def require_session(self) -> rx.event.EventSpec | None:
        """Page on_load guard: redirect to sign-in without a live session."""
        if await self._authorize() is None:
            return rx.redirect("/login")
        return None

    @rx.event
    async def require_session_home(self) -> rx.event.EventSpec:
        """On_load of "/": go to the profiles, or to sign-in."""
        if await self._authorize() is None:
            return rx.redirect("/login")
        return rx.redirect("/profiles")

    @rx.event
    async def require_admin(self) -> rx.event.EventSpec | None:
        """Page on_load guard for admin pages."""
        principal = await self._authorize()
        if principal is None:
            return rx.redirect("/login")
        if not principal.can(Role.ADMIN):
            return rx.redirect("/profiles")
        return None

    @rx.event
    async def redirect_if_signed_in(self) -> rx.event.EventSpec | None:
        """On_load of sign-in and sign-up: skip them for a live session."""
        token = accounts.token_from_cookie_header(self.router.headers.cookie)
        if token and await run_sync(accounts.resolve_session, token):
            return rx.redirect("/profiles")
        return None
