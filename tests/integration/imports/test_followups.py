"""What an import triggers after its last commit: calculated fields and live events."""

from __future__ import annotations

import json
import time
from pathlib import Path

from redis import Redis

from ceramic_app import live
from ceramic_app.accounts.service import Principal
from tests.integration.imports.support import (
    WorkerProcess,
    add_field,
    add_profile,
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
