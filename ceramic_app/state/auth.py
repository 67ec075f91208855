"""State of the sign-in and sign-up pages: messages from the redirect URL."""

from __future__ import annotations

import reflex as rx

from ceramic_app.accounts import service as accounts
from ceramic_app.state.base import AppState


class AuthFormState(AppState):
    """Error message and kept field values after a rejected form post."""

    error: str = ""
    notice: str = ""
    email: str = ""
    name: str = ""
    workspace: str = ""

    @rx.event
    async def load_form(self) -> rx.event.EventSpec | None:
        """Read error and kept values from the query string; skip if signed in."""
        params = self.router.url.query_parameters
        self.email = params.get("email", "")[:254]
        self.name = params.get("name", "")[:120]
        self.workspace = params.get("workspace", "")[:120]
        self.error = accounts.error_message(params.get("error", ""), self.email)
        self.notice = "You are signed out." if params.get("signed_out") else ""
        return await self.redirect_if_signed_in()
