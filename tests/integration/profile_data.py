"""Helpers that insert custom fields and profiles for integration tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from ceramic_app.accounts.service import Principal
from ceramic_app.db import tenant_connection
from ceramic_app.profiles import columns


def add_field(principal: Principal, key: str, field_type: str, **extra: Any) -> str:
    """Insert a custom field row; return its column id ("field:<id>")."""
    with tenant_connection(principal.workspace_id) as conn:
        field_id = conn.execute(
            text(
                "INSERT INTO custom_fields (workspace_id, key, label, type, status)"
                " VALUES (:ws, :key, :label, :type, :status) RETURNING id"
            ),
            {
                "ws": principal.workspace_id,
                "key": key,
                "label": extra.get("label", key.title()),
                "type": field_type,
                "status": extra.get("status", "active"),
            },
        ).scalar_one()
    return columns.field_column_id(field_id)


def add_profiles(principal: Principal, profiles: list[dict[str, Any]]) -> list[int]:
    """Insert profiles one hour apart; return their ids in order.

    Each dict may set email, custom_id, attributes, created and updated.
    """
    ids = []
    base = datetime(2024, 1, 1, tzinfo=UTC)
    with tenant_connection(principal.workspace_id) as conn:
        for n, profile in enumerate(profiles):
            email = profile.get("email", f"p{n:03d}@example.com")
            ids.append(
                conn.execute(
                    text(
                        "INSERT INTO profiles (workspace_id, email, email_key,"
                        " custom_id, attributes, created_at, updated_at)"
                        " VALUES (:ws, :email, :email, :cid, CAST(:attrs AS jsonb),"
                        " :created, :updated) RETURNING id"
                    ),
                    {
                        "ws": principal.workspace_id,
                        "email": email,
                        "cid": profile.get("custom_id"),
                        "attrs": json.dumps(profile.get("attributes", {})),
                        "created": profile.get("created", base + timedelta(hours=n)),
                        "updated": profile.get("updated", base),
                    },
                ).scalar_one()
            )
    return ids
