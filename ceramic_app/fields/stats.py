"""Field statistics: how many profiles have a value for a key, and an example value.

The GIN index on profiles.attributes uses jsonb_path_ops, which indexes
key-value paths but not key existence, so `attributes ? key` always scans
the workspace's rows. Workspaces up to EXACT_LIMIT profiles get an exact
count. Larger ones get an estimate from a block sample (TABLESAMPLE SYSTEM)
of about SAMPLE_TARGET_ROWS of their rows, labelled estimated=True, unless
the caller asks for exact=True. docs/FIELDS.md lists the measured times.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

logger = logging.getLogger(__name__)

EXACT_LIMIT = 200_000
SAMPLE_TARGET_ROWS = 50_000
# Limit for looking up an example value that the sample did not contain.
EXAMPLE_TIMEOUT_MS = 2_000


@dataclass(frozen=True)
class FieldStats:
    """Profiles with a value for one key, exact or estimated from a sample."""

    key: str
    with_value: int
    total_profiles: int
    estimated: bool
    sample_rows: int | None
    example: Any

    @property
    def share(self) -> float:
        """Fraction of the workspace's profiles that have a value (0 to 1)."""
        return self.with_value / self.total_profiles if self.total_profiles else 0.0


def measure_field(
    conn: Connection, workspace_id: int, key: str, *, exact: bool = False
) -> FieldStats:
    """Count profiles with a value for key, exactly or from a sample."""
    total = conn.execute(
        text("SELECT count(*) FROM profiles WHERE workspace_id = :ws"),
        {"ws": workspace_id},
    ).scalar_one()
    if exact or total <= EXACT_LIMIT:
        return _exact(conn, workspace_id, key, int(total))
    percent = min(100.0, 100.0 * SAMPLE_TARGET_ROWS / total)
    row = conn.execute(
        text(
            "SELECT count(*) AS sampled,"
            "       count(*) FILTER (WHERE attributes ? :key) AS matched,"
            "       (array_agg(attributes->:key) FILTER (WHERE attributes ? :key))[1]"
            "           AS example"
            "  FROM profiles TABLESAMPLE SYSTEM (:percent)"
            " WHERE workspace_id = :ws"
        ),
        {"ws": workspace_id, "key": key, "percent": percent},
    ).one()
    if not row.sampled:
        return _exact(conn, workspace_id, key, int(total))
    example = row.example
    if example is None:
        example = _example(conn, workspace_id, key)
    return FieldStats(
        key=key,
        with_value=round(row.matched / row.sampled * total),
        total_profiles=int(total),
        estimated=True,
        sample_rows=int(row.sampled),
        example=example,
    )


def _exact(conn: Connection, workspace_id: int, key: str, total: int) -> FieldStats:
    with_value = conn.execute(
        text(
            "SELECT count(*) FROM profiles WHERE workspace_id = :ws AND attributes ? :key"
        ),
        {"ws": workspace_id, "key": key},
    ).scalar_one()
    example = _example(conn, workspace_id, key) if with_value else None
    return FieldStats(
        key=key,
        with_value=int(with_value),
        total_profiles=total,
        estimated=False,
        sample_rows=None,
        example=example,
    )


def _example(conn: Connection, workspace_id: int, key: str) -> Any:
    previous = conn.execute(
        text("SELECT current_setting('statement_timeout')")
    ).scalar_one()
    try:
        with conn.begin_nested():
            conn.execute(
                text("SELECT set_config('statement_timeout', :ms, true)"),
                {"ms": str(EXAMPLE_TIMEOUT_MS)},
            )
            value = conn.execute(
                text(
                    "SELECT attributes->:key FROM profiles"
                    " WHERE workspace_id = :ws AND attributes ? :key LIMIT 1"
                ),
                {"ws": workspace_id, "key": key},
            ).scalar()
            conn.execute(
                text("SELECT set_config('statement_timeout', :previous, true)"),
                {"previous": previous},
            )
    except DBAPIError as exc:
        logger.warning(
            "example value lookup for %s in workspace %s failed: %s",
            key,
            workspace_id,
            exc,
        )
        return None
    return value
