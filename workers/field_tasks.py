"""Background job kinds that change a field's stored values (see ceramic_app.field_jobs).

Each handler runs one of the batched functions of ceramic_app.fields.jobs.
Those commit batch by batch and can run again after an interruption, which
the runner requires of every handler. ctx.progress stores the heartbeat and
publishes "job.progress".
"""

from __future__ import annotations

import logging
from typing import Any

from ceramic_app.field_jobs import KIND_CONVERT, KIND_DELETE, KIND_RECOMPUTE
from ceramic_app.fields import jobs
from ceramic_app.profiles.sort_indexes import enqueue_sort_index_sync
from workers.background import JobContext, job_kind

logger = logging.getLogger(__name__)


def _sync_sort_indexes(ctx: JobContext) -> None:
    # A number or date field needs a sort index, and a deleted or retyped
    # field's index is dead weight on every write. The job's own work has
    # committed, so a failure here is logged, not raised.
    try:
        enqueue_sort_index_sync(ctx.workspace_id)
    except Exception:
        logger.exception(
            "workspace %s: queueing the sort index sync failed", ctx.workspace_id
        )


@job_kind(KIND_CONVERT)
def convert_field(ctx: JobContext) -> dict[str, Any]:
    """Convert the field's stored values to params["new_type"], then switch its type."""
    result = jobs.convert_field(
        ctx.workspace_id,
        int(ctx.params["field_id"]),
        str(ctx.params["new_type"]),
        ctx.progress,
    )
    _sync_sort_indexes(ctx)
    return result


@job_kind(KIND_DELETE)
def delete_field(ctx: JobContext) -> dict[str, Any]:
    """Remove a field marked 'deleting' from every profile, then delete its row."""
    result = jobs.delete_field_values(
        ctx.workspace_id, int(ctx.params["field_id"]), ctx.progress
    )
    _sync_sort_indexes(ctx)
    return result


@job_kind(KIND_RECOMPUTE)
def recompute_field(ctx: JobContext) -> dict[str, Any]:
    """Recompute a calculated field and the calculated fields that read it."""
    return jobs.recompute_field(
        ctx.workspace_id, int(ctx.params["field_id"]), ctx.progress
    )
