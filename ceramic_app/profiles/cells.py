"""Turn profile rows into the plain values that the table renders by type.

Every row carries the value of every available column, so showing or hiding
a column needs no new rows from the server. Values are strings, except for
array and tag cells, which are lists of strings shown as chips.
"""

from __future__ import annotations

import json
from typing import Any

from ceramic_app.fields.typed import format_number
from ceramic_app.profiles.columns import Column
from ceramic_app.profiles.queries import ProfileRow

# Maximum text per cell, in characters. The cell truncates it visually, and
# its title shows all of it on hover.
MAX_CELL_CHARS = 1_000
# JSON values are shown compact and cut to this many characters.
MAX_JSON_CHARS = 300
MAX_CHIPS = 20


def _cut(value: str, limit: int = MAX_CELL_CHARS) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def format_value(value: Any, column_type: str) -> str | list[str]:
    """Return the display form of one custom-field value.

    Dates stay ISO strings, for the browser to format in the user's locale.
    Booleans become "true" or "false", and a missing value becomes "".
    """
    if value is None:
        return [] if column_type == "array" else ""
    if column_type == "array":
        items = value if isinstance(value, list) else [value]
        chips = [_cut(_scalar_text(item), 80) for item in items[:MAX_CHIPS]]
        if len(items) > MAX_CHIPS:
            chips.append(f"+{len(items) - MAX_CHIPS}")
        return chips
    if column_type == "boolean" and isinstance(value, bool):
        return "true" if value else "false"
    if column_type == "json" or isinstance(value, (dict, list)):
        compact = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
        return _cut(compact, MAX_JSON_CHARS)
    return _cut(_scalar_text(value))


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, int | float):
        return format_number(value)
    return str(value)


def row_cells(row: ProfileRow, columns: list[Column]) -> dict[str, Any]:
    """Return a row's display values keyed by column id, plus "id"."""
    cells: dict[str, Any] = {
        "id": str(row.id),
        "email": _cut(row.email),
        "custom_id": _cut(row.custom_id or ""),
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "tags": list(row.tags[:MAX_CHIPS]),
    }
    for column in columns:
        if column.is_field:
            cells[column.id] = format_value(
                row.attributes.get(column.field_key), column.type
            )
    return cells
