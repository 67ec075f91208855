"""RQ job functions. Each takes ids only and re-reads its job row from Postgres."""

from __future__ import annotations

import logging

from ceramic_app.db import get_engine
from ceramic_app.fields.jobs import recompute_dependents
from ceramic_app.imports.engine import run_import, run_validation
from ceramic_app.imports.service import imported_field_keys
from ceramic_app.profiles.sort_indexes import enqueue_sort_index_sync

logger = logging.getLogger(__name__)


def _after_fork() -> None:
    # RQ runs each job in a forked work horse. The pooled connections it
    # inherited belong to the parent, so the child must not reuse them.
    get_engine().dispose(close=False)


def run_import_task(workspace_id: int, job_id: int) -> str:
    """Run or resume one import job, then refresh what depends on the values."""
    _after_fork()
    logger.info("import job %s workspace %s: task started", job_id, workspace_id)
    status = run_import(workspace_id, job_id)
    if status in ("completed", "cancelled"):
        _after_import(workspace_id, job_id)
    return status


def _after_import(workspace_id: int, job_id: int) -> None:
    """Recompute calculated fields that read imported fields; sync sort indexes.

    Failures here are logged, not raised: the import itself has committed.
    """
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
