"""Read profiles a page at a time with keyset pagination on any column.

A page is found by seeking to the (sort value, id) of the last row shown, so
page 1,000 costs the same as page 1 when an index matches the sort; OFFSET
would scan every earlier row.

List queries read the workspace_profiles view (migration 0002) instead of the
profiles table. Row-level security on profiles stops Postgres from using a
non-leakproof operator, such as jsonb `<` or LIKE, as an index condition,
which turns every deep page into a scan. The view filters on the same
app.workspace_id setting as the policy, so it shows no other workspace's rows.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from ceramic_app.accounts.service import Principal
from ceramic_app.db import tenant_connection
from ceramic_app.profiles.columns import Column, available_columns

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# Counts up to this many rows are exact; above it the planner's estimate is
# shown, because an exact count of a million rows takes a large part of a second.
EXACT_COUNT_LIMIT = 10_000


class InvalidCursor(ValueError):
    """A page cursor that was not produced by this module for this sort."""


class InvalidSort(ValueError):
    """A sort column that does not exist or cannot be sorted."""


@dataclass(frozen=True)
class SortKey:
    """Sort rule of one column: a never-NULL SQL expression and its cursor type.

    expression is written over the alias p. cursor_type is the SQL type that
    the cursor's text form is cast back to for the keyset comparison.
    """

    column_id: str
    expression: str
    cursor_type: str


@dataclass(frozen=True)
class ProfileRow:
    """One table row: built-in columns, the attributes object and tag names."""

    id: int
    email: str
    custom_id: str | None
    created_at: datetime
    updated_at: datetime
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ProfilePage:
    """A page of rows with cursors to its neighbours and the match count."""

    rows: list[ProfileRow]
    next_cursor: str | None
    prev_cursor: str | None
    total: int
    total_is_estimate: bool


# The same rule as the CHECK constraint on custom_fields.key.
_FIELD_KEY = re.compile(r"[a-z][a-z0-9_]{0,62}")

_BUILTIN_SORT_KEYS = {
    "email": SortKey("email", "p.email_key", "text"),
    # NULL custom IDs sort as the empty string, before every other ID.
    "custom_id": SortKey("custom_id", "coalesce(p.custom_id, '')", "text"),
    "created_at": SortKey("created_at", "p.created_at", "timestamptz"),
    "updated_at": SortKey("updated_at", "p.updated_at", "timestamptz"),
}


def field_sort_expression(field_key: str, table_alias: str = "p") -> str:
    """Return the SQL sort expression of a custom field's value.

    jsonb ordering keeps numbers numeric, and ISO dates (stored as strings)
    chronological. A missing key becomes JSON null, which sorts before every
    other value, so keyset row comparisons never meet an SQL NULL. The key is
    inlined because an expression index only matches a literal key.
    """
    if not _FIELD_KEY.fullmatch(field_key):
        raise InvalidSort(f"invalid custom field key {field_key!r}")
    prefix = f"{table_alias}." if table_alias else ""
    return f"coalesce({prefix}attributes -> '{field_key}', 'null'::jsonb)"


def sort_key_for(column: Column) -> SortKey:
    """Return the sort key of a column.

    Raises:
        InvalidSort: for a column that cannot be sorted, such as Tags.
    """
    if column.is_field:
        return SortKey(column.id, field_sort_expression(column.field_key), "jsonb")
    if not column.sortable or column.id not in _BUILTIN_SORT_KEYS:
        raise InvalidSort(f"column {column.label!r} cannot be sorted")
    return _BUILTIN_SORT_KEYS[column.id]


def encode_cursor(column_id: str, value: str, row_id: int) -> str:
    """Encode a (sort column, sort value as text, id) position as a URL-safe string."""
    raw = json.dumps([column_id, value, int(row_id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, column_id: str) -> tuple[str, int]:
    """Decode a cursor from encode_cursor() made for column_id.

    Returns:
        (sort value as text, row id)

    Raises:
        InvalidCursor: for anything else, including a cursor of another sort.
    """
    problem = InvalidCursor(f"invalid page cursor {cursor[:40]!r}")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        raise problem from None
    if not isinstance(decoded, list) or len(decoded) != 3:
        raise problem
    cursor_column, value, row_id = decoded
    if cursor_column != column_id:
        raise InvalidCursor(
            f"page cursor was made for sort {cursor_column!r}, not {column_id!r}"
        )
    if not isinstance(value, str) or type(row_id) is not int:
        raise problem
    return value, row_id


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_clause(search: str, params: dict[str, Any]) -> str:
    """Return an SQL AND clause for a prefix match on e-mail or custom ID.

    The e-mail matches case-insensitively, the custom ID as typed. The
    clause's parameters are added to params.
    """
    term = search.strip()
    if not term:
        return ""
    params["email_prefix"] = _escape_like(term.lower()) + "%"
    params["id_prefix"] = _escape_like(term) + "%"
    return " AND (p.email_key LIKE :email_prefix OR p.custom_id LIKE :id_prefix)"


def tag_clause(tag_ids: Sequence[int], params: dict[str, Any]) -> str:
    """Return an SQL AND clause for profiles that carry any of these tags."""
    if not tag_ids:
        return ""
    params["filter_tag_ids"] = sorted({int(t) for t in tag_ids})
    return (
        " AND EXISTS (SELECT 1 FROM profile_tags pt"
        " WHERE pt.workspace_id = p.workspace_id AND pt.profile_id = p.id"
        " AND pt.tag_id = ANY(:filter_tag_ids))"
    )


def count_matches(
    conn: Connection, where: str, params: dict[str, Any]
) -> tuple[int, bool]:
    """Count matching profiles exactly up to a limit, else estimate.

    Returns:
        (count, is_estimate)
    """
    exact = conn.execute(
        text(
            f"SELECT count(*) FROM (SELECT 1 FROM workspace_profiles p WHERE {where}"
            f" LIMIT {EXACT_COUNT_LIMIT + 1}) m"
        ),
        params,
    ).scalar_one()
    if exact <= EXACT_COUNT_LIMIT:
        return int(exact), False
    plan = conn.execute(
        text(f"EXPLAIN (FORMAT JSON) SELECT 1 FROM workspace_profiles p WHERE {where}"),
        params,
    ).scalar_one()
    estimate = int(plan[0]["Plan"]["Plan Rows"])
    return max(estimate, EXACT_COUNT_LIMIT + 1), True


def find_sort_key(conn: Connection, column_id: str) -> SortKey:
    """Return the sort key of a column id in the connection's workspace.

    Raises:
        InvalidSort: when no such column exists or it cannot be sorted.
    """
    if column_id in _BUILTIN_SORT_KEYS:
        return _BUILTIN_SORT_KEYS[column_id]
    for column in available_columns(conn):
        if column.id == column_id:
            return sort_key_for(column)
    raise InvalidSort(f"cannot sort by unknown column {column_id!r}")


def _tags_by_profile(conn: Connection, ids: list[int]) -> dict[int, list[str]]:
    if not ids:
        return {}
    result = conn.execute(
        text(
            "SELECT pt.profile_id, array_agg(t.name ORDER BY lower(t.name))"
            "  FROM profile_tags pt"
            "  JOIN tags t ON t.workspace_id = pt.workspace_id AND t.id = pt.tag_id"
            " WHERE pt.profile_id = ANY(:ids) GROUP BY pt.profile_id"
        ),
        {"ids": ids},
    )
    return {int(profile_id): list(names) for profile_id, names in result}


def _to_rows(conn: Connection, records: list[Any]) -> list[ProfileRow]:
    tags = _tags_by_profile(conn, [int(r[0]) for r in records])
    return [
        ProfileRow(
            id=int(r[0]),
            email=r[1],
            custom_id=r[2],
            created_at=r[3],
            updated_at=r[4],
            attributes=r[5] or {},
            tags=tags.get(int(r[0]), []),
        )
        for r in records
    ]


_ROW_COLUMNS = "p.id, p.email, p.custom_id, p.created_at, p.updated_at, p.attributes"


def list_profiles(
    principal: Principal,
    *,
    search: str = "",
    tag_ids: Sequence[int] = (),
    sort: str = "created_at",
    descending: bool = True,
    after: str | None = None,
    before: str | None = None,
    limit: int = PAGE_SIZE,
) -> ProfilePage:
    """Return one page of the workspace's profiles in the order of a column.

    tag_ids keeps the profiles that carry any of these tags. sort is a
    column id from ceramic_app.profiles.columns. after and before
    are cursors from a previous page of the same sort; give at most one.
    Ties are broken by profile id in the same direction.

    Raises:
        InvalidSort: for an unknown or unsortable column.
        InvalidCursor: for a cursor that does not belong to this sort.
    """
    if after is not None and before is not None:
        raise InvalidCursor("give either an after or a before cursor, not both")
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    workspace_id = int(principal.workspace_id)
    params: dict[str, Any] = {"limit": limit + 1}
    # The workspace id is inlined so that the planner can match a per-field
    # sort index, which is partial on workspace_id.
    where = (
        f"p.workspace_id = {workspace_id}"
        + search_clause(search, params)
        + tag_clause(tag_ids, params)
    )
    count_where = where

    with tenant_connection(workspace_id) as conn:
        key = find_sort_key(conn, sort)
        backwards = before is not None
        cursor = before if backwards else after
        # Going backwards flips the order; the rows are reversed again below.
        order_desc = descending != backwards
        if cursor is not None:
            value, row_id = decode_cursor(cursor, key.column_id)
            params["cursor_value"], params["cursor_id"] = value, row_id
            operator = "<" if order_desc else ">"
            where += (
                f" AND ({key.expression}, p.id) {operator}"
                f" (CAST(:cursor_value AS {key.cursor_type}), :cursor_id)"
            )
        direction = "DESC" if order_desc else "ASC"
        sql = (
            f"SELECT {_ROW_COLUMNS}, ({key.expression})::text AS sort_value"
            f" FROM workspace_profiles p WHERE {where}"
            f" ORDER BY {key.expression} {direction}, p.id {direction}"
            " LIMIT :limit"
        )
        records = list(conn.execute(text(sql), params).all())
        has_more = len(records) > limit
        records = records[:limit]
        if backwards:
            records.reverse()
        rows = _to_rows(conn, records)
        total, estimated = count_matches(conn, count_where, params)

    more_after = has_more if not backwards else True
    more_before = (cursor is not None) if not backwards else has_more
    next_cursor = prev_cursor = None
    if records and more_after:
        next_cursor = encode_cursor(key.column_id, records[-1][6], records[-1][0])
    if records and more_before:
        prev_cursor = encode_cursor(key.column_id, records[0][6], records[0][0])
    return ProfilePage(
        rows=rows,
        next_cursor=next_cursor,
        prev_cursor=prev_cursor,
        total=total,
        total_is_estimate=estimated,
    )


def get_profile_rows(principal: Principal, ids: list[int]) -> list[ProfileRow]:
    """Return the rows of these profile ids that exist, in no particular order."""
    if not ids:
        return []
    with tenant_connection(principal.workspace_id) as conn:
        records = conn.execute(
            text(f"SELECT {_ROW_COLUMNS} FROM profiles p WHERE p.id = ANY(:ids)"),
            {"ids": [int(i) for i in ids]},
        ).all()
        return _to_rows(conn, list(records))
