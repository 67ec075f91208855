"""State of the tags page: list tags with counts; admins create, rename, recolour, delete.

Each handler re-checks the session and role against Postgres.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import reflex as rx

from ceramic_app import tags
from ceramic_app.accounts.service import Principal
from ceramic_app.db import run_sync
from ceramic_app.fields.errors import FieldError, NotFound
from ceramic_app.models import Role
from ceramic_app.state.base import AppState
from ceramic_app.state.fields import parse_id

logger = logging.getLogger(__name__)

MAX_NAME_CHARS = 100


@dataclasses.dataclass
class TagRow:
    """A tag with the number of profiles that carry it."""

    id: int = 0
    name: str = ""
    color: str = "gray"
    profile_count: int = 0
    count_label: str = ""


def _row(view: tags.TagView) -> TagRow:
    noun = "profile" if view.profile_count == 1 else "profiles"
    return TagRow(
        id=view.id,
        name=view.name,
        color=view.color,
        profile_count=view.profile_count,
        count_label=f"{view.profile_count:,} {noun}",
    )


class TagsState(AppState):
    """The workspace's tags and the create, edit and delete forms."""

    rows: list[TagRow] = []
    loading: bool = True
    error: str = ""

    new_name: str = ""
    new_color: str = "blue"
    create_error: str = ""

    editing_id: int = 0
    edit_name: str = ""
    edit_color: str = "gray"
    edit_error: str = ""

    delete_open: bool = False
    delete_id: int = 0
    delete_name: str = ""
    delete_count_label: str = ""

    async def _admin(self) -> Principal | None:
        return await self._authorize(Role.ADMIN)

    @rx.event
    async def load_page(self) -> Any:
        """On_load: list the tags."""
        principal = await self._authorize()
        if principal is None:
            return rx.redirect("/login")
        self.loading = True
        self.editing_id = 0
        await self._load(principal)
        return None

    @rx.event
    async def refresh(self) -> Any:
        """Reload the list (the retry button)."""
        principal = await self._authorize()
        if principal is None:
            return await self._reject()
        await self._load(principal)
        return None

    async def _load(self, principal: Principal) -> None:
        try:
            views = await run_sync(tags.list_tags, principal)
        except Exception:
            logger.exception(
                "loading tags failed in workspace %s", principal.workspace_id
            )
            self.error = "The tags could not be loaded. Check the connection and retry."
            self.loading = False
            return
        self.rows = [_row(view) for view in views]
        self.error = ""
        self.loading = False

    # --- create --------------------------------------------------------------------

    @rx.event
    async def set_new_name(self, value: str) -> Any:
        """Store the name of the tag to create."""
        if await self._admin() is None:
            return await self._reject()
        self.new_name = str(value)[:MAX_NAME_CHARS]
        self.create_error = ""
        return None

    @rx.event
    async def set_new_color(self, value: str) -> Any:
        """Store the colour of the tag to create."""
        if await self._admin() is None:
            return await self._reject()
        if value in tags.PALETTE:
            self.new_color = value
        return None

    @rx.event
    async def create(self) -> Any:
        """Create the tag."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        try:
            view = await run_sync(
                tags.create_tag, principal, self.new_name, self.new_color
            )
        except FieldError as exc:
            self.create_error = str(exc)
            return None
        self.new_name = ""
        self.create_error = ""
        await self._load(principal)
        return rx.toast.success(f"Tag {view.name} was created.")

    # --- rename and recolour -------------------------------------------------------

    @rx.event
    async def start_edit(self, tag_id: Any) -> Any:
        """Open the inline editor of one tag."""
        if await self._admin() is None:
            return await self._reject()
        target = parse_id(tag_id)
        row = next((r for r in self.rows if r.id == target), None)
        if row is None:
            return None
        self.editing_id = row.id
        self.edit_name = row.name
        self.edit_color = row.color
        self.edit_error = ""
        return None

    @rx.event
    async def cancel_edit(self) -> Any:
        """Close the inline editor without saving."""
        if await self._admin() is None:
            return await self._reject()
        self.editing_id = 0
        return None

    @rx.event
    async def set_edit_name(self, value: str) -> Any:
        """Store the new name of the tag being edited."""
        if await self._admin() is None:
            return await self._reject()
        self.edit_name = str(value)[:MAX_NAME_CHARS]
        return None

    @rx.event
    async def set_edit_color(self, value: str) -> Any:
        """Store the new colour of the tag being edited."""
        if await self._admin() is None:
            return await self._reject()
        if value in tags.PALETTE:
            self.edit_color = value
        return None

    @rx.event
    async def save_edit(self) -> Any:
        """Rename and recolour the tag being edited."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        try:
            await run_sync(
                tags.update_tag,
                principal,
                self.editing_id,
                name=self.edit_name,
                color=self.edit_color,
            )
        except (FieldError, NotFound) as exc:
            self.edit_error = str(exc)
            return None
        self.editing_id = 0
        await self._load(principal)
        return None

    # --- delete --------------------------------------------------------------------

    @rx.event
    async def ask_delete(self, tag_id: Any) -> Any:
        """Ask for confirmation before deleting a tag."""
        if await self._admin() is None:
            return await self._reject()
        target = parse_id(tag_id)
        row = next((r for r in self.rows if r.id == target), None)
        if row is None:
            return None
        self.delete_id = row.id
        self.delete_name = row.name
        self.delete_count_label = row.count_label
        self.delete_open = True
        return None

    @rx.event
    async def set_delete_open(self, value: bool) -> Any:
        """Close the delete confirmation (or keep it open)."""
        if await self._admin() is None:
            return await self._reject()
        self.delete_open = bool(value) and self.delete_id > 0
        return None

    @rx.event
    async def confirm_delete(self) -> Any:
        """Delete the tag and take it off every profile."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        self.delete_open = False
        try:
            await run_sync(tags.delete_tag, principal, self.delete_id)
        except NotFound as exc:
            return rx.toast.error(str(exc))
        await self._load(principal)
        return rx.toast.success(f"Tag {self.delete_name} was deleted.")
