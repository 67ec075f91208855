"""The generic background-job runner: completion, retries, failure, cancel, reconcile."""

from __future__ import annotations

import time

import pytest
from rq.job import Job
from sqlalchemy import text

from ceramic_app.db import tenant_connection
from ceramic_app.queues import get_redis
from tests.integration.imports import sample_jobs  # noqa: F401  (registers kinds)
from workers.background import cancel_job, submit_job
from workers.reconciler import reconcile

JOB_MODULES = {"CERAMIC_JOB_MODULES": "tests.integration.imports.sample_jobs"}


def job_row(principal, job_id: int) -> dict:
    with tenant_connection(principal.workspace_id) as conn:
        return dict(
            conn.execute(
                text("SELECT * FROM background_jobs WHERE id = :id"), {"id": job_id}
            )
            .mappings()
            .one()
        )


def wait_job(
    principal, job_id: int, statuses=("completed", "failed", "cancelled"), timeout=30.0
) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = job_row(principal, job_id)
        if row["status"] in statuses:
            return row
        time.sleep(0.1)
    raise AssertionError(f"background job {job_id} still {row['status']}")


def test_job_completes_with_progress(principal, start_worker):
    start_worker(JOB_MODULES)
    job_id = submit_job(principal, "test.count", {"n": 5})
    row = wait_job(principal, job_id)
    assert row["status"] == "completed"
    assert row["result"] == {"counted": 5, "attempt": 1}
    assert (row["progress_done"], row["progress_total"]) == (5, 5)


def test_retryable_error_retries(principal, start_worker):
    start_worker(JOB_MODULES)
    job_id = submit_job(principal, "test.flaky", {})
    row = wait_job(principal, job_id)
    assert row["status"] == "completed"
    assert row["attempts"] == 2


def test_error_fails_with_reason(principal, start_worker):
    start_worker(JOB_MODULES)
    job_id = submit_job(principal, "test.boom", {})
    row = wait_job(principal, job_id)
    assert row["status"] == "failed"
    assert row["error_message"] == "ValueError: broken input"


def test_cancel_running_job(principal, start_worker):
    start_worker(JOB_MODULES)
    job_id = submit_job(principal, "test.count", {"n": 500, "sleep": 0.02})
    wait_job(principal, job_id, statuses=("running",))
    cancel_job(principal, job_id)
    row = wait_job(principal, job_id)
    assert row["status"] == "cancelled"
    assert 0 < row["progress_done"] < 500


def test_unknown_kind_rejected(principal):
    with pytest.raises(ValueError, match="unknown job kind 'nope'"):
        submit_job(principal, "nope", {})


def test_reconciler_requeues_lost_background_job(principal, start_worker):
    job_id = submit_job(principal, "test.count", {"n": 2})
    Job.fetch(job_row(principal, job_id)["rq_job_id"], connection=get_redis()).delete()
    actions = reconcile(stale_after_seconds=0)
    assert [(a.kind, a.job_id, a.action) for a in actions] == [
        ("test.count", job_id, "queued again")
    ]
    start_worker(JOB_MODULES)
    assert wait_job(principal, job_id)["status"] == "completed"
