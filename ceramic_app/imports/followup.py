"""Work that runs after an import commits: calculated fields and sort indexes.

The RQ import task and the `ceramic import` console command both call
run_after_import, so a file imported either way leaves the same state.
"""

from __future__ import annotations

import logging

from ceramic_app.fields.jobs import recompute_dependents
from ceramic_app.imports.service import imported_field_keys
from ceramic_app.profiles.sort_indexes import enqueue_sort_index_sync

logger = logging.getLogger(__name__)


def run_after_import(workspace_id: int, job_id: int) -> None:
    """Recompute calculated fields that read imported fields, then queue a sort-index sync.

    Failures are logged, not raised, because the import itself has committed.
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
