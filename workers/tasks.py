"""RQ job functions. Each takes ids only and re-reads its job row from Postgres."""

from __future__ import annotations

import logging

from ceramic_app.db import get_engine
from ceramic_app.imports.engine import run_import, run_validation
from ceramic_app.imports.followup import (
    enqueue_search_refresh,
    refresh_import_search,
    run_after_import,
)

logger = logging.getLogger(__name__)


def _after_fork() -> None:
    # RQ runs each job in a forked work horse. The pooled connections it
    # inherited belong to the parent, so the child must not reuse them.
    get_engine().dispose(close=False)


def run_import_task(workspace_id: int, job_id: int) -> str:
    """Run or resume one import job, then refresh what depends on the values."""
    _after_fork()
    logger.info("import job %s workspace %s: task started", job_id, workspace_id)
    try:
        status = run_import(workspace_id, job_id)
    except Exception:
        # A failed import keeps the batches it committed, with search deferred.
        # The refresh job does nothing unless the import's status is final.
        _queue_search_refresh(workspace_id, job_id)
        raise
    if status in ("completed", "cancelled"):
        run_after_import(workspace_id, job_id)
    elif status in ("failed", "rejected"):
        _queue_search_refresh(workspace_id, job_id)
    return status


def _queue_search_refresh(workspace_id: int, job_id: int) -> None:
    try:
        enqueue_search_refresh(workspace_id, job_id)
    except Exception:
        logger.exception(
            "import job %s workspace %s: queueing the search refresh failed;"
            " the reconciler queues it again",
            job_id,
            workspace_id,
        )


def run_search_refresh_task(workspace_id: int, job_id: int) -> int:
    """Write the search documents of the profiles an import wrote."""
    _after_fork()
    return refresh_import_search(workspace_id, job_id)


def run_validation_task(workspace_id: int, job_id: int) -> str:
    """Run the validation pass of one import job."""
    _after_fork()
    logger.info(
        "import job %s workspace %s: validation task started", job_id, workspace_id
    )
    return run_validation(workspace_id, job_id)


def run_background_task(workspace_id: int, job_id: int) -> str:
    """Run one background job through its registered handler."""
    _after_fork()
    import workers.kinds  # noqa: F401  (registers the job kinds)
    from workers.background import run_background_job

    return run_background_job(workspace_id, job_id)
