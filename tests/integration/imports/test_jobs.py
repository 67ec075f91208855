"""Import jobs under failure: SIGKILL and resume, lost queue entries, double
starts, concurrent imports into one workspace, cancel, and live progress."""

from __future__ import annotations

import csv
import json
import threading
import time
from pathlib import Path

from rq.job import Job
from sqlalchemy import text

from ceramic_app.db import tenant_connection
from ceramic_app.imports import service
from ceramic_app.imports.engine import MAX_ATTEMPTS
from ceramic_app.live import workspace_channel
from ceramic_app.queues import get_redis
from tests.integration.imports.support import (
    add_profile,
    counts,
    prepare,
    profiles,
    wait_for,
)
from workers.reconciler import reconcile

SMALL_BATCHES = {"IMPORT_BATCH_ROWS": "500"}


def write_contacts(path: Path, rows: int) -> Path:
    """Write a file with duplicates across batches, bad rows, tags and ids."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "custom_id", "first_name", "score", "tags"])
        for n in range(1, rows + 1):
            email = f"user{n}@example.com"
            if n % 1000 == 0:
                email = f"user{n - 700}@EXAMPLE.com"  # duplicate of an earlier batch
            if n % 997 == 0:
                email = f"broken-{n}"
            score = "" if n % 7 == 0 else str(n % 100)
            writer.writerow(
                [
                    email,
                    f"ID{n:07d}" if n % 1000 else "",
                    f"First{n}",
                    score,
                    "a,b" if n % 3 else "c",
                ]
            )
    return path


def table_state(principal) -> dict:
    with tenant_connection(principal.workspace_id) as conn:
        rows = conn.execute(
            text(
                "SELECT p.email_key, p.custom_id, p.attributes,"
                " (SELECT array_agg(t.name ORDER BY t.name) FROM profile_tags pt"
                "   JOIN tags t ON t.id = pt.tag_id AND t.workspace_id = pt.workspace_id"
                "  WHERE pt.profile_id = p.id AND pt.workspace_id = p.workspace_id) AS tags"
                " FROM profiles p"
            )
        ).all()
    return {r.email_key: (r.custom_id, r.attributes, r.tags) for r in rows}


def history_state(principal) -> list:
    with tenant_connection(principal.workspace_id) as conn:
        return sorted(
            json.dumps(c, sort_keys=True)
            for c in conn.execute(text("SELECT changes FROM profile_changes")).scalars()
        )


def test_sigkill_resume_matches_uninterrupted(make_principal, start_worker, tmp_path):
    path = write_contacts(tmp_path / "contacts.csv", 40_000)
    reference = make_principal()
    crashed = make_principal()
    for principal in (reference, crashed):
        add_profile(principal, "user5@example.com", {"first_name": "Old", "score": 1})
    first = start_worker(SMALL_BATCHES)
    ref_id, _ = prepare(reference, path, types={"score": "number"})
    service.start_import(reference, ref_id)
    ref_job = wait_for(reference, ref_id, worker=first, timeout=300)
    assert ref_job["status"] == "completed", ref_job["error_message"]

    job_id, _ = prepare(crashed, path, types={"score": "number"})
    service.start_import(crashed, job_id)
    deadline = time.monotonic() + 120
    while service.get_import(crashed, job_id)["records_done"] < 8_000:
        assert time.monotonic() < deadline, first.output()[-2000:]
        time.sleep(0.02)
    first.kill()
    killed = service.get_import(crashed, job_id)
    assert killed["status"] == "running"
    assert 8_000 <= killed["records_done"] < 40_000

    actions = reconcile(stale_after_seconds=0)
    assert [(a.job_id, a.action) for a in actions] == [(job_id, "queued again")]
    second = start_worker(SMALL_BATCHES)
    job = wait_for(crashed, job_id, worker=second, timeout=300)
    assert job["status"] == "completed"
    assert job["attempts"] == 2
    assert counts(job) == counts(ref_job)
    assert job["records_done"] == ref_job["records_done"] == 40_000
    assert table_state(crashed) == table_state(reference)
    assert history_state(crashed) == history_state(reference)
    crashed_errors = Path(job["error_file_path"]).read_text(encoding="utf-8")
    assert crashed_errors == Path(ref_job["error_file_path"]).read_text(
        encoding="utf-8"
    )


def test_reconciler_requeues_lost_redis_entry(principal, start_worker, tmp_path):
    path = write_contacts(tmp_path / "c.csv", 300)
    job_id, _ = prepare(principal, path)
    service.start_import(principal, job_id)
    job = service.get_import(principal, job_id)
    assert reconcile(stale_after_seconds=0) == []  # the queue entry is alive
    Job.fetch(job["rq_job_id"], connection=get_redis()).delete()
    actions = reconcile(stale_after_seconds=0)
    assert [(a.job_id, a.action) for a in actions] == [(job_id, "queued again")]
    worker = start_worker()
    done = wait_for(principal, job_id, worker=worker)
    assert done["status"] == "completed"
    assert done["records_done"] == 300


def test_reconciler_fails_job_out_of_attempts(principal, tmp_path):
    path = write_contacts(tmp_path / "c.csv", 10)
    job_id, _ = prepare(principal, path)
    with tenant_connection(principal.workspace_id) as conn:
        conn.execute(
            text(
                "UPDATE import_jobs SET status = 'running', attempts = :a,"
                " heartbeat_at = now() - interval '1 hour' WHERE id = :id"
            ),
            {"a": MAX_ATTEMPTS, "id": job_id},
        )
    actions = reconcile(stale_after_seconds=60)
    assert [(a.job_id, a.action) for a in actions] == [
        (job_id, "failed: out of attempts")
    ]
    job = service.get_import(principal, job_id)
    assert job["status"] == "failed"
    assert "stopped 3 times" in job["error_message"]


def test_double_start_runs_once(principal, start_worker, tmp_path):
    path = write_contacts(tmp_path / "c.csv", 2_000)
    add_profile(principal, "user2@example.com", {"first_name": "Before"})
    job_id, _ = prepare(principal, path)
    service.start_import(principal, job_id)
    service.start_import(principal, job_id)  # no second queue entry
    service.enqueue_import(principal.workspace_id, job_id)  # a duplicate entry anyway
    worker = start_worker()
    job = wait_for(principal, job_id, worker=worker)
    time.sleep(1.0)  # let the duplicate entry run and find nothing to do
    job = service.get_import(principal, job_id)
    assert job["status"] == "completed"
    assert job["attempts"] == 1
    assert job["updated_count"] == 1
    assert len(history_state(principal)) == 1
    assert "nothing to do" in worker.output()


def test_two_imports_one_workspace_no_deadlock(principal, start_worker, tmp_path):
    first_path = write_contacts(tmp_path / "a.csv", 6_000)
    second_path = write_contacts(tmp_path / "b.csv", 6_000)
    env = {"IMPORT_BATCH_ROWS": "300"}
    workers = [start_worker(env), start_worker(env)]
    first_id, _ = prepare(principal, first_path)
    second_id, _ = prepare(principal, second_path)
    service.start_import(principal, first_id)
    service.start_import(principal, second_id)
    first = wait_for(principal, first_id, worker=workers[0], timeout=300)
    second = wait_for(principal, second_id, worker=workers[1], timeout=300)
    assert first["status"] == second["status"] == "completed"
    # The files are identical: whichever ran first created, the other updated
    # nothing (every row is a no-op) but matched every profile.
    assert {first["created_count"], second["created_count"]} == {
        first["created_count"] + second["created_count"],
        0,
    }
    assert first["rejected_count"] == second["rejected_count"]
    assert len(profiles(principal)) == max(
        first["created_count"], second["created_count"]
    )
    logs = workers[0].output() + workers[1].output()
    assert "deadlock" not in logs.lower()


def test_cancel_keeps_committed_batches(principal, start_worker, tmp_path):
    path = write_contacts(tmp_path / "c.csv", 40_000)
    worker = start_worker({"IMPORT_BATCH_ROWS": "500"})
    job_id, _ = prepare(principal, path)
    service.start_import(principal, job_id)
    deadline = time.monotonic() + 120
    while service.get_import(principal, job_id)["records_done"] < 2_000:
        assert time.monotonic() < deadline, worker.output()[-2000:]
        time.sleep(0.02)
    service.cancel_import(principal, job_id)
    job = wait_for(principal, job_id, worker=worker)
    assert job["status"] == "cancelled"
    assert 2_000 <= job["records_done"] < 40_000
    assert "stay imported" in job["report"]["message"]
    assert len(profiles(principal)) == job["created_count"]
    with tenant_connection(principal.workspace_id) as conn:
        actions = (
            conn.execute(
                text("SELECT action FROM audit_log WHERE entity_type = 'import_job'")
            )
            .scalars()
            .all()
        )
    assert actions == ["import.cancel"]


def test_cancel_queued_import(principal, tmp_path):
    job_id, _ = prepare(principal, write_contacts(tmp_path / "c.csv", 10))
    service.start_import(principal, job_id)
    assert service.cancel_import(principal, job_id) == "cancelled"
    assert service.get_import(principal, job_id)["status"] == "cancelled"


def test_progress_events_published(principal, start_worker, tmp_path):
    pubsub = get_redis().pubsub()
    pubsub.subscribe(workspace_channel(principal.workspace_id))
    events: list[dict] = []
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            message = pubsub.get_message(timeout=0.2)
            if message and message["type"] == "message":
                events.append(json.loads(message["data"]))

    listener = threading.Thread(target=listen)
    listener.start()
    try:
        worker = start_worker({"IMPORT_BATCH_ROWS": "500"})
        job_id, _ = prepare(principal, write_contacts(tmp_path / "c.csv", 5_000))
        service.start_import(principal, job_id)
        wait_for(principal, job_id, worker=worker)
        time.sleep(0.5)
    finally:
        stop.set()
        listener.join()
        pubsub.close()
    progress = [e for e in events if e["event"] == "import.progress"]
    finished = [e for e in events if e["event"] == "import.finished"]
    assert progress, events
    assert {
        "job_id",
        "status",
        "records_done",
        "total",
        "rows_per_second",
        "eta_seconds",
        "created",
        "updated",
        "merged",
        "skipped",
        "rejected",
    } <= set(progress[-1])
    assert progress[-1]["records_done"] == 5_000
    assert len(finished) == 1
    assert finished[0]["status"] == "completed"
    assert (
        finished[0]["created"] == service.get_import(principal, job_id)["created_count"]
    )


def test_failed_job_shows_reason(principal, start_worker, tmp_path):
    path = write_contacts(tmp_path / "c.csv", 10)
    job_id, _ = prepare(principal, path)
    Path(service.get_import(principal, job_id)["file_path"]).unlink()
    service.start_import(principal, job_id)
    worker = start_worker()
    job = wait_for(principal, job_id, worker=worker)
    assert job["status"] == "failed"
    assert "FileNotFoundError" in job["error_message"]


def test_validation_pass_counts_without_writing(principal, start_worker, tmp_path):
    path = write_contacts(tmp_path / "c.csv", 3_000)
    add_profile(principal, "user1@example.com", {"first_name": "Before"})
    worker = start_worker({"IMPORT_BATCH_ROWS": "400"})
    job_id, _ = prepare(principal, path, types={"score": "number"})
    service.start_validation(principal, job_id)
    validated = wait_for(principal, job_id, worker=worker)
    assert validated["status"] == "validated"
    assert len(profiles(principal)) == 1
    assert validated["total_records"] == 3_000
    predicted = validated["validation"]["summary"]
    service.start_import(principal, job_id)
    job = wait_for(principal, job_id, worker=worker)
    assert counts(job) == predicted
    assert validated["validation"]["column_errors"] == job["report"]["column_errors"]


def test_import_history_lists_jobs(principal, start_worker, tmp_path):
    worker = start_worker()
    job_id, _ = prepare(principal, write_contacts(tmp_path / "first.csv", 1_000))
    service.start_import(principal, job_id)
    wait_for(principal, job_id, worker=worker)
    history = service.list_imports(principal)
    assert [h.id for h in history] == [job_id]
    entry = history[0]
    assert entry.file_name == "first.csv"
    assert entry.status == "completed"
    assert entry.created_by == principal.user_id
    assert entry.created_by_name == principal.user_name
    assert entry.created_count + entry.merged_count + entry.rejected_count == 1_000
    assert entry.error_file_path is not None
    assert Path(entry.error_file_path).exists()
    assert service.error_file(principal, job_id) == Path(entry.error_file_path)


def test_report_examples_every_rejected_row(principal, start_worker, tmp_path):
    add_profile(principal, "holder@example.com", {}, custom_id="TAKEN")
    path = tmp_path / "rejects.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "custom_id"])
        for n in range(1, 1_201):
            email = f"broken-{n}" if n % 50 == 0 or n == 3 else f"user{n}@example.com"
            writer.writerow([email, "TAKEN" if n == 7 else f"ID{n}"])
    worker = start_worker(SMALL_BATCHES)
    job_id, _ = prepare(principal, path)
    service.start_import(principal, job_id)
    job = wait_for(principal, job_id, worker=worker)
    assert job["status"] == "completed", job["error_message"]
    assert job["rejected_count"] == 26
    with open(job["error_file_path"], encoding="utf-8", newline="") as handle:
        file_lines = [int(row["line"]) for row in csv.DictReader(handle)]
    assert file_lines == sorted(file_lines)
    examples = [error["line"] for error in job["report"]["errors"]]
    assert examples == file_lines
    assert examples[:2] == [4, 8]
