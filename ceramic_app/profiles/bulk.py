"""Set-based bulk changes to selected profiles: tags, a field's value, deletion.

Every operation has the signature (workspace_id, selection, params,
progress_callback), so that a background job runner can call it. It works in
batches of BATCH_SIZE profiles, one transaction each, publishes
"profiles.changed" after each batch and writes one audit_log entry with the
count at the end. params["actor"] names who acts (see actor_params()).

Tag and field changes store what undo needs in bulk_undo_items, and
undo_operation() reverts them until one of the profiles changes again,
which is detected by profiles.updated_at.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, text

from ceramic_app import audit, live
from ceramic_app.accounts.service import Principal
from ceramic_app.db import tenant_connection
from ceramic_app.fields.errors import ValidationFailed
from ceramic_app.fields.validation import (
    FieldDef,
    Schema,
    check_unique,
    load_schema,
    validate_values,
)
from ceramic_app.models import Role
from ceramic_app.profiles.queries import search_clause, tag_clause

logger = logging.getLogger(__name__)

BATCH_SIZE = 5_000
# Explicit id lists longer than this are rejected; select "all matching" instead.
MAX_EXPLICIT_IDS = 10_000
# A tag filter keeps profiles with any of at most this many tags.
MAX_FILTER_TAGS = 20

ProgressCallback = Callable[[int, int], None]
"""Called after each batch with (profiles done, profiles in the selection)."""

UNDOABLE_KINDS = ("tags.add", "tags.remove", "field.set")
# Undo data older than this is deleted after each bulk operation, because a
# large operation stores one row per changed profile.
UNDO_RETENTION_DAYS = 7


class BulkError(ValueError):
    """A bulk request that cannot run; the message is for the user."""


@dataclass(frozen=True)
class Selection:
    """Explicit profile ids, or every profile that matches a search."""

    ids: tuple[int, ...] = ()
    all_matching: bool = False
    search: str = ""
    tag_ids: tuple[int, ...] = ()

    def to_params(self) -> dict[str, Any]:
        """Return the selection as JSON-ready job parameters."""
        return {
            "ids": list(self.ids),
            "all_matching": self.all_matching,
            "search": self.search,
            "tag_ids": list(self.tag_ids),
        }

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Selection:
        """Build a selection from to_params() output.

        Raises:
            BulkError: when the ids are not integers or are too many.
        """
        raw_ids = params.get("ids") or []
        if len(raw_ids) > MAX_EXPLICIT_IDS:
            raise BulkError(
                f"{len(raw_ids)} profiles selected by id; at most"
                f" {MAX_EXPLICIT_IDS} can be, so select all matching instead"
            )
        try:
            ids = tuple(sorted({int(i) for i in raw_ids}))
            tag_ids = tuple(sorted({int(t) for t in params.get("tag_ids") or []}))
        except (TypeError, ValueError):
            raise BulkError("selected profile and tag ids must be integers") from None
        return cls(
            ids=ids,
            all_matching=bool(params.get("all_matching")),
            search=str(params.get("search") or "")[:200],
            tag_ids=tag_ids[:MAX_FILTER_TAGS],
        )


@dataclass
class BulkResult:
    """Outcome of one bulk operation."""

    operation_id: int
    kind: str
    selected: int = 0
    changed: int = 0
    details: dict[str, Any] = field(default_factory=dict)


def actor_params(principal: Principal) -> dict[str, Any]:
    """Return the params["actor"] entry that names principal as the actor."""
    return {
        "user_id": principal.user_id,
        "email": principal.user_email,
        "name": principal.user_name,
        "role": principal.role.value,
        "type": principal.actor_type,
    }


def _actor(workspace_id: int, params: dict[str, Any]) -> Principal:
    actor = params.get("actor")
    if not isinstance(actor, dict) or "user_id" not in actor:
        raise BulkError("bulk params are missing the acting user")
    return Principal(
        user_id=int(actor["user_id"]),
        user_email=str(actor.get("email", "")),
        user_name=str(actor.get("name", "")),
        workspace_id=workspace_id,
        workspace_slug="",
        workspace_name="",
        role=Role(actor.get("role", Role.MEMBER.value)),
        actor_type=str(actor.get("type", "user")),
    )


# Selection -----------------------------------------------------------------


def _selection_where(
    workspace_id: int, selection: Selection, params: dict[str, Any]
) -> str:
    where = f"p.workspace_id = {int(workspace_id)}"
    if selection.all_matching:
        return (
            where
            + search_clause(selection.search, params)
            + tag_clause(selection.tag_ids, params)
        )
    params["selected_ids"] = list(selection.ids)
    return where + " AND p.id = ANY(:selected_ids)"


def count_selection(workspace_id: int, selection: Selection) -> int:
    """Return how many existing profiles the selection covers."""
    params: dict[str, Any] = {}
    where = _selection_where(workspace_id, selection, params)
    with tenant_connection(workspace_id) as conn:
        return int(
            conn.execute(
                text(f"SELECT count(*) FROM workspace_profiles p WHERE {where}"),
                params,
            ).scalar_one()
        )


def _batches(workspace_id: int, selection: Selection) -> Iterator[list[int]]:
    """Yield the selected profile ids in ascending batches.

    Each batch is read in its own short transaction after the previous one
    was processed, so rows that a batch deletes are never read again.
    """
    last_id = 0
    while True:
        params: dict[str, Any] = {"last_id": last_id, "batch": BATCH_SIZE}
        where = _selection_where(workspace_id, selection, params)
        with tenant_connection(workspace_id) as conn:
            ids = list(
                conn.execute(
                    text(
                        f"SELECT p.id FROM workspace_profiles p WHERE {where}"
                        " AND p.id > :last_id ORDER BY p.id LIMIT :batch"
                    ),
                    params,
                ).scalars()
            )
        if not ids:
            return
        yield ids
        last_id = ids[-1]


# Operation records ---------------------------------------------------------


def _start_operation(
    workspace_id: int, kind: str, actor: Principal, params: dict[str, Any]
) -> int:
    """Insert a running operation, or resume the one of the same job.

    A job runner that runs a job again after a crash passes the same
    params["job_id"], so the earlier attempt's undo data and counts stay
    with one operation.
    """
    stored = {k: v for k, v in params.items() if k != "actor"}
    with tenant_connection(workspace_id) as conn:
        if params.get("job_id") is not None:
            resumed = conn.execute(
                text(
                    "UPDATE bulk_operations SET status = 'running', finished_at = NULL"
                    " WHERE kind = :kind AND params ->> 'job_id' = :job"
                    "   AND status IN ('running', 'failed')"
                    " RETURNING id"
                ),
                {"kind": kind, "job": str(params["job_id"])},
            ).scalar()
            if resumed is not None:
                return int(resumed)
        return int(
            conn.execute(
                text(
                    "INSERT INTO bulk_operations (workspace_id, kind, params, actor_id)"
                    " VALUES (:ws, :kind, CAST(:params AS jsonb), :actor)"
                    " RETURNING id"
                ),
                {
                    "ws": workspace_id,
                    "kind": kind,
                    "params": json.dumps(stored, default=str),
                    "actor": actor.user_id,
                },
            ).scalar_one()
        )


def _count_batch(
    conn: Connection, operation_id: int, selected: int, changed: int
) -> None:
    """Add one batch's counts, in the batch's own transaction."""
    conn.execute(
        text(
            "UPDATE bulk_operations SET profile_count = profile_count + :selected,"
            " changed_count = changed_count + :changed WHERE id = :id"
        ),
        {"selected": selected, "changed": changed, "id": operation_id},
    )


def _finish_operation(
    workspace_id: int,
    actor: Principal,
    result: BulkResult,
    selection: Selection,
    status: str = "completed",
) -> None:
    with tenant_connection(workspace_id) as conn:
        # The stored counts include earlier attempts of the same job.
        counts = conn.execute(
            text(
                "UPDATE bulk_operations SET status = :status, finished_at = now()"
                " WHERE id = :id RETURNING profile_count, changed_count"
            ),
            {"status": status, "id": result.operation_id},
        ).one()
        result.selected, result.changed = int(counts[0]), int(counts[1])
        audit.record(
            conn,
            actor,
            f"profiles.bulk_{result.kind.replace('.', '_')}",
            "bulk_operation",
            result.operation_id,
            meta={
                "count": result.changed,
                "selected": result.selected,
                "status": status,
                "selection": {
                    "all_matching": selection.all_matching,
                    "search": selection.search,
                    "tag_ids": list(selection.tag_ids),
                    "id_count": len(selection.ids),
                },
                **result.details,
            },
        )


def _run(
    workspace_id: int,
    kind: str,
    selection: Selection,
    params: dict[str, Any],
    progress_callback: ProgressCallback | None,
    apply_batch: Callable[[Connection, int, list[int]], int],
    details: dict[str, Any],
) -> BulkResult:
    """Apply apply_batch to each batch of the selection and record the outcome.

    apply_batch(conn, operation_id, ids) returns how many profiles it changed.
    """
    actor = _actor(workspace_id, params)
    total = count_selection(workspace_id, selection)
    operation_id = _start_operation(workspace_id, kind, actor, params)
    result = BulkResult(operation_id, kind, details=details)
    if progress_callback:
        progress_callback(0, total)
    history_key = _history_key(kind, details)
    try:
        for ids in _batches(workspace_id, selection):
            with tenant_connection(workspace_id) as conn:
                before = _snapshot(conn, workspace_id, history_key, ids)
                changed = apply_batch(conn, operation_id, ids)
                _count_batch(conn, operation_id, len(ids), changed)
                _write_history(conn, actor, history_key, ids, before)
            result.changed += changed
            result.selected += len(ids)
            live.publish(workspace_id, "profiles.changed", count=len(ids))
            if progress_callback:
                progress_callback(result.selected, max(total, result.selected))
    except Exception:
        logger.exception(
            "bulk %s %s failed in workspace %s after %s profiles",
            kind,
            operation_id,
            workspace_id,
            result.selected,
        )
        _finish_operation(workspace_id, actor, result, selection, status="failed")
        raise
    _finish_operation(workspace_id, actor, result, selection)
    prune_undo_items(workspace_id)
    logger.info(
        "bulk %s %s in workspace %s changed %s of %s profiles",
        kind,
        operation_id,
        workspace_id,
        result.changed,
        result.selected,
    )
    return result


# History -------------------------------------------------------------------

# Tag names of a profile, sorted case-insensitively: the form the single-profile
# tag service writes to history too.
_TAG_SNAPSHOT = text(
    "SELECT p.id, coalesce((SELECT jsonb_agg(t.name ORDER BY lower(t.name))"
    "   FROM profile_tags pt JOIN tags t"
    "     ON t.workspace_id = pt.workspace_id AND t.id = pt.tag_id"
    "  WHERE pt.workspace_id = p.workspace_id AND pt.profile_id = p.id), '[]'::jsonb)"
    " FROM profiles p WHERE p.workspace_id = :ws AND p.id = ANY(:ids)"
)
_FIELD_SNAPSHOT = text(
    "SELECT p.id, p.attributes -> CAST(:key AS text) FROM profiles p"
    " WHERE p.workspace_id = :ws AND p.id = ANY(:ids)"
)
_INSERT_HISTORY = text(
    "INSERT INTO profile_changes (workspace_id, profile_id, actor_type, actor_id,"
    " actor_label, source, changes)"
    " SELECT :ws, c.profile_id, :actor_type, :actor_id, :actor_label, 'bulk',"
    "        jsonb_build_object(CAST(:key AS text), c.change)"
    "   FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS c(profile_id bigint,"
    "                                                      change jsonb)"
)


def _history_key(kind: str, details: dict[str, Any]) -> str | None:
    """Return what a bulk kind changes: "tags", a field key, or None (delete)."""
    if kind.startswith("tags."):
        return "tags"
    if kind == "field.set":
        return str(details.get("field_key") or "") or None
    return None


def _snapshot(
    conn: Connection, workspace_id: int, key: str | None, ids: list[int]
) -> dict[int, Any]:
    """Read the value that key names on each profile, before or after a batch."""
    if key is None:
        return {}
    statement = _TAG_SNAPSHOT if key == "tags" else _FIELD_SNAPSHOT
    rows = conn.execute(statement, {"ws": workspace_id, "ids": ids, "key": key}).all()
    return {int(row[0]): row[1] for row in rows}


def _write_history(
    conn: Connection,
    actor: Principal,
    key: str | None,
    ids: list[int],
    before: dict[int, Any],
) -> None:
    """Add a profile_changes row ({key: [before, after]}) per profile that changed.

    Bulk edits belong in each profile's history like single edits do; the
    audit log keeps the one entry with the count.
    """
    if key is None:
        return
    after = _snapshot(conn, actor.workspace_id, key, ids)
    rows = [
        {"profile_id": pid, "change": [before.get(pid), value]}
        for pid, value in after.items()
        if before.get(pid) != value
    ]
    if not rows:
        return
    conn.execute(
        _INSERT_HISTORY,
        {
            "ws": actor.workspace_id,
            "actor_type": actor.actor_type,
            "actor_id": actor.actor_id,
            "actor_label": actor.actor_label,
            "key": key,
            "rows": json.dumps(rows),
        },
    )


# Tags ----------------------------------------------------------------------


def _tag_ids(conn: Connection, params: dict[str, Any]) -> list[int]:
    try:
        requested = sorted({int(t) for t in params.get("tag_ids") or []})
    except (TypeError, ValueError):
        raise BulkError("tag ids must be integers") from None
    if not requested:
        raise BulkError("choose at least one tag")
    found = set(
        conn.execute(
            text("SELECT id FROM tags WHERE id = ANY(:ids)"), {"ids": requested}
        ).scalars()
    )
    missing = [t for t in requested if t not in found]
    if missing:
        raise BulkError(f"tag {missing[0]} not found; reload the page")
    return requested


_ADD_TAGS = text(
    """
    WITH added AS (
        INSERT INTO profile_tags (workspace_id, profile_id, tag_id)
        SELECT :ws, profile_id, tag_id
          FROM unnest(CAST(:ids AS bigint[])) AS profile_id,
               unnest(CAST(:tag_ids AS bigint[])) AS tag_id
        ON CONFLICT DO NOTHING
        RETURNING profile_id, tag_id
    ), touched AS (
        UPDATE profiles SET updated_at = now()
         WHERE workspace_id = :ws AND id IN (SELECT profile_id FROM added)
        RETURNING id, updated_at
    )
    INSERT INTO bulk_undo_items (workspace_id, operation_id, profile_id, before,
                                 updated_at)
    SELECT :ws, :op, t.id,
           jsonb_build_object('tag_ids', (SELECT jsonb_agg(a.tag_id) FROM added a
                                           WHERE a.profile_id = t.id)),
           t.updated_at
      FROM touched t
    ON CONFLICT DO NOTHING
    """
)

_REMOVE_TAGS = text(
    """
    WITH removed AS (
        DELETE FROM profile_tags
         WHERE workspace_id = :ws AND profile_id = ANY(:ids)
           AND tag_id = ANY(:tag_ids)
        RETURNING profile_id, tag_id, created_at
    ), touched AS (
        UPDATE profiles SET updated_at = now()
         WHERE workspace_id = :ws AND id IN (SELECT profile_id FROM removed)
        RETURNING id, updated_at
    )
    INSERT INTO bulk_undo_items (workspace_id, operation_id, profile_id, before,
                                 updated_at)
    SELECT :ws, :op, t.id,
           jsonb_build_object('tags', (
               SELECT jsonb_agg(jsonb_build_object('tag_id', r.tag_id,
                                                   'created_at', r.created_at))
                 FROM removed r WHERE r.profile_id = t.id)),
           t.updated_at
      FROM touched t
    ON CONFLICT DO NOTHING
    """
)


def _tag_operation(
    kind: str,
    statement: Any,
    workspace_id: int,
    selection: Selection,
    params: dict[str, Any],
    progress_callback: ProgressCallback | None,
) -> BulkResult:
    with tenant_connection(workspace_id) as conn:
        tag_ids = _tag_ids(conn, params)

    def apply_batch(conn: Connection, operation_id: int, ids: list[int]) -> int:
        return conn.execute(
            statement,
            {"ws": workspace_id, "op": operation_id, "ids": ids, "tag_ids": tag_ids},
        ).rowcount

    return _run(
        workspace_id,
        kind,
        selection,
        {**params, "tag_ids": tag_ids},
        progress_callback,
        apply_batch,
        {"tag_ids": tag_ids},
    )


def add_tags(
    workspace_id: int,
    selection: Selection,
    params: dict[str, Any],
    progress_callback: ProgressCallback | None = None,
) -> BulkResult:
    """Add params["tag_ids"] to every selected profile that lacks them."""
    return _tag_operation(
        "tags.add", _ADD_TAGS, workspace_id, selection, params, progress_callback
    )


def remove_tags(
    workspace_id: int,
    selection: Selection,
    params: dict[str, Any],
    progress_callback: ProgressCallback | None = None,
) -> BulkResult:
    """Remove params["tag_ids"] from every selected profile."""
    return _tag_operation(
        "tags.remove", _REMOVE_TAGS, workspace_id, selection, params, progress_callback
    )


# Field values --------------------------------------------------------------


def _check_value(field_type: str, value: Any) -> None:
    """Raise BulkError unless value fits the field type (None clears it)."""
    if value is None:
        return
    valid = {
        "text": isinstance(value, str),
        "number": isinstance(value, (int, float)) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "array": isinstance(value, list),
        "json": True,
    }.get(field_type)
    if field_type == "date":
        try:
            valid = isinstance(value, str) and bool(date.fromisoformat(value))
        except ValueError:
            valid = False
    if not valid:
        raise BulkError(f"{value!r} is not a valid {field_type} value")


_SET_FIELD = text(
    """
    WITH old AS (
        SELECT id, attributes ? CAST(:key AS text) AS had,
               attributes -> CAST(:key AS text) AS value
          FROM profiles
         WHERE workspace_id = :ws AND id = ANY(:ids)
           AND attributes -> CAST(:key AS text) IS DISTINCT FROM CAST(:value AS jsonb)
        FOR UPDATE
    ), touched AS (
        UPDATE profiles p
           SET attributes = CASE WHEN CAST(:value AS jsonb) IS NULL
                                 THEN p.attributes - CAST(:key AS text)
                                 ELSE jsonb_set(p.attributes, ARRAY[CAST(:key AS text)],
                                                CAST(:value AS jsonb)) END,
               updated_at = now()
          FROM old
         WHERE p.workspace_id = :ws AND p.id = old.id
        RETURNING p.id, p.updated_at
    )
    INSERT INTO bulk_undo_items (workspace_id, operation_id, profile_id, before,
                                 updated_at)
    SELECT :ws, :op, t.id, jsonb_build_object('had', old.had, 'value', old.value),
           t.updated_at
      FROM touched t JOIN old ON old.id = t.id
    ON CONFLICT DO NOTHING
    """
)


def _unique_targets(workspace_id: int, selection: Selection) -> list[int]:
    """Return up to two selected profile ids, enough to tell one from several."""
    params: dict[str, Any] = {}
    where = _selection_where(workspace_id, selection, params)
    with tenant_connection(workspace_id) as conn:
        return list(
            conn.execute(
                text(
                    f"SELECT p.id FROM workspace_profiles p WHERE {where}"
                    " ORDER BY p.id LIMIT 2"
                ),
                params,
            ).scalars()
        )


def _several_profiles_error(label: str) -> BulkError:
    return BulkError(
        f"{label} must be unique, so one value cannot be set on several"
        " profiles; select a single profile"
    )


def _check_unique_value(
    conn: Connection,
    schema: Schema,
    workspace_id: int,
    key: str,
    value: Any,
    profile_id: int,
) -> None:
    """Raise BulkError when a profile other than profile_id stores value in key."""
    errors = check_unique(
        conn, schema, workspace_id, {key: value}, exclude_profile_id=profile_id
    )
    if key in errors:
        raise BulkError(errors[key])


def _prepare_field_value(
    workspace_id: int, selection: Selection, key: str, value: Any
) -> tuple[Schema, FieldDef, Any]:
    """Validate a bulk field value and return the schema, the field and the value.

    The checks are those of a single-profile edit: the type, then the rules
    min, max, min_length, max_length, pattern and allowed. A value of a
    unique field may be set on one profile only, and no other profile may
    store it already.
    """
    with tenant_connection(workspace_id) as conn:
        schema = load_schema(conn)
    definition = schema.fields.get(key)
    if definition is None or definition.status != "active":
        raise BulkError(f"custom field {key!r} not found; reload the page")
    if definition.is_calculated:
        raise BulkError(
            f"{definition.label} is calculated from other fields; it cannot be set"
        )
    _check_value(definition.type.value, value)
    try:
        value = validate_values(schema, {key: value}, partial=True).get(key, value)
    except ValidationFailed as exc:
        raise BulkError(exc.errors.get(key) or str(exc)) from None
    if value is not None and definition.rules.get("unique"):
        targets = _unique_targets(workspace_id, selection)
        if len(targets) > 1:
            raise _several_profiles_error(definition.label)
        if targets:
            # Checked again under a lock when the value is written.
            with tenant_connection(workspace_id) as conn:
                _check_unique_value(conn, schema, workspace_id, key, value, targets[0])
    return schema, definition, value


def check_field_value(
    workspace_id: int, selection: Selection, key: str, value: Any
) -> Any:
    """Validate a value for set_field before its job is submitted; return it.

    set_field runs the same checks, so this only moves the error earlier,
    to where the member typed the value.

    Raises:
        BulkError: with a message for the member when the value is rejected.
    """
    return _prepare_field_value(workspace_id, selection, key, value)[2]


def set_field(
    workspace_id: int,
    selection: Selection,
    params: dict[str, Any],
    progress_callback: ProgressCallback | None = None,
) -> BulkResult:
    """Set custom field params["field_key"] to params["value"] on the selection.

    A value of None removes the field from the profiles. Profiles that
    already have the value are left untouched and not counted as changed.

    Raises:
        BulkError: when check_field_value rejects the value, or when another
            profile took the value of a unique field since it was checked.
    """
    key = str(params.get("field_key") or "")
    schema, definition, value = _prepare_field_value(
        workspace_id, selection, key, params.get("value")
    )
    unique = value is not None and bool(definition.rules.get("unique"))
    encoded = None if value is None else json.dumps(value)

    def apply_batch(conn: Connection, operation_id: int, ids: list[int]) -> int:
        if unique:
            # The selection may have grown since it was checked.
            if len(ids) > 1:
                raise _several_profiles_error(definition.label)
            _check_unique_value(conn, schema, workspace_id, key, value, ids[0])
        return conn.execute(
            _SET_FIELD,
            {
                "ws": workspace_id,
                "op": operation_id,
                "ids": ids,
                "key": key,
                "value": encoded,
            },
        ).rowcount

    return _run(
        workspace_id,
        "field.set",
        selection,
        params,
        progress_callback,
        apply_batch,
        {"field_key": key},
    )


# Deletion ------------------------------------------------------------------


def delete_confirmation(count: int) -> str:
    """Return the text a member must type to delete count profiles."""
    return f"delete {count} profiles" if count != 1 else "delete 1 profile"


def delete_profiles(
    workspace_id: int,
    selection: Selection,
    params: dict[str, Any],
    progress_callback: ProgressCallback | None = None,
) -> BulkResult:
    """Delete the selected profiles and their tags; this cannot be undone.

    params["confirmation"] must equal delete_confirmation(n) for the number
    of selected profiles, so a selection that grew since the member looked
    at it is rejected.

    Raises:
        BulkError: when the confirmation does not match.
    """
    expected = delete_confirmation(count_selection(workspace_id, selection))
    typed = " ".join(str(params.get("confirmation", "")).lower().split())
    if typed != expected:
        raise BulkError(f"type {expected!r} to confirm the deletion")

    def apply_batch(conn: Connection, operation_id: int, ids: list[int]) -> int:
        return conn.execute(
            text("DELETE FROM profiles WHERE workspace_id = :ws AND id = ANY(:ids)"),
            {"ws": workspace_id, "ids": ids},
        ).rowcount

    return _run(
        workspace_id, "delete", selection, params, progress_callback, apply_batch, {}
    )


# Undo ----------------------------------------------------------------------


def prune_undo_items(workspace_id: int) -> int:
    """Delete undo data older than UNDO_RETENTION_DAYS; return the rows deleted."""
    with tenant_connection(workspace_id) as conn:
        return conn.execute(
            text(
                "DELETE FROM bulk_undo_items i USING bulk_operations o"
                " WHERE o.workspace_id = i.workspace_id AND o.id = i.operation_id"
                "   AND o.created_at < now() - make_interval(days => :days)"
            ),
            {"days": UNDO_RETENTION_DAYS},
        ).rowcount


def undo_blocker(workspace_id: int, operation_id: int) -> str | None:
    """Return why an operation cannot be undone, or None when it can."""
    with tenant_connection(workspace_id) as conn:
        row = conn.execute(
            text(
                "SELECT kind, status, changed_count,"
                " created_at < now() - make_interval(days => :days) AS expired"
                " FROM bulk_operations WHERE id = :id"
            ),
            {"id": operation_id, "days": UNDO_RETENTION_DAYS},
        ).first()
        if row is None:
            return f"bulk operation {operation_id} not found"
        if row.kind not in UNDOABLE_KINDS:
            return f"a {row.kind} operation cannot be undone"
        if row.status == "undone":
            return "this change was already undone"
        if row.status == "running":
            return "this change is still running; undo it when it has finished"
        if row.expired:
            return f"changes older than {UNDO_RETENTION_DAYS} days cannot be undone"
        changed_since = conn.execute(
            text(
                "SELECT count(*) FROM bulk_undo_items i"
                "  JOIN profiles p ON p.workspace_id = i.workspace_id"
                "                 AND p.id = i.profile_id"
                " WHERE i.operation_id = :id AND p.updated_at <> i.updated_at"
            ),
            {"id": operation_id},
        ).scalar_one()
    if changed_since:
        return (
            f"{changed_since} of its profiles changed since, so it can no longer"
            " be undone"
        )
    return None


# Data-modifying CTEs that revert one batch of items (see undo_operation) and
# bump updated_at. A row may be updated only once per statement, so the
# field revert sets updated_at itself.
_BUMP_UPDATED = """
    , bumped AS (
        UPDATE profiles SET updated_at = now()
         WHERE workspace_id = :ws AND id IN (SELECT profile_id FROM items)
        RETURNING 1)
