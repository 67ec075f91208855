"""State of the profile detail page at /profiles/[profile_id]: view, edit, tags, history.

Every role reads; members and admins edit. Each handler re-checks the
session and role against Postgres, because a browser can call any handler
with any arguments. Edits are optimistic: the page sends the updated_at it
read, and a ConflictError means someone else changed the profile first.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import datetime
from typing import Any

import reflex as rx

from ceramic_app import live, tags
from ceramic_app.accounts.service import Principal
from ceramic_app.db import run_sync
from ceramic_app.fields import service as fields
from ceramic_app.fields.errors import (
    ConflictError,
    FieldError,
    NotFound,
    ValidationFailed,
)
from ceramic_app.fields.typed import ConversionError
from ceramic_app.models import Role
from ceramic_app.profiles import service as profiles
from ceramic_app.profiles.service import ProfileView
from ceramic_app.state import profile_view as view
from ceramic_app.state.base import AppState
from ceramic_app.state.fields import parse_id

logger = logging.getLogger(__name__)

HISTORY_PAGE = 50
MAX_DRAFT_CHARS = 110_000
MAX_ITEMS = 1_000
SESSION_CHECK_SECONDS = 30.0
BUILTIN_EDITABLE = ("email", "custom_id")


class ProfileDetailState(AppState):
    """One profile with its values, tags, history and the open inline editor."""

    status: str = "loading"  # loading, ready, not_found, error
    shown_id: int = 0
    email: str = ""
    custom_id: str = ""
    created_at: str = ""
    updated_at: str = ""
    rows: list[view.ValueRow] = []
    profile_tags: list[dict[str, str]] = []
    workspace_tags: list[dict[str, str]] = []
    notice: str = ""

    editing_key: str = ""
    draft_text: str = ""
    draft_items: list[str] = []
    draft_item_input: str = ""
    errors: dict[str, str] = {}
    saving: bool = False

    tab: str = "fields"
    history: list[view.HistoryRow] = []
    history_loaded: bool = False
    history_loading: bool = False
    history_has_more: bool = False

    _version: datetime | None = None
    _draft_version: datetime | None = None
    _attributes: dict[str, Any] = {}
    _labels: dict[str, str] = {}
    _types: dict[str, str] = {}
    _history_cursor: str | None = None
    _listener: str = ""

    @rx.var
    def available_tags(self) -> list[dict[str, str]]:
        """Workspace tags that this profile does not carry yet."""
        present = {tag["id"] for tag in self.profile_tags}
        return [tag for tag in self.workspace_tags if tag["id"] not in present]

    @rx.var
    def editing_type(self) -> str:
        """Type of the value being edited ("text" for e-mail and custom ID)."""
        return self._types.get(self.editing_key, "text")

    # --- loading -------------------------------------------------------------------

    @rx.event
    async def load_page(self) -> Any:
        """On_load: read the id from the path, load the profile and follow changes."""
        principal = await self._authorize()
        if principal is None:
            return rx.redirect("/login")
        self._reset_page()
        raw = self.router.page.params.get("profile_id", "")
        target = parse_id(raw if isinstance(raw, str) else "")
        if target is None:
            self.status = "not_found"
            return None
        self.shown_id = target
        await self._load(principal)
        if self.status != "ready":
            return None
        return ProfileDetailState.listen

    def _reset_page(self) -> None:
        self.status = "loading"
        self.shown_id = 0
        self.notice = ""
        self.editing_key = ""
        self.errors = {}
        self.tab = "fields"
        self.history = []
        self.history_loaded = False
        self.history_has_more = False
        self._history_cursor = None

    async def _load(self, principal: Principal) -> None:
        try:
            profile = await run_sync(profiles.get_profile, principal, self.shown_id)
            definitions = await run_sync(fields.list_fields, principal)
            workspace_tags = await run_sync(tags.list_tags, principal)
        except NotFound:
            self.status = "not_found"
            return
        except Exception:
            logger.exception(
                "loading profile %s of workspace %s failed",
                self.shown_id,
                principal.workspace_id,
            )
            self.status = "error"
            return
        self._labels = {d.key: d.label for d in definitions}
        self._types = {d.key: d.type.value for d in definitions}
        self.rows = view.value_rows(definitions, profile.attributes)
        self.workspace_tags = [
            {"id": str(t.id), "name": t.name, "color": t.color} for t in workspace_tags
        ]
        self._show_profile(profile)
        self.status = "ready"

    def _show_profile(self, profile: ProfileView) -> None:
        self.email = profile.email
        self.custom_id = profile.custom_id or ""
        self.created_at = profile.created_at.isoformat()
        self.updated_at = profile.updated_at.isoformat()
        self._version = profile.updated_at
        self._attributes = dict(profile.attributes)
        self.profile_tags = [
            {"id": str(t.id), "name": t.name, "color": t.color} for t in profile.tags
        ]

    @rx.event
    async def reload(self) -> Any:
        """Reload the profile and its history (the retry button)."""
        principal = await self._authorize()
        if principal is None:
            return await self._reject()
        await self._load(principal)
        if self.history_loaded:
            await self._load_history(principal, reset=True)
        return None

    # --- live updates --------------------------------------------------------------

    @rx.event(background=True, supersedes=True)
    async def listen(self) -> None:
        """Reload when this profile changes elsewhere, until the page goes away.

        Started by on_load. It stops when a newer listener of the same tab
        starts (supersedes=True cancels it, and the token check stops it),
        when the tab shows another page, or when the session ends.
        """
        token = uuid.uuid4().hex
        async with self:
            principal = await self._authorize()
            if principal is None:
                return
            self._listener = token
            watched = self.shown_id
        logger.info("profile listener %s started for profile %s", token, watched)
        last_session_check = time.monotonic()
        try:
            async for message in live.subscribe(
                principal.workspace_id, poll_seconds=1.0
            ):
                async with self:
                    # Stop when replaced, or when the tab moved to another page.
                    on_page = self.router.url.path.rstrip("/") == f"/profiles/{watched}"
                    if self._listener != token or not on_page:
                        return
                if time.monotonic() - last_session_check > SESSION_CHECK_SECONDS:
                    async with self:
                        if await self._authorize() is None:
                            return
                    last_session_check = time.monotonic()
                if not _concerns(message, watched):
                    continue
                await self._refresh_from_live(principal, watched)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("profile page listener of profile %s failed", watched)
        finally:
            logger.info("profile listener %s stopped", token)

    async def _refresh_from_live(self, principal: Principal, profile_id: int) -> None:
        try:
            profile = await run_sync(profiles.get_profile, principal, profile_id)
            definitions = await run_sync(fields.list_fields, principal)
        except NotFound:
            async with self:
                self.status = "not_found"
            return
        async with self:
            if self.shown_id != profile.id:
                return
            changed = profile.updated_at != self._version
            self.rows = view.value_rows(definitions, profile.attributes)
            self._labels = {d.key: d.label for d in definitions}
            self._types = {d.key: d.type.value for d in definitions}
            self._show_profile(profile)
            if changed and self.editing_key:
                self.notice = (
                    "Someone else changed this profile while you were editing."
                    " Saving your change will ask you to apply it again."
                )
            reload_history = self.history_loaded
            labels = dict(self._labels)
        if reload_history:
            page = await _fetch_history(principal, profile.id, None, labels)
            if page is not None:
                async with self:
                    self._apply_history(*page, reset=True)

    # --- tabs and history ----------------------------------------------------------

    @rx.event
    async def set_tab(self, tab: str) -> Any:
        """Switch between the fields and the history; history loads on first view."""
        principal = await self._authorize()
        if principal is None:
            return await self._reject()
        if tab not in ("fields", "history"):
            return None
        self.tab = tab
        if tab == "history" and not self.history_loaded:
            await self._load_history(principal, reset=True)
        return None

    @rx.event
    async def load_more_history(self) -> Any:
        """Append the next page of history."""
        principal = await self._authorize()
        if principal is None:
            return await self._reject()
        if self._history_cursor:
            await self._load_history(principal, reset=False)
        return None

    async def _load_history(self, principal: Principal, *, reset: bool) -> None:
        cursor = None if reset else self._history_cursor
        page = await _fetch_history(principal, self.shown_id, cursor, self._labels)
        if page is not None:
            self._apply_history(*page, reset=reset)

    def _apply_history(
        self, rows: list[view.HistoryRow], cursor: str | None, *, reset: bool
    ) -> None:
        self.history = rows if reset else [*self.history, *rows]
        self._history_cursor = cursor
        self.history_has_more = cursor is not None
        self.history_loaded = True

    # --- editing -------------------------------------------------------------------

    def _editable(self, key: str) -> bool:
        if key in BUILTIN_EDITABLE:
            return True
        return any(row.key == key and row.editable for row in self.rows)

    @rx.event
    async def start_edit(self, key: str) -> Any:
        """Open the inline editor of one value."""
        if await self._authorize(Role.MEMBER) is None:
            return await self._reject()
        key = str(key)
        if not self._editable(key):
            return None
        if key == "email":
            self.draft_text = self.email
        elif key == "custom_id":
            self.draft_text = self.custom_id
        else:
            value = self._attributes.get(key)
            self.draft_text = view.editor_text(self._types[key], value)
            self.draft_items = (
                [str(item) for item in value] if isinstance(value, list) else []
            )
        self.draft_item_input = ""
        self.editing_key = key
        self.errors = {k: v for k, v in self.errors.items() if k != key}
        self.notice = ""
        self._draft_version = self._version
        return None

    @rx.event
    async def cancel_edit(self) -> Any:
        """Close the inline editor without saving."""
        if await self._authorize(Role.MEMBER) is None:
            return await self._reject()
        self.errors = {k: v for k, v in self.errors.items() if k != self.editing_key}
        self.editing_key = ""
        return None

    @rx.event
    async def set_draft_text(self, value: str) -> Any:
        """Store the editor's text."""
        if await self._authorize(Role.MEMBER) is None:
            return await self._reject()
        self.draft_text = str(value)[:MAX_DRAFT_CHARS]
        return None

    @rx.event
    async def set_draft_item_input(self, value: str) -> Any:
        """Store the text of the list item being typed."""
        if await self._authorize(Role.MEMBER) is None:
            return await self._reject()
        self.draft_item_input = str(value)[:MAX_DRAFT_CHARS]
        return None

    @rx.event
    async def add_draft_item(self) -> Any:
        """Add the typed item to the list being edited."""
        if await self._authorize(Role.MEMBER) is None:
            return await self._reject()
        item = self.draft_item_input.strip()
        if item and len(self.draft_items) < MAX_ITEMS:
            self.draft_items = [*self.draft_items, item]
        self.draft_item_input = ""
        return None

    @rx.event
    async def editor_key_down(self, key: str) -> Any:
        """Save on Enter and close the editor on Escape, as in a spreadsheet."""
        if key == "Enter":
            return ProfileDetailState.save_edit
        if key == "Escape":
            return ProfileDetailState.cancel_edit
        return None

    @rx.event
    async def item_key_down(self, key: str) -> Any:
        """Add the typed item when Enter is pressed in the item input."""
        if key == "Enter":
            return ProfileDetailState.add_draft_item
        return None

    @rx.event
    async def remove_draft_item(self, index: int) -> Any:
        """Remove one item from the list being edited."""
        if await self._authorize(Role.MEMBER) is None:
            return await self._reject()
        try:
            position = int(index)
        except (TypeError, ValueError):
            return None
        if 0 <= position < len(self.draft_items):
            self.draft_items = [
                item for i, item in enumerate(self.draft_items) if i != position
            ]
        return None

    @rx.event
    async def save_edit(self) -> Any:
        """Validate and save the value in the inline editor."""
        principal = await self._authorize(Role.MEMBER)
        if principal is None:
            return await self._reject()
        key = self.editing_key
        if not key or not self._editable(key):
            return None
        try:
            value = self._draft_value(key)
        except ConversionError as exc:
            self.errors = {**self.errors, key: str(exc)}
            return None
        return await self._write(principal, key, value, self._draft_version)

    def _draft_value(self, key: str) -> Any:
        if key == "email":
            return self.draft_text
        if key == "custom_id":
            return self.draft_text.strip() or None
        kind = self._types.get(key, "text")
        if kind == "array":
            pending = self.draft_item_input.strip()
            items = [*self.draft_items, pending] if pending else list(self.draft_items)
            return items or None
        if (
            kind == "date"
            and not self.draft_text.strip()
            and self._attributes.get(key) is not None
        ):
            # A browser date input reports a half-typed or impossible date
            # (2021-02-30) as empty, so an empty Save must not clear the value.
            raise ConversionError(
                "The date is incomplete or does not exist. Enter a full date,"
                " or use Clear value to remove it."
            )
        return view.parse_input(kind, self.draft_text)

    @rx.event
    async def set_boolean(self, key: str, value: bool) -> Any:
        """Save a yes/no field as soon as its switch is flipped."""
        principal = await self._authorize(Role.MEMBER)
        if principal is None:
            return await self._reject()
        key = str(key)
        if not self._editable(key) or self._types.get(key) != "boolean":
            return None
        return await self._write(principal, key, bool(value), self._version)

    @rx.event
    async def clear_value(self, key: str) -> Any:
        """Remove one value from the profile."""
        principal = await self._authorize(Role.MEMBER)
        if principal is None:
            return await self._reject()
        key = str(key)
        if key == "email" or not self._editable(key):
            return None
        return await self._write(principal, key, None, self._version)

    async def _write(
        self, principal: Principal, key: str, value: Any, version: datetime | None
    ) -> Any:
        self.saving = True
        try:
            profile = await run_sync(
                profiles.update_profile,
                principal,
                self.shown_id,
                {key: value},
                expected_updated_at=version,
            )
        except ValidationFailed as exc:
            message = exc.errors.get(key) or "; ".join(exc.errors.values())
            self.errors = {**self.errors, key: view.as_sentence(message)}
            return None
        except ConflictError:
            self.editing_key = ""
            await self._load(principal)
            self.notice = (
                "Someone else changed this profile after you opened it, so your"
                " change was not saved. The page shows the current values now;"
                " apply your change again."
            )
            return rx.toast.warning("This profile was changed by someone else.")
        except NotFound:
            self.status = "not_found"
            return None
        finally:
            self.saving = False
        self.errors = {k: v for k, v in self.errors.items() if k != key}
        self.editing_key = ""
        self.notice = ""
        self._show_profile(profile)
        self.rows = view.refresh_values(self.rows, self._attributes)
        if self.history_loaded:
            await self._load_history(principal, reset=True)
        return None

    # --- tags ----------------------------------------------------------------------

    @rx.event
    async def add_tag(self, tag_id: str) -> Any:
        """Put a tag on this profile."""
        return await self._change_tag(tag_id, adding=True)

    @rx.event
    async def remove_tag(self, tag_id: str) -> Any:
        """Take a tag off this profile."""
        return await self._change_tag(tag_id, adding=False)

    async def _change_tag(self, tag_id: Any, *, adding: bool) -> Any:
        principal = await self._authorize(Role.MEMBER)
        if principal is None:
            return await self._reject()
        target = parse_id(tag_id)
        if target is None:
            return None
        change = tags.add_tags if adding else tags.remove_tags
        try:
            await run_sync(change, principal, [self.shown_id], [target])
            profile = await run_sync(profiles.get_profile, principal, self.shown_id)
        except (NotFound, FieldError) as exc:
            return rx.toast.error(str(exc))
        self._show_profile(profile)
        if self.history_loaded:
            await self._load_history(principal, reset=True)
        return None


async def _fetch_history(
    principal: Principal, profile_id: int, cursor: str | None, labels: dict[str, str]
) -> tuple[list[view.HistoryRow], str | None] | None:
    try:
        page = await run_sync(
            profiles.list_history,
            principal,
            profile_id,
            limit=HISTORY_PAGE,
            cursor=cursor,
        )
    except (NotFound, ValueError):
        return None
    return view.history_rows(page.entries, labels), page.next_cursor


def _concerns(message: dict[str, Any] | None, profile_id: int) -> bool:
    if not message:
        return False
    if message.get("event") == "profiles.changed":
        return True
    return message.get("event") == "profile.changed" and str(
        message.get("profile_id")
    ) == str(profile_id)
