"""Fixtures for the page helpers' integration tests: principals, a worker, live events."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ceramic_app import field_jobs
from ceramic_app.accounts.service import Principal
from ceramic_app.live import workspace_channel
from tests.integration.fields.conftest import (  # noqa: F401
    admin,
    member,
    outsider,
    owner_sql,
    viewer,
)
from tests.integration.imports.support import WorkerProcess

JOB_TIMEOUT_SECONDS = 30.0


@pytest.fixture(scope="module")
def worker(database: str, redis_client: Any) -> Iterator[WorkerProcess]:
    """One RQ worker subprocess (python -m workers.worker) for a test module."""
    process = WorkerProcess({"CERAMIC_RECONCILE_SECONDS": "3600"}).start()
    yield process
    process.stop()


@pytest.fixture
def wait_for_job(
    worker: WorkerProcess,
) -> Callable[[Principal, int], field_jobs.FieldJob]:
    """Return a function that waits until the worker completed or failed a field job."""

    def wait(principal: Principal, job_id: int) -> field_jobs.FieldJob:
        deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            job = field_jobs.get_job(principal, job_id)
            if job.status in ("completed", "failed"):
                return job
            time.sleep(0.1)
        raise AssertionError(
            f"job {job_id} did not finish in {JOB_TIMEOUT_SECONDS} s;"
            f" worker output:\n{worker.output()}"
        )

    return wait


class LiveRecorder:
    """The events published on one workspace's live channel since it was created."""

    def __init__(self, client: Any, principal: Principal) -> None:
        self._pubsub = client.pubsub()
        self._pubsub.subscribe(workspace_channel(principal.workspace_id))
        self._pubsub.get_message(timeout=1.0)  # the subscribe confirmation
        self._received: list[dict[str, Any]] = []

    def messages(self) -> list[dict[str, Any]]:
        """Return every event received so far, oldest first."""
        while (message := self._pubsub.get_message(timeout=0.2)) is not None:
            if message["type"] == "message":
                self._received.append(json.loads(message["data"]))
        return list(self._received)

    def close(self) -> None:
        """Unsubscribe."""
        self._pubsub.close()


@pytest.fixture
def live_recorder(redis_client: Any) -> Iterator[Callable[[Principal], LiveRecorder]]:
    """Return a factory of LiveRecorders; they are closed after the test."""
    recorders: list[LiveRecorder] = []

    def start(principal: Principal) -> LiveRecorder:
        recorder = LiveRecorder(redis_client, principal)
        recorders.append(recorder)
        return recorder

    yield start
    for recorder in recorders:
        recorder.close()