"""
_UNDO_STATEMENTS = {
    "tags.add": """
        , reverted AS (
            DELETE FROM profile_tags pt
             USING items i,
                   jsonb_array_elements_text(i.before -> 'tag_ids') AS t(tag_id)
             WHERE pt.workspace_id = :ws AND pt.profile_id = i.profile_id
               AND pt.tag_id = t.tag_id::bigint
            RETURNING 1)
    """
    + _BUMP_UPDATED,
    "tags.remove": """
        , reverted AS (
            INSERT INTO profile_tags (workspace_id, profile_id, tag_id, created_at)
            SELECT :ws, i.profile_id, (r ->> 'tag_id')::bigint,
                   (r ->> 'created_at')::timestamptz
              FROM items i, jsonb_array_elements(i.before -> 'tags') AS r
             WHERE EXISTS (SELECT 1 FROM tags WHERE id = (r ->> 'tag_id')::bigint)
            ON CONFLICT DO NOTHING
            RETURNING 1)
    """
    + _BUMP_UPDATED,
    "field.set": """
        , reverted AS (
            UPDATE profiles p
               SET attributes = CASE WHEN (i.before ->> 'had')::boolean
                                     THEN jsonb_set(p.attributes,
                                                    ARRAY[CAST(:key AS text)],
                                                    i.before -> 'value')
                                     ELSE p.attributes - CAST(:key AS text) END,
                   updated_at = now()
              FROM items i
             WHERE p.workspace_id = :ws AND p.id = i.profile_id
            RETURNING 1)
    """,
}


def undo_operation(
    workspace_id: int,
    operation_id: int,
    params: dict[str, Any],
    progress_callback: ProgressCallback | None = None,
) -> BulkResult:
    """Revert a tag or field operation on every profile it changed.

    Profiles that changed after undo_blocker() passed (a race with another
    write) are skipped, because their updated_at no longer matches.

    Raises:
        BulkError: when undo_blocker() gives a reason.
    """
    blocker = undo_blocker(workspace_id, operation_id)
    if blocker:
        raise BulkError(blocker)
    actor = _actor(workspace_id, params)
    with tenant_connection(workspace_id) as conn:
        original = conn.execute(
            text("SELECT kind, params FROM bulk_operations WHERE id = :id"),
            {"id": operation_id},
        ).one()
        total = conn.execute(
            text("SELECT count(*) FROM bulk_undo_items WHERE operation_id = :id"),
            {"id": operation_id},
        ).scalar_one()
    undo_id = _start_operation(
        workspace_id,
        "undo",
        actor,
        {"operation_id": operation_id, "job_id": params.get("job_id")},
    )
    result = BulkResult(undo_id, "undo", details={"undone_operation": operation_id})
    # Each batch locks its unchanged profiles, reverts them and bumps
    # updated_at in one statement, and returns how many it reverted.
    statement = text(
        "WITH items AS ("
        "  SELECT i.profile_id, i.before FROM bulk_undo_items i"
        "    JOIN profiles p ON p.workspace_id = i.workspace_id"
        "                   AND p.id = i.profile_id"
        "   WHERE i.operation_id = :op AND i.profile_id > :last_id"
        "     AND i.profile_id <= :max_id AND p.updated_at = i.updated_at"
        "   FOR UPDATE OF p)"
        f" {_UNDO_STATEMENTS[original.kind]}"
        " SELECT count(*) FROM items"
    )
    key = str(original.params.get("field_key", ""))
    history_key = _history_key(original.kind, {"field_key": key})
    last_id = 0
    if progress_callback:
        progress_callback(0, total)
    while True:
        with tenant_connection(workspace_id) as conn:
            ids = list(
                conn.execute(
                    text(
                        "SELECT profile_id FROM bulk_undo_items"
                        " WHERE operation_id = :op AND profile_id > :last_id"
                        " ORDER BY profile_id LIMIT :batch"
                    ),
                    {"op": operation_id, "last_id": last_id, "batch": BATCH_SIZE},
                ).scalars()
            )
            if not ids:
                break
            before = _snapshot(conn, workspace_id, history_key, ids)
            reverted = conn.execute(
                statement,
                {
                    "ws": workspace_id,
                    "op": operation_id,
                    "last_id": last_id,
                    "max_id": ids[-1],
                    "key": key,
                },
            ).scalar_one()
            _count_batch(conn, undo_id, len(ids), reverted)
            _write_history(conn, actor, history_key, ids, before)
            result.changed += reverted
        result.selected += len(ids)
        last_id = ids[-1]
        live.publish(workspace_id, "profiles.changed", count=len(ids))
        if progress_callback:
            progress_callback(result.selected, total)
    with tenant_connection(workspace_id) as conn:
        conn.execute(
            text(
                "UPDATE bulk_operations SET status = 'undone', undone_at = now()"
                " WHERE id = :id"
            ),
            {"id": operation_id},
        )
        conn.execute(
            text("DELETE FROM bulk_undo_items WHERE operation_id = :id"),
            {"id": operation_id},
        )
    _finish_operation(workspace_id, actor, result, Selection())
    return result


# Names under which a job runner finds each operation.
OPERATIONS: dict[str, Callable[..., BulkResult]] = {
    "tags.add": add_tags,
    "tags.remove": remove_tags,
    "field.set": set_field,
    "delete": delete_profiles,
}


def changed_field_key(workspace_id: int, parameters: dict[str, Any]) -> str | None:
    """Return the custom field key a bulk job built by job_params() changes."""
    operation = str(parameters.get("operation", ""))
    params = dict(parameters.get("params") or {})
    if operation == "field.set":
        return str(params.get("field_key") or "") or None
    if operation == "undo":
        with tenant_connection(workspace_id) as conn:
            row = conn.execute(
                text("SELECT kind, params FROM bulk_operations WHERE id = :id"),
                {"id": int(params.get("operation_id") or 0)},
            ).first()
        if row is not None and row.kind == "field.set":
            return str(row.params.get("field_key") or "") or None
    return None


def job_params(
    principal: Principal, operation: str, selection: Selection, **params: Any
) -> dict[str, Any]:
    """Return the JSON parameters of a bulk job for run_job()."""
    if operation not in OPERATIONS and operation != "undo":
        raise BulkError(f"unknown bulk operation {operation!r}")
    return {
        "operation": operation,
        "selection": selection.to_params(),
        "params": {**params, "actor": actor_params(principal)},
    }


def run_job(
    workspace_id: int,
    job_id: int,
    parameters: dict[str, Any],
    progress_callback: ProgressCallback | None = None,
) -> dict[str, Any]:
    """Run a bulk job built by job_params(); return its JSON-ready result.

    Safe to call again for the same job_id after a crash: tag and field
    operations skip profiles that already have the change, deletions skip
    deleted profiles, and the counts and undo data stay with one operation.
    """
    operation = str(parameters.get("operation", ""))
    params = {**dict(parameters.get("params") or {}), "job_id": int(job_id)}
    if operation == "undo":
        result = undo_operation(
            workspace_id, int(params.get("operation_id", 0)), params, progress_callback
        )
    elif operation in OPERATIONS:
        selection = Selection.from_params(dict(parameters.get("selection") or {}))
        result = OPERATIONS[operation](
            workspace_id, selection, params, progress_callback
        )
    else:
        raise BulkError(f"unknown bulk operation {operation!r}")
    return {
        "operation_id": result.operation_id,
        "kind": result.kind,
        "selected": result.selected,
        "changed": result.changed,
    }


def parse_field_input(field_type: str, raw: str) -> Any:
    """Turn what a member typed into a value of the field type.

    An empty input means "clear the field" and returns None. Arrays are
    comma-separated, JSON is parsed as JSON.

    Raises:
        BulkError: when the text is not a valid value of the type.
    """
    typed = raw.strip()
    if not typed:
        return None
    if field_type == "number":
        try:
            number = float(typed.replace(",", ""))
        except ValueError:
            raise BulkError(f"{typed!r} is not a number") from None
        return int(number) if number.is_integer() and "." not in typed else number
    if field_type == "boolean":
        lowered = typed.lower()
        if lowered not in ("true", "false", "yes", "no"):
            raise BulkError(f"{typed!r} is not true or false")
        return lowered in ("true", "yes")
    if field_type == "array":
        return [item.strip() for item in typed.split(",") if item.strip()]
    if field_type == "json":
        try:
            return json.loads(typed)
        except ValueError as exc:
            raise BulkError(f"invalid JSON: {exc}") from None
    return typed
