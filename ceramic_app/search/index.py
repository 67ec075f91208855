"""Search documents of profiles: deferral during bulk writes, and the refresh after.

Triggers on profiles (migration 0003) upsert profile_search documents in the
transaction that writes the profiles, unless the session has run
DEFER_SEARCH_SQL. A writer that defers must call refresh_documents after it
commits, for every profile it wrote. Bulk imports do so, because indexing
each batch's documents doubled their write time.
"""

from __future__ import annotations

import logging
from datetime import datetime

import psycopg
from psycopg import pq
from psycopg.rows import tuple_row

logger = logging.getLogger(__name__)

DEFER_SEARCH_SQL = "SET ceramic.defer_search = 'on'"
CHUNK_PROFILES = 50_000
# Attempts per chunk when a concurrent write to the same documents forces a
# serialization failure (see refresh_documents).
MAX_CHUNK_ATTEMPTS = 5

# One keyset chunk of profiles by (updated_at, id), on profiles_updated_idx.
# Returns how many profiles the chunk read and the key of its last profile.
_CHUNK_SQL = """
WITH chunk AS (
    SELECT workspace_id, id, updated_at, email_key, custom_id, attributes
      FROM profiles
     WHERE workspace_id = %(ws)s AND (updated_at, id) > (%(after_at)s, %(after_id)s)
     ORDER BY updated_at, id
     LIMIT %(limit)s
), written AS (
    INSERT INTO profile_search (workspace_id, profile_id, document)
    SELECT workspace_id, id, profile_search_vector(email_key, custom_id, attributes)
      FROM chunk
    ON CONFLICT (workspace_id, profile_id) DO UPDATE
       SET document = EXCLUDED.document
     WHERE profile_search.document IS DISTINCT FROM EXCLUDED.document
)
SELECT count(*) OVER (), updated_at, id
  FROM chunk
 ORDER BY updated_at DESC, id DESC
 LIMIT 1
"""


def defer_search(conn: psycopg.Connection) -> None:
    """Stop the profiles triggers from writing search documents in this session.

    The setting lasts until the connection closes (or a rollback of the
    transaction that set it). The caller takes over: it must run
    refresh_documents for the profiles it writes, after they commit.
    """
    conn.execute(DEFER_SEARCH_SQL)


def refresh_documents(
    conn: psycopg.Connection,
    workspace_id: int,
    since: datetime,
    chunk_profiles: int = CHUNK_PROFILES,
) -> int:
    """Upsert the documents of the workspace's profiles with updated_at >= since.

    Works in keyset chunks of chunk_profiles profiles, ordered by
    (updated_at, id), and commits each chunk, so conn must have no open
    transaction. Returns how many profiles were read. Only documents that
    differ are written.

    Safe to run twice and alongside edits. Each chunk runs in REPEATABLE
    READ, so when another transaction wrote a document after the chunk's
    snapshot, the upsert raises a serialization failure instead of
    overwriting it from stale rows, and the chunk runs again. Profiles that
    other writers change during the run are theirs to index: the trigger
    writes their documents, or a deferring writer refreshes them.

    conn may be the owner's connection or the app role's. With the app role
    it must be scoped to workspace_id, because of row-level security.
    """
    if conn.info.transaction_status != pq.TransactionStatus.IDLE:
        raise ValueError(
            "refresh_documents commits each chunk; commit or roll back the"
            " connection's open transaction first"
        )
    total = 0
    # The smallest bigint, so the first chunk includes updated_at = since.
    after_at, after_id = since, -(2**63)
    while True:
        params = {
            "ws": int(workspace_id),
            "after_at": after_at,
            "after_id": after_id,
            "limit": chunk_profiles,
        }
        row = _refresh_chunk(conn, params)
        if row is None:
            break
        count, after_at, after_id = row
        total += count
        if count < chunk_profiles:
            break
    logger.info(
        "search documents of workspace %s refreshed: %s profiles updated since %s",
        workspace_id,
        total,
        since.isoformat(),
    )
    return total


def _refresh_chunk(
    conn: psycopg.Connection, params: dict[str, object]
) -> tuple[int, datetime, int] | None:
    """Run one chunk in its own REPEATABLE READ transaction, retrying conflicts."""
    attempt = 1
    while True:
        try:
            with conn.transaction(), conn.cursor(row_factory=tuple_row) as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                return cursor.execute(_CHUNK_SQL, params).fetchone()
        except psycopg.errors.SerializationFailure:
            if attempt >= MAX_CHUNK_ATTEMPTS:
                raise
            logger.info(
                "search refresh of workspace %s: chunk after %s conflicted with"
                " another write (attempt %s of %s); retrying",
                params["ws"],
                params["after_at"],
                attempt,
                MAX_CHUNK_ATTEMPTS,
            )
            attempt += 1
