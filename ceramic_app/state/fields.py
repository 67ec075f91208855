"""State of Settings > Fields: the field list, value stats, type changes and deletion.

Admins only: the page's on_load sends anyone else away, and every handler
below re-checks the session and the admin role against Postgres, because a
browser can call any handler with any arguments. Creating and editing a field
live in FieldEditorState (state/field_editor.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from typing import Any

import reflex as rx

from ceramic_app import field_jobs, live
from ceramic_app.accounts.service import PermissionDenied, Principal
from ceramic_app.db import run_sync
from ceramic_app.fields import service as fields
from ceramic_app.fields.errors import FieldError, NotFound
from ceramic_app.fields.validation import FieldDef
from ceramic_app.models import Role
from ceramic_app.state import field_view as view
from ceramic_app.state.base import AppState

logger = logging.getLogger(__name__)

# While a job runs, re-read the job rows this often even without live events,
# because a lost pub/sub message must not freeze the progress bar.
JOB_POLL_SECONDS = 3.0
SESSION_CHECK_SECONDS = 30.0
# The background job runner reports the end of a job as a "job.progress"
# event with one of these statuses.
FINAL_STATUSES = ("completed", "failed", "cancelled")


def parse_id(value: Any) -> int | None:
    """Return value as a positive id, or None for anything else a browser sends."""
    try:
        number = int(str(value))
    except ValueError:
        return None
    return number if 0 < number < 2**63 else None


@dataclasses.dataclass(frozen=True)
class _Listing:
    definitions: list[FieldDef]
    builtins: view.BuiltinStats
    jobs: dict[int, field_jobs.FieldJob]


class FieldsState(AppState):
    """The workspace's fields with stats, and the type-change and delete dialogs."""

    rows: list[view.FieldRow] = []
    loading: bool = True
    error: str = ""

    type_open: bool = False
    type_field_id: int = 0
    type_field_label: str = ""
    type_from: str = ""
    type_target: str = ""
    type_checking: bool = False
    type_checked: bool = False
    type_lines: list[str] = []
    type_examples: list[view.ExampleRow] = []
    type_blocked: str = ""
    type_error: str = ""
    type_starting: bool = False

    delete_open: bool = False
    delete_field_id: int = 0
    delete_key: str = ""
    delete_label: str = ""
    delete_loading: bool = False
    delete_references: list[view.ReferenceRow] = []
    delete_dependents: list[str] = []
    delete_values_label: str = ""
    delete_confirm_text: str = ""
    delete_error: str = ""
    delete_starting: bool = False

    _listener: str = ""

    @rx.var
    def custom_count(self) -> int:
        """Number of custom (not built-in) fields."""
        return sum(1 for row in self.rows if not row.builtin)

    @rx.var
    def type_choices(self) -> list[str]:
        """Types the open field can change to."""
        return [t for t in view.FIELD_TYPES if t != self.type_from]

    @rx.var
    def type_from_label(self) -> str:
        """Name of the open field's current type."""
        return view.type_label(self.type_from)

    @rx.var
    def delete_confirmed(self) -> bool:
        """Whether the admin typed the field key to confirm deletion."""
        return self.delete_confirm_text.strip() == self.delete_key != ""

    async def _admin(self) -> Principal | None:
        return await self._authorize(Role.ADMIN)

    # --- loading -------------------------------------------------------------------

    @rx.event
    async def load_page(self) -> Any:
        """On_load: show the fields, then fill in stats and follow running jobs."""
        principal = await self._admin()
        if principal is None:
            app_state = await self.get_state(AppState)
            return rx.redirect("/profiles" if app_state.signed_in else "/login")
        self.loading = True
        self.type_open = False
        self.delete_open = False
        await self._load_rows(principal)
        return [FieldsState.load_stats, FieldsState.listen]

    @rx.event
    async def refresh(self) -> Any:
        """Reload the list (after an edit, or the retry button)."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        await self._load_rows(principal)
        return FieldsState.load_stats

    async def _load_rows(self, principal: Principal) -> None:
        self._show_rows(await self._fetch_rows(principal))

    async def _fetch_rows(self, principal: Principal) -> _Listing | None:
        try:
            definitions = await run_sync(fields.list_fields, principal)
            builtins = await run_sync(view.builtin_stats, principal)
            jobs = await run_sync(field_jobs.latest_jobs, principal)
        except Exception:
            logger.exception(
                "loading fields failed in workspace %s", principal.workspace_id
            )
            return None
        return _Listing(definitions, builtins, jobs)

    def _show_rows(self, listing: _Listing | None) -> None:
        self.loading = False
        if listing is None:
            self.error = (
                "The fields could not be loaded. Check the connection and retry."
            )
            return
        previous = {row.id: row for row in self.rows if not row.builtin}
        rows = view.builtin_rows(listing.builtins)
        for definition in listing.definitions:
            row = view.field_row(definition)
            old = previous.get(definition.id)
            if old is not None and old.stats_loaded:
                row = view.copy_stats(row, old)
            rows.append(view.apply_job(row, listing.jobs.get(definition.id)))
        self.rows = rows
        self.error = ""

    @rx.event(background=True)
    async def load_stats(self) -> None:
        """Fill in each field's value count and example, one field at a time.

        Counting reads every profile of a large workspace, so the list shows
        first and the counts follow.
        """
        async with self:
            principal = await self._admin()
            if principal is None:
                return
            field_ids = [row.id for row in self.rows if not row.builtin]
        for field_id in field_ids:
            try:
                stats = await run_sync(fields.field_stats, principal, field_id)
            except NotFound:
                continue
            except Exception:
                logger.exception(
                    "stats of field %s in workspace %s failed",
                    field_id,
                    principal.workspace_id,
                )
                continue
            async with self:
                self._replace_row(
                    field_id, lambda row, s=stats: view.apply_stats(row, s)
                )

    @rx.event
    async def count_exactly(self, field_id: Any) -> Any:
        """Replace an estimated value count with an exact one."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        target = parse_id(field_id)
        if target is None:
            return None
        try:
            stats = await run_sync(fields.field_stats, principal, target, exact=True)
        except NotFound:
            return rx.toast.error("This field no longer exists; the list was reloaded.")
        self._replace_row(target, lambda row: view.apply_stats(row, stats))
        return None

    def _replace_row(self, field_id: int, change: Any) -> None:
        self.rows = [
            change(row) if row.id == field_id and not row.builtin else row
            for row in self.rows
        ]

    # --- live job progress ---------------------------------------------------------

    @rx.event(background=True, supersedes=True)
    async def listen(self) -> Any:
        """Follow field jobs on the workspace channel until the page goes away.

        Started by on_load. It stops when a newer listener of the same tab
        starts (supersedes=True cancels it, and the token check stops it),
        when the tab shows another page, or when the session ends.
        """
        token = uuid.uuid4().hex
        async with self:
            principal = await self._admin()
            if principal is None:
                return
            self._listener = token
        logger.info(
            "field page listener %s started for workspace %s",
            token,
            principal.workspace_id,
        )
        last_poll = last_session_check = time.monotonic()
        try:
            async for message in live.subscribe(
                principal.workspace_id, poll_seconds=1.0
            ):
                async with self:
                    # Stop when replaced, or when the tab moved to another page.
                    if self._listener != token or not self._on_page():
                        return
                now = time.monotonic()
                if now - last_session_check > SESSION_CHECK_SECONDS:
                    async with self:
                        if await self._admin() is None:
                            return
                    last_session_check = now
                event = (message or {}).get("event")
                if event == "job.progress" and message.get("status") in FINAL_STATUSES:
                    outcome = await self._finish_job(principal, message)
                    if outcome is not None:
                        yield outcome
                elif event == "job.progress":
                    async with self:
                        known = self._apply_progress(message or {})
                    if not known:
                        await self._reload_jobs(principal)
                elif now - last_poll > JOB_POLL_SECONDS:
                    last_poll = now
                    async with self:
                        running = any(row.job_running for row in self.rows)
                    if running:
                        await self._reload_jobs(principal)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception(
                "field page listener of workspace %s failed", principal.workspace_id
            )
        finally:
            logger.info("field page listener %s stopped", token)

    def _on_page(self) -> bool:
        return self.router.url.path.rstrip("/") == "/settings/fields"

    def _apply_progress(self, message: dict[str, Any]) -> bool:
        job_id = parse_id(message.get("job_id"))
        for index, row in enumerate(self.rows):
            if job_id is not None and row.job_id == job_id and row.job_running:
                done = int(message.get("done") or 0)
                total = message.get("total")
                updated = list(self.rows)
                updated[index] = dataclasses.replace(
                    row,
                    job_percent=view.progress_percent(done, total),
                    job_label=view.progress_label(row.job_verb, done, total),
                )
                self.rows = updated
                return True
        return False

    async def _reload_jobs(self, principal: Principal) -> None:
        jobs = await run_sync(field_jobs.latest_jobs, principal)
        async with self:
            self.rows = [
                row if row.builtin else view.apply_job(row, jobs.get(row.id))
                for row in self.rows
            ]

    async def _finish_job(
        self, principal: Principal, message: dict[str, Any]
    ) -> rx.event.EventSpec | None:
        """Reload the list after a job ended; return a toast with its outcome if shown."""
        job_id = parse_id(message.get("job_id"))
        async with self:
            shown = [row for row in self.rows if job_id and row.job_id == job_id]
        listing = await self._fetch_rows(principal)
        async with self:
            self._show_rows(listing)
        if not shown:
            return None
        row = shown[0]
        try:
            stats = await run_sync(fields.field_stats, principal, row.id)
        except NotFound:
            stats = None
        if stats is not None:
            async with self:
                self._replace_row(row.id, lambda r: view.apply_stats(r, stats))
        try:
            job = await run_sync(field_jobs.get_job, principal, row.job_id)
        except NotFound:
            return None
        succeeded, text = view.job_outcome(job, row.label)
        return rx.toast.success(text) if succeeded else rx.toast.error(text)

    @rx.event
    async def resume_job(self, field_id: Any) -> Any:
        """Start a field's stopped or failed job again."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        target = parse_id(field_id)
        if target is None:
            return None
        try:
            await run_sync(field_jobs.resume_field_job, principal, target)
        except (FieldError, NotFound) as exc:
            return rx.toast.error(str(exc))
        await self._load_rows(principal)
        return rx.toast.success("The job was started again.")

    # --- type change ---------------------------------------------------------------

    @rx.event
    async def open_type_change(self, field_id: Any) -> Any:
        """Open the type dialog for a field."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        target = parse_id(field_id)
        if target is None:
            return None
        try:
            definition = await run_sync(fields.get_field, principal, target)
        except NotFound as exc:
            return rx.toast.error(str(exc))
        self.type_field_id = definition.id
        self.type_field_label = definition.label
        self.type_from = definition.type.value
        self.type_target = ""
        self.type_checked = False
        self.type_lines = []
        self.type_examples = []
        self.type_blocked = ""
        self.type_error = ""
        self.type_open = True
        return None

    @rx.event
    async def close_type_change(self, _open: bool = False) -> Any:
        """Close the type dialog without changing anything."""
        if await self._admin() is None:
            return await self._reject()
        self.type_open = False
        return None

    @rx.event
    async def choose_type(self, new_type: str) -> Any:
        """Scan the stored values for the chosen type and show the report."""
        principal = await self._admin()
        if principal is None:
            yield await self._reject()
            return
        if new_type not in view.FIELD_TYPES:
            return

        self.type_target = new_type
        self.type_checking = True
        self.type_checked = False
        self.type_error = ""
        yield
        try:
            report = await run_sync(
                fields.check_type_change, principal, self.type_field_id, new_type
            )
        except (FieldError, NotFound) as exc:
            self.type_error = str(exc)
            self.type_checking = False
            return

        self.type_lines = view.type_change_lines(report)
        self.type_examples = view.example_rows(report.examples)
        self.type_blocked = ""
        if report.blocked_by:
            self.type_blocked = (
                f"Calculated fields read this field: {', '.join(report.blocked_by)}."
                " Change their expressions before changing its type."
            )
        self.type_checked = True
        self.type_checking = False

    @rx.event
    async def confirm_type_change(self) -> Any:
        """Mark the field converting and start the conversion job."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        if not self.type_checked or self.type_blocked:
            return None
        self.type_starting = True
        try:
            await run_sync(
                field_jobs.start_type_change,
                principal,
                self.type_field_id,
                self.type_target,
            )
        except (FieldError, NotFound) as exc:
            self.type_error = str(exc)
            return None
        finally:
            self.type_starting = False
        self.type_open = False
        await self._load_rows(principal)
        return rx.toast.info(
            f"Converting {self.type_field_label}; progress shows in the list."
        )

    # --- deletion ------------------------------------------------------------------

    @rx.event
    async def open_delete(self, field_id: Any) -> Any:
        """Open the delete dialog with the templates and values the deletion affects."""
        principal = await self._admin()
        if principal is None:
            yield await self._reject()
            return
        target = parse_id(field_id)
        if target is None:
            return
        self.delete_field_id = target
        self.delete_loading = True
        self.delete_error = ""
        self.delete_confirm_text = ""
        self.delete_references = []
        self.delete_dependents = []
        self.delete_open = True
        yield

        try:
            plan = await run_sync(fields.plan_field_deletion, principal, target)
        except (FieldError, NotFound) as exc:
            self.delete_error = str(exc)
            self.delete_loading = False
            return

        self.delete_key = plan.field.key
        self.delete_label = plan.field.label
        self.delete_references = view.reference_rows(plan)
        self.delete_dependents = list(plan.dependents)
        self.delete_values_label = view.count_label(
            plan.stats.with_value, plan.stats.total_profiles, plan.stats.estimated
        )
        self.delete_loading = False

    @rx.event
    async def close_delete(self, _open: bool = False) -> Any:
        """Close the delete dialog without deleting."""
        if await self._admin() is None:
            return await self._reject()
        self.delete_open = False
        return None

    @rx.event
    async def set_delete_confirm_text(self, value: str) -> Any:
        """Store what the admin typed to confirm the deletion."""
        if await self._admin() is None:
            return await self._reject()
        self.delete_confirm_text = str(value)[:80]
        return None

    @rx.event
    async def confirm_delete(self) -> Any:
        """Mark the field deleting and start the job that removes its values."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        if not self.delete_confirmed or self.delete_dependents:
            return None
        self.delete_starting = True
        try:
            await run_sync(
                field_jobs.start_field_deletion, principal, self.delete_field_id
            )
        except (FieldError, NotFound, PermissionDenied) as exc:
            self.delete_error = str(exc)
            return None
        finally:
            self.delete_starting = False
        self.delete_open = False
        await self._load_rows(principal)
        return rx.toast.info(
            f"Deleting {self.delete_label}; progress shows in the list."
        )
