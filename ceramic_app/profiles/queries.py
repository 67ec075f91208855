"""Read profiles a page at a time with keyset pagination.

A page is found by seeking to the (sort value, id) of the last row shown, so
page 1,000 costs the same as page 1; OFFSET would scan every earlier row.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from ceramic_app.accounts.service import Principal
from ceramic_app.db import tenant_connection

PAGE_SIZE = 50
# Counts up to this many rows are exact; above it the planner's estimate is
# shown, because an exact count of a million rows takes a large part of a second.
EXACT_COUNT_LIMIT = 10_000

# Sortable built-in columns: name -> SQL expression (never nullable).
SORT_COLUMNS = {
    "created_at": "p.created_at",
    "updated_at": "p.updated_at",
    "email": "p.email_key",
}


class InvalidCursor(ValueError):
    """A page cursor that was not produced by this module."""


@dataclass(frozen=True)
class ProfileRow:
    """One table row: built-in columns plus the attributes object."""

    id: int
    email: str
    custom_id: str | None
    created_at: datetime
    updated_at: datetime
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProfilePage:
    """A page of rows with cursors to its neighbours and the match count."""

    rows: list[ProfileRow]
    next_cursor: str | None
    prev_cursor: str | None
    total: int
    total_is_estimate: bool


def encode_cursor(value: Any, row_id: int) -> str:
    """Encode a (sort value, id) position as an opaque URL-safe string."""
    raw = json.dumps(
        [value.isoformat() if isinstance(value, datetime) else value, row_id]
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[Any, int]:
    """Decode a cursor from encode_cursor().

    Raises:
        InvalidCursor: for anything else.
    """
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError) as exc:
        raise InvalidCursor(f"invalid page cursor {cursor[:40]!r}") from exc
    if not isinstance(row_id, int) or not isinstance(value, (str, int, float)):
        raise InvalidCursor(f"invalid page cursor {cursor[:40]!r}")
    return value, row_id


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search_clause(search: str, params: dict[str, Any]) -> str:
    """Prefix match on e-mail (case-insensitive) or custom ID (as typed)."""
    term = search.strip()
    if not term:
        return ""
    params["email_prefix"] = _escape_like(term.lower()) + "%"
    params["id_prefix"] = _escape_like(term) + "%"
    return " AND (p.email_key LIKE :email_prefix OR p.custom_id LIKE :id_prefix)"


def count_matches(
    conn: Connection, where: str, params: dict[str, Any]
) -> tuple[int, bool]:
    """Count matching profiles exactly up to a limit, else estimate.

    Returns:
        (count, is_estimate)
    """
    exact = conn.execute(
        text(
            f"SELECT count(*) FROM (SELECT 1 FROM profiles p WHERE {where}"
            f" LIMIT {EXACT_COUNT_LIMIT + 1}) m"
        ),
        params,
    ).scalar_one()
    if exact <= EXACT_COUNT_LIMIT:
        return int(exact), False
    plan = conn.execute(
        text(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM profiles p WHERE {where}"), params
    ).scalar_one()
    estimate = int(plan[0]["Plan"]["Plan Rows"])
    return max(estimate, EXACT_COUNT_LIMIT + 1), True


def list_profiles(
    principal: Principal,
    *,
    search: str = "",
    sort: str = "created_at",
    descending: bool = True,
    after: str | None = None,
    before: str | None = None,
    limit: int = PAGE_SIZE,
) -> ProfilePage:
    """Return one page of the workspace's profiles.

    after and before are cursors from a previous page; give at most one.
    """
    sort_sql = SORT_COLUMNS.get(sort)
    if sort_sql is None:
        raise ValueError(f"cannot sort by {sort!r}; use one of {sorted(SORT_COLUMNS)}")
    limit = max(1, min(limit, 500))
    params: dict[str, Any] = {"ws": principal.workspace_id, "limit": limit + 1}
    where = "p.workspace_id = :ws" + _search_clause(search, params)
    base_where = where

    backwards = before is not None
    cursor = before if backwards else after
    # Going backwards flips the order; the rows are reversed again below.
    order_desc = descending != backwards
    if cursor is not None:
        value, row_id = decode_cursor(cursor)
        params["cv"], params["cid"] = value, row_id
        op = "<" if order_desc else ">"
        cast = "::timestamptz" if sort in ("created_at", "updated_at") else ""
        where += f" AND ({sort_sql}, p.id) {op} (CAST(:cv AS text){cast}, :cid)"
    direction = "DESC" if order_desc else "ASC"
    sql = (
        "SELECT p.id, p.email, p.custom_id, p.created_at, p.updated_at, p.attributes,"
        f" {sort_sql} AS sort_value FROM profiles p WHERE {where}"
        f" ORDER BY {sort_sql} {direction}, p.id {direction} LIMIT :limit"
    )
    with tenant_connection(principal.workspace_id) as conn:
        result = conn.execute(text(sql), params).all()
        total, estimated = count_matches(conn, base_where, params)

    has_more = len(result) > limit
    page = list(result[:limit])
    if backwards:
        page.reverse()
    rows = [ProfileRow(*r[:6]) for r in page]
    more_after = has_more if not backwards else True
    more_before = (cursor is not None) if not backwards else has_more
    return ProfilePage(
        rows=rows,
        next_cursor=encode_cursor(page[-1][6], page[-1][0])
        if page and more_after
        else None,
        prev_cursor=encode_cursor(page[0][6], page[0][0])
        if page and more_before
        else None,
        total=total,
        total_is_estimate=estimated,
    )
