"""What an import triggers after its last commit: calculated fields and live events."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg
from redis import Redis

from ceramic_app import live
from ceramic_app.accounts.service import Principal
from ceramic_app.imports import engine
from ceramic_app.imports import service as import_service
from ceramic_app.imports.followup import run_after_import
from ceramic_app.settings import get_settings, to_libpq_url
from tests.integration.imports.support import (
    WorkerProcess,
    add_field,
    add_profile,
    prepare,
    profiles,
    run_file,
)


def test_import_recomputes_calculated_fields(
    principal: Principal, worker: WorkerProcess, tmp_path: Path
) -> None:
    add_field(principal, "score", "number")
    add_field(principal, "double_score", "number", expression="score * 2")
    add_profile(principal, "kept@example.com", {"score": 1, "double_score": 2})
    path = tmp_path / "scores.csv"
    path.write_text("email,score\nkept@example.com,4\nnew@example.com,10\n")
    run_file(principal, path, worker=worker)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        stored = profiles(principal)
        if stored["new@example.com"]["attributes"].get("double_score") == 20:
            break
        time.sleep(0.2)
    assert stored["kept@example.com"]["attributes"] == {"score": 4, "double_score": 8}
    assert stored["new@example.com"]["attributes"] == {"score": 10, "double_score": 20}


def test_import_publishes_profile_changes(
    principal: Principal, worker: WorkerProcess, tmp_path: Path, redis_client: Redis
) -> None:
    pubsub = redis_client.pubsub()
    pubsub.subscribe(live.workspace_channel(principal.workspace_id))
    path = tmp_path / "people.csv"
    path.write_text("email\na@example.com\nb@example.com\n")
    run_file(principal, path, worker=worker)
    events = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if message:
            events.append(json.loads(message["data"])["event"])
        if "profiles.changed" in events and "import.finished" in events:
            break
    pubsub.close()
    assert "profiles.changed" in events
    assert "import.finished" in events


def test_import_followup_analyzes_profiles(principal, tmp_path):
    # Counts above 10,000 come from the planner's estimate, which an import
    # must not leave behind even when autovacuum is slow or off.
    path = tmp_path / "few.csv"
    path.write_text(
        "email\r\n" + "".join(f"a{n}@example.com\r\n" for n in range(300)),
        encoding="utf-8",
    )
    job_id, _ = prepare(principal, path)
    import_service.start_import(principal, job_id, enqueue=False)
    with psycopg.connect(to_libpq_url(get_settings().database_admin_url)) as conn:
        before = conn.execute(
            "SELECT coalesce(analyze_count, 0) FROM pg_stat_user_tables"
            " WHERE relname = 'profiles'"
        ).fetchone()[0]
    assert engine.run_import(principal.workspace_id, job_id) == "completed"
    run_after_import(principal.workspace_id, job_id, refresh_search_inline=True)
    with psycopg.connect(to_libpq_url(get_settings().database_admin_url)) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        after = conn.execute(
            "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'profiles'"
        ).fetchone()[0]
    assert after > before
