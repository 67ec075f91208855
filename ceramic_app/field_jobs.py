"""Field jobs: start type conversions, value deletions and recomputes, and track them.

Each job is a background_jobs row (kind "field.convert", "field.delete" or
"field.recompute", params {"field_id", "new_type"}) that the background job
runner (workers.background) executes with the handlers in
workers.field_tasks. The runner publishes "job.progress" events (job_id,
done, total) on the workspace's live channel while the job runs, and one with
the final status at the end. Pages read the rows on load and follow the
events afterwards.

Every function that starts a job requires the admin role, so a member or
viewer cannot start one even by calling a page handler directly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text

from ceramic_app.accounts.service import Principal
from ceramic_app.db import tenant_connection
from ceramic_app.fields import service as field_service
from ceramic_app.fields.errors import FieldError, NotFound
from ceramic_app.models import FieldType, JobStatus, Role

logger = logging.getLogger(__name__)

KIND_CONVERT = "field.convert"
KIND_DELETE = "field.delete"
KIND_RECOMPUTE = "field.recompute"
FIELD_JOB_KINDS = (KIND_CONVERT, KIND_DELETE, KIND_RECOMPUTE)
ACTIVE_STATUSES = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)
# A running job whose heartbeat is older than this is treated as stopped, so
# an admin may start it again. The reconciler re-queues such jobs after a
# minute of silence, so this only shows jobs that it could not restart.
STALE_AFTER_SECONDS = 120
STOPPED_MESSAGE = "The worker running this job stopped; it was started again."

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
    """Submit a field job for field_id to the background job runner; return its id.

    Raises:
        PermissionDenied: unless the principal is an admin.
        FieldError: for an unknown kind, or a conversion without new_type.
    """
    # Imported here: workers.field_tasks imports this module for its kinds.
    import workers.kinds  # noqa: F401  (registers every job kind)
    from workers.background import submit_job

    principal.require(Role.ADMIN)
    if kind not in FIELD_JOB_KINDS:
        raise FieldError(f"Unknown field job {kind!r}.")
    params: dict[str, Any] = {"field_id": int(field_id)}
    if kind == KIND_CONVERT:
        if new_type is None:
            raise FieldError("A type change needs the new type.")
        params["new_type"] = FieldType(new_type).value
    job_id = submit_job(principal, kind, params)
    logger.info(
        "field job %s (%s) queued for field %s in workspace %s",
        job_id,
        kind,
        field_id,
        principal.workspace_id,
    )
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


def _mark_stopped(workspace_id: int, job_id: int) -> None:
    # The runner claims only queued rows, so a failed row is never run again,
    # even if the reconciler queued it a moment before.
    with tenant_connection(workspace_id) as conn:
        conn.execute(
            text(
                "UPDATE background_jobs SET status = 'failed', finished_at = now(),"
                " error_message = :message"
                " WHERE id = :id AND status IN ('queued', 'running')"
            ),
            {"id": job_id, "message": STOPPED_MESSAGE},
        )


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
        _mark_stopped(principal.workspace_id, last.id)
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
