"""Append-only audit entries, written in the same transaction as the change."""

from __future__ import annotations

import json
from typing import Any

import psycopg
from sqlalchemy import Connection, text

from ceramic_app.accounts.service import Principal

_COLUMNS = (
    "workspace_id",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "entity_type",
    "entity_id",
    "before",
    "after",
    "meta",
)
_JSON_COLUMNS = {"before", "after", "meta"}


def _placeholders(style: str) -> str:
    parts = []
    for column in _COLUMNS:
        marker = style.format(column)
        parts.append(f"CAST({marker} AS jsonb)" if column in _JSON_COLUMNS else marker)
    return ", ".join(parts)


_SQL = "INSERT INTO audit_log ({}) VALUES ({})"
_INSERT = text(_SQL.format(", ".join(_COLUMNS), _placeholders(":{}")))
_INSERT_PSYCOPG = _SQL.format(", ".join(_COLUMNS), _placeholders("%({})s"))


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str)


def _values(
    principal: Principal,
    action: str,
    entity_type: str,
    entity_id: object | None,
    before: Any,
    after: Any,
    meta: dict[str, Any] | None,
) -> dict[str, Any]:
    return {
        "workspace_id": principal.workspace_id,
        "actor_type": principal.actor_type,
        "actor_id": principal.actor_id,
        "actor_label": principal.actor_label,
        "action": action,
        "entity_type": entity_type,
        "entity_id": None if entity_id is None else str(entity_id),
        "before": _dump(before),
        "after": _dump(after),
        "meta": json.dumps(meta or {}, default=str),
    }


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
        _INSERT, _values(principal, action, entity_type, entity_id, before, after, meta)
    )


def record_raw(
    conn: psycopg.Connection,
    principal: Principal,
    action: str,
    entity_type: str,
    entity_id: object | None = None,
    *,
    before: Any = None,
    after: Any = None,
    meta: dict[str, Any] | None = None,
) -> None:
    """Append one audit entry on a plain psycopg connection (bulk jobs).

    The entry joins the connection's open transaction, so it commits with
    the change it describes.
    """
    conn.execute(
        _INSERT_PSYCOPG,
        _values(principal, action, entity_type, entity_id, before, after, meta),
    )
