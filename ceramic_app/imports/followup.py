"""Work that runs after an import commits: calculated fields, sort indexes, search.

The RQ import task and the `ceramic import` console command both call
run_after_import, so a file imported either way leaves the same state.

Imports write profiles with search deferred (ceramic_app.search.index), so
every import that started writing needs refresh_import_search once it has
stopped, whether it completed, was cancelled, failed or was rejected midway:
each of them may have committed batches. The refresh runs as its own RQ job
and records its end in import_jobs.search_indexed_at; the reconciler queues
it again when that stays NULL.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import psycopg

from ceramic_app import live
from ceramic_app.db import connect_raw
from ceramic_app.fields.jobs import recompute_dependents
from ceramic_app.imports.service import imported_field_keys
from ceramic_app.profiles.sort_indexes import enqueue_sort_index_sync
from ceramic_app.queues import DEFAULT, get_queue
from ceramic_app.search.index import refresh_documents
from ceramic_app.settings import get_settings, to_libpq_url

logger = logging.getLogger(__name__)

# Statuses in which an import no longer writes profiles.
FINISHED_STATUSES = ("completed", "cancelled", "failed", "rejected")
# The refresh reads profiles with updated_at >= the import's started_at minus
# this margin. Both come from the database server's clock, and every batch
# transaction starts after the claim that sets started_at, so the margin
# only covers the clock being stepped back (NTP) or a failover to a server
# whose clock differs, in between. It is kept short because the refresh also
# recomputes the documents of every profile written in it: an import right
# after a 1M-row one read 2M profiles with a 5-minute margin.
SEARCH_SKEW_MARGIN = timedelta(minutes=1)
SEARCH_REFRESH_TIMEOUT_SECONDS = 3600
_ALIVE_RQ_STATES = ("queued", "started", "deferred", "scheduled")


def run_after_import(
    workspace_id: int, job_id: int, *, refresh_search_inline: bool = False
) -> None:
    """Analyze profiles, recompute calculated fields that read imported fields, queue follow-ups.

    Queues a sort-index sync and the search refresh. With
    refresh_search_inline, the search refresh runs in this process instead,
    for a caller that may run without a worker (the console command).
    Failures are logged, not raised, because the import itself has committed.
    """
    try:
        analyze_profiles()
    except Exception:
        logger.exception(
            "import job %s workspace %s: ANALYZE profiles failed", job_id, workspace_id
        )
    try:
        keys = imported_field_keys(workspace_id, job_id)
        recomputed = recompute_dependents(workspace_id, keys)
        if recomputed:
            logger.info(
                "import job %s workspace %s: recomputed %s",
                job_id,
                workspace_id,
                ", ".join(recomputed),
            )
        enqueue_sort_index_sync(workspace_id)
    except Exception:
        logger.exception(
            "import job %s workspace %s: follow-up work failed", job_id, workspace_id
        )
    try:
        if refresh_search_inline:
            refresh_import_search(workspace_id, job_id)
        else:
            enqueue_search_refresh(workspace_id, job_id)
    except Exception:
        logger.exception(
            "import job %s workspace %s: search refresh failed; the reconciler"
            " queues it again",
            job_id,
            workspace_id,
        )


def analyze_profiles() -> None:
    """Refresh the planner's statistics of profiles after a bulk write.

    The profiles page shows counts above 10,000 from the planner's row
    estimate, and plans depend on it. Autovacuum's own ANALYZE may come
    late or not at all (it can be switched off), so an import that added
    a million rows would otherwise leave the estimate far behind. ANALYZE
    reads a fixed sample (30,000 rows with the default statistics target)
    whatever the table's size. It needs the table owner.
    """
    with psycopg.connect(
        to_libpq_url(get_settings().database_admin_url), autocommit=True
    ) as conn:
        conn.execute("ANALYZE profiles")


def search_refresh_rq_id(workspace_id: int, job_id: int) -> str:
    """Return the fixed RQ job id of an import's search refresh."""
    return f"search-refresh-{int(workspace_id)}-{int(job_id)}"


def search_refresh_queued(workspace_id: int, job_id: int) -> bool:
    """Return whether the import's search refresh is queued or running in RQ."""
    existing = get_queue(DEFAULT).fetch_job(search_refresh_rq_id(workspace_id, job_id))
    if existing is None:
        return False
    status = existing.get_status(refresh=True)
    return getattr(status, "value", status) in _ALIVE_RQ_STATES


def enqueue_search_refresh(workspace_id: int, job_id: int) -> bool:
    """Queue refresh_import_search unless it is already queued or running.

    Returns whether a job was queued. NOTE: two callers racing between the
    status check and the enqueue can queue it twice, which is harmless
    because the second run finds search_indexed_at set and stops.
    """
    if search_refresh_queued(workspace_id, job_id):
        return False
    get_queue(DEFAULT).enqueue(
        "workers.tasks.run_search_refresh_task",
        int(workspace_id),
        int(job_id),
        job_id=search_refresh_rq_id(workspace_id, job_id),
        job_timeout=SEARCH_REFRESH_TIMEOUT_SECONDS,
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
        description=f"search refresh workspace={workspace_id} import={job_id}",
    )
    return True


def refresh_import_search(workspace_id: int, job_id: int) -> int:
    """Write the search documents of the profiles an import wrote; record when done.

    Does nothing while the import may still write (it is queued again when
    the import stops) and nothing once search_indexed_at is set. Returns the
    number of profiles whose documents were checked.
    """
    with connect_raw(workspace_id) as conn:
        row = conn.execute(
            "SELECT status, started_at, search_indexed_at FROM import_jobs"
            " WHERE workspace_id = %s AND id = %s",
            (workspace_id, job_id),
        ).fetchone()
        conn.commit()
        if row is None:
            logger.info(
                "import job %s workspace %s not found; no search refresh",
                job_id,
                workspace_id,
            )
            return 0
        status, started_at, indexed_at = row
        if indexed_at is not None:
            return 0
        if status not in FINISHED_STATUSES:
            logger.info(
                "import job %s workspace %s is still %s; the search refresh runs"
                " when it stops",
                job_id,
                workspace_id,
                status,
            )
            return 0
        profiles = 0
        if started_at is not None:
            profiles = refresh_documents(
                conn, workspace_id, started_at - SEARCH_SKEW_MARGIN
            )
        conn.execute(
            "UPDATE import_jobs SET search_indexed_at = now()"
            " WHERE workspace_id = %s AND id = %s AND search_indexed_at IS NULL",
            (workspace_id, job_id),
        )
        conn.commit()
    logger.info(
        "import job %s workspace %s: search documents refreshed (%s profiles)",
        job_id,
        workspace_id,
        profiles,
    )
    live.publish(workspace_id, "import.search_indexed", job_id=job_id)
    return profiles
