"""State of bulk actions on selected profiles: the dialogs, progress and undo."""

from __future__ import annotations

import logging
import re
from typing import Any

import reflex as rx
from sqlalchemy import text

from ceramic_app import live
from ceramic_app.accounts.service import Principal
from ceramic_app.db import run_sync, tenant_connection
from ceramic_app.models import Role
from ceramic_app.profiles import bulk
from ceramic_app.state.profile_view import as_sentence
from ceramic_app.state.profiles import ProfilesState
from workers.background import get_job, submit_job
from workers.kinds import BULK_PROFILES

logger = logging.getLogger(__name__)

_FINAL_JOB_STATES = ("completed", "failed", "cancelled")
_ACTION_LABELS = {
    "tags.add": "Add tag",
    "tags.remove": "Remove tag",
    "field.set": "Set field",
    "delete": "Delete profiles",
    "undo": "Undo",
}


def _tag_options(workspace_id: int) -> list[dict[str, str]]:
    """Return the workspace's tags as {id, name}, by name."""
    with tenant_connection(workspace_id) as conn:
        rows = conn.execute(text("SELECT id, name FROM tags ORDER BY lower(name)"))
        return [{"id": str(tag_id), "name": name} for tag_id, name in rows]


def _result_fields(result: dict[str, Any]) -> dict[str, Any]:
    names = bulk.BulkResult.__dataclass_fields__
    return {name: result[name] for name in names if name in result}


# The background job runner stores an unexpected exception as "ClassName: text".
_EXCEPTION_PREFIX = re.compile(r"^[A-Z][A-Za-z0-9_]*: ")


def failure_text(error_message: str | None) -> str:
    """Return a failed bulk job's error message for display, without its class name.

    A BulkError message is written for the member, so only the "BulkError: "
    prefix goes. Other exception class names are internal and go too.
    """
    if not error_message:
        return "The job did not finish."
    return as_sentence(_EXCEPTION_PREFIX.sub("", error_message, count=1))


def _count(number: int) -> str:
    return f"{number:,} profile" if number == 1 else f"{number:,} profiles"


def _summary(kind: str, result: bulk.BulkResult, subject: str) -> str:
    changed = _count(result.changed)
    if kind == "tags.add":
        return f"Tag {subject} added to {changed}."
    if kind == "tags.remove":
        return f"Tag {subject} removed from {changed}."
    if kind == "field.set":
        return f"{subject} set on {changed}."
    if kind == "undo":
        return f"Undone on {changed}."
    return f"{changed} deleted."


