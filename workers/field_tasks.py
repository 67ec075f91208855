"""Background job kinds that change a field's stored values (see ceramic_app.field_jobs).

Each handler runs one of the batched functions of ceramic_app.fields.jobs.
Those commit batch by batch and can run again after an interruption, which
the runner requires of every handler. ctx.progress stores the heartbeat and
publishes "job.progress".
"""

from __future__ import annotations

from typing import Any

from ceramic_app.field_jobs import KIND_CONVERT, KIND_DELETE, KIND_RECOMPUTE
from ceramic_app.fields import jobs
from workers.background import JobContext, job_kind


@job_kind(KIND_CONVERT)
def convert_field(ctx: JobContext) -> dict[str, Any]:
    """Convert the field's stored values to params["new_type"], then switch its type."""
    return jobs.convert_field(
        ctx.workspace_id,
        int(ctx.params["field_id"]),
        str(ctx.params["new_type"]),
        ctx.progress,
    )


@job_kind(KIND_DELETE)
def delete_field(ctx: JobContext) -> dict[str, Any]:
    """Remove a field marked 'deleting' from every profile, then delete its row."""
    return jobs.delete_field_values(
        ctx.workspace_id, int(ctx.params["field_id"]), ctx.progress
    )


@job_kind(KIND_RECOMPUTE)
def recompute_field(ctx: JobContext) -> dict[str, Any]:
    """Recompute a calculated field and the calculated fields that read it."""
    return jobs.recompute_field(
        ctx.workspace_id, int(ctx.params["field_id"]), ctx.progress
    )
