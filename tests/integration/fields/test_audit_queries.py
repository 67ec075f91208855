"""Audit log queries: filters, keyset pages and the admin-only rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ceramic_app import audit_queries, tags
from ceramic_app.accounts.service import PermissionDenied, Principal
from ceramic_app.fields import service as fields


def test_filters_and_pages(
    admin: Principal, member: Principal, outsider: Principal
) -> None:
    for index in range(5):
        tags.create_tag(admin, f"tag {index}")
    field = fields.create_field(admin, key="plan", label="Plan", field_type="text")
    tags.create_tag(outsider, "foreign")

    first = audit_queries.list_audit_entries(admin, entity_type="tag", limit=2)
    assert [e.after["name"] for e in first.entries] == ["tag 4", "tag 3"]
    second = audit_queries.list_audit_entries(
        admin, entity_type="tag", limit=2, cursor=first.next_cursor
    )
    assert [e.after["name"] for e in second.entries] == ["tag 2", "tag 1"]
    third = audit_queries.list_audit_entries(
        admin, entity_type="tag", limit=2, cursor=second.next_cursor
    )
    assert [e.after["name"] for e in third.entries] == ["tag 0"]
    assert third.next_cursor is None

    by_entity = audit_queries.list_audit_entries(
        admin, entity_type="field", entity_id=field.id
    )
    assert [e.action for e in by_entity.entries] == ["field.create"]
    by_actor = audit_queries.list_audit_entries(
        admin, actor_id=admin.user_id, actor_type="user"
    )
    # Five tags, the field, and the admin membership that sign-up recorded.
    assert len(by_actor.entries) == 7
    assert (
        audit_queries.list_audit_entries(admin, actor_id=member.user_id).entries == []
    )

    future = datetime.now(UTC) + timedelta(hours=1)
    assert audit_queries.list_audit_entries(admin, since=future).entries == []
    assert len(audit_queries.list_audit_entries(admin, until=future).entries) == 7
    assert len(audit_queries.list_audit_entries(outsider).entries) == 2


def test_members_cannot_read_audit(member: Principal) -> None:
    with pytest.raises(PermissionDenied):
        audit_queries.list_audit_entries(member)


def test_bad_cursor_rejected(admin: Principal) -> None:
    with pytest.raises(ValueError, match="not valid"):
        audit_queries.list_audit_entries(admin, cursor="garbage!")
