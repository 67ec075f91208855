"""Per-field sort indexes, so that sorting by a custom field stays fast.

In a workspace of at least MIN_PROFILES profiles, each number or date field
gets an expression index on its sort expression, partial on its workspace.
Other field types, and smaller workspaces, sort without one: a sort of
10,000 rows takes a few milliseconds. Every index slows writes to its
workspace a little (bench/profiles_table.py measures how much). Every
partial index on profiles also adds planning work to every query on the
table. So only the types that members sort by most get one, and only where
a sort without an index would be slow.

Indexes are built with CREATE INDEX CONCURRENTLY, outside any transaction,
so writes continue while one is built. That needs the table owner, so
sync_sort_indexes() connects with DATABASE_ADMIN_URL and runs in a worker,
never in a web request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from sqlalchemy import text

from ceramic_app.db import tenant_connection
from ceramic_app.profiles.queries import field_sort_expression
from ceramic_app.queues import get_queue
from ceramic_app.settings import get_settings, to_libpq_url

logger = logging.getLogger(__name__)

INDEXED_FIELD_TYPES = ("number", "date")
MIN_PROFILES = 10_000
_NAME_PREFIX = "profiles_sort_w"


@dataclass
class SyncResult:
    """Index names that one sync created and dropped."""

    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def sort_index_name(workspace_id: int, field_id: int) -> str:
    """Return the name of a field's sort index."""
    return f"{_NAME_PREFIX}{int(workspace_id)}_f{int(field_id)}"


def _admin_connect() -> psycopg.Connection:
    return psycopg.connect(
        to_libpq_url(get_settings().database_admin_url), autocommit=True
    )


def _required_indexes(conn: psycopg.Connection, workspace_id: int) -> dict[str, str]:
    """Return index name -> field key for the fields that should have one."""
    profiles = conn.execute(
        "SELECT count(*) FROM (SELECT 1 FROM profiles WHERE workspace_id = %s"
        " LIMIT %s) AS sample",
        (workspace_id, MIN_PROFILES),
    ).fetchone()[0]
    if profiles < MIN_PROFILES:
        return {}
    rows = conn.execute(
        "SELECT id, key FROM custom_fields"
        " WHERE workspace_id = %s AND status = 'active' AND type = ANY(%s)",
        (workspace_id, list(INDEXED_FIELD_TYPES)),
    ).fetchall()
    return {sort_index_name(workspace_id, fid): key for fid, key in rows}


def _existing_indexes(conn: psycopg.Connection, workspace_id: int) -> dict[str, bool]:
    """Return index name -> whether it is valid, for this workspace's indexes."""
    pattern = f"{_NAME_PREFIX}{int(workspace_id)}\\_f%"
    rows = conn.execute(
        "SELECT c.relname, i.indisvalid FROM pg_index i"
        " JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE i.indrelid = 'profiles'::regclass AND c.relname LIKE %s",
        (pattern,),
    ).fetchall()
    return {name: bool(valid) for name, valid in rows}


def missing_sort_indexes(workspace_id: int) -> list[str]:
    """Return the names of sort indexes that this workspace should have but lacks.

    Reads with the app role (catalogs are readable by every role), so web
    requests can call it; only building an index needs the owner.
    """
    workspace_id = int(workspace_id)
    with tenant_connection(workspace_id) as conn:
        profiles = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT 1 FROM workspace_profiles"
                " LIMIT :limit) AS sample"
            ),
            {"limit": MIN_PROFILES},
        ).scalar_one()
        if profiles < MIN_PROFILES:
            return []
        field_ids = conn.execute(
            text(
                "SELECT id FROM custom_fields"
                " WHERE status = 'active' AND type = ANY(:types)"
            ),
            {"types": list(INDEXED_FIELD_TYPES)},
        ).scalars()
        required = [sort_index_name(workspace_id, field_id) for field_id in field_ids]
        if not required:
            return []
        valid = set(
            conn.execute(
                text(
                    "SELECT c.relname FROM pg_index i"
                    " JOIN pg_class c ON c.oid = i.indexrelid"
                    " WHERE i.indrelid = 'profiles'::regclass AND i.indisvalid"
                    " AND c.relname = ANY(:names)"
                ),
                {"names": required},
            ).scalars()
        )
    return sorted(name for name in required if name not in valid)


def sync_sort_indexes(workspace_id: int) -> SyncResult:
    """Create missing sort indexes of a workspace and drop those of gone fields.

    An invalid index, left by a concurrent build that failed, is dropped and
    built again. Safe to run again at any time; each step is idempotent.
    """
    workspace_id = int(workspace_id)
    result = SyncResult()
    with _admin_connect() as conn:
        required = _required_indexes(conn, workspace_id)
        existing = _existing_indexes(conn, workspace_id)
        for name, valid in existing.items():
            if name in required and valid:
                continue
            conn.execute(
                sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                    sql.Identifier(name)
                )
            )
            if name not in required:
                result.dropped.append(name)
        for name, key in required.items():
            if existing.get(name, False):
                continue
            expression = field_sort_expression(key, table_alias="")
            conn.execute(
                sql.SQL(
                    "CREATE INDEX CONCURRENTLY {} ON profiles (({}), id)"
                    " WHERE workspace_id = {}"
                ).format(
                    sql.Identifier(name),
                    sql.SQL(expression),
                    sql.Literal(workspace_id),
                )
            )
            result.created.append(name)
    if result.created or result.dropped:
        logger.info(
            "sort indexes of workspace %s: created %s, dropped %s",
            workspace_id,
            result.created,
            result.dropped,
        )
    return result


def enqueue_sort_index_sync(workspace_id: int) -> None:
    """Queue sync_sort_indexes for a workspace unless one is queued or running.

    The job id is fixed per workspace. NOTE: two callers racing between the
    status check and the enqueue can still queue it twice, which is harmless
    because a sync is idempotent.
    """
    queue = get_queue()
    job_id = f"sort-indexes-{int(workspace_id)}"
    existing = queue.fetch_job(job_id)
    if existing is not None and existing.get_status(refresh=True) in (
        "queued",
        "started",
        "deferred",
        "scheduled",
    ):
        return
    queue.enqueue(
        "ceramic_app.profiles.sort_indexes.sync_sort_indexes",
        int(workspace_id),
        job_id=job_id,
        job_timeout=3600,
    )
