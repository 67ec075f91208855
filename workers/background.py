"""Generic runner for long work stored as background_jobs rows.

Exports, field conversions, bulk edits and deletions register a handler for
their kind and submit jobs; this module does the rest: status transitions
(queued -> running -> completed / failed / cancelled), attempts, a
heartbeat, cancellation and "job.progress" events. The reconciler
(workers.reconciler) re-enqueues jobs whose worker died.

Registering a kind:

    from workers.background import JobContext, job_kind, submit_job

    @job_kind("export")
    def export_profiles(ctx: JobContext) -> dict:
        for done, chunk in enumerate(chunks, start=1):
            ctx.progress(done, total)      # heartbeat; raises JobCancelled
            ...
        return {"path": "..."}             # stored in background_jobs.result

    job_id = submit_job(principal, "export", {"format": "csv"})

A handler must be safe to run again from the start (or resume from its own
checkpoint in ctx.params / result), because a job whose worker died runs
again, up to MAX_ATTEMPTS times. Raise RetryableJobError for a transient
failure; any other exception fails the job with its message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from sqlalchemy import text

from ceramic_app import live
from ceramic_app.accounts.service import Principal
from ceramic_app.db import connect_raw, tenant_connection
from ceramic_app.models import Role
from ceramic_app.queues import DEFAULT, get_queue

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
PROGRESS_SECONDS = 0.5
JOB_TIMEOUT_SECONDS = 12 * 3600

Handler = Callable[["JobContext"], dict[str, Any] | None]
_HANDLERS: dict[str, Handler] = {}


class JobCancelled(Exception):
    """Raised by JobContext.progress when the user asked the job to stop."""


class RetryableJobError(Exception):
    """A transient failure: the job is queued again until MAX_ATTEMPTS."""


def job_kind(kind: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of a job kind."""

    def register(handler: Handler) -> Handler:
        if kind in _HANDLERS and _HANDLERS[kind] is not handler:
            raise ValueError(f"job kind {kind!r} is already registered")
        _HANDLERS[kind] = handler
        return handler

    return register


def registered_kinds() -> list[str]:
    """Return the registered job kinds."""
    return sorted(_HANDLERS)


@dataclass
class JobContext:
    """What a handler gets: ids, params, and progress/cancel reporting."""

    workspace_id: int
    job_id: int
    kind: str
    params: dict[str, Any]
    attempt: int
    _last_publish: float = field(default=0.0, repr=False)

    def progress(self, done: int, total: int | None = None) -> None:
        """Store progress and the heartbeat; raise JobCancelled if cancel was asked."""
        with connect_raw(self.workspace_id) as conn:
            row = conn.execute(
                "UPDATE background_jobs SET progress_done = %s,"
                " progress_total = coalesce(%s, progress_total), heartbeat_at = now()"
                " WHERE workspace_id = %s AND id = %s RETURNING cancel_requested",
                (done, total, self.workspace_id, self.job_id),
            ).fetchone()
            conn.commit()
        now = time.monotonic()
        if now - self._last_publish >= PROGRESS_SECONDS:
            self._last_publish = now
            live.publish(
                self.workspace_id,
                "job.progress",
                job_id=self.job_id,
                kind=self.kind,
                status="running",
                done=done,
                total=total,
            )
        if row and row[0]:
            raise JobCancelled


def submit_job(principal: Principal, kind: str, params: dict[str, Any]) -> int:
    """Create a queued background job and enqueue it after the row is committed."""
    principal.require(Role.MEMBER)
    if kind not in _HANDLERS:
        raise ValueError(
            f"unknown job kind {kind!r}; registered: {', '.join(registered_kinds())}"
        )
    import json

    with tenant_connection(principal.workspace_id) as conn:
        job_id = conn.execute(
            text(
                "INSERT INTO background_jobs (workspace_id, kind, params, created_by)"
                " VALUES (:ws, :kind, CAST(:params AS jsonb), :user) RETURNING id"
            ),
            {
                "ws": principal.workspace_id,
                "kind": kind,
                "params": json.dumps(params),
                "user": principal.user_id,
            },
        ).scalar_one()
    enqueue_background_job(principal.workspace_id, int(job_id))
    return int(job_id)


def enqueue_background_job(workspace_id: int, job_id: int) -> str:
    """Put a background job on the default queue and store the RQ job id."""
    rq_job = get_queue(DEFAULT).enqueue(
        "workers.tasks.run_background_task",
        workspace_id,
        job_id,
        job_timeout=JOB_TIMEOUT_SECONDS,
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
    )
    with connect_raw(workspace_id) as conn:
        conn.execute(
            "UPDATE background_jobs SET rq_job_id = %s WHERE workspace_id = %s AND id = %s",
            (rq_job.id, workspace_id, job_id),
        )
        conn.commit()
    return rq_job.id


