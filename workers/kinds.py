"""Every background job kind; importing this module registers their handlers.

Both the worker and the web process import it: the worker to run jobs, the
web process so that submit_job() accepts the kinds.
"""

from __future__ import annotations

from typing import Any

from ceramic_app.fields.jobs import recompute_dependents
from ceramic_app.profiles import bulk
from workers import field_tasks  # noqa: F401  (field.convert, field.delete, field.recompute)
from workers.background import JobContext, job_kind

BULK_PROFILES = "profiles.bulk"


@job_kind(BULK_PROFILES)
def run_bulk_profiles(ctx: JobContext) -> dict[str, Any]:
    """Tag, untag, set a field on, delete, or undo a change to a selection.

    Calculated fields that read the changed field are recomputed afterwards.
    """
    result = bulk.run_job(ctx.workspace_id, ctx.job_id, ctx.params, ctx.progress)
    key = bulk.changed_field_key(ctx.workspace_id, ctx.params)
    if key and result.get("changed"):
        recompute_dependents(ctx.workspace_id, {key})
    return result
