"""State of the audit log page: filters and keyset pages, for admins only.

The page's on_load sends anyone else away, and every handler re-checks the
session and the admin role against Postgres. Paging keeps the cursors of the
pages seen so far, so "previous" returns to exactly the rows shown before.
"""

from __future__ import annotations

import logging
from typing import Any

import reflex as rx

from ceramic_app.accounts.service import Principal
from ceramic_app.audit_queries import list_audit_entries
from ceramic_app.db import run_sync
from ceramic_app.models import Role
from ceramic_app.state import audit_view as view
from ceramic_app.state.base import AppState

logger = logging.getLogger(__name__)

PAGE_SIZE = 50
FILTER_NAMES = ("actor", "entity", "since", "until")


class AuditState(AppState):
    """One page of the audit log and the filters that select it."""

    entries: list[view.AuditRow] = []
    loading: bool = True
    error: str = ""
    filters: dict[str, str] = {
        "actor": "all",
        "entity": "all",
        "since": "",
        "until": "",
    }
    actor_options: list[dict[str, str]] = []
    page_number: int = 1
    has_next: bool = False

    _cursors: list[str | None] = [None]
    _next_cursor: str | None = None

    @rx.var
    def has_prev(self) -> bool:
        """Whether a previous page exists."""
        return self.page_number > 1

    @rx.var
    def filtered(self) -> bool:
        """Whether any filter is set."""
        return self.filters != {
            "actor": "all",
            "entity": "all",
            "since": "",
            "until": "",
        }

    async def _admin(self) -> Principal | None:
        return await self._authorize(Role.ADMIN)

    @rx.event
    async def load_page(self) -> Any:
        """On_load: load the actor list and the newest entries."""
        principal = await self._admin()
        if principal is None:
            app_state = await self.get_state(AppState)
            return rx.redirect("/profiles" if app_state.signed_in else "/login")
        self.loading = True
        self.actor_options = await run_sync(view.actor_choices, principal)
        await self._first_page(principal)
        return None

    @rx.event
    async def set_filter(self, name: str, value: str) -> Any:
        """Change one filter and show the first page of matching entries."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        if name not in FILTER_NAMES:
            return None
        self.filters[name] = str(value)[:40]
        await self._first_page(principal)
        return None

    @rx.event
    async def clear_filters(self) -> Any:
        """Remove every filter."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        self.filters = {"actor": "all", "entity": "all", "since": "", "until": ""}
        await self._first_page(principal)
        return None

    @rx.event
    async def next_page(self) -> Any:
        """Show the next (older) page."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        if self._next_cursor is None:
            return None
        cursors = [*self._cursors, self._next_cursor]
        if await self._load(principal, self._next_cursor):
            self._cursors = cursors
            self.page_number = len(cursors)
        return None

    @rx.event
    async def prev_page(self) -> Any:
        """Show the previous (newer) page."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        if len(self._cursors) < 2:
            return None
        cursors = self._cursors[:-1]
        if await self._load(principal, cursors[-1]):
            self._cursors = cursors
            self.page_number = len(cursors)
        return None

    async def _first_page(self, principal: Principal) -> None:
        self._cursors = [None]
        self.page_number = 1
        await self._load(principal, None)

    async def _load(self, principal: Principal, cursor: str | None) -> bool:
        actor_type, actor_id = view.parse_actor(self.filters.get("actor", ""))
        entity = self.filters.get("entity", "all")
        try:
            page = await run_sync(
                list_audit_entries,
                principal,
                actor_type=actor_type,
                actor_id=actor_id,
                entity_type=None if entity == "all" else entity,
                since=view.parse_day(self.filters.get("since", "")),
                until=view.parse_day(self.filters.get("until", ""), end=True),
                limit=PAGE_SIZE,
                cursor=cursor,
            )
        except ValueError:
            # A cursor from before a restart or a crafted one: start over.
            if cursor is None:
                raise
            await self._first_page(principal)
            return False
        except Exception:
            logger.exception(
                "loading the audit log failed in workspace %s", principal.workspace_id
            )
            self.error = (
                "The audit log could not be loaded. Check the connection and retry."
            )
            self.loading = False
            return False
        self.entries = view.audit_rows(page.entries)
        self._next_cursor = page.next_cursor
        self.has_next = page.next_cursor is not None
        self.error = ""
        self.loading = False
        return True

    @rx.event
    async def refresh(self) -> Any:
        """Reload the first page (the retry button)."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        await self._first_page(principal)
        return None
