"""Field jobs: start type conversions, value deletions and recomputes, and track them.

Each job is a background_jobs row (kind "field.convert", "field.delete" or
"field.recompute", params {"field_id", "new_type"}) whose progress_done and
progress_total follow the job. While it runs, the job publishes "job.progress"
events (job_id, done, total) on the workspace's live channel, and
"job.finished" (job_id, status) at the end. Pages read the rows on load and
follow the events afterwards.

Every function that starts a job requires the admin role, so a member or
viewer cannot start one even by calling a page handler directly.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from ceramic_app import live
from ceramic_app.accounts.service import Principal
from ceramic_app.db import tenant_connection
from ceramic_app.fields import jobs as field_job_functions
from ceramic_app.fields import service as field_service
from ceramic_app.fields.errors import FieldError, NotFound
from ceramic_app.models import FieldType, JobStatus, Role

logger = logging.getLogger(__name__)

KIND_CONVERT = "field.convert"
KIND_DELETE = "field.delete"
KIND_RECOMPUTE = "field.recompute"
FIELD_JOB_KINDS = (KIND_CONVERT, KIND_DELETE, KIND_RECOMPUTE)
ACTIVE_STATUSES = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
# A running job whose heartbeat is older than this is treated as stopped
# (its process ended), so an admin may start it again.
STALE_AFTER_SECONDS = 120
MAX_ERROR_CHARS = 500

_COLUMNS = (
    "id, kind, status, params, result, progress_done, progress_total, error_message,"
    " created_at, heartbeat_at,"
    " (status IN ('queued', 'running') AND coalesce(heartbeat_at, created_at)"
    "  < now() - make_interval(secs => :stale)) AS stale"
)


@dataclass(frozen=True)
class FieldJob:
    """One field job as the pages show it."""

    id: int
    kind: str
    field_id: int
    new_type: str | None
    status: str
    done: int
    total: int | None
    error: str | None
    created_at: datetime
    stale: bool
    result: dict[str, Any]

    @property
    def active(self) -> bool:
        """Tell whether the job is queued or running and still reporting."""
        return self.status in ACTIVE_STATUSES and not self.stale


def _row_to_job(row: Any) -> FieldJob:
    params = dict(row.params or {})
    return FieldJob(
        id=int(row.id),
        kind=row.kind,
        field_id=int(params.get("field_id") or 0),
        new_type=params.get("new_type"),
        status=row.status,
        done=int(row.progress_done or 0),
        total=None if row.progress_total is None else int(row.progress_total),
        error=row.error_message,
        created_at=row.created_at,
        stale=bool(row.stale),
        result=dict(row.result or {}),
    )


# --- starting jobs -----------------------------------------------------------------


def enqueue_field_job(
    principal: Principal, kind: str, field_id: int, *, new_type: str | None = None
) -> int:
    """Record a field job for field_id and start it; return the job id.

    Raises:
        PermissionDenied: unless the principal is an admin.
        FieldError: for an unknown kind, or a conversion without new_type.
    """
    principal.require(Role.ADMIN)
    if kind not in FIELD_JOB_KINDS:
        raise FieldError(f"Unknown field job {kind!r}.")
    params: dict[str, Any] = {"field_id": int(field_id)}
    if kind == KIND_CONVERT:
        if new_type is None:
            raise FieldError("A type change needs the new type.")
        params["new_type"] = FieldType(new_type).value
    with tenant_connection(principal.workspace_id) as conn:
        job_id = int(
            conn.execute(
                text(
                    "INSERT INTO background_jobs (workspace_id, kind, status, params,"
                    " created_by) VALUES (:ws, :kind, 'queued', CAST(:params AS jsonb),"
                    " :by) RETURNING id"
                ),
                {
                    "ws": principal.workspace_id,
                    "kind": kind,
                    "params": json.dumps(params),
                    "by": principal.user_id,
                },
            ).scalar_one()
        )
    logger.info(
        "field job %s (%s) queued for field %s in workspace %s",
        job_id,
        kind,
        field_id,
        principal.workspace_id,
    )
    # TODO: hand the job to the BackgroundJob runner in workers/ (enqueue
    # run_field_job(workspace_id, job_id) on its RQ queue) once it is merged.
    # Until then a thread of the web process runs it, so a restart of the web
    # process stops the job and the page offers to resume it.
    threading.Thread(
        target=run_field_job,
        args=(principal.workspace_id, job_id),
        name=f"field-job-{job_id}",
        daemon=True,
    ).start()
    return job_id


def start_type_change(principal: Principal, field_id: int, new_type: str) -> int:
    """Mark the field 'converting' and start the conversion job; return its id.

    Raises:
        PermissionDenied, NotFound, FieldError (as begin_type_change()).
    """
    field_service.begin_type_change(principal, field_id, new_type, confirm=True)
    return enqueue_field_job(principal, KIND_CONVERT, field_id, new_type=new_type)


def start_field_deletion(principal: Principal, field_id: int) -> int:
    """Mark the field 'deleting' and start the job that removes its values.

    Raises:
        PermissionDenied, NotFound, FieldError (as begin_field_deletion()).
    """
    field_service.begin_field_deletion(principal, field_id, confirm=True)
    return enqueue_field_job(principal, KIND_DELETE, field_id)


def start_recompute(principal: Principal, field_id: int) -> int:
    """Start recomputing a calculated field's stored values; return the job id.

    Raises:
        PermissionDenied, NotFound, FieldError (not a calculated field).
    """
    definition = field_service.get_field(principal, field_id)
    if not definition.is_calculated:
        raise FieldError(f"{definition.label} is not a calculated field.")
    return enqueue_field_job(principal, KIND_RECOMPUTE, field_id)


def resume_field_job(principal: Principal, field_id: int) -> int:
    """Start the field's last job again after it failed or its process stopped.

    The field jobs continue idempotently from what earlier runs committed.

    Raises:
        PermissionDenied, NotFound (no job for this field), FieldError (the job
        is still running).
    """
    principal.require(Role.ADMIN)
    last = latest_jobs(principal).get(int(field_id))
    if last is None:
        raise NotFound(f"Field {field_id} has no job to resume.")
    if last.active:
        raise FieldError("This field's job is still running; wait for it to finish.")
    if last.status in ACTIVE_STATUSES:
        _finish(
            principal.workspace_id,
            last.id,
            JobStatus.FAILED,
            error="The process running this job stopped; it was started again.",
        )
    return enqueue_field_job(principal, last.kind, field_id, new_type=last.new_type)


# --- reading jobs ------------------------------------------------------------------


def latest_jobs(principal: Principal) -> dict[int, FieldJob]:
    """Return the newest field job of each field, keyed by field id."""
    principal.require(Role.VIEWER)
    with tenant_connection(principal.workspace_id) as conn:
        rows = conn.execute(
            text(
                f"SELECT DISTINCT ON (params->>'field_id') {_COLUMNS}"
                "  FROM background_jobs WHERE kind = ANY(:kinds)"
                " ORDER BY params->>'field_id', created_at DESC, id DESC"
            ),
            {"kinds": list(FIELD_JOB_KINDS), "stale": STALE_AFTER_SECONDS},
        ).all()
    jobs = [_row_to_job(row) for row in rows]
    return {job.field_id: job for job in jobs}


def get_job(principal: Principal, job_id: int) -> FieldJob:
    """Return one field job.

    Raises:
        NotFound: when the job is not a field job of the principal's workspace.
    """
    principal.require(Role.VIEWER)
    with tenant_connection(principal.workspace_id) as conn:
        row = conn.execute(
            text(
                f"SELECT {_COLUMNS} FROM background_jobs"
                " WHERE id = :id AND kind = ANY(:kinds)"
            ),
            {
                "id": job_id,
                "kinds": list(FIELD_JOB_KINDS),
                "stale": STALE_AFTER_SECONDS,
            },
        ).first()
    if row is None:
        raise NotFound(f"Job {job_id} was not found in this workspace.")
    return _row_to_job(row)


# --- running jobs ------------------------------------------------------------------


def run_field_job(workspace_id: int, job_id: int) -> dict[str, Any]:
    """Run one queued field job to the end, recording progress and the outcome.

    Returns the job function's result, or {} when the job failed (the error
    is then stored in the row and logged).
    """
    with tenant_connection(workspace_id) as conn:
        row = conn.execute(
            text(
                "UPDATE background_jobs SET status = 'running', attempts = attempts + 1,"
                " started_at = coalesce(started_at, now()), heartbeat_at = now()"
                " WHERE id = :id RETURNING kind, params"
            ),
            {"id": job_id},
        ).first()
    if row is None:
        logger.error("field job %s of workspace %s vanished", job_id, workspace_id)
        return {}
    params = dict(row.params or {})
    field_id = int(params["field_id"])
    progress = _progress_reporter(workspace_id, job_id)
    progress(0, None)
    try:
        result = _call_job_function(
            row.kind, workspace_id, field_id, params.get("new_type"), progress
        )
    except Exception as exc:
        logger.exception(
            "field job %s (%s) of field %s in workspace %s failed",
            job_id,
            row.kind,
            field_id,
            workspace_id,
        )
        _finish(workspace_id, job_id, JobStatus.FAILED, error=str(exc))
        return {}
    _finish(workspace_id, job_id, JobStatus.COMPLETED, result=result)
    return result


def _call_job_function(
    kind: str,
    workspace_id: int,
    field_id: int,
    new_type: str | None,
    progress: Callable[[int, int | None], None],
) -> dict[str, Any]:
    if kind == KIND_CONVERT:
        return field_job_functions.convert_field(
            workspace_id, field_id, str(new_type), progress
        )
    if kind == KIND_DELETE:
        return field_job_functions.delete_field_values(workspace_id, field_id, progress)
    return field_job_functions.recompute_field(workspace_id, field_id, progress)


def _progress_reporter(
    workspace_id: int, job_id: int
) -> Callable[[int, int | None], None]:
    def report(done: int, total: int | None) -> None:
        with tenant_connection(workspace_id) as conn:
            conn.execute(
                text(
                    "UPDATE background_jobs SET progress_done = :done,"
                    " progress_total = coalesce(:total, progress_total),"
                    " heartbeat_at = now() WHERE id = :id"
                ),
                {"id": job_id, "done": done, "total": total},
            )
        live.publish(
            workspace_id, "job.progress", job_id=job_id, done=done, total=total
        )

    return report


def _finish(
    workspace_id: int,
    job_id: int,
    status: JobStatus,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    with tenant_connection(workspace_id) as conn:
        _set_final(conn, job_id, status, result, error)
    live.publish(workspace_id, "job.finished", job_id=job_id, status=status.value)


def _set_final(
    conn: Connection,
    job_id: int,
    status: JobStatus,
    result: dict[str, Any] | None,
    error: str | None,
) -> None:
    conn.execute(
        text(
            "UPDATE background_jobs SET status = :status, result = CAST(:result AS jsonb),"
            " error_message = :error, finished_at = now(), heartbeat_at = now(),"
            " progress_done = CASE WHEN :status = 'completed'"
            "   THEN coalesce(progress_total, progress_done) ELSE progress_done END"
            " WHERE id = :id"
        ),
        {
            "id": job_id,
            "status": status.value,
            "result": json.dumps(result or {}, default=str),
            "error": None if error is None else error[:MAX_ERROR_CHARS],
        },
    )
