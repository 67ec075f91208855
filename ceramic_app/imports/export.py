"""Profile export to CSV (safe to open in a spreadsheet) and to JSON (verbatim).

CSV: one column per custom field after email and custom_id (plus tags when
the workspace has any). Text cells that start with = + - @ TAB or CR get a
leading apostrophe so that Excel and LibreOffice show them instead of
running them as formulas; this also prefixes '+' phone numbers. Number
fields are written as plain numbers (-5 stays -5), booleans as true/false,
dates as YYYY-MM-DD, arrays and json fields as compact JSON, which is what
the importer accepts. Re-importing such a file keeps the apostrophes unless
the import option unescape_formulas is set, which removes exactly the one
apostrophe added here.

JSON: an array of objects with every value verbatim.
"""

from __future__ import annotations

import csv
import json
from typing import Any, TextIO

from ceramic_app.db import connect_raw
from ceramic_app.models import FieldType

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_FETCH_ROWS = 5000


def neutralize_formula(value: str) -> str:
    """Prefix a text cell that a spreadsheet would run as a formula with an apostrophe."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def _columns(conn: Any) -> tuple[list[tuple[str, FieldType]], bool]:
    fields = [
        (key, FieldType(kind))
        for key, kind in conn.execute(
            "SELECT key, type FROM custom_fields ORDER BY position, id"
        ).fetchall()
    ]
    has_tags = conn.execute("SELECT EXISTS (SELECT 1 FROM tags)").fetchone()[0]
    return fields, bool(has_tags)


def _rows(conn: Any, with_tags: bool) -> Any:
    tags = (
        "(SELECT array_agg(t.name ORDER BY t.name) FROM profile_tags pt"
        " JOIN tags t ON t.workspace_id = pt.workspace_id AND t.id = pt.tag_id"
        " WHERE pt.workspace_id = p.workspace_id AND pt.profile_id = p.id)"
        if with_tags
        else "NULL::text[]"
    )
    cursor = conn.cursor(name="profile_export")
    cursor.itersize = _FETCH_ROWS
    cursor.execute(
        f"SELECT p.email, p.custom_id, p.attributes, {tags} FROM profiles p ORDER BY p.id"
    )
    return cursor


def _csv_cell(value: Any, kind: FieldType) -> Any:
    if value is None:
        return None
    if (
        kind is FieldType.NUMBER
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    ):
        return value
    if kind is FieldType.BOOLEAN and isinstance(value, bool):
        return "true" if value else "false"
    if kind in (FieldType.ARRAY, FieldType.JSON) or not isinstance(value, str):
        return json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), sort_keys=True
        )
    return neutralize_formula(value)


def export_profiles_csv(workspace_id: int, out: TextIO) -> int:
    """Write every profile of a workspace as CSV to out; return the row count.

    Attribute values without a custom field definition are not exported.
    Open out with newline="" so that line breaks inside values stay intact.
    """
    with connect_raw(workspace_id) as conn:
        fields, with_tags = _columns(conn)
        writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
        header = ["email", "custom_id", *(key for key, _ in fields)]
        if with_tags:
            header.append("tags")
        writer.writerow(header)
        count = 0
        with conn.transaction():
            for email, custom_id, attributes, tags in _rows(conn, with_tags):
                row: list[Any] = [
                    email,
                    None if custom_id is None else neutralize_formula(custom_id),
                ]
                row += [_csv_cell(attributes.get(key), kind) for key, kind in fields]
                if with_tags:
                    row.append(json.dumps(tags or [], ensure_ascii=False))
                writer.writerow(row)
                count += 1
    return count


def export_profiles_json(workspace_id: int, out: TextIO) -> int:
    """Write every profile as a JSON array of objects with values verbatim."""
    with connect_raw(workspace_id) as conn:
        _, with_tags = _columns(conn)
        out.write("[")
        count = 0
        with conn.transaction():
            for email, custom_id, attributes, tags in _rows(conn, with_tags):
                record: dict[str, Any] = {
                    "email": email,
                    "custom_id": custom_id,
                    **attributes,
                }
                if with_tags:
                    record["tags"] = tags or []
                out.write(",\n" if count else "\n")
                out.write(json.dumps(record, ensure_ascii=False))
                count += 1
        out.write("\n]\n")
    return count
