"""Public API of the import wizard: upload, inspect, map, validate, import, report.

The browser wizard, the REST API and the `ceramic import` command call these
functions; each takes the acting Principal and checks its role (viewers may
only read). A typical flow:

    job = create_import(principal, "contacts.csv", upload_stream)
    inspection = inspect_import(principal, job.id, overrides={"delimiter": ";"})
    proposal = propose_mapping_for(principal, job.id)
    problems = save_mapping(principal, job.id, proposal["mapping"], options)
    start_validation(principal, job.id)     # optional dry run, an RQ job
    start_import(principal, job.id)         # the real run, an RQ job
    get_import(principal, job.id)           # status, counts, report
    cancel_import(principal, job.id)
    list_imports(principal)                 # the workspace's import history

Progress arrives on the workspace channel of ceramic_app.live as
"import.progress" events and one "import.finished" event.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, text

from ceramic_app.accounts.service import Principal
from ceramic_app.db import connect_raw, tenant_connection
from ceramic_app.imports.engine import load_fields
from ceramic_app.imports.mapping import (
    ImportOptions,
    MappingError,
    add_date_choices,
    check_mapping,
    open_date_columns,
    propose_mapping,
)
from ceramic_app.imports.source import (
    PREVIEW_RECORDS,
    SourceError,
    SourceSpec,
    delimiter_hint,
    inspect_source,
    read_batches,
)
from ceramic_app.models import JobStatus, Role
from ceramic_app.queues import IMPORTS, get_queue
from ceramic_app.settings import get_settings

logger = logging.getLogger(__name__)

# RQ's default timeout (180 s) would kill long imports; the heartbeat and the
# reconciler, not RQ, decide when a job is lost.
JOB_TIMEOUT_SECONDS = 12 * 3600
INFERENCE_RECORDS = 2000


class ImportRequestError(ValueError):
    """A request the import API cannot carry out; the message is for the user."""


@dataclass(frozen=True)
class ImportSummary:
    """One line of a workspace's import history."""

    id: int
    file_name: str
    status: str
    created_at: Any
    finished_at: Any
    created_by: int | None
    created_by_name: str | None
    created_count: int
    updated_count: int
    merged_count: int
    skipped_count: int
    rejected_count: int
    warning_count: int
    records_done: int
    total_records: int | None
    error_file_path: str | None
    error_message: str | None
    started_at: Any
    search_indexed_at: Any


def _safe_name(file_name: str) -> str:
    name = Path(file_name.replace("\x00", "")).name
    name = re.sub(r"[^A-Za-z0-9._ -]+", "_", name).strip() or "upload"
    return name[:120]


def _job_row(conn: Connection, job_id: int) -> Any:
    row = (
        conn.execute(text("SELECT * FROM import_jobs WHERE id = :id"), {"id": job_id})
        .mappings()
        .first()
    )
    if row is None:
        raise ImportRequestError(f"Import {job_id} was not found in this workspace.")
    return row


