"""State of the "New profile" dialog: e-mail, custom ID and the custom fields.

Members and admins only; every handler re-checks the session and role
against Postgres. Values are parsed here and validated by the profile
service, which reports one message per field.
"""

from __future__ import annotations

import logging
from typing import Any

import reflex as rx

from ceramic_app.accounts.service import Principal
from ceramic_app.db import run_sync
from ceramic_app.fields import service as fields
from ceramic_app.fields.errors import ValidationFailed
from ceramic_app.fields.typed import ConversionError
from ceramic_app.models import Role
from ceramic_app.profiles import service as profiles
from ceramic_app.state import profile_view as view
from ceramic_app.state.base import AppState

logger = logging.getLogger(__name__)

MAX_INPUT_CHARS = 110_000


class NewProfileState(AppState):
    """The new-profile form: its inputs, the field list and the errors per input."""

    dialog_open: bool = False
    inputs: list[view.InputRow] = []
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    saving: bool = False
    form_error: str = ""

    @rx.var
    def error_summary(self) -> str:
        """Count the inputs that need fixing, for the line beside the Create button."""
        count = len(self.errors)
        if count == 0:
            return ""
        noun = "value needs" if count == 1 else "values need"
        return f"{count} {noun} fixing; see the messages above."

    async def _member(self) -> Principal | None:
        return await self._authorize(Role.MEMBER)

    @rx.event
    async def open_dialog(self) -> Any:
        """Open an empty form with the workspace's current fields."""
        principal = await self._member()
        if principal is None:
            return await self._reject()
        definitions = await run_sync(fields.list_fields, principal)
        self.inputs = view.input_rows(definitions)
        self.values = {
            key: "" for key in ["email", "custom_id", *(r.key for r in self.inputs)]
        }
        self.errors = {}
        self.form_error = ""
        self.dialog_open = True
        return None

    @rx.event
    async def close_dialog(self, _open: bool = False) -> Any:
        """Close the form without creating anything."""
        if await self._member() is None:
            return await self._reject()
        self.dialog_open = False
        return None

    @rx.event
    async def set_value(self, key: str, value: str) -> Any:
        """Store one input of the form."""
        if await self._member() is None:
            return await self._reject()
        known = {"email", "custom_id"} | {row.key for row in self.inputs}
        if key in known:
            self.values[key] = str(value)[:MAX_INPUT_CHARS]
            self.errors = {k: v for k, v in self.errors.items() if k != key}
        return None

    @rx.event
    async def create(self) -> Any:
        """Create the profile and open its detail page, or show what to fix."""
        principal = await self._member()
        if principal is None:
            return await self._reject()
        attributes, errors = self._parsed()
        if errors:
            # Report every problem at once: the values that did parse are
            # checked against the rules too.
            checked = await run_sync(
                profiles.check_new_profile,
                principal,
                email=self.values.get("email", ""),
                custom_id=self.values.get("custom_id", "").strip() or None,
                attributes=attributes,
            )
            self.errors = {
                **{key: view.as_sentence(msg) for key, msg in checked.items()},
                **errors,
            }
            return None
        self.saving = True
        try:
            created = await run_sync(
                profiles.create_profile,
                principal,
                email=self.values.get("email", ""),
                custom_id=self.values.get("custom_id", "").strip() or None,
                attributes=attributes,
            )
        except ValidationFailed as exc:
            self.errors = {
                key: view.as_sentence(msg) for key, msg in exc.errors.items()
            }
            return None
        finally:
            self.saving = False
        self.dialog_open = False
        return [
            rx.redirect(f"/profiles/{created.id}"),
            rx.toast.success(f"Profile {created.email} was created."),
        ]

    def _parsed(self) -> tuple[dict[str, Any], dict[str, str]]:
        attributes: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for row in self.inputs:
            raw = self.values.get(row.key, "")
            try:
                value = view.parse_input(row.type, raw)
            except ConversionError as exc:
                errors[row.key] = view.as_sentence(str(exc))
                continue
            if value is not None:
                attributes[row.key] = value
        return attributes, errors
