"""State of the profiles table: one page of rows, columns, sort, search, paging.

The URL contains search (q), sort and order, the page number and the cursor
that produced the page, so a view can be shared and survives a reload.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import reflex as rx

from ceramic_app import live, tags
from ceramic_app.db import run_sync
from ceramic_app.models import Role
from ceramic_app.profiles import cells, columns, queries, sort_indexes
from ceramic_app.state.base import AppState

logger = logging.getLogger(__name__)

MAX_SEARCH_LENGTH = 200
MAX_CURSOR_LENGTH = 2_000
# A bulk change ("profiles.changed") reloads the page at most this often.
LIVE_REFRESH_SECONDS = 1.0
# How often a live listener re-checks that its session is still valid.
LIVE_SESSION_CHECK_SECONDS = 30.0
# Dates sort newest first by default, everything else A to Z.
_DESCENDING_BY_DEFAULT = {"created_at", "updated_at"}


def _column_view(column: columns.Column) -> dict[str, str]:
    return {
        "id": column.id,
        "label": column.label,
        "type": column.type,
        "key": column.field_key,
        "sortable": "1" if column.sortable else "",
    }


class ProfilesState(AppState):
    """One page of profiles; never more than a page is held in state."""

    rows: list[dict[str, Any]] = []
    total: int = 0
    total_is_estimate: bool = False
    search: str = ""
    # Id of the tag whose profiles are shown, or "" for every profile.
    tag_filter: str = ""
    tag_choices: list[dict[str, str]] = []
    sort: str = "created_at"
    descending: bool = True
    page_number: int = 1
    has_next: bool = False
    has_prev: bool = False
    loading: bool = True
    error: str = ""

    selected_ids: list[str] = []
    all_matching: bool = False

    all_columns: list[dict[str, str]] = []
    visible_ids: list[str] = list(columns.DEFAULT_COLUMNS)
    column_filter: str = ""

    _next_cursor: str | None = None
    _prev_cursor: str | None = None
    # The cursor that produced the current page, to reload it in place.
    _page_after: str | None = None
    _page_before: str | None = None
    _push_next_url: bool = False
    _tags_loaded: bool = False
    _listener_token: str = ""

    @rx.var
    def total_label(self) -> str:
        """The match count as shown above the table."""
        noun = "profile" if self.total == 1 else "profiles"
        prefix = "about " if self.total_is_estimate else ""
        return f"{prefix}{self.total:,} {noun}"

    @rx.var
    def is_empty_workspace(self) -> bool:
        """True when the workspace has no profiles at all (not just no matches)."""
        return (
            not self.loading
            and not self.error
            and self.total == 0
            and not self.search
            and not self.tag_filter
        )

    @rx.var
    def visible_columns(self) -> list[dict[str, str]]:
        """The shown columns, in the member's order."""
        by_id = {c["id"]: c for c in self.all_columns}
        return [by_id[i] for i in self.visible_ids if i in by_id]

    @rx.var
    def hidden_columns(self) -> list[dict[str, str]]:
        """Columns not shown whose label contains the popover's filter text."""
        shown = set(self.visible_ids)
        needle = self.column_filter.strip().lower()
        return [
            c
            for c in self.all_columns
            if c["id"] not in shown and needle in c["label"].lower()
        ]

    @rx.var
    def page_selected(self) -> bool:
        """Whether every row of the page is selected."""
        shown = {r["id"] for r in self.rows}
        return bool(shown) and shown <= set(self.selected_ids)

    @rx.var
    def selection_label(self) -> str:
        """The selection as shown in the bulk action bar."""
        if self.all_matching:
            return f"All {self.total_label} selected"
        return f"{len(self.selected_ids):,} selected"

    # Loading ---------------------------------------------------------------

    def _url(self) -> str:
        params: dict[str, str] = {}
        if self.search:
            params["q"] = self.search
        if self.tag_filter:
            params["tag"] = self.tag_filter
        if self.sort != "created_at" or not self.descending:
            params["sort"] = self.sort
            params["order"] = "desc" if self.descending else "asc"
        if self.page_number > 1:
            params["page"] = str(self.page_number)
            if self._page_after:
                params["after"] = self._page_after
            elif self._page_before:
                params["before"] = self._page_before
        query = urlencode(params)
        return "/profiles" + (f"?{query}" if query else "")

    def _replace_url(self) -> rx.event.EventSpec:
        # replaceState and pushState change the address bar without a
        # navigation, which would run on_load again and restart the live
        # listener. Paging and sorting push an entry so that Back returns to
        # the previous view; the search box replaces it, keystroke by keystroke.
        method = "pushState" if self._push_next_url else "replaceState"
        self._push_next_url = False
        url = json.dumps(self._url())
        return rx.call_script(
            f"if (window.location.pathname + window.location.search !== {url})"
            f" window.history.{method}(null, '', {url})"
        )

    async def _load(
        self, after: str | None = None, before: str | None = None
    ) -> list[rx.event.EventSpec] | rx.event.EventSpec | None:
        principal = await self._authorize()
        if principal is None:
            return await self._reject()
        self.loading = True
        try:
            available, visible = await run_sync(columns.load_visible_columns, principal)
            if not self._tags_loaded:
                # Once per page load, not per page of rows.
                choices = await run_sync(tags.tag_choices, principal)
                self.tag_choices = [
                    {"id": str(tag_id), "name": name, "color": color}
                    for tag_id, name, color in choices
                ]
                self._tags_loaded = True
            if self.tag_filter and self.tag_filter not in {
                c["id"] for c in self.tag_choices
            }:
                # The tag was deleted since the link was made.
                self.tag_filter = ""
            page = await self._fetch_page(principal, after, before)
        except queries.InvalidSort as exc:
            logger.info(
                "sort reset to Created in workspace %s: %s", principal.workspace_id, exc
            )
            self.sort, self.descending = "created_at", True
            self.page_number, after, before = 1, None, None
            page = await self._fetch_page(principal, None, None)
        except Exception:
            logger.exception(
                "loading profiles failed for workspace %s", principal.workspace_id
            )
            self.error = "Profiles could not be loaded. Check the connection and retry."
            self.loading = False
            return None
        if page is None:
            # The cursor did not belong to this sort: start from page 1.
            self.page_number, after, before = 1, None, None
            page = await self._fetch_page(principal, None, None)
        self.all_columns = [_column_view(c) for c in available]
        self.visible_ids = visible
        self._page_after, self._page_before = after, before
        self._show_page(page, available)
        return self._replace_url()

    async def _fetch_page(
        self, principal: Any, after: str | None, before: str | None
    ) -> queries.ProfilePage | None:
        try:
            return await run_sync(
                queries.list_profiles,
                principal,
                search=self.search,
                tag_ids=self._tag_ids(),
                sort=self.sort,
                descending=self.descending,
                after=after,
                before=before,
            )
        except queries.InvalidCursor:
            return None

    def _show_page(
        self, page: queries.ProfilePage, available: list[columns.Column]
    ) -> None:
        shown = {str(r.id) for r in page.rows}
        self.selected_ids = [i for i in self.selected_ids if i in shown]
        self.error = ""
        self.rows = [cells.row_cells(r, available) for r in page.rows]
        self.total = page.total
        self.total_is_estimate = page.total_is_estimate
        self._next_cursor = page.next_cursor
        self._prev_cursor = page.prev_cursor
        self.has_next = page.next_cursor is not None
        self.has_prev = page.prev_cursor is not None
        self.loading = False

    def _tag_ids(self) -> tuple[int, ...]:
        return (int(self.tag_filter),) if self.tag_filter.isdigit() else ()

    @rx.event
    async def load_page(self) -> Any:
        """On_load: read search, tag, sort, page and cursor from the URL and load."""
        params = self.router.url.query_parameters
        self.search = str(params.get("q", ""))[:MAX_SEARCH_LENGTH]
        self._tags_loaded = False
        tag = str(params.get("tag", ""))[:20]
        self.tag_filter = tag if tag.isdigit() else ""
        self.sort = str(params.get("sort", "created_at"))[:80]
        order = params.get("order")
        self.descending = (
            order == "desc" if order else self.sort in _DESCENDING_BY_DEFAULT
        )
        after = str(params.get("after", ""))[:MAX_CURSOR_LENGTH] or None
        before = None if after else str(params.get("before", ""))[:MAX_CURSOR_LENGTH]
        try:
            page = int(params.get("page", "1"))
        except ValueError:
            page = 1
        self.page_number = max(1, page) if (after or before) else 1
        return await self._load(after=after, before=before or None)

    @rx.event
    async def set_search(self, value: str) -> Any:
        """Filter by e-mail or custom ID prefix, from page 1."""
        self.all_matching = False
        self.search = str(value)[:MAX_SEARCH_LENGTH]
        self.page_number = 1
        return await self._load()

    @rx.event
    async def set_tag_filter(self, value: str) -> Any:
        """Show only the profiles with one tag ("all" shows every profile)."""
        value = str(value)[:20]
        self.tag_filter = value if value.isdigit() else ""
        self.all_matching = False
        self.page_number = 1
        self._push_next_url = True
        return await self._load()

    @rx.event
    async def sort_by(self, column_id: str) -> Any:
        """Sort by a column; the same column again reverses the order."""
        column_id = str(column_id)[:80]
        if column_id == self.sort:
            self.descending = not self.descending
        else:
            self.sort = column_id
            self.descending = column_id in _DESCENDING_BY_DEFAULT
        self.page_number = 1
        self._push_next_url = True
        return await self._load()

    @rx.event
    async def next_page(self) -> Any:
        """Show the page after the current one."""
        if not self._next_cursor:
            return None
        self.page_number += 1
        self._push_next_url = True
        return await self._load(after=self._next_cursor)

    @rx.event
    async def prev_page(self) -> Any:
        """Show the page before the current one."""
        if not self._prev_cursor:
            return None
        self.page_number = max(1, self.page_number - 1)
        self._push_next_url = True
        if self.page_number == 1:
            return await self._load()
        return await self._load(before=self._prev_cursor)

    @rx.event
    async def reload_current_page(self) -> Any:
        """Reload the page on screen in place, from the cursor that produced it."""
        return await self._load(after=self._page_after, before=self._page_before)

    @rx.event
    async def refresh(self) -> Any:
        """Reload the first page (after an import or a retry)."""
        self.page_number = 1
        return await self._load()

    # Selection -------------------------------------------------------------

    @rx.event
    async def toggle_row(self, profile_id: str, checked: bool) -> Any:
        """Select or unselect one row of the page."""
        if await self._authorize() is None:
            return await self._reject()
        profile_id = str(profile_id)
        self.all_matching = False
        rest = [i for i in self.selected_ids if i != profile_id]
        on_page = any(r["id"] == profile_id for r in self.rows)
        self.selected_ids = [*rest, profile_id] if checked and on_page else rest
        return None

    @rx.event
    async def toggle_page(self, checked: bool) -> Any:
        """Select or unselect every row of the page."""
        if await self._authorize() is None:
            return await self._reject()
        self.all_matching = False
        self.selected_ids = [r["id"] for r in self.rows] if checked else []
        return None

    @rx.event
    async def select_all_matching(self) -> Any:
        """Select every profile that matches the search, on every page."""
        if await self._authorize() is None:
            return await self._reject()
        self.selected_ids = [r["id"] for r in self.rows]
        self.all_matching = True
        return None

    @rx.event
    async def clear_selection(self) -> Any:
        """Unselect everything."""
        if await self._authorize() is None:
            return await self._reject()
        self.selected_ids = []
        self.all_matching = False
        return None

    # Columns ---------------------------------------------------------------

    async def _save_columns(self, column_ids: list[str]) -> Any:
        principal = await self._authorize()
        if principal is None:
            return await self._reject()
        try:
            self.visible_ids = await run_sync(
                columns.save_visible_columns, principal, column_ids
            )
        except columns.InvalidColumns as exc:
            logger.info(
                "column preference of user %s rejected: %s", principal.user_id, exc
            )
            return rx.toast.error(str(exc))
        return None

    @rx.event
    async def toggle_column(self, column_id: str, show: bool) -> Any:
        """Show or hide a column; the rows already hold its values."""
        updated = columns.toggle_column(self.visible_ids, str(column_id), bool(show))
        return await self._save_columns(updated)

    @rx.event
    async def move_column(self, column_id: str, offset: int) -> Any:
        """Move a shown column left (negative offset) or right."""
        updated = columns.move_column(
            self.visible_ids, str(column_id), max(-1, min(1, int(offset)))
        )
        return await self._save_columns(updated)

    @rx.event
    async def reset_columns(self) -> Any:
        """Go back to the default columns."""
        principal = await self._authorize()
        if principal is None:
            return await self._reject()
        self.visible_ids = await run_sync(columns.reset_visible_columns, principal)
        return None

    @rx.event
    async def set_column_filter(self, value: str) -> Any:
        """Filter the popover's hidden columns by label."""
        if await self._authorize() is None:
            return await self._reject()
        self.column_filter = str(value)[:100]
        return None

    # Live updates ----------------------------------------------------------

    @rx.event
    async def ensure_sort_indexes(self) -> None:
        """On_load of admins: queue a build of missing per-field sort indexes."""
        principal = await self._authorize(Role.ADMIN)
        if principal is None:
            return
        try:
            if await run_sync(
                sort_indexes.missing_sort_indexes, principal.workspace_id
            ):
                await run_sync(
                    sort_indexes.enqueue_sort_index_sync, principal.workspace_id
                )
        except Exception:
            logger.warning(
                "could not check sort indexes of workspace %s",
                principal.workspace_id,
                exc_info=True,
            )

    async def _reload_rows(self, principal: Any, profile_ids: list[int]) -> None:
        """Replace the shown rows of these profiles with fresh values.

        A profile that no longer exists is removed from the page.
        """
        fresh = await run_sync(queries.get_profile_rows, principal, profile_ids)
        available, _ = await run_sync(columns.load_visible_columns, principal)
        by_id = {str(r.id): cells.row_cells(r, available) for r in fresh}
        gone = {str(i) for i in profile_ids} - set(by_id)
        async with self:
            if self._listener_token:
                self.rows = [
                    by_id.get(r["id"], r) for r in self.rows if r["id"] not in gone
                ]

    async def _reload_page(self, principal: Any) -> None:
        async with self:
            after, before = self._page_after, self._page_before
        page = await self._fetch_page(principal, after, before)
        if page is None:
            return
        available, _ = await run_sync(columns.load_visible_columns, principal)
        async with self:
            if self._listener_token:
                self._show_page(page, available)

    @rx.event(background=True, supersedes=True)
    async def listen_live(self) -> None:
        """Apply changes made elsewhere to the shown rows, as they happen.

        Started by on_load; Reflex cancels it when the browser leaves the
        page. Two guards keep one listener per browser tab after a reconnect
        or a second on_load: supersedes=True makes Reflex cancel the older
        invocation, and the older one also stops once a newer one replaced
        _listener_token.
        """
        token = uuid.uuid4().hex
        async with self:
            principal = await self._authorize()
            if principal is None:
                return
            self._listener_token = token
        workspace_id = principal.workspace_id
        logger.info("live listener %s started for workspace %s", token, workspace_id)
        last_refresh = 0.0
        refresh_pending = False
        last_session_check = time.monotonic()
        try:
            async for message in live.subscribe(workspace_id, poll_seconds=0.5):
                async with self:
                    if self._listener_token != token:
                        return
                now = time.monotonic()
                if now - last_session_check > LIVE_SESSION_CHECK_SECONDS:
                    async with self:
                        principal = await self._authorize()
                    if principal is None or principal.workspace_id != workspace_id:
                        return
                    last_session_check = now
                event = (message or {}).get("event")
                if event == "profile.changed":
                    profile_id = str(message.get("profile_id", ""))
                    async with self:
                        shown = any(r["id"] == profile_id for r in self.rows)
                    if shown and profile_id.isdigit():
                        await self._reload_rows(principal, [int(profile_id)])
                elif event == "profiles.changed":
                    refresh_pending = True
                if refresh_pending and now - last_refresh >= LIVE_REFRESH_SECONDS:
                    refresh_pending = False
                    last_refresh = now
                    await self._reload_page(principal)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("live listener of workspace %s failed", workspace_id)
        finally:
            logger.info("live listener %s stopped", token)
            async with self:
                if self._listener_token == token:
                    self._listener_token = ""


class ProfileStubState(AppState):
    """The profile detail page until its full version lands: id and e-mail."""

    profile_id: str = ""
    profile_email: str = ""
    not_found: bool = False

    @rx.event
    async def load_profile(self) -> Any:
        """On_load: read the profile id from the path and show its e-mail."""
        principal = await self._authorize()
        if principal is None:
            return await self._reject()
        last_segment = self.router.url.path.rstrip("/").rsplit("/", 1)[-1]
        self.profile_id = last_segment if last_segment.isdigit() else ""
        rows = []
        if self.profile_id:
            rows = await run_sync(
                queries.get_profile_rows, principal, [int(self.profile_id)]
            )
        self.not_found = not rows
        self.profile_email = rows[0].email if rows else ""
        return None
