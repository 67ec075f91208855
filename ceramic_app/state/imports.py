"""State of the import wizard: upload, preview, mapping, options, validation, run.

The job row in Postgres is the wizard's memory: every step saves to it, so a
reload of /imports/new?job=<id> resumes where the user was. Live progress of
the validation pass and of the import arrives from the workspace channel.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

import reflex as rx

from ceramic_app import live
from ceramic_app.accounts.service import Principal
from ceramic_app.db import run_sync
from ceramic_app.fields import service as fields_service
from ceramic_app.imports import service as imports
from ceramic_app.models import JobStatus, Role
from ceramic_app.settings import get_settings
from ceramic_app.state.base import AppState
from ceramic_app.state.import_view import (
    FIELD_TYPES,
    bar_counts,
    column_view,
    error_rows,
    format_bytes,
    summary_cards,
)

logger = logging.getLogger(__name__)

STEPS = ["upload", "preview", "mapping", "options", "validate", "run"]
UPLOAD_ID = "import-file"
ACCEPTED_TYPES = {
    "text/csv": [".csv"],
    "text/tab-separated-values": [".tsv", ".tab"],
    "text/plain": [".txt"],
    "application/json": [".json"],
    "application/x-ndjson": [".jsonl", ".ndjson"],
}
_ACTIVE = (JobStatus.QUEUED.value, JobStatus.RUNNING.value, JobStatus.VALIDATING.value)
_FINAL = (
    JobStatus.COMPLETED.value,
    JobStatus.FAILED.value,
    JobStatus.CANCELLED.value,
)


class ImportWizardState(AppState):
    """One import job on its way through the wizard."""

    step: str = "upload"
    job_id: int = 0
    file_name: str = ""
    file_size_label: str = ""
    busy: bool = False
    error: str = ""

    uploading: bool = False
    upload_percent: int = 0

    source: dict[str, str] = {}
    warnings: list[str] = []
    headers: list[str] = []
    preview_rows: list[list[str]] = []
    preview_lines: list[int] = []

    columns: list[dict[str, Any]] = []
    existing_fields: list[dict[str, str]] = []
    problems: list[str] = []

    mode: str = "upsert"
    empty_cells: str = "keep"
    decimal: str = "point"
    excel_dates: str = "off"
    unescape_formulas: bool = False

    status: str = ""
    records_done: int = 0
    total_records: int = 0
    rows_per_second: float = 0.0
    eta_seconds: float = -1.0
    counts: dict[str, int] = {}
    cards: list[dict[str, str]] = []
    column_errors: list[dict[str, str]] = []
    sample_errors: list[dict[str, str]] = []
    sample_warnings: list[dict[str, str]] = []
    warning_count: int = 0
    has_error_file: bool = False
    job_message: str = ""
    _listener: str = ""

    # -- computed ----------------------------------------------------------

    @rx.var
    def step_index(self) -> int:
        """Position of the current step, from 0."""
        return STEPS.index(self.step) if self.step in STEPS else 0

    @rx.var
    def percent(self) -> int:
        """Progress of the running pass, 0-100."""
        if self.status in (JobStatus.COMPLETED.value, JobStatus.VALIDATED.value):
            return 100
        if not self.total_records:
            return 0
        return min(100, int(self.records_done * 100 / self.total_records))

    @rx.var
    def is_active(self) -> bool:
        """Whether a validation pass or the import is queued or running."""
        return self.status in _ACTIVE

    @rx.var
    def is_final(self) -> bool:
        """Whether the import has ended (completed, failed or cancelled)."""
        return self.status in _FINAL

    @rx.var
    def progress_label(self) -> str:
        """Rows done, speed and time left."""
        parts = [f"{self.records_done:,} of {self.total_records:,} rows"]
        if self.rows_per_second > 0:
            parts.append(f"{self.rows_per_second:,.0f} rows/s")
        if self.eta_seconds >= 0 and self.is_active:
            parts.append(f"about {_duration(self.eta_seconds)} left")
        return " · ".join(parts)

    @rx.var
    def mapped_email(self) -> bool:
        """Whether some column is mapped to the e-mail."""
        return any(c.get("target") == "email" for c in self.columns)

    @rx.var
    def date_columns(self) -> list[dict[str, Any]]:
        """Mapped columns of date type, whose format the user confirms."""
        return [
            c
            for c in self.columns
            if c.get("type") == "date" and c.get("target") in ("field", "new_field")
        ]

    @rx.var
    def field_choices(self) -> list[str]:
        """Targets offered in the mapping select, as "value|label" pairs.

        Only admins may create fields, so members are not offered a new one.
        """
        fixed = [
            "email|E-mail",
            "custom_id|Custom ID",
            "tags|Tags (comma-separated)",
        ]
        if self.role == Role.ADMIN.value:
            fixed.append("new_field|New custom field")
        fixed.append("skip|Skip this column")
        existing = [
            f"field:{f['key']}|Field: {f['label']}" for f in self.existing_fields
        ]
        return fixed + existing

    @rx.var
    def field_types(self) -> list[str]:
        """Types a new custom field can take."""
        return FIELD_TYPES

    # -- loading -------------------------------------------------------------

    async def _principal(self, role: Role = Role.MEMBER) -> Principal | None:
        return await self._authorize(role)

    def _apply_job(self, job: dict[str, Any]) -> None:
        """Copy what the page shows from the job row (never its file paths)."""
        self.job_id = int(job["id"])
        self.file_name = job["file_name"]
        self.file_size_label = format_bytes(int(job.get("file_size") or 0))
        self.status = str(job["status"])
        self.job_message = job.get("error_message") or ""
        source = job.get("source") or {}
        self.source = {
            "format": str(source.get("format", "")),
            "encoding": str(source.get("encoding", "")),
            "delimiter": str(source.get("delimiter", ",")),
            "line_ending": str(source.get("line_ending", "")),
        }
        self.headers = [str(h) for h in source.get("headers", [])]
        self.warnings = [str(w) for w in source.get("warnings", [])]
        options = job.get("options") or {}
        self.mode = options.get("mode", "upsert")
        self.empty_cells = options.get("empty_cells", "keep")
        self.decimal = options.get("decimal", "point")
        self.excel_dates = options.get("excel_dates") or "off"
        self.unescape_formulas = bool(options.get("unescape_formulas", False))
        self.total_records = int(job.get("total_records") or 0)
        self.records_done = int(job.get("records_done") or 0)
        report = job.get("report") if self.status in _FINAL + _ACTIVE else None
        if self.status in (JobStatus.VALIDATED.value, JobStatus.VALIDATING.value):
            report = job.get("validation")
        self._apply_report(report or {})

    def _apply_report(self, report: dict[str, Any]) -> None:
        summary = report.get("summary") or {}
        self.counts = {k: int(v) for k, v in summary.items()}
        self.cards = summary_cards(self.counts)
        self.column_errors = [
            {"column": str(k), "count": f"{int(v):,}"}
            for k, v in sorted(
                (report.get("column_errors") or {}).items(), key=lambda kv: -int(kv[1])
            )
        ]
        self.sample_errors = error_rows(report.get("errors") or [])
        self.sample_warnings = error_rows(report.get("warnings") or [])
        self.warning_count = int(report.get("warning_count") or 0)
        self.has_error_file = bool(report.get("error_file"))
        self.records_done, self.total_records = bar_counts(
            self.status, report, self.records_done, self.total_records
        )

    def _apply_inspection(self, inspection: dict[str, Any]) -> None:
        self.error = inspection.get("error") or ""
        self.preview_rows = [
            ["" if cell is None else str(cell)[:200] for cell in row]
            for row in inspection.get("preview") or []
        ]
        self.preview_lines = [int(n) for n in inspection.get("preview_lines") or []]

    async def _load_mapping(self, principal: Principal) -> None:
        job = await run_sync(imports.get_import, principal, self.job_id)
        if job.get("mapping"):
            mapping = job["mapping"]
            problems = await run_sync(
                imports.save_mapping,
                principal,
                self.job_id,
                mapping,
                job.get("options"),
            )
        else:
            proposal = await run_sync(
                imports.propose_mapping_for, principal, self.job_id
            )
            mapping, problems = proposal["mapping"], proposal["problems"]
            await run_sync(
                imports.save_mapping,
                principal,
                self.job_id,
                mapping,
                proposal["options"],
            )
            job = await run_sync(imports.get_import, principal, self.job_id)
        self._apply_job(job)
        fields = await run_sync(fields_service.list_fields, principal)
        self.existing_fields = [
            {"key": f.key, "label": f.label, "type": f.type.value}
            for f in fields
            if not f.is_calculated and f.status == "active"
        ]
        samples = (
            list(zip(*self.preview_rows, strict=False)) if self.preview_rows else []
        )
        self.columns = [
            column_view(
                c, list(samples[c["index"]]) if c["index"] < len(samples) else []
            )
            for c in mapping.get("columns", [])
        ]
        self.problems = list(problems)

    @rx.event
    async def load(self) -> Any:
        """On_load: start fresh, or resume the job named in ?job=."""
        principal = await self._principal(Role.VIEWER)
        if principal is None:
            return await self._reject()
        self._reset_wizard()
        raw = self.router.url.query_parameters.get("job", "")
        if not raw.isdigit():
            return None
        try:
            job = await run_sync(imports.get_import, principal, int(raw))
        except imports.ImportRequestError as exc:
            self.error = str(exc)
            return None
        self._apply_job(job)
        if self.status in _ACTIVE or self.status in _FINAL:
            self.step = (
                "run" if self.status != JobStatus.VALIDATING.value else "validate"
            )
        elif self.status == JobStatus.VALIDATED.value:
            self.step = "validate"
        else:
            inspection = await run_sync(imports.inspect_import, principal, self.job_id)
            self._apply_inspection(inspection)
            self.step = "preview"
        return ImportWizardState.listen

    def _reset_wizard(self) -> None:
        listener = self._listener
        self.reset()
        self._listener = listener

    # -- step 1: upload ------------------------------------------------------

    @rx.event
    def set_upload_progress(self, progress: dict[str, Any]) -> None:
        """Show the browser's upload progress."""
        self.upload_percent = int(float(progress.get("progress", 0)) * 100)

    @rx.event(background=True)
    async def receive_upload(self, chunks: rx.UploadChunkIterator) -> Any:
        """Stream the uploaded file to disk, capped at MAX_UPLOAD_BYTES, then inspect it."""
        async with self:
            principal = await self._principal()
            if principal is None:
                return await self._reject()
            self.uploading, self.error, self.upload_percent = True, "", 0
        limit = get_settings().max_upload_bytes
        staging = get_settings().uploads_path / str(principal.workspace_id) / "incoming"
        staging.mkdir(parents=True, exist_ok=True)
        target = staging / secrets.token_hex(16)
        name, written, too_big = "", 0, False
        try:
            with target.open("wb") as out:
                async for chunk in chunks:
                    name = name or chunk.filename
                    written += len(chunk.data)
                    if written > limit:
                        too_big = True
                        continue  # drain the request; the file is discarded below
                    out.write(chunk.data)
            if too_big:
                raise imports.ImportRequestError(
                    f"The file is larger than the limit of {format_bytes(limit)}."
                    " Split it into smaller files and import them one by one."
                )
            if written == 0:
                raise imports.ImportRequestError("The file is empty.")
            job = await run_sync(imports.create_import, principal, name, target)
        except imports.ImportRequestError as exc:
            async with self:
                self.uploading, self.error = False, str(exc)
            return None
        finally:
            target.unlink(missing_ok=True)
        async with self:
            self.uploading = False
            self._apply_job(job)
            self._apply_inspection(job["inspection"])
            self.step = "preview"
            return [
                rx.call_script(
                    f"window.history.replaceState(null, '', '/imports/new?job={self.job_id}')"
                ),
                ImportWizardState.listen,
            ]

    # -- step 2: preview -------------------------------------------------------

    async def _reinspect(self, **override: str) -> None:
        principal = await self._principal()
        if principal is None or not self.job_id:
            return
        overrides = {
            k: v
            for k, v in self.source.items()
            if k in ("format", "encoding", "delimiter")
        }
        overrides.update(override)
        try:
            inspection = await run_sync(
                imports.inspect_import, principal, self.job_id, overrides
            )
            job = await run_sync(imports.get_import, principal, self.job_id)
        except imports.ImportRequestError as exc:
            self.error = str(exc)
            return
        self._apply_job(job)
        self._apply_inspection(inspection)

    @rx.event
    async def set_encoding(self, value: str) -> None:
        """Read the file with another encoding."""
        await self._reinspect(encoding=value)

    @rx.event
    async def set_delimiter(self, value: str) -> None:
        """Read the file with another delimiter."""
        await self._reinspect(delimiter="\t" if value == "tab" else value)

    @rx.event
    async def set_format(self, value: str) -> None:
        """Read the file as another format."""
        await self._reinspect(format=value)

    # -- step 3: mapping -----------------------------------------------------

    @rx.event
    async def go_to_mapping(self) -> Any:
        """Leave the preview: propose (or reload) the mapping."""
        principal = await self._principal()
        if principal is None:
            return await self._reject()
        if self.error:
            return rx.toast.error("Fix the file problem first: " + self.error)
        self.busy = True
        try:
            await self._load_mapping(principal)
            self.step = "mapping"
        except imports.ImportRequestError as exc:
            self.error = str(exc)
        finally:
            self.busy = False
        return None

    def _mapping_document(self) -> dict[str, Any]:
        columns = []
        for c in self.columns:
            entry: dict[str, Any] = {
                "index": c["index"],
                "source": c["source"],
                "target": c["target"],
            }
            if c["target"] in ("field", "new_field"):
                entry["key"] = c["key"]
            if c["target"] == "new_field":
                entry["label"] = c["label"] or c["key"]
                entry["type"] = c["type"]
            if c.get("needs_choice") and not c.get("choice_made"):
                entry["needs_choice"] = c["needs_choice"]
            columns.append(entry)
        return {"columns": columns}

    def _options_document(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "empty_cells": self.empty_cells,
            "decimal": self.decimal,
            "excel_dates": None if self.excel_dates == "off" else self.excel_dates,
            "date_formats": {
                c["key"]: c["date_format"]
                for c in self.columns
                if c.get("type") == "date"
                and c.get("date_format")
                and c["target"] != "skip"
            },
            "unescape_formulas": self.unescape_formulas,
        }

    async def _save(self) -> bool:
        principal = await self._principal()
        if principal is None:
            return False
        try:
            self.problems = await run_sync(
                imports.save_mapping,
                principal,
                self.job_id,
                self._mapping_document(),
                self._options_document(),
            )
        except imports.ImportRequestError as exc:
            self.problems = [str(exc)]
        return not self.problems

    def _column(self, index: int) -> dict[str, Any] | None:
        for column in self.columns:
            if column["index"] == index:
                return column
        return None

    @rx.event
    async def set_target(self, index: int, choice: str) -> None:
        """Point a column at e-mail, custom ID, tags, a field, a new field or skip."""
        column = self._column(int(index))
        if column is None:
            return
        if choice.startswith("field:"):
            key = choice.removeprefix("field:")
            known = {f["key"]: f for f in self.existing_fields}
            if key not in known:
                return
            column.update(
                target="field", key=key, type=known[key]["type"], choice=choice
            )
        elif choice == "new_field" and self.role != Role.ADMIN.value:
            self.problems = [
                "Only admins can create fields: map the column to an existing"
                " field or skip it."
            ]
            return
        elif choice in ("email", "custom_id", "tags", "new_field", "skip"):
            column.update(target=choice, choice=choice)
            if choice == "new_field" and not column.get("key"):
                column["key"] = column.get("suggested_key", "")
        self.columns = list(self.columns)
        await self._save()

    @rx.event
    async def set_new_type(self, index: int, value: str) -> None:
        """Change the type of a new custom field."""
        column = self._column(int(index))
        if column is None or value not in FIELD_TYPES:
            return
        column["type"] = value
        self.columns = list(self.columns)
        await self._save()

    @rx.event
    async def set_new_key(self, index: int, value: str) -> None:
        """Change the key of a new custom field."""
        column = self._column(int(index))
        if column is None:
            return
        column["key"] = str(value).strip()[:63]
        self.columns = list(self.columns)
        await self._save()

    @rx.event
    async def set_date_format(self, index: int, value: str) -> None:
        """Confirm the date format of a date column."""
        column = self._column(int(index))
        if column is None:
            return
        column["date_format"] = value
        column["choice_made"] = True
        self.columns = list(self.columns)
        await self._save()

    @rx.event
    async def go_to_options(self) -> Any:
        """Leave the mapping once it has no problems."""
        if await self._save():
            self.step = "options"
            return None
        return rx.toast.error("Resolve the problems listed above the mapping first.")

    # -- step 4: options -------------------------------------------------------

    @rx.event
    async def set_option(self, name: str, value: str) -> None:
        """Change one import option."""
        if name == "mode" and value in ("upsert", "create", "update"):
            self.mode = value
        elif name == "empty_cells" and value in ("keep", "clear"):
            self.empty_cells = value
        elif name == "decimal" and value in ("point", "comma"):
            self.decimal = value
        elif name == "excel_dates" and value in ("off", "1900", "1904"):
            self.excel_dates = value
        elif name == "unescape_formulas":
            self.unescape_formulas = value in ("true", "on", "1")
        await self._save()

    @rx.event
    async def start_validation(self) -> Any:
        """Check the whole file without writing (an RQ job with progress)."""
        principal = await self._principal()
        if principal is None:
            return await self._reject()
        if not await self._save():
            self.step = "mapping"
            return rx.toast.error("The mapping has problems; fix them first.")
        try:
            await run_sync(imports.start_validation, principal, self.job_id)
        except imports.ImportRequestError as exc:
            return rx.toast.error(str(exc))
        self.status = JobStatus.VALIDATING.value
        self.records_done = 0
        self.rows_per_second = 0.0
        self.eta_seconds = -1.0
        self._apply_report({})
        self.step = "validate"
        return None

    # -- steps 5 and 6: validation report, import --------------------------------

    @rx.event
    async def start_import(self) -> Any:
        """Queue the import itself."""
        principal = await self._principal()
        if principal is None:
            return await self._reject()
        try:
            await run_sync(imports.start_import, principal, self.job_id)
        except imports.ImportRequestError as exc:
            return rx.toast.error(str(exc))
        job = await run_sync(imports.get_import, principal, self.job_id)
        self._apply_job(job)
        self.records_done = 0
        self.rows_per_second = 0.0
        self.eta_seconds = -1.0
        self._apply_report({})
        self.step = "run"
        return None

    @rx.event
    async def cancel(self) -> Any:
        """Ask the running pass to stop after its current batch."""
        principal = await self._principal()
        if principal is None:
            return await self._reject()
        try:
            status = await run_sync(imports.cancel_import, principal, self.job_id)
        except imports.ImportRequestError as exc:
            return rx.toast.error(str(exc))
        if status == JobStatus.CANCELLED.value:
            self.status = status
        return rx.toast.info(
            "Cancelling: rows already written stay; the rest are not imported."
        )

    @rx.event
    def download_errors(self) -> Any:
        """Download the rejected rows; the file route checks the session itself."""
        return rx.download(url=f"/files/imports/{int(self.job_id)}/errors.csv")

    @rx.event
    def go_to_step(self, step: str) -> None:
        """Go back to an earlier step (never past the current one)."""
        if step in STEPS and STEPS.index(step) < self.step_index and not self.is_active:
            self.step = step

    @rx.event
    async def refresh_job(self) -> None:
        """Re-read the job row (after a live event or as a fallback)."""
        principal = await self._principal(Role.VIEWER)
        if principal is None or not self.job_id:
            return
        try:
            job = await run_sync(imports.get_import, principal, self.job_id)
        except imports.ImportRequestError:
            return
        self._apply_job(job)

    @rx.event(background=True)
    async def listen(self) -> None:
        """Follow the job's live progress until the page goes away."""
        async with self:
            principal = await self._principal(Role.VIEWER)
            if principal is None:
                return
            token = secrets.token_hex(8)
            self._listener = token
            job_id = self.job_id
        last_check = time.monotonic()
        async for event in live.subscribe(principal.workspace_id):
            async with self:
                if self._listener != token or self.job_id != job_id:
                    return
                if event is None:
                    # Every few seconds without news, re-read the row: it is the
                    # truth even when a live message was lost.
                    if self.is_active and time.monotonic() - last_check > 5:
                        last_check = time.monotonic()
                        await self.refresh_job()
                    continue
                if event.get("job_id") != job_id:
                    continue
                if event.get("event") == "import.progress":
                    self._apply_progress(event)
                elif event.get("event") == "import.finished":
                    await self.refresh_job()
                    last_check = time.monotonic()

    def _apply_progress(self, event: dict[str, Any]) -> None:
        self.status = str(event.get("status", self.status))
        self.records_done = int(event.get("records_done") or 0)
        self.total_records = int(event.get("total") or self.total_records)
        self.rows_per_second = float(event.get("rows_per_second") or 0)
        eta = event.get("eta_seconds")
        self.eta_seconds = -1.0 if eta is None else float(eta)
        self.counts = {
            k: int(event.get(k) or 0)
            for k in ("created", "updated", "merged", "skipped", "rejected")
        }
        self.cards = summary_cards(self.counts)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s"
