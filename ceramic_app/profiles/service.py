"""Single-profile service: create, update and read one profile, and list its history.

Members and admins write; viewers only read. Every write validates custom
values against the workspace's rules (fields.validation), recomputes the
calculated fields, records field-level history in profile_changes and an
audit entry in the same transaction, and after commit publishes
"profile.changed" on the workspace's live channel.

    view = create_profile(member, email="ada@example.com", attributes={"plan": "gold"})
    view = update_profile(member, view.id, {"plan": "silver"},
                          expected_updated_at=view.updated_at)
    page = list_history(viewer, view.id)

update_profile() is optimistic: it raises ConflictError when the profile's
updated_at no longer equals the value the editor read, so two editors never
overwrite each other silently.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from ceramic_app import audit, live
from ceramic_app.accounts.service import Principal
from ceramic_app.audit_queries import decode_cursor, encode_cursor
from ceramic_app.db import tenant_connection
from ceramic_app.emails import InvalidEmail, normalize_email, strip_invisible
from ceramic_app.fields.errors import ConflictError, NotFound, ValidationFailed
from ceramic_app.fields.expressions import profile_record
from ceramic_app.fields.typed import describe
from ceramic_app.fields.validation import (
    Schema,
    check_unique,
    compute_calculated,
    load_schema,
    validate_values,
)
from ceramic_app.models import Role

logger = logging.getLogger(__name__)

MAX_CUSTOM_ID_CHARS = 255
MAX_SOURCE_CHARS = 40
_BUILTIN_WRITABLE = ("email", "custom_id")


@dataclass(frozen=True)
class TagRef:
    """A tag as shown on a profile."""

    id: int
    name: str
    color: str


@dataclass(frozen=True)
class ProfileView:
    """One profile with its custom values and tags."""

    id: int
    email: str
    email_key: str
    custom_id: str | None
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    tags: list[TagRef]


@dataclass(frozen=True)
class HistoryEntry:
    """One field change: who changed which key, when, from what to what."""

    change_id: int
    at: datetime
    actor_type: str
    actor_id: int | None
    actor_label: str
    source: str
    key: str
    before: Any
    after: Any


@dataclass(frozen=True)
class HistoryPage:
    """History entries, newest first, and the cursor of the next page (or None)."""

    entries: list[HistoryEntry]
    next_cursor: str | None


def get_profile(principal: Principal, profile_id: int) -> ProfileView:
    """Return one profile with its tags.

    Raises:
        NotFound: when the profile is not in the principal's workspace.
    """
    principal.require(Role.VIEWER)
    with tenant_connection(principal.workspace_id) as conn:
        return _load(conn, profile_id)


def _new_profile_problems(
    conn: Connection,
    principal: Principal,
    email: str,
    custom_id: str | None,
    attributes: Mapping[str, Any] | None,
    *,
    lock: bool,
) -> tuple[dict[str, str], Schema, dict[str, Any], str, str, str | None]:
    """Validate a new profile; return errors, schema, values, e-mail, key, custom ID."""
    errors: dict[str, str] = {}
    email_value, email_key = _clean_email(email, errors)
    custom_id_value = _clean_custom_id(custom_id, errors)
    schema = load_schema(conn, lock=lock)
    values = _validated(schema, dict(attributes or {}), errors, partial=False)
    _check_identity(
        conn, principal.workspace_id, email_key, custom_id_value, None, errors
    )
    errors.update(check_unique(conn, schema, principal.workspace_id, values))
    return errors, schema, values, email_value, email_key, custom_id_value


def check_new_profile(
    principal: Principal,
    *,
    email: str,
    custom_id: str | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> dict[str, str]:
    """Return what create_profile would reject, as a message per key, without writing."""
    principal.require(Role.MEMBER)
    with tenant_connection(principal.workspace_id) as conn:
        errors, *_ = _new_profile_problems(
            conn, principal, email, custom_id, attributes, lock=False
        )
    return errors


def create_profile(
    principal: Principal,
    *,
    email: str,
    custom_id: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    source: str = "ui",
) -> ProfileView:
    """Create a profile; attributes are typed custom values keyed by field key.

    Raises:
        ValidationFailed: with a message per key ("email", "custom_id" or a
            field key) for invalid, missing or duplicate values.
    """
    principal.require(Role.MEMBER)
    with tenant_connection(principal.workspace_id) as conn:
        errors, schema, values, email_value, email_key, custom_id_value = (
            _new_profile_problems(
                conn, principal, email, custom_id, attributes, lock=True
            )
        )
        if errors:
            raise ValidationFailed(errors)
        stored = {key: value for key, value in values.items() if value is not None}
        created_at = conn.execute(text("SELECT now()")).scalar_one()
        stored = _with_calculated(
            schema, stored, email_value, custom_id_value, created_at
        )
        try:
            with conn.begin_nested():
                row = conn.execute(
                    text(
                        "INSERT INTO profiles (workspace_id, email, email_key, custom_id,"
                        " attributes, created_at, updated_at)"
                        " VALUES (:ws, :email, :email_key, :custom_id,"
                        " CAST(:attributes AS jsonb), :created_at, :created_at)"
                        " RETURNING id"
                    ),
                    {
                        "ws": principal.workspace_id,
                        "email": email_value,
                        "email_key": email_key,
                        "custom_id": custom_id_value,
                        "attributes": json.dumps(stored),
                        "created_at": created_at,
                    },
                ).one()
        except IntegrityError:
            # A concurrent create took the e-mail or custom ID after our check.
            raise ValidationFailed(
                {
                    "email": f"{email_value!r} or custom ID {custom_id_value!r} is already used"
                }
            ) from None
        profile_id = int(row.id)
        changes = {"email": [None, email_value]}
        if custom_id_value is not None:
            changes["custom_id"] = [None, custom_id_value]
        changes.update({key: [None, value] for key, value in stored.items()})
        _record_change(conn, principal, profile_id, changes, source)
        audit.record(
            conn,
            principal,
            "profile.create",
            "profile",
            profile_id,
            after={
                "email": email_value,
                "custom_id": custom_id_value,
                "attributes": stored,
            },
            meta={"source": source},
        )
        view = _load(conn, profile_id)
    live.publish(principal.workspace_id, "profile.changed", profile_id=profile_id)
    return view


def update_profile(
    principal: Principal,
    profile_id: int,
    changes: Mapping[str, Any],
    *,
    expected_updated_at: datetime | None,
    source: str = "ui",
) -> ProfileView:
    """Apply changes ({key: new value}, None to clear) to one profile.

    changes may contain "email", "custom_id" and custom field keys.
    expected_updated_at is the updated_at the editor read; pass None only
    where last-write-wins is intended (such as an API call without a version).
    A change that leaves every value as it was writes nothing.

    Raises:
        NotFound: when the profile is not in the principal's workspace.
        ConflictError: when the profile changed after expected_updated_at.
        ValidationFailed: with a message per failing key.
    """
    principal.require(Role.MEMBER)
    with tenant_connection(principal.workspace_id) as conn:
        schema = load_schema(conn, lock=True)
        current = _load(conn, profile_id, lock=True)
        if (
            expected_updated_at is not None
            and current.updated_at != expected_updated_at
        ):
            raise ConflictError(_conflict_message(conn, current))
        errors: dict[str, str] = {}
        new_email, new_email_key = current.email, current.email_key
        if "email" in changes and changes["email"] != current.email:
            new_email, new_email_key = _clean_email(changes["email"], errors)
        new_custom_id = current.custom_id
        if "custom_id" in changes:
            new_custom_id = _clean_custom_id(changes["custom_id"], errors)
        attribute_changes = {
            key: value
            for key, value in changes.items()
            if key not in _BUILTIN_WRITABLE
            and not _same_value(current.attributes.get(key), value)
        }
        values = _validated(schema, attribute_changes, errors, partial=True)
        _check_identity(
            conn,
            principal.workspace_id,
            new_email_key if new_email_key != current.email_key else None,
            new_custom_id if new_custom_id != current.custom_id else None,
            profile_id,
            errors,
        )
        errors.update(
            check_unique(
                conn,
                schema,
                principal.workspace_id,
                values,
                exclude_profile_id=profile_id,
            )
        )
        if errors:
            raise ValidationFailed(errors)
        attributes = dict(current.attributes)
        for key, value in values.items():
            if value is None:
                attributes.pop(key, None)
            else:
                attributes[key] = value
        attributes = _with_calculated(
            schema, attributes, new_email, new_custom_id, current.created_at
        )
        diff = _diff(current, new_email, new_custom_id, attributes)
        if not diff:
            return current
        conn.execute(
            text(
                "UPDATE profiles SET email = :email, email_key = :email_key,"
                " custom_id = :custom_id, attributes = CAST(:attributes AS jsonb),"
                # clock_timestamp() rather than now(), and strictly after the old
                # value: a transaction that waited for the row lock must still
                # give the row a new updated_at for the optimistic check.
                " updated_at = greatest(clock_timestamp(),"
                " updated_at + interval '1 microsecond')"
                " WHERE id = :id"
            ),
            {
                "id": profile_id,
                "email": new_email,
                "email_key": new_email_key,
                "custom_id": new_custom_id,
                "attributes": json.dumps(attributes),
            },
        )
        _record_change(conn, principal, profile_id, diff, source)
        audit.record(
            conn,
            principal,
            "profile.update",
            "profile",
            profile_id,
            before={key: pair[0] for key, pair in diff.items()},
            after={key: pair[1] for key, pair in diff.items()},
            meta={"source": source},
        )
        view = _load(conn, profile_id)
    live.publish(principal.workspace_id, "profile.changed", profile_id=profile_id)
    return view


def list_history(
    principal: Principal,
    profile_id: int,
    *,
    limit: int = 50,
    cursor: str | None = None,
) -> HistoryPage:
    """Return a profile's field changes, newest first, one entry per changed key.

    limit counts change records (one write may change several keys); pass
    the returned next_cursor to read the following page.

    Raises:
        NotFound: when the profile is not in the principal's workspace.
        ValueError: for a malformed cursor.
    """
    principal.require(Role.VIEWER)
    limit = max(1, min(int(limit), 500))
    position = decode_cursor(cursor) if cursor else None
    with tenant_connection(principal.workspace_id) as conn:
        exists = conn.execute(
            text("SELECT 1 FROM profiles WHERE id = :id"), {"id": profile_id}
        ).first()
        if exists is None:
            raise NotFound(f"Profile {profile_id} was not found in this workspace.")
        rows = conn.execute(
            text(
                "SELECT id, at, actor_type, actor_id, actor_label, source, changes"
                "  FROM profile_changes WHERE workspace_id = :ws AND profile_id = :id"
                "   AND (CAST(:at AS timestamptz) IS NULL"
                "        OR (at, id) < (CAST(:at AS timestamptz), :change_id))"
                " ORDER BY at DESC, id DESC LIMIT :limit"
            ),
            {
                "ws": principal.workspace_id,
                "id": profile_id,
                "at": position[0] if position else None,
                "change_id": position[1] if position else 0,
                "limit": limit + 1,
            },
        ).all()
    entries = [
        HistoryEntry(
            change_id=int(row.id),
            at=row.at,
            actor_type=row.actor_type,
            actor_id=row.actor_id,
            actor_label=row.actor_label,
            source=row.source,
            key=key,
            before=pair[0],
            after=pair[1],
        )
        for row in rows[:limit]
        for key, pair in sorted(row.changes.items())
    ]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.at, int(last.id))
    return HistoryPage(entries, next_cursor)


# --- helpers ----------------------------------------------------------------------


def _clean_email(raw: Any, errors: dict[str, str]) -> tuple[str, str]:
    text_value = raw if isinstance(raw, str) else ""
    try:
        key = normalize_email(text_value)
    except InvalidEmail as exc:
        errors["email"] = f"{describe(raw)} is not a valid e-mail: {exc}"
        return "", ""
    return strip_invisible(unicodedata.normalize("NFC", text_value)), key


def _clean_custom_id(raw: Any, errors: dict[str, str]) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        errors["custom_id"] = f"{describe(raw)} is not a valid custom ID; enter text"
        return None
    value = strip_invisible(str(raw))
    if not value:
        return None
    if "\x00" in value:
        errors["custom_id"] = "the custom ID contains a NUL (0x00) character; remove it"
    elif len(value) > MAX_CUSTOM_ID_CHARS:
        errors["custom_id"] = (
            f"the custom ID has {len(value)} characters; the maximum is"
            f" {MAX_CUSTOM_ID_CHARS}"
        )
    return value


def _validated(
    schema: Schema, values: dict[str, Any], errors: dict[str, str], *, partial: bool
) -> dict[str, Any]:
    if "tags" in values:
        errors["tags"] = "tags are not a field; add or remove them with the tag actions"
        values = {key: value for key, value in values.items() if key != "tags"}
    try:
        return validate_values(schema, values, partial=partial)
    except ValidationFailed as exc:
        errors.update(exc.errors)
        return {}


def _check_identity(
    conn: Connection,
    workspace_id: int,
    email_key: str | None,
    custom_id: str | None,
    exclude_id: int | None,
    errors: dict[str, str],
) -> None:
    """Add errors for an e-mail or custom ID that another profile already has."""
    checks = (("email", "email_key", email_key), ("custom_id", "custom_id", custom_id))
    for name, column, value in checks:
        if not value or name in errors:
            continue
        other = conn.execute(
            text(
                f"SELECT id FROM profiles WHERE workspace_id = :ws AND {column} = :value"
                " AND (CAST(:exclude AS bigint) IS NULL OR id <> :exclude)"
            ),
            {"ws": workspace_id, "value": value, "exclude": exclude_id},
        ).scalar()
        if other is not None:
            label = "e-mail" if name == "email" else "custom ID"
            errors[name] = (
                f"{value!r} is already the {label} of profile {other};"
                " open that profile or enter another value"
            )


def _with_calculated(
    schema: Schema,
    attributes: dict[str, Any],
    email: str,
    custom_id: str | None,
    created_at: datetime,
) -> dict[str, Any]:
    if not schema.order:
        return attributes
    record = profile_record(
        attributes, email=email, custom_id=custom_id, created_at=created_at
    )
    result = dict(attributes)
    for key, value in compute_calculated(
        schema, record, datetime.now(UTC).date()
    ).items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def _same_value(before: Any, after: Any) -> bool:
    if isinstance(before, bool) or isinstance(after, bool):
        return before is after
    if isinstance(before, int | float) and isinstance(after, int | float):
        return before == after
    return json.dumps(before, sort_keys=True) == json.dumps(after, sort_keys=True)


def _diff(
    current: ProfileView, email: str, custom_id: str | None, attributes: dict[str, Any]
) -> dict[str, list[Any]]:
    diff: dict[str, list[Any]] = {}
    if email != current.email:
        diff["email"] = [current.email, email]
    if custom_id != current.custom_id:
        diff["custom_id"] = [current.custom_id, custom_id]
    for key in sorted(set(current.attributes) | set(attributes)):
        before = current.attributes.get(key)
        after = attributes.get(key)
        if not _same_value(before, after):
            diff[key] = [before, after]
    return diff


def _record_change(
    conn: Connection,
    principal: Principal,
    profile_id: int,
    changes: dict[str, list[Any]],
    source: str,
) -> None:
    conn.execute(
        text(
            "INSERT INTO profile_changes (workspace_id, profile_id, actor_type, actor_id,"
            " actor_label, source, changes)"
            " VALUES (:ws, :profile_id, :actor_type, :actor_id, :actor_label, :source,"
            " CAST(:changes AS jsonb))"
        ),
        {
            "ws": principal.workspace_id,
            "profile_id": profile_id,
            "actor_type": principal.actor_type,
            "actor_id": principal.actor_id,
            "actor_label": principal.actor_label,
            "source": source[:MAX_SOURCE_CHARS],
            "changes": json.dumps(changes, default=str),
        },
    )


def _conflict_message(conn: Connection, current: ProfileView) -> str:
    last = conn.execute(
        text(
            "SELECT actor_label, at FROM profile_changes WHERE profile_id = :id"
            " ORDER BY at DESC, id DESC LIMIT 1"
        ),
        {"id": current.id},
    ).first()
    who = f" by {last.actor_label}" if last and last.actor_label else ""
    return (
        f"Profile {current.id} was changed{who} at {current.updated_at.isoformat()}"
        " after you opened it; reload it and apply your change again."
    )


def _load(conn: Connection, profile_id: int, *, lock: bool = False) -> ProfileView:
    suffix = " FOR UPDATE" if lock else ""
    row = conn.execute(
        text(
            "SELECT id, email, email_key, custom_id, attributes, created_at, updated_at"
            f" FROM profiles WHERE id = :id{suffix}"
        ),
        {"id": profile_id},
    ).first()
    if row is None:
        raise NotFound(f"Profile {profile_id} was not found in this workspace.")
    tags = [
        TagRef(int(tag.id), tag.name, tag.color)
        for tag in conn.execute(
            text(
                "SELECT t.id, t.name, t.color FROM profile_tags pt"
                "  JOIN tags t ON t.workspace_id = pt.workspace_id AND t.id = pt.tag_id"
                " WHERE pt.profile_id = :id ORDER BY lower(t.name)"
            ),
            {"id": profile_id},
        )
    ]
    return ProfileView(
        id=int(row.id),
        email=row.email,
        email_key=row.email_key,
        custom_id=row.custom_id,
        attributes=dict(row.attributes),
        created_at=row.created_at,
        updated_at=row.updated_at,
        tags=tags,
    )