class ProfileBulkState(ProfilesState):
    """The open bulk dialog, its inputs, a running operation and the last result."""

    dialog: str = ""
    tag_options: list[dict[str, str]] = []
    tag_id: str = ""
    field_id: str = ""
    field_input: str = ""
    confirmation: str = ""
    expected_confirmation: str = ""
    dialog_error: str = ""
    field_error: str = ""
    running: bool = False
    progress_done: int = 0
    progress_total: int = 0
    result_message: str = ""
    undo_operation_id: int = 0

    @rx.var
    def dialog_title(self) -> str:
        """Title of the open dialog."""
        return _ACTION_LABELS.get(self.dialog, "")

    @rx.var
    def field_options(self) -> list[dict[str, str]]:
        """Custom fields that a bulk edit can set."""
        return [c for c in self.all_columns if c["id"].startswith("field:")]

    @rx.var
    def progress_percent(self) -> int:
        """Share of the running operation that is done, 0 to 100."""
        if self.progress_total <= 0:
            return 0
        return min(100, self.progress_done * 100 // self.progress_total)

    @rx.var
    def progress_label(self) -> str:
        """Progress of the running operation, such as "5,000 of 10,001 profiles"."""
        return f"{self.progress_done:,} of {self.progress_total:,} profiles"

    def _selection(self) -> bulk.Selection:
        if self.all_matching:
            return bulk.Selection(
                all_matching=True, search=self.search, tag_ids=self._tag_ids()
            )
        return bulk.Selection.from_params({"ids": self.selected_ids})

    @rx.event
    async def open_dialog(self, kind: str) -> Any:
        """Open the dialog of a bulk action for the current selection."""
        if kind not in _ACTION_LABELS or kind == "undo":
            return None
        role = Role.ADMIN if kind == "delete" else Role.MEMBER
        principal = await self._authorize(role)
        if principal is None:
            return await self._reject()
        self.dialog_error = ""
        self.field_error = ""
        self.confirmation = ""
        self.field_input = ""
        if kind.startswith("tags."):
            self.tag_options = await run_sync(_tag_options, principal.workspace_id)
            self.tag_id = self.tag_options[0]["id"] if self.tag_options else ""
        if kind == "field.set":
            fields = self.field_options
            self.field_id = fields[0]["id"] if fields else ""
        if kind == "delete":
            count = await run_sync(
                bulk.count_selection, principal.workspace_id, self._selection()
            )
            self.expected_confirmation = bulk.delete_confirmation(count)
        self.dialog = kind
        return None

    @rx.event
    async def close_dialog(self) -> Any:
        """Close the open dialog without doing anything."""
        if await self._authorize() is None:
            return await self._reject()
        self.dialog = ""
        return None

    @rx.event
    async def set_dialog_open(self, is_open: bool) -> Any:
        """Close the dialog when the browser closes it (Escape, outside click)."""
        if await self._authorize() is None:
            return await self._reject()
        if not is_open:
            self.dialog = ""
        return None

    @rx.event
    async def set_tag_id(self, value: str) -> Any:
        """Choose the tag to add or remove."""
        if await self._authorize(Role.MEMBER) is None:
            return await self._reject()
        self.tag_id = str(value)
        return None

    @rx.event
    async def set_field_id(self, value: str) -> Any:
        """Choose the custom field to set."""
        if await self._authorize(Role.MEMBER) is None:
            return await self._reject()
        self.field_id = str(value)
        self.field_error = ""
        return None

    @rx.event
    async def set_field_input(self, value: str) -> Any:
        """Store the typed field value."""
        if await self._authorize(Role.MEMBER) is None:
            return await self._reject()
        self.field_input = str(value)[:10_000]
        self.field_error = ""
        return None

    @rx.event
    async def set_confirmation(self, value: str) -> Any:
        """Store the typed delete confirmation."""
        if await self._authorize(Role.ADMIN) is None:
            return await self._reject()
        self.confirmation = str(value)[:200]
        return None

    def _request(self) -> tuple[str, dict[str, Any], str]:
        """Return (operation kind, params without actor, subject) of the dialog.

        Raises:
            bulk.BulkError: when the dialog's inputs are invalid.
        """
        kind = self.dialog
        if kind.startswith("tags."):
            names = {t["id"]: t["name"] for t in self.tag_options}
            if self.tag_id not in names:
                raise bulk.BulkError("choose a tag")
            return kind, {"tag_ids": [int(self.tag_id)]}, names[self.tag_id]
        if kind == "field.set":
            column = next(
                (c for c in self.field_options if c["id"] == self.field_id), None
            )
            if column is None:
                raise bulk.BulkError("choose a field")
            field_key = column.get("key", "")
            value = bulk.parse_field_input(column["type"], self.field_input)
            return kind, {"field_key": field_key, "value": value}, column["label"]
        if kind == "delete":
            return kind, {"confirmation": self.confirmation}, ""
        raise bulk.BulkError("no bulk action is open")

    @rx.event(background=True)
    async def apply(self) -> Any:
        """Run the open dialog's action on the selection as a job, showing progress."""
        async with self:
            role = Role.ADMIN if self.dialog == "delete" else Role.MEMBER
            principal = await self._authorize(role)
            if principal is None:
                return await self._reject()
            if self.running:
                return None
            try:
                kind, params, subject = self._request()
                selection = self._selection()
                if kind == "field.set":
                    # The job would run the same checks. Running them now keeps
                    # the dialog open, with the problem next to the value.
                    params["value"] = await run_sync(
                        bulk.check_field_value,
                        principal.workspace_id,
                        selection,
                        params["field_key"],
                        params["value"],
                    )
            except bulk.BulkError as exc:
                logger.info(
                    "bulk request rejected in workspace %s: %s",
                    principal.workspace_id,
                    exc,
                )
                if self.dialog == "field.set":
                    self.field_error = as_sentence(str(exc))
                else:
                    self.dialog_error = str(exc)
                return None
            self.running = True
            self.dialog = ""
            self.progress_done, self.progress_total = 0, 0
        parameters = bulk.job_params(principal, kind, selection, **params)
        return await self._run(principal, kind, subject, parameters)

    @rx.event(background=True)
    async def undo(self) -> Any:
        """Undo the last bulk tag or field change made from this page."""
        async with self:
            principal = await self._authorize(Role.MEMBER)
            if principal is None:
                return await self._reject()
            if self.running or not self.undo_operation_id:
                return None
            operation_id = self.undo_operation_id
            blocker = await run_sync(
                bulk.undo_blocker, principal.workspace_id, operation_id
            )
            if blocker:
                logger.info(
                    "undo of bulk operation %s rejected in workspace %s: %s",
                    operation_id,
                    principal.workspace_id,
                    blocker,
                )
                self.undo_operation_id = 0
                return rx.toast.error(as_sentence(blocker))
            self.running = True
            self.progress_done, self.progress_total = 0, 0
        parameters = bulk.job_params(
            principal, "undo", bulk.Selection(), operation_id=operation_id
        )
        return await self._run(principal, "undo", "", parameters)

    async def _run(
        self, principal: Principal, kind: str, subject: str, parameters: dict[str, Any]
    ) -> Any:
        """Submit the bulk job to the workers and follow it until it ends."""
        workspace_id = principal.workspace_id
        job_id = await run_sync(submit_job, principal, BULK_PROFILES, parameters)
        job: dict[str, Any] | None = None
        async for event in live.subscribe(workspace_id, poll_seconds=2.0):
            if event is not None and event.get("job_id") == job_id:
                async with self:
                    self.progress_done = int(event.get("done") or self.progress_done)
                    self.progress_total = int(event.get("total") or self.progress_total)
            if event is None or event.get("job_id") == job_id:
                # The row is the truth; a lost message only delays this check.
                job = await run_sync(get_job, principal, job_id)
                if job is None or job["status"] in _FINAL_JOB_STATES:
                    break
        async with self:
            self.running = False
            if job is None or job["status"] != "completed":
                message = (job or {}).get("error_message")
                logger.info("bulk %s job %s ended: %s", kind, job_id, message)
                if kind == "undo":
                    # A failed undo, for example one rejected by undo_blocker
                    # after a race, is not offered again.
                    self.undo_operation_id = 0
                return rx.toast.error(
                    f"The bulk change stopped: {failure_text(message)}"
                )
            result = bulk.BulkResult(**_result_fields(job["result"]))
            self.result_message = _summary(kind, result, subject)
            undoable = kind in bulk.UNDOABLE_KINDS and result.changed > 0
            self.undo_operation_id = result.operation_id if undoable else 0
            self.selected_ids = []
            self.all_matching = False
        return ProfilesState.reload_current_page

    @rx.event
    async def dismiss_result(self) -> Any:
        """Hide the last result and its undo button."""
        if await self._authorize() is None:
            return await self._reject()
        self.result_message = ""
        self.undo_operation_id = 0
        return None
