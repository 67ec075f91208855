"""Fixtures for import tests: RQ worker subprocesses started and stopped by PID."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.integration.imports.support import WorkerProcess


@pytest.fixture(scope="module")
def worker(database: str, redis_client: Any) -> Iterator[WorkerProcess]:
    """One RQ worker subprocess for a test module."""
    process = WorkerProcess({"CERAMIC_RECONCILE_SECONDS": "3600"}).start()
    yield process
    process.stop()


@pytest.fixture
def start_worker(
    database: str, redis_client: Any
) -> Iterator[Callable[..., WorkerProcess]]:
    """Factory for extra workers within one test; all are stopped afterwards."""
    started: list[WorkerProcess] = []

    def start(env: dict[str, str] | None = None) -> WorkerProcess:
        process = WorkerProcess({"CERAMIC_RECONCILE_SECONDS": "3600", **(env or {})})
        started.append(process.start())
        return process

    yield start
    for process in started:
        process.stop()
