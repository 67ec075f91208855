"""Batched field jobs: convert a field's values, delete them, recompute calculated values.

Each function takes (workspace_id, field_id, ..., progress_cb), which the
background job runner calls. progress_cb(done, total) is called after every
committed batch, and total is the workspace's profile count. The runner
may raise from progress_cb to stop a job. Every batch is its own
transaction over a keyset page of the primary key, so a stopped job keeps
what it committed, and running it again continues idempotently.

The jobs leave profiles.updated_at alone: they follow a change of the field
definition, not an edit of the customer's data. Their audit entries have the
actor type "system".
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from ceramic_app import audit
from ceramic_app.accounts.service import Principal
from ceramic_app.db import tenant_connection
from ceramic_app.fields.errors import FieldError, NotFound
from ceramic_app.fields.expressions import Expression, dependents_of, profile_record
from ceramic_app.fields.service import split_rules
from ceramic_app.fields.typed import ConversionError, convert_value
from ceramic_app.fields.validation import FieldDef, load_schema, row_to_field
from ceramic_app.models import FieldType

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int | None], None]
BATCH_ROWS = 5_000
MAX_REPORTED_FAILURES = 20


@dataclass(frozen=True)
class _SystemActor:
    """The actor of audit entries that a job writes; audit.record() reads only these."""

    workspace_id: int
    actor_type: str = "system"
    actor_id: int | None = None
    actor_label: str = "field job"


def _record(
    conn: Connection, workspace_id: int, action: str, field_id: int, **kwargs: Any
) -> None:
    actor = cast(Principal, _SystemActor(workspace_id))
    audit.record(conn, actor, action, "field", field_id, **kwargs)


def _load(conn: Connection, field_id: int) -> FieldDef:
    row = conn.execute(
        text(
            "SELECT id, key, label, description, type, rules, expression, status,"
            " position, created_at, updated_at FROM custom_fields WHERE id = :id FOR UPDATE"
        ),
        {"id": field_id},
    ).first()
    if row is None:
        raise NotFound(f"Field {field_id} was not found in workspace.")
    return row_to_field(row)


def _profile_count(workspace_id: int) -> int:
    with tenant_connection(workspace_id) as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM profiles WHERE workspace_id = :ws"),
                {"ws": workspace_id},
            ).scalar_one()
        )


def _next_page(
    conn: Connection, workspace_id: int, after: int, rows: int
) -> tuple[int, int] | None:
    """Return (row count, last id) of the next keyset page after id `after`, or None."""
    page = conn.execute(
        text(
            "SELECT count(*) AS n, max(id) AS last FROM (SELECT id FROM profiles"
            " WHERE workspace_id = :ws AND id > :after ORDER BY id LIMIT :rows) AS page"
        ),
        {"ws": workspace_id, "after": after, "rows": rows},
    ).one()
    if not page.n:
        return None
    return int(page.n), int(page.last)


# --- conversion -------------------------------------------------------------------


def convert_field(
    workspace_id: int,
    field_id: int,
    new_type: FieldType | str,
    progress_cb: ProgressCallback,
    *,
    batch_rows: int = BATCH_ROWS,
) -> dict[str, Any]:
    """Convert every stored value of a field to new_type, then switch the field's type.

    Values that do not convert are removed, and each removal is written to
    profile_changes (source "field.convert") so the old value stays on record.
    The field must be 'converting' (begin_type_change() sets it); an 'active'
    field is marked here first. At the end the field gets new_type, the rules
    that survive it, and status 'active'.

    Returns {"converted": n, "removed": n, "unchanged": n, "failures": [...]}.
    """
    target = FieldType(new_type)
    with tenant_connection(workspace_id) as conn:
        definition = _load(conn, field_id)
        if definition.is_calculated:
            raise FieldError(
                f"{definition.label} is calculated and cannot be converted."
            )
        if definition.status == "deleting":
            raise FieldError(f"{definition.label} is being deleted.")
        if definition.status == "active":
            conn.execute(
                text("UPDATE custom_fields SET status = 'converting' WHERE id = :id"),
                {"id": field_id},
            )
    logger.info(
        "converting field %s (id %s) of workspace %s to %s",
        definition.key,
        field_id,
        workspace_id,
        target.value,
    )
    total = _profile_count(workspace_id)
    counts = {"converted": 0, "removed": 0, "unchanged": 0}
    failures: list[dict[str, Any]] = []
    done = after = 0
    while True:
        with tenant_connection(workspace_id) as conn:
            page = _next_page(conn, workspace_id, after, batch_rows)
            if page is None:
                break
            size, last = page
            _convert_page(
                conn,
                workspace_id,
                definition.key,
                target,
                after,
                last,
                counts,
                failures,
            )
        done += size
        after = last
        progress_cb(done, total)
    kept_rules, _ = split_rules(definition.rules, target)
    with tenant_connection(workspace_id) as conn:
        conn.execute(
            text(
                "UPDATE custom_fields SET type = :type, rules = CAST(:rules AS jsonb),"
                " status = 'active', updated_at = now() WHERE id = :id"
            ),
            {"id": field_id, "type": target.value, "rules": json.dumps(kept_rules)},
        )
        _record(
            conn,
            workspace_id,
            "field.convert",
            field_id,
            before={"type": definition.type.value, "rules": definition.rules},
            after={"type": target.value, "rules": kept_rules},
            meta=counts,
        )
    logger.info("converted field %s (id %s): %s", definition.key, field_id, counts)
    return {**counts, "failures": failures}


def _convert_page(
    conn: Connection,
    workspace_id: int,
    key: str,
    target: FieldType,
    after: int,
    last: int,
    counts: dict[str, int],
    failures: list[dict[str, Any]],
) -> None:
    rows = conn.execute(
        text(
            "SELECT id, attributes->:key AS value FROM profiles"
            " WHERE workspace_id = :ws AND id > :after AND id <= :last"
            " AND attributes ? :key ORDER BY id FOR UPDATE"
        ),
        {"ws": workspace_id, "key": key, "after": after, "last": last},
    ).all()
    updates: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    for row in rows:
        try:
            converted = convert_value(row.value, target)
        except ConversionError as exc:
            converted = None
            if len(failures) < MAX_REPORTED_FAILURES:
                failures.append(
                    {"profile_id": row.id, "value": row.value, "message": str(exc)}
                )
        if converted is None:
            removed.append({"id": row.id, "value": row.value})
            updates.append({"id": row.id, "value": None})
        elif _same_json(converted, row.value):
            counts["unchanged"] += 1
        else:
            updates.append({"id": row.id, "value": converted})
            counts["converted"] += 1
    counts["removed"] += len(removed)
    _write_values(conn, workspace_id, key, updates)
    if removed:
        conn.execute(
            text(
                "INSERT INTO profile_changes (workspace_id, profile_id, actor_type,"
                " actor_label, source, changes)"
                " SELECT :ws, r.id, 'system', 'field job', 'field.convert',"
                "        jsonb_build_object(CAST(:key AS text), jsonb_build_array(r.value, NULL))"
                "   FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS r(id bigint, value jsonb)"
            ),
            {"ws": workspace_id, "key": key, "rows": json.dumps(removed)},
        )


def _same_json(left: Any, right: Any) -> bool:
    # 1 == True in Python, but 1 and true are different JSON values.
    return json.dumps(left, sort_keys=True) == json.dumps(right, sort_keys=True)


def _write_values(
    conn: Connection, workspace_id: int, key: str, updates: list[dict[str, Any]]
) -> None:
    """Set (or, for None, remove) key on each profile id in updates, set-based."""
    if not updates:
        return
    conn.execute(
        text(
            "UPDATE profiles AS p SET attributes = CASE WHEN v.value IS NULL"
            "   OR v.value = 'null'::jsonb THEN p.attributes - CAST(:key AS text)"
            "   ELSE jsonb_set(p.attributes, ARRAY[CAST(:key AS text)], v.value) END"
            "  FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(id bigint, value jsonb)"
            " WHERE p.workspace_id = :ws AND p.id = v.id"
        ),
        {"ws": workspace_id, "key": key, "rows": json.dumps(updates)},
    )


# --- deletion ---------------------------------------------------------------------


def delete_field_values(
    workspace_id: int,
    field_id: int,
    progress_cb: ProgressCallback,
    *,
    batch_rows: int = BATCH_ROWS,
) -> dict[str, Any]:
    """Remove a 'deleting' field's values from every profile, then delete the field row.

    Returns {"removed": number of profiles that had a value}.

    Raises:
        FieldError: when the field is not marked 'deleting' (see begin_field_deletion()).
    """
    with tenant_connection(workspace_id) as conn:
        definition = _load(conn, field_id)
    if definition.status != "deleting":
        raise FieldError(
            f"{definition.label} is not marked for deletion; call begin_field_deletion() first."
        )
    logger.info(
        "deleting values of field %s (id %s) in workspace %s",
        definition.key,
        field_id,
        workspace_id,
    )
    total = _profile_count(workspace_id)
    removed = done = after = 0
    while True:
        with tenant_connection(workspace_id) as conn:
            page = _next_page(conn, workspace_id, after, batch_rows)
            if page is None:
                break
            size, last = page
            result = conn.execute(
                text(
                    "UPDATE profiles SET attributes = attributes - CAST(:key AS text)"
                    " WHERE workspace_id = :ws AND id > :after AND id <= :last"
                    " AND attributes ? :key"
                ),
                {
                    "ws": workspace_id,
                    "key": definition.key,
                    "after": after,
                    "last": last,
                },
            )
            removed += result.rowcount
        done += size
        after = last
        progress_cb(done, total)
    with tenant_connection(workspace_id) as conn:
        conn.execute(text("DELETE FROM custom_fields WHERE id = :id"), {"id": field_id})
        _record(
            conn,
            workspace_id,
            "field.delete",
            field_id,
            before=definition.as_dict(),
            meta={"removed_values": removed},
        )
    logger.info(
        "deleted field %s (id %s), %s values removed", definition.key, field_id, removed
    )
    return {"removed": removed}


# --- recompute --------------------------------------------------------------------


def recompute_field(
    workspace_id: int,
    field_id: int,
    progress_cb: ProgressCallback,
    *,
    today: date | None = None,
    batch_rows: int = BATCH_ROWS,
) -> dict[str, Any]:
    """Recompute a calculated field and every calculated field that reads it.

    Each page runs one UPDATE with the expression compiled to SQL. If
    PostgreSQL raises for the page (float8 overflow or underflow, or a stored
    date such as 2024-02-30 that the regex check lets through), that page is
    evaluated in Python instead, which gives null for such values. Only rows
    whose value changes are written.

    Returns {"updated": rows written, "python_pages": pages done in Python}.
    """
    day = today or datetime.now(UTC).date()
    with tenant_connection(workspace_id) as conn:
        schema = load_schema(conn)
        definition = schema.fields.get(_key_of(conn, field_id))
    if definition is None or not definition.is_calculated:
        raise FieldError(f"Field {field_id} is not a calculated field.")
    if definition.key not in schema.expressions:
        raise FieldError(f"The expression of {definition.key!r} does not compile.")
    keys = [definition.key, *dependents_of(definition.key, schema.dependencies())]
    total = _profile_count(workspace_id) * len(keys)
    updated = python_pages = done = 0
    for key in keys:
        expression = schema.expressions[key]
        after = 0
        while True:
            with tenant_connection(workspace_id) as conn:
                page = _next_page(conn, workspace_id, after, batch_rows)
                if page is None:
                    break
                size, last = page
                written, in_python = _recompute_page(
                    conn, workspace_id, key, expression, day, after, last
                )
            updated += written
            python_pages += in_python
            done += size
            after = last
            progress_cb(done, total)
    with tenant_connection(workspace_id) as conn:
        _record(
            conn,
            workspace_id,
            "field.recompute",
            field_id,
            meta={"keys": keys, "updated": updated, "python_pages": python_pages},
        )
    logger.info(
        "recomputed %s in workspace %s: %s rows written, %s pages in Python",
        keys,
        workspace_id,
        updated,
        python_pages,
    )
    return {"updated": updated, "python_pages": python_pages}


def _key_of(conn: Connection, field_id: int) -> str:
    key = conn.execute(
        text("SELECT key FROM custom_fields WHERE id = :id"), {"id": field_id}
    ).scalar()
    if key is None:
        raise NotFound(f"Field {field_id} was not found in workspace.")
    return str(key)


def _recompute_page(
    conn: Connection,
    workspace_id: int,
    key: str,
    expression: Expression,
    day: date,
    after: int,
    last: int,
) -> tuple[int, int]:
    value_sql, params = expression.to_sql(day, alias="q")
    try:
        with conn.begin_nested():
            result = conn.execute(
                text(
                    "UPDATE profiles AS p SET attributes = CASE WHEN s.value IS NULL"
                    "   THEN p.attributes - CAST(:key AS text)"
                    "   ELSE jsonb_set(p.attributes, ARRAY[CAST(:key AS text)], s.value) END"
                    f"  FROM (SELECT q.id, {value_sql} AS value FROM profiles AS q"
                    "         WHERE q.workspace_id = :ws AND q.id > :after AND q.id <= :last) AS s"
                    " WHERE p.workspace_id = :ws AND p.id = s.id"
                    "   AND (p.attributes->CAST(:key AS text)) IS DISTINCT FROM s.value"
                ),
                {
                    **params,
                    "ws": workspace_id,
                    "key": key,
                    "after": after,
                    "last": last,
                },
            )
            return result.rowcount, 0
    except DBAPIError as exc:
        logger.info(
            "SQL recompute of %s failed for ids %s..%s in workspace %s, using Python: %s",
            key,
            after + 1,
            last,
            workspace_id,
            exc.orig,
        )
    return _recompute_page_in_python(
        conn, workspace_id, key, expression, day, after, last
    ), 1


def _recompute_page_in_python(
    conn: Connection,
    workspace_id: int,
    key: str,
    expression: Expression,
    day: date,
    after: int,
    last: int,
) -> int:
    rows = conn.execute(
        text(
            "SELECT id, email, custom_id, created_at, attributes FROM profiles"
            " WHERE workspace_id = :ws AND id > :after AND id <= :last ORDER BY id FOR UPDATE"
        ),
        {"ws": workspace_id, "after": after, "last": last},
    ).all()
    updates = []
    for row in rows:
        record = profile_record(
            row.attributes,
            email=row.email,
            custom_id=row.custom_id,
            created_at=row.created_at,
        )
        value = expression.evaluate(record, day)
        current = row.attributes.get(key)
        if value is None and current is None:
            continue
        if (
            value is not None
            and current is not None
            and _same_number_or_json(value, current)
        ):
            continue
        updates.append({"id": row.id, "value": value})
    _write_values(conn, workspace_id, key, updates)
    return len(updates)


def _same_number_or_json(left: Any, right: Any) -> bool:
    # jsonb compares numbers by value, so 3 and 3.0 are the same stored value.
    numbers = (int, float)
    if isinstance(left, numbers) and isinstance(right, numbers):
        if isinstance(left, bool) or isinstance(right, bool):
            return left is right
        return left == right
    return _same_json(left, right)


def recompute_dependents(
    workspace_id: int,
    changed_keys: set[str],
    progress_cb: ProgressCallback | None = None,
) -> list[str]:
    """Recompute every calculated field that reads one of changed_keys.

    Bulk edits and imports call this after they change stored values, so that
    calculated values never lag behind their inputs. Returns the keys of the
    calculated fields recomputed directly (their own dependents follow).
    """
    if not changed_keys:
        return []
    with tenant_connection(workspace_id) as conn:
        schema = load_schema(conn)
    direct = [
        key
        for key, inputs in schema.dependencies().items()
        if inputs & changed_keys and key not in changed_keys
    ]
    for key in direct:
        recompute_field(
            workspace_id, schema.fields[key].id, progress_cb or (lambda *_: None)
        )
    return direct