def cancel_job(principal: Principal, job_id: int) -> None:
    """Ask a background job to stop (a queued one is cancelled at once)."""
    principal.require(Role.MEMBER)
    with tenant_connection(principal.workspace_id) as conn:
        conn.execute(
            text(
                "UPDATE background_jobs SET cancel_requested = true,"
                " status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,"
                " finished_at = CASE WHEN status = 'queued' THEN now() END"
                " WHERE id = :id AND status IN ('queued', 'running')"
            ),
            {"id": job_id},
        )


def _finish(
    workspace_id: int, job_id: int, kind: str, status: str, **values: Any
) -> None:
    with connect_raw(workspace_id) as conn:
        conn.execute(
            "UPDATE background_jobs SET status = %s, finished_at = now(),"
            " result = coalesce(%s, result), error_message = %s"
            " WHERE workspace_id = %s AND id = %s",
            (
                status,
                Jsonb(values["result"]) if values.get("result") is not None else None,
                values.get("error"),
                workspace_id,
                job_id,
            ),
        )
        conn.commit()
    live.publish(
        workspace_id,
        "job.progress",
        job_id=job_id,
        kind=kind,
        status=status,
        message=values.get("error"),
    )


def run_background_job(workspace_id: int, job_id: int) -> str:
    """Claim a queued job, run its handler and store the final state."""
    with connect_raw(workspace_id) as conn:
        conn.row_factory = dict_row  # type: ignore[assignment]
        row = conn.execute(
            "UPDATE background_jobs SET status = 'running', attempts = attempts + 1,"
            " started_at = coalesce(started_at, now()), heartbeat_at = now(),"
            " error_message = NULL"
            " WHERE workspace_id = %s AND id = %s AND status = 'queued'"
            " RETURNING kind, params, attempts",
            (workspace_id, job_id),
        ).fetchone()
        conn.commit()
    if row is None:
        logger.info(
            "background job %s workspace %s is not queued; nothing to do",
            job_id,
            workspace_id,
        )
        return "skipped"
    kind = row["kind"]
    handler = _HANDLERS.get(kind)
    if handler is None:
        _finish(
            workspace_id,
            job_id,
            kind,
            "failed",
            error=f"No handler for job kind {kind!r}.",
        )
        return "failed"
    if row["attempts"] > MAX_ATTEMPTS:
        message = f"The job stopped {MAX_ATTEMPTS} times without finishing."
        _finish(workspace_id, job_id, kind, "failed", error=message)
        return "failed"
    context = JobContext(
        workspace_id, job_id, kind, row["params"] or {}, row["attempts"]
    )
    logger.info(
        "background job %s workspace %s (%s) started", job_id, workspace_id, kind
    )
    try:
        result = handler(context)
    except JobCancelled:
        _finish(workspace_id, job_id, kind, "cancelled", error="Cancelled.")
        logger.info("background job %s workspace %s cancelled", job_id, workspace_id)
        return "cancelled"
    except RetryableJobError as exc:
        logger.warning(
            "background job %s workspace %s attempt %s failed, retrying: %s",
            job_id,
            workspace_id,
            row["attempts"],
            exc,
        )
        if row["attempts"] >= MAX_ATTEMPTS:
            _finish(workspace_id, job_id, kind, "failed", error=str(exc))
            return "failed"
        with connect_raw(workspace_id) as conn:
            conn.execute(
                "UPDATE background_jobs SET status = 'queued', heartbeat_at = NULL"
                " WHERE workspace_id = %s AND id = %s",
                (workspace_id, job_id),
            )
            conn.commit()
        enqueue_background_job(workspace_id, job_id)
        return "queued"
    except Exception as exc:
        logger.exception(
            "background job %s workspace %s (%s) failed", job_id, workspace_id, kind
        )
        _finish(
            workspace_id, job_id, kind, "failed", error=f"{type(exc).__name__}: {exc}"
        )
        return "failed"
    _finish(workspace_id, job_id, kind, "completed", result=result or {})
    logger.info(
        "background job %s workspace %s (%s) completed", job_id, workspace_id, kind
    )
    return "completed"


def get_job(principal: Principal, job_id: int) -> dict[str, Any] | None:
    """Return a background job's status, progress, result and error, or None."""
    with tenant_connection(principal.workspace_id) as conn:
        row = (
            conn.execute(
                text(
                    "SELECT id, kind, status, progress_done, progress_total, result,"
                    " error_message FROM background_jobs WHERE id = :id"
                ),
                {"id": job_id},
            )
            .mappings()
            .first()
        )
    return dict(row) if row else None
