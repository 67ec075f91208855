"""Helpers for import tests: a real RQ worker subprocess and job runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from ceramic_app.accounts.service import Principal
from ceramic_app.db import tenant_connection
from ceramic_app.imports import service
from ceramic_app.settings import PROJECT_ROOT

FINAL = {"completed", "failed", "cancelled", "rejected", "validated"}


class WorkerProcess:
    """An RQ worker (python -m workers.worker) started and stopped by a test."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(os.environ["DATA_DIR"]) / f"worker-{time.monotonic_ns()}.log"

    def start(self) -> WorkerProcess:
        """Start the worker in its own session, away from pytest's signals."""
        handle = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "workers.worker"],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        handle.close()
        return self

    def _horses(self) -> list[int]:
        """Return the work horses: RQ forks them into process groups of their own."""
        assert self.proc is not None
        found = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
            capture_output=True,
            text=True,
            check=False,
        )
        return [int(pid) for pid in found.stdout.split()]

    def kill(self) -> None:
        """SIGKILL the worker and its work horses, as a crash would."""
        assert self.proc is not None
        horses = self._horses()
        os.kill(self.proc.pid, signal.SIGKILL)
        for pid in horses:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Stop the worker: SIGTERM (warm shutdown), then SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        """Return what the worker logged so far."""
        return self.log.read_text(errors="replace")


def wait_for(
    principal: Principal,
    job_id: int,
    statuses: set[str] = FINAL,
    timeout: float = 120.0,
    worker: WorkerProcess | None = None,
) -> dict[str, Any]:
    """Poll the job row until its status is one of statuses."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = service.get_import(principal, job_id)
        if job["status"] in statuses:
            return job
        time.sleep(0.1)
    log = worker.output()[-3000:] if worker else ""
    raise AssertionError(f"job {job_id} still {job['status']} after {timeout}s\n{log}")


def wait_for_search(
    principal: Principal,
    job_id: int,
    timeout: float = 60.0,
    worker: WorkerProcess | None = None,
) -> dict[str, Any]:
    """Poll the job row until its search refresh has recorded its end."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = service.get_import(principal, job_id)
        if job["search_indexed_at"] is not None:
            return job
        time.sleep(0.1)
    log = worker.output()[-3000:] if worker else ""
    raise AssertionError(
        f"search refresh of job {job_id} not done after {timeout}s\n{log}"
    )


def stale_search_documents(principal: Principal) -> list[str]:
    """Return the e-mail keys whose stored search document is missing or outdated."""
    with tenant_connection(principal.workspace_id) as conn:
        return list(
            conn.execute(
                text(
                    "SELECT p.email_key FROM profiles p"
                    " LEFT JOIN profile_search s"
                    "   ON s.workspace_id = p.workspace_id AND s.profile_id = p.id"
                    " WHERE s.document IS DISTINCT FROM"
                    "   profile_search_vector(p.email_key, p.custom_id, p.attributes)"
                    " ORDER BY p.email_key"
                )
            ).scalars()
        )


def add_field(
    principal: Principal,
    key: str,
    type_: str,
    rules: dict[str, Any] | None = None,
    expression: str | None = None,
) -> None:
    """Create a custom field in the principal's workspace."""
    with tenant_connection(principal.workspace_id) as conn:
        conn.execute(
            text(
                "INSERT INTO custom_fields (workspace_id, key, label, type, rules, expression)"
                " VALUES (:ws, :k, :k, :t, CAST(:r AS jsonb), :e)"
            ),
            {
                "ws": principal.workspace_id,
                "k": key,
                "t": type_,
                "r": json.dumps(rules or {}),
                "e": expression,
            },
        )


def add_profile(
    principal: Principal,
    email: str,
    attributes: dict[str, Any],
    custom_id: str | None = None,
) -> None:
    """Insert a stored profile directly."""
    with tenant_connection(principal.workspace_id) as conn:
        conn.execute(
            text(
                "INSERT INTO profiles (workspace_id, email, email_key, custom_id, attributes)"
                " VALUES (:ws, :e, :e, :c, CAST(:a AS jsonb))"
            ),
            {
                "ws": principal.workspace_id,
                "e": email,
                "c": custom_id,
                "a": json.dumps(attributes),
            },
        )


def profiles(principal: Principal) -> dict[str, dict[str, Any]]:
    """Return every profile of the workspace by email_key."""
    with tenant_connection(principal.workspace_id) as conn:
        rows = conn.execute(
            text("SELECT email, email_key, custom_id, attributes FROM profiles")
        ).mappings()
        return {r["email_key"]: dict(r) for r in rows}


def prepare(
    principal: Principal,
    path: Path | str,
    *,
    types: dict[str, str] | None = None,
    targets: dict[str, dict[str, Any]] | None = None,
    options: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
) -> tuple[int, dict[str, Any]]:
    """Upload a file, take the proposed mapping with changes, save it.

    types sets the type of a proposed new field by key; targets replaces the
    mapping entry of a source header. Returns (job id, proposal).
    """
    job = service.create_import(principal, Path(path).name, Path(path), overrides)
    assert job["inspection"]["error"] is None, job["inspection"]["error"]
    proposal = service.propose_mapping_for(principal, job["id"])
    for column in proposal["mapping"]["columns"]:
        if targets and column["source"] in targets:
            column.clear()
            column.update(targets[column["source"]] | {"index": column.get("index")})
        if types and column.get("key") in types and column["target"] == "new_field":
            column["type"] = types[column["key"]]
            column.pop("needs_choice", None)
    merged_options = proposal["options"] | (options or {})
    problems = service.save_mapping(
        principal, job["id"], proposal["mapping"], merged_options
    )
    assert problems == [], problems
    return job["id"], proposal


def run_file(
    principal: Principal,
    path: Path | str,
    worker: WorkerProcess | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """Import a file through the real job and wait for its final state."""
    job_id, _ = prepare(principal, path, **kwargs)
    service.start_import(principal, job_id)
    return wait_for(principal, job_id, worker=worker)


def counts(job: dict[str, Any]) -> dict[str, int]:
    """Return the five summary counts of a finished job."""
    return {
        "created": job["created_count"],
        "updated": job["updated_count"],
        "merged": job["merged_count"],
        "skipped": job["skipped_count"],
        "rejected": job["rejected_count"],
    }
