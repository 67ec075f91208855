"""Profile-table columns: what a workspace offers and what each member shows.

A column id is the name of a built-in column ("email", "custom_id",
"created_at", "updated_at", "tags") or "field:<custom field id>". Preferences
store field ids, not keys, so a field that is deleted and later re-created
with the same key starts unchecked like any new field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, text

from ceramic_app.accounts.service import Principal
from ceramic_app.db import tenant_connection

FIELD_PREFIX = "field:"
DEFAULT_COLUMNS = ("email", "custom_id", "created_at", "updated_at")
# More columns than this cannot be stored; it bounds the stored JSON.
MAX_COLUMNS = 200


@dataclass(frozen=True)
class Column:
    """A column the table can show.

    type is "text", "datetime" or "tags" for built-in columns, or a custom
    field type: "text", "number", "date", "boolean", "array" or "json".
    field_key is the attributes key for custom fields and "" otherwise.
    """

    id: str
    label: str
    type: str
    field_key: str = ""
    sortable: bool = True

    @property
    def is_field(self) -> bool:
        """Whether this column shows a custom field."""
        return bool(self.field_key)


STANDARD_COLUMNS = (
    Column("email", "Email", "text"),
    Column("custom_id", "Custom ID", "text"),
    Column("created_at", "Created", "datetime"),
    Column("updated_at", "Updated", "datetime"),
    Column("tags", "Tags", "tags", sortable=False),
)


class InvalidColumns(ValueError):
    """A column list that names unknown columns or is too long."""


def field_column_id(field_id: int) -> str:
    """Return the column id of a custom field."""
    return f"{FIELD_PREFIX}{int(field_id)}"


def available_columns(conn: Connection) -> list[Column]:
    """Return the built-in columns, then the workspace's active custom fields.

    conn must be a tenant connection: row-level security limits the fields to
    its workspace. Fields that are being converted or deleted are left out.
    """
    fields = conn.execute(
        text(
            "SELECT id, key, label, type FROM custom_fields"
            " WHERE status = 'active' ORDER BY position, id"
        )
    ).all()
    columns = list(STANDARD_COLUMNS)
    for field_id, key, label, field_type in fields:
        columns.append(Column(field_column_id(field_id), label, field_type, key))
    return columns


def clean_column_ids(requested: list[str], available: list[Column]) -> list[str]:
    """Keep the known column ids of requested, in order and without repeats."""
    known = {column.id for column in available}
    seen: set[str] = set()
    kept = []
    for column_id in requested:
        if isinstance(column_id, str) and column_id in known and column_id not in seen:
            seen.add(column_id)
            kept.append(column_id)
    return kept


def toggle_column(visible: list[str], column_id: str, show: bool) -> list[str]:
    """Return visible with column_id appended (show) or removed (not show).

    The last shown column stays, because a table without columns shows
    nothing to click or read.
    """
    without = [c for c in visible if c != column_id]
    if show:
        return [*without, column_id]
    return without or list(visible)


def move_column(visible: list[str], column_id: str, offset: int) -> list[str]:
    """Return visible with column_id moved by offset places, clamped to the ends."""
    if column_id not in visible:
        return list(visible)
    order = [c for c in visible if c != column_id]
    index = visible.index(column_id) + offset
    order.insert(max(0, min(index, len(order))), column_id)
    return order


def _stored_columns(conn: Connection, user_id: int) -> list[str] | None:
    row = conn.execute(
        text("SELECT columns FROM column_preferences WHERE user_id = :u"),
        {"u": user_id},
    ).first()
    if row is None or not isinstance(row[0], list):
        return None
    return row[0]


def load_visible_columns(principal: Principal) -> tuple[list[Column], list[str]]:
    """Return (available columns, this member's visible column ids in order).

    Without a stored preference the defaults apply. Stored ids of deleted or
    inactive fields are skipped here, not erased, so a field that comes back
    from a conversion reappears where it was.
    """
    with tenant_connection(principal.workspace_id) as conn:
        available = available_columns(conn)
        stored = _stored_columns(conn, principal.user_id)
    requested = list(DEFAULT_COLUMNS) if stored is None else stored
    return available, clean_column_ids(requested, available)


def save_visible_columns(principal: Principal, column_ids: list[str]) -> list[str]:
    """Store this member's visible columns; return the list as stored.

    Raises:
        InvalidColumns: when a column id is unknown or there are too many.
    """
    if len(column_ids) > MAX_COLUMNS:
        raise InvalidColumns(
            f"{len(column_ids)} columns requested; at most {MAX_COLUMNS} can be shown"
        )
    with tenant_connection(principal.workspace_id) as conn:
        available = available_columns(conn)
        known = {column.id for column in available}
        unknown = [c for c in column_ids if c not in known]
        if unknown:
            raise InvalidColumns(
                f"unknown column {unknown[0]!r}; reload the page to see current fields"
            )
        cleaned = clean_column_ids(column_ids, available)
        conn.execute(
            text(
                "INSERT INTO column_preferences (workspace_id, user_id, columns)"
                " VALUES (:ws, :u, CAST(:cols AS jsonb))"
                " ON CONFLICT (workspace_id, user_id)"
                " DO UPDATE SET columns = EXCLUDED.columns, updated_at = now()"
            ),
            {
                "ws": principal.workspace_id,
                "u": principal.user_id,
                "cols": json.dumps(cleaned),
            },
        )
    return cleaned


def reset_visible_columns(principal: Principal) -> list[str]:
    """Delete this member's preference so the defaults apply; return them."""
    with tenant_connection(principal.workspace_id) as conn:
        conn.execute(
            text("DELETE FROM column_preferences WHERE user_id = :u"),
            {"u": principal.user_id},
        )
        available = available_columns(conn)
    return clean_column_ids(list(DEFAULT_COLUMNS), available)
