"""Background job kinds used by the runner tests (imported by the test worker)."""

from __future__ import annotations

import time

from workers.background import JobContext, RetryableJobError, job_kind


@job_kind("test.count")
def count_up(ctx: JobContext) -> dict:
    """Count to params["n"], reporting progress and honouring cancel."""
    n = int(ctx.params["n"])
    for done in range(1, n + 1):
        time.sleep(float(ctx.params.get("sleep", 0)))
        ctx.progress(done, n)
    return {"counted": n, "attempt": ctx.attempt}


@job_kind("test.flaky")
def flaky(ctx: JobContext) -> dict:
    """Fail transiently on the first attempt."""
    if ctx.attempt == 1:
        raise RetryableJobError("first attempt always fails")
    return {"attempt": ctx.attempt}


@job_kind("test.boom")
def boom(ctx: JobContext) -> dict:
    """Fail for good."""
    raise ValueError("broken input")
