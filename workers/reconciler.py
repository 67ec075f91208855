"""Find jobs whose RQ entry was lost or whose worker died, and queue them again.

Postgres is the truth about jobs; Redis only carries the work. A job can be
stranded two ways: its RQ entry disappears (Redis restarted, queue flushed)
while the row's status is queued, or its worker dies (SIGKILL, OOM, host
restart) while the status is running and the heartbeat stops. reconcile() finds both
through the stale_jobs() database function and re-enqueues them; a job that
has already used MAX_ATTEMPTS attempts is marked failed with a reason, so no
job shows "running" forever.

It also finds imports that stopped writing more than
SEARCH_REFRESH_AFTER_SECONDS ago whose search refresh never recorded its end
(import_jobs.search_indexed_at), through imports_awaiting_search(), and
queues that refresh again unless its RQ entry is still queued or running.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job

from ceramic_app.db import connect_raw
from ceramic_app.imports.engine import MAX_ATTEMPTS as IMPORT_MAX_ATTEMPTS
from ceramic_app.imports.engine import fail_job
from ceramic_app.imports.followup import enqueue_search_refresh
from ceramic_app.imports.service import enqueue_import, enqueue_validation
from ceramic_app.queues import get_redis
from workers.background import MAX_ATTEMPTS as BACKGROUND_MAX_ATTEMPTS
from workers.background import enqueue_background_job

logger = logging.getLogger(__name__)

# A running job touches heartbeat_at every 10 s (imports) or on each progress
# call (background jobs); a minute of silence means its worker is gone.
STALE_AFTER_SECONDS = 60
# The refresh is queued when an import stops and usually ends within minutes
# (an estimate). A longer wait means that its queue entry or worker was lost.
SEARCH_REFRESH_AFTER_SECONDS = 300
_ALIVE_RQ_STATES = {"queued", "started", "deferred", "scheduled"}


@dataclass(frozen=True)
class Action:
    """One decision of a reconcile pass."""

    kind: str
    workspace_id: int
    job_id: int
    action: str


def _rq_alive(redis: Redis, rq_job_id: str | None) -> bool:
    if not rq_job_id:
        return False
    try:
        job = Job.fetch(rq_job_id, connection=redis)
    except NoSuchJobError:
        return False
    status = job.get_status(refresh=True)
    return getattr(status, "value", status) in _ALIVE_RQ_STATES


def reconcile(
    stale_after_seconds: float = STALE_AFTER_SECONDS,
    search_after_seconds: float = SEARCH_REFRESH_AFTER_SECONDS,
) -> list[Action]:
    """Re-enqueue stranded jobs and fail those out of attempts; return what was done."""
    redis = get_redis()
    actions: list[Action] = []
    with connect_raw() as conn:
        stale = conn.execute(
            "SELECT kind, workspace_id, id, status FROM stale_jobs(make_interval(secs => %s))",
            (stale_after_seconds,),
        ).fetchall()
        awaiting_search = conn.execute(
            "SELECT workspace_id, id FROM imports_awaiting_search("
            "make_interval(secs => %s))",
            (search_after_seconds,),
        ).fetchall()
        conn.commit()
    for kind, workspace_id, job_id, status in stale:
        try:
            if kind == "import":
                action = _reconcile_import(
                    redis, workspace_id, job_id, status, stale_after_seconds
                )
            else:
                action = _reconcile_background(
                    redis, workspace_id, job_id, status, stale_after_seconds
                )
        except Exception:
            logger.exception(
                "reconciling %s job %s in workspace %s failed",
                kind,
                job_id,
                workspace_id,
            )
            continue
        if action:
            logger.warning(
                "reconciler: %s job %s workspace %s (%s): %s",
                kind,
                job_id,
                workspace_id,
                status,
                action,
            )
            actions.append(Action(kind, workspace_id, job_id, action))
    for workspace_id, job_id in awaiting_search:
        action = _reconcile_search(workspace_id, job_id)
        if action:
            logger.warning(
                "reconciler: search refresh of import job %s workspace %s: %s",
                job_id,
                workspace_id,
                action,
            )
            actions.append(Action("import.search", workspace_id, job_id, action))
    return actions


def _reconcile_search(workspace_id: int, job_id: int) -> str | None:
    try:
        if not enqueue_search_refresh(workspace_id, job_id):
            return None  # its RQ entry is queued or running
    except Exception:
        logger.exception(
            "reconciling the search refresh of import job %s in workspace %s failed",
            job_id,
            workspace_id,
        )
        return None
    return "search refresh queued again"


def _reconcile_import(
    redis: Redis, workspace_id: int, job_id: int, status: str, stale_after: float
) -> str | None:
    with connect_raw(workspace_id) as conn:
        row = conn.execute(
            "SELECT rq_job_id, attempts, heartbeat_at IS NULL FROM import_jobs"
            " WHERE workspace_id = %s AND id = %s",
            (workspace_id, job_id),
        ).fetchone()
        if row is None:
            return None
        rq_job_id, attempts, never_started = row
        if (
            status in ("queued", "validating")
            and never_started
            and _rq_alive(redis, rq_job_id)
        ):
            return None
        if status == "queued" and _rq_alive(redis, rq_job_id):
            return None
        if attempts >= IMPORT_MAX_ATTEMPTS:
            conn.close()
            fail_job(
                workspace_id,
                job_id,
                f"The import stopped {attempts} times without finishing (its worker"
                " died or its queue entry was lost); it is not retried again."
                " Profiles from batches that were committed stay imported.",
            )
            enqueue_search_refresh(workspace_id, job_id)
            return "failed: out of attempts"
        if status == "validating":
            changed = conn.execute(
                "UPDATE import_jobs SET heartbeat_at = NULL WHERE workspace_id = %s"
                " AND id = %s AND status = 'validating'"
                " AND coalesce(heartbeat_at, created_at)"
                "     < now() - make_interval(secs => %s)",
                (workspace_id, job_id, stale_after),
            ).rowcount
            conn.commit()
            if changed:
                enqueue_validation(workspace_id, job_id)
                return "validation queued again"
            return None
        changed = conn.execute(
            "UPDATE import_jobs SET status = 'queued', heartbeat_at = NULL"
            " WHERE workspace_id = %s AND id = %s AND status IN ('queued', 'running')"
            " AND coalesce(heartbeat_at, created_at) < now() - make_interval(secs => %s)",
            (workspace_id, job_id, stale_after),
        ).rowcount
        conn.commit()
    if changed:
        enqueue_import(workspace_id, job_id)
        return "queued again"
    return None


def _reconcile_background(
    redis: Redis, workspace_id: int, job_id: int, status: str, stale_after: float
) -> str | None:
    with connect_raw(workspace_id) as conn:
        row = conn.execute(
            "SELECT rq_job_id, attempts FROM background_jobs WHERE workspace_id = %s AND id = %s",
            (workspace_id, job_id),
        ).fetchone()
        if row is None:
            return None
        rq_job_id, attempts = row
        if status == "queued" and _rq_alive(redis, rq_job_id):
            return None
        if attempts >= BACKGROUND_MAX_ATTEMPTS:
            conn.execute(
                "UPDATE background_jobs SET status = 'failed', finished_at = now(),"
                " error_message = %s WHERE workspace_id = %s AND id = %s",
                (
                    f"The job stopped {attempts} times without finishing; it is not"
                    " retried again.",
                    workspace_id,
                    job_id,
                ),
            )
            conn.commit()
            return "failed: out of attempts"
        changed = conn.execute(
            "UPDATE background_jobs SET status = 'queued', heartbeat_at = NULL"
            " WHERE workspace_id = %s AND id = %s AND status IN ('queued', 'running')"
            " AND coalesce(heartbeat_at, created_at) < now() - make_interval(secs => %s)",
            (workspace_id, job_id, stale_after),
        ).rowcount
        conn.commit()
    if changed:
        enqueue_background_job(workspace_id, job_id)
        return "queued again"
    return None