def create_import(
    principal: Principal,
    file_name: str,
    data: IO[bytes] | Path | str,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Store an uploaded file, inspect it and create the draft import job.

    data is a binary stream or a path to copy. Returns get_import() of the
    new job plus "inspection" (see inspect_import).

    Raises:
        ImportRequestError: the file is over the size limit.
    """
    principal.require(Role.MEMBER)
    settings = get_settings()
    folder = settings.uploads_path / str(principal.workspace_id)
    folder.mkdir(parents=True, exist_ok=True)
    with tenant_connection(principal.workspace_id) as conn:
        job_id = conn.execute(
            text(
                "INSERT INTO import_jobs (workspace_id, created_by, file_name, file_path)"
                " VALUES (:ws, :user, :name, '') RETURNING id"
            ),
            {
                "ws": principal.workspace_id,
                "user": principal.user_id,
                "name": _safe_name(file_name),
            },
        ).scalar_one()
    target = folder / f"import-{job_id}-{_safe_name(file_name)}"
    size = _store_upload(data, target, settings.max_upload_bytes)
    with tenant_connection(principal.workspace_id) as conn:
        conn.execute(
            text(
                "UPDATE import_jobs SET file_path = :p, file_size = :s WHERE id = :id"
            ),
            {"p": str(target), "s": size, "id": job_id},
        )
    logger.info(
        "import job %s workspace %s: stored %s (%s bytes)",
        job_id,
        principal.workspace_id,
        target.name,
        size,
    )
    inspection = inspect_import(principal, job_id, overrides)
    return get_import(principal, job_id) | {"inspection": inspection}


def _store_upload(data: IO[bytes] | Path | str, target: Path, limit: int) -> int:
    size = 0
    with target.open("wb") as out:
        if isinstance(data, (str, Path)):
            source = Path(data)
            if source.stat().st_size > limit:
                target.unlink(missing_ok=True)
                raise ImportRequestError(
                    f"The file is {source.stat().st_size:,} bytes; the limit is"
                    f" {limit:,} bytes. Split it into smaller files."
                )
            with source.open("rb") as handle:
                shutil.copyfileobj(handle, out, 1 << 20)
            return source.stat().st_size
        while chunk := data.read(1 << 20):
            size += len(chunk)
            if size > limit:
                out.close()
                target.unlink(missing_ok=True)
                raise ImportRequestError(
                    f"The file is larger than the limit of {limit:,} bytes. Split it"
                    " into smaller files."
                )
            out.write(chunk)
    return size


def inspect_import(
    principal: Principal, job_id: int, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Detect (or apply overrides for) format, encoding, delimiter; preview rows.

    overrides may set format ("csv", "tsv", "json", "jsonl"), encoding
    ("utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "cp1252", "latin-1"),
    delimiter and quote_char. Returns {"source": SourceSpec JSON, "preview":
    rows of cells, "preview_lines": physical start lines, "error": message
    or null}. A file-level problem is stored on the job (status rejected).
    """
    principal.require(Role.MEMBER)
    with tenant_connection(principal.workspace_id) as conn:
        job = _job_row(conn, job_id)
    _require_editable(job)
    work_dir = get_settings().uploads_path / str(principal.workspace_id)
    try:
        inspection = inspect_source(job["file_path"], overrides, work_dir)
    except SourceError as exc:
        with tenant_connection(principal.workspace_id) as conn:
            conn.execute(
                text(
                    "UPDATE import_jobs SET status = 'rejected', error_message = :m"
                    " WHERE id = :id"
                ),
                {"m": str(exc), "id": job_id},
            )
        return {"source": None, "preview": [], "preview_lines": [], "error": str(exc)}
    with tenant_connection(principal.workspace_id) as conn:
        conn.execute(
            text(
                "UPDATE import_jobs SET source = CAST(:s AS jsonb), status = 'draft',"
                " error_message = NULL, validation = '{}'::jsonb, total_records = NULL"
                " WHERE id = :id"
            ),
            {"s": _json(inspection.spec.to_json()), "id": job_id},
        )
    return {
        "source": inspection.spec.to_json(),
        "preview": inspection.preview[:PREVIEW_RECORDS],
        "preview_lines": inspection.preview_lines[:PREVIEW_RECORDS],
        "error": None,
    }


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _require_editable(job: Any) -> None:
    if (
        job["status"]
        not in (
            JobStatus.DRAFT,
            JobStatus.VALIDATED,
            JobStatus.REJECTED,
        )
        or job["records_done"]
    ):
        raise ImportRequestError(
            f"Import {job['id']} is {job['status']}; its file and mapping can no longer"
            " change."
        )


def propose_mapping_for(principal: Principal, job_id: int) -> dict[str, Any]:
    """Propose a mapping for the job's file and return it with suggested options.

    Returns {"mapping": {...}, "options": ImportOptions JSON, "problems":
    [...]} where problems are what check_mapping() finds in the proposal
    (for example a date column whose format must be chosen).
    """
    with tenant_connection(principal.workspace_id) as conn:
        job = _job_row(conn, job_id)
    spec = _spec(job)
    with connect_raw(principal.workspace_id) as raw:
        fields = load_fields(raw)
    mapping = propose_mapping(spec.headers, fields, _samples(spec))
    if not principal.can(Role.ADMIN):
        mapping = _skip_new_fields(mapping)
    options = ImportOptions()
    for column in mapping["columns"]:
        if column.get("date_format"):
            options.date_formats[column["key"]] = column["date_format"]
        if any("decimal comma" in note for note in column.get("notes", [])):
            options.decimal = "comma"
    _, problems = check_mapping(
        mapping, spec.headers, fields, options, delimiter_hint(spec)
    )
    return {"mapping": mapping, "options": options.to_json(), "problems": problems}


def _samples(spec: SourceSpec) -> list[list[str | None]]:
    """Return the first INFERENCE_RECORDS records of the file, row-wise."""
    columns = [f"c{i}" for i in range(len(spec.headers))]
    for batch in read_batches(spec, batch_rows=INFERENCE_RECORDS):
        return [list(r) for r in batch.frame.select(columns).rows()]
    return []


def _skip_new_fields(mapping: dict[str, Any]) -> dict[str, Any]:
    """Map proposed new fields to skip, for a principal who may not create fields."""
    columns = []
    for entry in mapping["columns"]:
        if entry.get("target") == "new_field":
            entry = {
                "index": entry["index"],
                "source": entry["source"],
                "target": "skip",
                "notes": [
                    "Only admins can create fields, so this column is skipped. Map"
                    " it to an existing field or ask an admin to create one."
                ],
            }
        columns.append(entry)
    return {**mapping, "columns": columns}


def _spec(job: Any) -> SourceSpec:
    if not job["source"]:
        raise ImportRequestError(
            f"Import {job['id']} has not been inspected; inspect the file first."
        )
    return SourceSpec.from_json(job["source"])


def save_mapping(
    principal: Principal,
    job_id: int,
    mapping: dict[str, Any],
    options: dict[str, Any] | None = None,
) -> list[str]:
    """Check and store the mapping and options; return the problems (empty if none).

    Both are stored even with problems, so the wizard can come back to them;
    start_validation and start_import refuse a mapping with problems.
    """
    principal.require(Role.MEMBER)
    with tenant_connection(principal.workspace_id) as conn:
        job = _job_row(conn, job_id)
    _require_editable(job)
    try:
        parsed = ImportOptions.from_json(options)
    except (MappingError, TypeError) as exc:
        return [str(exc)]
    problems = _check(principal, job, mapping, parsed)
    with tenant_connection(principal.workspace_id) as conn:
        conn.execute(
            text(
                "UPDATE import_jobs SET mapping = CAST(:m AS jsonb),"
                " options = CAST(:o AS jsonb), status = 'draft', validation = '{}'::jsonb"
                " WHERE id = :id"
            ),
            {"m": _json(mapping), "o": _json(parsed.to_json()), "id": job_id},
        )
    return problems


def _check(
    principal: Principal, job: Any, mapping: dict[str, Any], options: ImportOptions
) -> list[str]:
    spec = _spec(job)
    with connect_raw(principal.workspace_id) as raw:
        fields = load_fields(raw)
    if open_date_columns(mapping, fields, options):
        mapping = add_date_choices(mapping, fields, options, _samples(spec))
    _, problems = check_mapping(
        mapping, spec.headers, fields, options, delimiter_hint(spec)
    )
    return _field_creation_problems(principal, mapping, spec.headers) + problems


def _field_creation_problems(
    principal: Principal, mapping: dict[str, Any], headers: list[str]
) -> list[str]:
    """Return a problem per new field in the mapping unless the principal is an admin."""
    if principal.can(Role.ADMIN):
        return []
    problems = []
    for entry in mapping.get("columns") or []:
        if not isinstance(entry, dict) or entry.get("target") != "new_field":
            continue
        index = entry.get("index")
        name = (
            headers[index]
            if isinstance(index, int) and 0 <= index < len(headers)
            else entry.get("source", "")
        )
        problems.append(
            f"Only admins can create fields: map column {str(name).strip()!r} to an"
            " existing field or skip it."
        )
    return problems


def _enqueue(function: str, workspace_id: int, job_id: int) -> str:
    job = get_queue(IMPORTS).enqueue(
        function,
        workspace_id,
        job_id,
        job_timeout=JOB_TIMEOUT_SECONDS,
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
        description=f"{function.rsplit('.', 1)[-1]} workspace={workspace_id} job={job_id}",
    )
    with tenant_connection(workspace_id) as conn:
        conn.execute(
            text("UPDATE import_jobs SET rq_job_id = :r WHERE id = :id"),
            {"r": job.id, "id": job_id},
        )
    return job.id


def enqueue_import(workspace_id: int, job_id: int) -> str:
    """Put the import job on the RQ imports queue (its row must be committed)."""
    return _enqueue("workers.tasks.run_import_task", workspace_id, job_id)


def enqueue_validation(workspace_id: int, job_id: int) -> str:
    """Put the validation pass on the RQ imports queue (its row must be committed)."""
    return _enqueue("workers.tasks.run_validation_task", workspace_id, job_id)


def _ready(principal: Principal, job_id: int) -> Any:
    principal.require(Role.MEMBER)
    with tenant_connection(principal.workspace_id) as conn:
        job = _job_row(conn, job_id)
    _require_editable(job)
    problems = _check(
        principal, job, job["mapping"] or {}, ImportOptions.from_json(job["options"])
    )
    if problems:
        raise ImportRequestError(" ".join(problems))
    return job


def start_validation(principal: Principal, job_id: int, enqueue: bool = True) -> None:
    """Queue the validation pass (a dry run over the whole file).

    enqueue=False only marks the job, for a caller that runs
    engine.run_validation itself (the command line).
    """
    _ready(principal, job_id)
    with tenant_connection(principal.workspace_id) as conn:
        conn.execute(
            text(
                "UPDATE import_jobs SET status = 'validating', heartbeat_at = NULL,"
                " attempts = 0, cancel_requested = false WHERE id = :id"
            ),
            {"id": job_id},
        )
    if enqueue:
        enqueue_validation(principal.workspace_id, job_id)


def start_import(principal: Principal, job_id: int, enqueue: bool = True) -> None:
    """Queue the import; a second call for a queued or running job changes nothing.

    enqueue=False only marks the job queued, for a caller that runs
    engine.run_import itself (the command line).
    """
    principal.require(Role.MEMBER)
    with tenant_connection(principal.workspace_id) as conn:
        job = _job_row(conn, job_id)
    if job["status"] in (JobStatus.QUEUED, JobStatus.RUNNING):
        return
    _ready(principal, job_id)
    with tenant_connection(principal.workspace_id) as conn:
        updated = conn.execute(
            text(
                "UPDATE import_jobs SET status = 'queued', attempts = 0,"
                " cancel_requested = false, heartbeat_at = NULL"
                " WHERE id = :id AND status IN ('draft', 'validated', 'rejected')"
            ),
            {"id": job_id},
        ).rowcount
    if updated and enqueue:
        # Enqueued only after the commit above, so the worker sees the row.
        enqueue_import(principal.workspace_id, job_id)


def cancel_import(principal: Principal, job_id: int) -> str:
    """Ask a queued, validating or running import to stop; return its status.

    A queued job is cancelled at once. A running one stops after its current
    batch: batches already committed stay imported, and the report says so.
    """
    principal.require(Role.MEMBER)
    with tenant_connection(principal.workspace_id) as conn:
        job = _job_row(conn, job_id)
        if job["status"] in (JobStatus.DRAFT, JobStatus.QUEUED, JobStatus.VALIDATED):
            conn.execute(
                text(
                    "UPDATE import_jobs SET status = 'cancelled', cancel_requested = true,"
                    " finished_at = now(), error_message = 'Cancelled before it started.'"
                    " WHERE id = :id"
                ),
                {"id": job_id},
            )
            return JobStatus.CANCELLED.value
        if job["status"] in (JobStatus.RUNNING, JobStatus.VALIDATING):
            conn.execute(
                text("UPDATE import_jobs SET cancel_requested = true WHERE id = :id"),
                {"id": job_id},
            )
        return str(job["status"])


def get_import(principal: Principal, job_id: int) -> dict[str, Any]:
    """Return the job row as a dict: status, counts, source, mapping, report."""
    with tenant_connection(principal.workspace_id) as conn:
        return dict(_job_row(conn, job_id))


def list_imports(principal: Principal, limit: int = 100) -> list[ImportSummary]:
    """List the workspace's imports, newest first, with who, counts and status."""
    with tenant_connection(principal.workspace_id) as conn:
        rows = conn.execute(
            text(
                "SELECT j.*, u.name AS created_by_name FROM import_jobs j"
                " LEFT JOIN users u ON u.id = j.created_by"
                " ORDER BY j.created_at DESC, j.id DESC LIMIT :limit"
            ),
            {"limit": limit},
        ).mappings()
        return [_summary(row) for row in rows]


def _summary(row: Any) -> ImportSummary:
    return ImportSummary(
        **{name: row[name] for name in ImportSummary.__dataclass_fields__}
    )


def error_file(principal: Principal, job_id: int) -> Path | None:
    """Return the CSV of rejected rows (original columns + line + reason), if any."""
    with tenant_connection(principal.workspace_id) as conn:
        job = _job_row(conn, job_id)
    path = job["error_file_path"]
    return Path(path) if path and Path(path).exists() else None


__all__ = [
    "ImportRequestError",
    "ImportSummary",
    "cancel_import",
    "create_import",
    "enqueue_import",
    "enqueue_validation",
    "error_file",
    "get_import",
    "inspect_import",
    "list_imports",
    "propose_mapping_for",
    "save_mapping",
    "start_import",
    "start_validation",
]


def imported_field_keys(workspace_id: int, job_id: int) -> set[str]:
    """Return the custom field keys an import's mapping writes to."""
    with tenant_connection(workspace_id) as conn:
        mapping = conn.execute(
            text("SELECT mapping FROM import_jobs WHERE id = :id"), {"id": job_id}
        ).scalar()
    columns = (mapping or {}).get("columns", [])
    return {
        str(c["key"])
        for c in columns
        if c.get("target") in ("field", "new_field") and c.get("key")
    }
