"""Display and filter helpers for the audit log page: plain functions, no Reflex."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import text

from ceramic_app.accounts.service import Principal
from ceramic_app.audit_queries import AuditView
from ceramic_app.db import global_connection
from ceramic_app.models import Role
from ceramic_app.state.field_view import format_value
from ceramic_app.state.profile_view import split_actor

MAX_CHANGE_LINES = 6
MAX_CHANGE_VALUE_CHARS = 60
# (value, label) of the entity filter; "all" means every entity type.
ENTITY_TYPES = (
    ("all", "All entities"),
    ("profile", "Profiles"),
    ("field", "Fields"),
    ("template", "Templates"),
    ("tag", "Tags"),
    ("import", "Imports"),
    ("membership", "Members"),
)
# Actor filter entries for actors that are not users: "type:<actor_type>".
NON_USER_ACTORS = (
    ("type:import_job", "Imports"),
    ("type:api_key", "API keys"),
    ("type:system", "System jobs"),
)


@dataclasses.dataclass
class ChangeLine:
    """One changed key of an audit entry, with its values before and after."""

    key: str = ""
    before: str = ""
    after: str = ""


@dataclasses.dataclass
class AuditRow:
    """One audit entry as the page shows it."""

    id: str = ""
    at: str = ""
    actor: str = ""
    actor_detail: str = ""
    action: str = ""
    entity: str = ""
    changes: list[ChangeLine] = dataclasses.field(default_factory=list)
    hidden_changes: int = 0
    meta: str = ""


def actor_choices(principal: Principal) -> list[dict[str, str]]:
    """Return the actor filter options: every member of the workspace, then job kinds."""
    principal.require(Role.ADMIN)
    with global_connection() as conn:
        rows = conn.execute(
            text(
                "SELECT u.id, u.name, u.email FROM memberships m"
                "  JOIN users u ON u.id = m.user_id"
                " WHERE m.workspace_id = :ws ORDER BY lower(u.name), u.id"
            ),
            {"ws": principal.workspace_id},
        ).all()
    choices = [{"value": "all", "label": "All actors"}]
    choices += [
        {"value": f"user:{row.id}", "label": f"{row.name} ({row.email})"}
        for row in rows
    ]
    choices += [{"value": value, "label": label} for value, label in NON_USER_ACTORS]
    return choices


def parse_actor(value: str) -> tuple[str | None, int | None]:
    """Return (actor_type, actor_id) for an actor filter value; (None, None) for all."""
    kind, _, rest = (value or "").partition(":")
    if kind == "user" and rest.isdigit():
        return "user", int(rest)
    if kind == "type" and rest in {v.split(":")[1] for v, _ in NON_USER_ACTORS}:
        return rest, None
    return None, None


def parse_day(value: str, *, end: bool = False) -> datetime | None:
    """Return the UTC start of a "YYYY-MM-DD" day, or of the next day when end=True.

    The audit query treats until as exclusive, so an end date includes its
    whole day. Returns None for an empty or invalid date.
    """
    try:
        day = date.fromisoformat((value or "").strip())
    except ValueError:
        return None
    if end:
        day += timedelta(days=1)
    return datetime.combine(day, time.min, tzinfo=UTC)


def audit_rows(entries: list[AuditView]) -> list[AuditRow]:
    """Return audit entries as rows with compact before/after lines."""
    rows = []
    for entry in entries:
        actor, detail = split_actor(entry.actor_label, entry.actor_type)
        lines, hidden = change_lines(entry.before, entry.after)
        entity = entry.entity_type
        if entry.entity_id:
            entity = f"{entity} #{entry.entity_id}"
        rows.append(
            AuditRow(
                id=str(entry.id),
                at=entry.at.isoformat(),
                actor=actor,
                actor_detail=detail,
                action=entry.action,
                entity=entity,
                changes=lines,
                hidden_changes=hidden,
                meta=_meta_text(entry.meta),
            )
        )
    return rows


def change_lines(before: Any, after: Any) -> tuple[list[ChangeLine], int]:
    """Return up to MAX_CHANGE_LINES changed keys and how many more were left out.

    Objects are compared key by key and unchanged keys are skipped; any
    other value is shown as one line under the key "value".
    """
    if not isinstance(before, dict) and not isinstance(after, dict):
        if before is None and after is None:
            return [], 0
        return [ChangeLine("value", _short(before), _short(after))], 0
    old = before if isinstance(before, dict) else {}
    new = after if isinstance(after, dict) else {}
    lines = [
        ChangeLine(str(key), _short(old.get(key)), _short(new.get(key)))
        for key in sorted(set(old) | set(new), key=str)
        if old.get(key) != new.get(key)
        and not (_blank(old.get(key)) and _blank(new.get(key)))
    ]
    return lines[:MAX_CHANGE_LINES], max(0, len(lines) - MAX_CHANGE_LINES)


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _short(value: Any) -> str:
    if value is None:
        return ""
    return format_value(value, limit=MAX_CHANGE_VALUE_CHARS)


def _meta_text(meta: dict[str, Any] | None) -> str:
    if not meta:
        return ""
    parts = [
        f"{key}: {value:,}"
        if isinstance(value, int) and not isinstance(value, bool)
        else f"{key}: {format_value(value, limit=40)}"
        for key, value in meta.items()
    ]
    return " · ".join(parts)
