"""Search documents after imports: deferred while batches write, refreshed by a job.

Imports write profiles with search deferred. The follow-up RQ job fills
profile_search and sets import_jobs.search_indexed_at, and the reconciler
queues that job again when it was lost.
"""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import text

from ceramic_app.db import tenant_connection
from ceramic_app.imports import service
from ceramic_app.imports.engine import run_import
from ceramic_app.imports.followup import (
    enqueue_search_refresh,
    refresh_import_search,
    search_refresh_queued,
    search_refresh_rq_id,
)
from ceramic_app.queues import get_queue
from ceramic_app.state.import_history import _row as history_row
from ceramic_app.state.import_view import SEARCH_CATCHING_UP
from tests.integration.imports.support import (
    add_profile,
    prepare,
    profiles,
    run_file,
    stale_search_documents,
    wait_for,
    wait_for_search,
)
from workers.reconciler import reconcile


def write_people(path: Path, rows: int) -> Path:
    """Write rows contacts with a custom ID and two text fields."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "custom_id", "city", "plan"])
        for n in range(1, rows + 1):
            writer.writerow(
                [f"person{n}@example.com", f"ID{n:06d}", f"City{n % 7}", "gold"]
            )
    return path


def import_inline(principal, path: Path) -> dict:
    """Run the import job in this process, without any follow-up."""
    job_id, _ = prepare(principal, path)
    service.start_import(principal, job_id, enqueue=False)
    assert run_import(principal.workspace_id, job_id) == "completed"
    return service.get_import(principal, job_id)


def search_matches(principal, term: str) -> list[str]:
    with tenant_connection(principal.workspace_id) as conn:
        return list(
            conn.execute(
                text(
                    "SELECT p.email_key FROM profile_search s JOIN profiles p"
                    "   ON p.workspace_id = s.workspace_id AND p.id = s.profile_id"
                    " WHERE s.document @@ plainto_tsquery('simple', :q)"
                    " ORDER BY p.email_key"
                ),
                {"q": term},
            ).scalars()
        )


def test_import_defers_then_job_refreshes(principal, start_worker, tmp_path):
    add_profile(principal, "person1@example.com", {"city": "Before"})
    path = write_people(tmp_path / "people.csv", 1_200)
    job = import_inline(principal, path)
    assert job["search_indexed_at"] is None
    stale = stale_search_documents(principal)
    # Every imported profile waits for the refresh, the updated one included.
    assert len(stale) == 1_200
    assert "person1@example.com" in stale
    assert search_matches(principal, "before") == ["person1@example.com"]

    assert enqueue_search_refresh(principal.workspace_id, job["id"])
    worker = start_worker()
    done = wait_for_search(principal, job["id"], worker=worker)
    assert done["search_indexed_at"] >= done["finished_at"]
    assert stale_search_documents(principal) == []
    assert search_matches(principal, "before") == []
    assert search_matches(principal, "id000007") == ["person7@example.com"]
    assert len(search_matches(principal, "gold")) == 1_200


def test_worker_import_queues_refresh(principal, start_worker, tmp_path):
    worker = start_worker({"IMPORT_BATCH_ROWS": "500"})
    job = run_file(principal, write_people(tmp_path / "p.csv", 2_000), worker=worker)
    assert job["status"] == "completed"
    done = wait_for_search(principal, job["id"], worker=worker)
    assert done["search_indexed_at"] is not None
    assert len(profiles(principal)) == 2_000
    assert stale_search_documents(principal) == []


def test_failed_import_still_refreshes(principal, start_worker, tmp_path):
    job_id, _ = prepare(principal, write_people(tmp_path / "p.csv", 10))
    Path(service.get_import(principal, job_id)["file_path"]).unlink()
    service.start_import(principal, job_id)
    worker = start_worker()
    job = wait_for(principal, job_id, worker=worker)
    assert job["status"] == "failed"
    done = wait_for_search(principal, job_id, worker=worker)
    assert done["search_indexed_at"] is not None


def test_refresh_waits_for_import_end(principal, tmp_path):
    job = import_inline(principal, write_people(tmp_path / "p.csv", 20))
    with tenant_connection(principal.workspace_id) as conn:
        conn.execute(
            text("UPDATE import_jobs SET status = 'running' WHERE id = :id"),
            {"id": job["id"]},
        )
    assert refresh_import_search(principal.workspace_id, job["id"]) == 0
    assert service.get_import(principal, job["id"])["search_indexed_at"] is None
    assert len(stale_search_documents(principal)) == 20


def test_history_shows_search_catching_up(principal, tmp_path):
    job = import_inline(principal, write_people(tmp_path / "p.csv", 3))
    [pending] = service.list_imports(principal)
    assert history_row(pending)["search_note"] == SEARCH_CATCHING_UP
    refresh_import_search(principal.workspace_id, job["id"])
    [indexed] = service.list_imports(principal)
    assert history_row(indexed)["search_note"] == ""


def test_refresh_runs_once(principal, tmp_path):
    job = import_inline(principal, write_people(tmp_path / "p.csv", 30))
    assert refresh_import_search(principal.workspace_id, job["id"]) == 30
    first = service.get_import(principal, job["id"])["search_indexed_at"]
    assert first is not None
    assert refresh_import_search(principal.workspace_id, job["id"]) == 0
    assert service.get_import(principal, job["id"])["search_indexed_at"] == first
    assert stale_search_documents(principal) == []


def test_reconciler_requeues_lost_refresh(principal, start_worker, tmp_path):
    job = import_inline(principal, write_people(tmp_path / "p.csv", 50))
    job_id = job["id"]
    assert not search_refresh_queued(principal.workspace_id, job_id)

    # Finished only just now: not yet counted as lost.
    waiting = reconcile(stale_after_seconds=60, search_after_seconds=3600)
    assert job_id not in [a.job_id for a in waiting if a.kind == "import.search"]

    actions = reconcile(stale_after_seconds=60, search_after_seconds=0)
    mine = [
        (a.kind, a.action)
        for a in actions
        if (a.workspace_id, a.job_id) == (principal.workspace_id, job_id)
    ]
    assert mine == [("import.search", "search refresh queued again")]
    assert search_refresh_queued(principal.workspace_id, job_id)

    # The queued entry is alive, so a second pass leaves it alone.
    again = reconcile(stale_after_seconds=60, search_after_seconds=0)
    assert (principal.workspace_id, job_id) not in [
        (a.workspace_id, a.job_id) for a in again
    ]

    worker = start_worker()
    wait_for_search(principal, job_id, worker=worker)
    assert stale_search_documents(principal) == []
    later = reconcile(stale_after_seconds=60, search_after_seconds=0)
    assert (principal.workspace_id, job_id) not in [
        (a.workspace_id, a.job_id) for a in later
    ]


def test_reconciler_requeues_deleted_entry(principal, tmp_path):
    job = import_inline(principal, write_people(tmp_path / "p.csv", 5))
    assert enqueue_search_refresh(principal.workspace_id, job["id"])
    get_queue().fetch_job(
        search_refresh_rq_id(principal.workspace_id, job["id"])
    ).delete()
    actions = reconcile(stale_after_seconds=60, search_after_seconds=0)
    assert ("import.search", job["id"]) in [(a.kind, a.job_id) for a in actions]
    assert search_refresh_queued(principal.workspace_id, job["id"])
