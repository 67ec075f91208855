"""Append-only audit entries, written in the same transaction as the change."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, text

from ceramic_app.accounts.service import Principal

_INSERT = text(
    "INSERT INTO audit_log (workspace_id, actor_type, actor_id, actor_label, action,"
    " entity_type, entity_id, before, after, meta)"
    " VALUES (:ws, :actor_type, :actor_id, :actor_label, :action, :entity_type,"
    " :entity_id, CAST(:before AS jsonb), CAST(:after AS jsonb), CAST(:meta AS jsonb))"
)


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str)


def record(
    conn: Connection,
    principal: Principal,
    action: str,
    entity_type: str,
    entity_id: object | None = None,
    *,
    before: Any = None,
    after: Any = None,
    meta: dict[str, Any] | None = None,
) -> None:
    """Append one audit entry for a change the principal made.

    action is "<entity>.<verb>", e.g. "field.delete" or "profile.update".
    """
    conn.execute(
        _INSERT,
        {
            "ws": principal.workspace_id,
            "actor_type": principal.actor_type,
            "actor_id": principal.actor_id,
            "actor_label": principal.actor_label,
            "action": action,
            "entity_type": entity_type,
            "entity_id": None if entity_id is None else str(entity_id),
            "before": _dump(before),
            "after": _dump(after),
            "meta": json.dumps(meta or {}, default=str),
        },
    )
