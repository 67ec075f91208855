"""Reading the workspace audit log: filters and keyset pages, for admins only.

    page = list_audit_entries(admin, entity_type="field", limit=50)
    more = list_audit_entries(admin, entity_type="field", cursor=page.next_cursor)

Pages are ordered newest first by (at, id), the order of the
audit_log_at_idx index, and a cursor is the position of the last entry.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text

from ceramic_app.accounts.service import Principal
from ceramic_app.db import tenant_connection
from ceramic_app.models import Role

MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class AuditView:
    """One audit entry."""

    id: int
    at: datetime
    actor_type: str
    actor_id: int | None
    actor_label: str
    action: str
    entity_type: str
    entity_id: str | None
    before: Any
    after: Any
    meta: dict[str, Any]


@dataclass(frozen=True)
class AuditPage:
    """Audit entries, newest first, and the cursor of the next page (or None)."""

    entries: list[AuditView]
    next_cursor: str | None


def encode_cursor(at: datetime, row_id: int) -> str:
    """Return an opaque cursor for the keyset position (at, row_id)."""
    raw = f"{at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """Return the (at, id) position of a cursor made by encode_cursor().

    Raises:
        ValueError: when the cursor is malformed.
    """
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        at_text, _, id_text = base64.urlsafe_b64decode(padded).decode().partition("|")
        return datetime.fromisoformat(at_text), int(id_text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError(
            f"Cursor {cursor[:40]!r} is not valid; start from the first page."
        ) from None


def list_audit_entries(
    principal: Principal,
    *,
    actor_type: str | None = None,
    actor_id: int | None = None,
    entity_type: str | None = None,
    entity_id: object | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> AuditPage:
    """Return one page of the workspace's audit log, newest first.

    Every filter is optional; since is inclusive and until exclusive.

    Raises:
        PermissionDenied: unless the principal is an admin.
        ValueError: for a malformed cursor.
    """
    principal.require(Role.ADMIN)
    limit = max(1, min(int(limit), MAX_PAGE_SIZE))
    conditions = ["workspace_id = :ws"]
    params: dict[str, Any] = {"ws": principal.workspace_id, "limit": limit + 1}
    filters = {
        "actor_type": actor_type,
        "actor_id": actor_id,
        "entity_type": entity_type,
        "entity_id": None if entity_id is None else str(entity_id),
        "action": action,
    }
    for column, value in filters.items():
        if value is not None:
            conditions.append(f"{column} = :{column}")
            params[column] = value
    if since is not None:
        conditions.append("at >= :since")
        params["since"] = since
    if until is not None:
        conditions.append("at < :until")
        params["until"] = until
    if cursor:
        position_at, position_id = decode_cursor(cursor)
        conditions.append("(at, id) < (:cursor_at, :cursor_id)")
        params.update(cursor_at=position_at, cursor_id=position_id)
    with tenant_connection(principal.workspace_id) as conn:
        rows = conn.execute(
            text(
                "SELECT id, at, actor_type, actor_id, actor_label, action, entity_type,"
                " entity_id, before, after, meta FROM audit_log WHERE "
                + " AND ".join(conditions)
                + " ORDER BY at DESC, id DESC LIMIT :limit"
            ),
            params,
        ).all()
    entries = [
        AuditView(
            id=int(row.id),
            at=row.at,
            actor_type=row.actor_type,
            actor_id=row.actor_id,
            actor_label=row.actor_label,
            action=row.action,
            entity_type=row.entity_type,
            entity_id=row.entity_id,
            before=row.before,
            after=row.after,
            meta=row.meta,
        )
        for row in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        next_cursor = encode_cursor(entries[-1].at, entries[-1].id)
    return AuditPage(entries, next_cursor)
