"""State of the profiles table: one page of rows, search and paging."""

from __future__ import annotations

import logging

import reflex as rx

from ceramic_app.db import run_sync
from ceramic_app.profiles import queries
from ceramic_app.state.base import AppState

logger = logging.getLogger(__name__)

MAX_SEARCH_LENGTH = 200


def _row_view(row: queries.ProfileRow) -> dict[str, str]:
    return {
        "id": str(row.id),
        "email": row.email,
        "custom_id": row.custom_id or "",
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


class ProfilesState(AppState):
    """One page of profiles; never more than a page is held in state."""

    rows: list[dict[str, str]] = []
    total: int = 0
    total_is_estimate: bool = False
    search: str = ""
    page_number: int = 1
    has_next: bool = False
    has_prev: bool = False
    loading: bool = True
    error: str = ""
    _next_cursor: str | None = None
    _prev_cursor: str | None = None

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
            not self.loading and not self.error and self.total == 0 and not self.search
        )

    async def _load(
        self, after: str | None = None, before: str | None = None
    ) -> rx.event.EventSpec | None:
        principal = await self._authorize()
        if principal is None:
            return await self._reject()
        self.loading = True
        try:
            page = await run_sync(
                queries.list_profiles,
                principal,
                search=self.search,
                after=after,
                before=before,
            )
        except queries.InvalidCursor:
            self.page_number = 1
            page = await run_sync(queries.list_profiles, principal, search=self.search)
        except Exception:
            logger.exception(
                "loading profiles failed for workspace %s", principal.workspace_id
            )
            self.error = "Profiles could not be loaded. Check the connection and retry."
            self.loading = False
            return None
        self.error = ""
        self.rows = [_row_view(r) for r in page.rows]
        self.total = page.total
        self.total_is_estimate = page.total_is_estimate
        self._next_cursor = page.next_cursor
        self._prev_cursor = page.prev_cursor
        self.has_next = page.next_cursor is not None
        self.has_prev = page.prev_cursor is not None
        self.loading = False
        return None

    @rx.event
    async def load_page(self) -> rx.event.EventSpec | None:
        """On_load: read the search from the URL and show the first page."""
        self.search = self.router.url.query_parameters.get("q", "")[:MAX_SEARCH_LENGTH]
        self.page_number = 1
        return await self._load()

    @rx.event
    async def set_search(self, value: str) -> rx.event.EventSpec | None:
        """Filter by e-mail or custom ID prefix, from page 1."""
        self.search = str(value)[:MAX_SEARCH_LENGTH]
        self.page_number = 1
        return await self._load()

    @rx.event
    async def next_page(self) -> rx.event.EventSpec | None:
        """Show the page after the current one."""
        if not self._next_cursor:
            return None
        self.page_number += 1
        return await self._load(after=self._next_cursor)

    @rx.event
    async def prev_page(self) -> rx.event.EventSpec | None:
        """Show the page before the current one."""
        if not self._prev_cursor:
            return None
        self.page_number = max(1, self.page_number - 1)
        return await self._load(before=self._prev_cursor)

    @rx.event
    async def refresh(self) -> rx.event.EventSpec | None:
        """Reload the first page (after an import or a retry)."""
        self.page_number = 1
        return await self._load()
