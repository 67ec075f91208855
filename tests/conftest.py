"""Shared fixtures: a private database, Redis namespace and data folder per test run.

Each pytest run migrates its own database (ceramic_test_<run id>) and uses its
own Redis namespace, so parallel runs on one machine never see each other's
rows or jobs. Postgres and Redis must be reachable: a missing service fails
the run, it is never skipped.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

RUN_ID = secrets.token_hex(4)
_PG_HOST = os.environ.get("TEST_PG_HOST", "127.0.0.1:5432")
_DB_NAME = f"ceramic_test_{RUN_ID}"
_DATA_DIR = Path(tempfile.mkdtemp(prefix=f"ceramic-test-{RUN_ID}-"))

# Set before any ceramic_app module reads its settings.
os.environ["DATABASE_URL"] = f"postgresql://ceramic_app@{_PG_HOST}/{_DB_NAME}"
os.environ["DATABASE_ADMIN_URL"] = f"postgresql://postgres@{_PG_HOST}/{_DB_NAME}"
os.environ["REDIS_NAMESPACE"] = f"test{RUN_ID}"
os.environ["DATA_DIR"] = str(_DATA_DIR)
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ["SECRET_KEY"] = secrets.token_urlsafe(32)

TEST_DATA = Path(__file__).parent / "data"
IMPORT_CASES = TEST_DATA / "import-cases"


@pytest.fixture(scope="session")
def database() -> Iterator[str]:
    """Create and migrate this run's database; drop it afterwards."""
    import psycopg

    from ceramic_app import migrate
    from ceramic_app.settings import get_settings

    settings = get_settings()
    migrate.upgrade(settings)
    yield settings.database_url
    from ceramic_app.db import get_engine

    get_engine().dispose()
    maintenance = f"postgresql://postgres@{_PG_HOST}/postgres"
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{_DB_NAME}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_client(database: str):
    """Return the Redis client; delete this run's keys afterwards."""
    from ceramic_app.queues import get_redis
    from ceramic_app.settings import get_settings

    client = get_redis()
    client.ping()
    yield client
    namespace = get_settings().redis_namespace
    for pattern in (f"{namespace}*", f"rq:*{namespace}*"):
        keys = list(client.scan_iter(pattern))
        if keys:
            client.delete(*keys)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run browser flows last.

    Their app and worker live until the session ends. Integration tests that
    start, kill and count their own worker must not find a second worker on
    the same queues.
    """
    items.sort(key=lambda item: "/tests/e2e/" in str(item.path))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove this run's data folder."""
    shutil.rmtree(_DATA_DIR, ignore_errors=True)
