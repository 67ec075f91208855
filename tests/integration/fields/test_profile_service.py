"""Single-profile writes: rules, history, audit, optimistic locking and roles."""

from __future__ import annotations

import json
import threading
import time

import psycopg
import pytest

from ceramic_app import live
from ceramic_app.accounts.service import PermissionDenied, Principal
from ceramic_app.fields import service as fields
from ceramic_app.fields.errors import ConflictError, NotFound, ValidationFailed
from ceramic_app.profiles import service as profiles
from ceramic_app.settings import get_settings


@pytest.fixture
def schema(admin: Principal) -> None:
    """Fields with one rule each, plus a calculated field."""
    fields.create_field(
        admin,
        key="plan",
        label="Plan",
        field_type="text",
        rules={"required": True, "allowed": ["gold", "silver"]},
    )
    fields.create_field(
        admin,
        key="code",
        label="Code",
        field_type="text",
        rules={"unique": True, "pattern": "[A-Z]{3}[0-9]+"},
    )
    fields.create_field(
        admin,
        key="seats",
        label="Seats",
        field_type="number",
        rules={"min": 1, "max": 100},
    )
    fields.create_field(
        admin,
        key="nickname",
        label="Nickname",
        field_type="text",
        rules={"max_length": 5},
    )
    fields.create_field(admin, key="renewal", label="Renewal", field_type="date")
    fields.create_field(
        admin,
        key="seat_label",
        label="Seat label",
        expression="plan + ' x' if seats > 1 else plan",
    )


def test_create_profile_normalizes_email(schema: None, member: Principal) -> None:
    created = profiles.create_profile(
        member,
        email="  Ada@Example.COM ",
        custom_id=" c-1 ",
        attributes={"plan": "gold"},
    )
    assert created.email == "Ada@Example.COM"
    assert created.email_key == "ada@example.com"
    assert created.custom_id == "c-1"
    assert created.attributes == {"plan": "gold", "seat_label": "gold"}
    assert created.tags == []


@pytest.mark.parametrize(
    ("attributes", "key", "fragment"),
    [
        ({}, "plan", "Plan is required"),
        ({"plan": "bronze"}, "plan", "choose one of"),
        ({"plan": "gold", "seats": 0}, "seats", "less than the minimum 1"),
        ({"plan": "gold", "seats": "3"}, "seats", "not a number"),
        ({"plan": "gold", "code": "abc1"}, "code", "does not match the pattern"),
        ({"plan": "gold", "nickname": "toolong"}, "nickname", "at most 5"),
        ({"plan": "gold", "renewal": "2024-02-30"}, "renewal", "YYYY-MM-DD"),
        ({"plan": "gold", "seat_label": "x"}, "seat_label", "cannot be set"),
        ({"plan": "gold", "colour": "red"}, "colour", "no field with key"),
        ({"plan": "gold", "tags": ["x"]}, "tags", "tag actions"),
    ],
)
def test_create_rejects_rule_breaks(
    schema: None, member: Principal, attributes: dict, key: str, fragment: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        profiles.create_profile(member, email="a@example.com", attributes=attributes)
    assert key in caught.value.errors
    assert fragment in caught.value.errors[key]


def test_invalid_email_rejected(schema: None, member: Principal) -> None:
    with pytest.raises(ValidationFailed) as caught:
        profiles.create_profile(
            member, email="not-an-email", attributes={"plan": "gold"}
        )
    assert "missing '@'" in caught.value.errors["email"]


def test_duplicates_rejected(schema: None, member: Principal) -> None:
    first = profiles.create_profile(
        member,
        email="a@example.com",
        custom_id="c1",
        attributes={"plan": "gold", "code": "ABC1"},
    )
    with pytest.raises(ValidationFailed) as caught:
        profiles.create_profile(
            member,
            email="A@EXAMPLE.com",
            custom_id="c1",
            attributes={"plan": "gold", "code": "ABC1"},
        )
    errors = caught.value.errors
    assert f"profile {first.id}" in errors["email"]
    assert f"profile {first.id}" in errors["custom_id"]
    assert f"profile {first.id}" in errors["code"]


def test_unique_allows_own_value(schema: None, member: Principal) -> None:
    first = profiles.create_profile(
        member, email="a@example.com", attributes={"plan": "gold", "code": "ABC1"}
    )
    updated = profiles.update_profile(
        member,
        first.id,
        {"code": "ABC1", "seats": 2},
        expected_updated_at=first.updated_at,
    )
    assert updated.attributes["code"] == "ABC1"


def test_update_writes_history_and_audit(
    schema: None, member: Principal, admin: Principal, owner_sql
) -> None:
    created = profiles.create_profile(
        member, email="a@example.com", attributes={"plan": "gold"}
    )
    updated = profiles.update_profile(
        member,
        created.id,
        {"plan": "silver", "seats": 3},
        expected_updated_at=created.updated_at,
    )
    assert updated.updated_at > created.updated_at
    assert updated.attributes == {
        "plan": "silver",
        "seats": 3,
        "seat_label": "silver x",
    }

    page = profiles.list_history(admin, created.id)
    latest = {
        entry.key: (entry.before, entry.after)
        for entry in page.entries
        if entry.change_id == page.entries[0].change_id
    }
    assert latest == {
        "plan": ("gold", "silver"),
        "seats": (None, 3),
        "seat_label": ("gold", "silver x"),
    }
    assert page.entries[0].actor_label == member.actor_label
    assert page.entries[0].actor_id == member.user_id

    audit_rows = owner_sql(
        "SELECT action, actor_id, before, after FROM audit_log WHERE workspace_id = %s"
        " AND entity_type = 'profile' AND entity_id = %s ORDER BY id",
        (member.workspace_id, str(created.id)),
    )
    assert [row[0] for row in audit_rows] == ["profile.create", "profile.update"]
    assert audit_rows[1][1] == member.user_id
    assert audit_rows[1][2]["plan"] == "gold"
    assert audit_rows[1][3]["plan"] == "silver"


def test_clearing_value_removes_key(schema: None, member: Principal) -> None:
    created = profiles.create_profile(
        member, email="a@example.com", attributes={"plan": "gold", "seats": 3}
    )
    updated = profiles.update_profile(
        member, created.id, {"seats": None}, expected_updated_at=created.updated_at
    )
    assert "seats" not in updated.attributes
    with pytest.raises(ValidationFailed, match="required"):
        profiles.update_profile(
            member, created.id, {"plan": None}, expected_updated_at=None
        )


def test_unchanged_update_writes_nothing(schema: None, member: Principal) -> None:
    created = profiles.create_profile(
        member, email="a@example.com", attributes={"plan": "gold"}
    )
    same = profiles.update_profile(
        member,
        created.id,
        {"plan": "gold", "email": "a@example.com"},
        expected_updated_at=created.updated_at,
    )
    assert same.updated_at == created.updated_at
    assert len(profiles.list_history(member, created.id).entries) == 3


def test_stale_update_conflicts(
    schema: None, member: Principal, admin: Principal
) -> None:
    created = profiles.create_profile(
        member, email="a@example.com", attributes={"plan": "gold"}
    )
    profiles.update_profile(
        admin, created.id, {"seats": 2}, expected_updated_at=created.updated_at
    )
    with pytest.raises(ConflictError, match=f"by {admin.user_name}"):
        profiles.update_profile(
            member,
            created.id,
            {"plan": "silver"},
            expected_updated_at=created.updated_at,
        )
    assert profiles.get_profile(member, created.id).attributes["plan"] == "gold"


def test_viewer_cannot_edit(schema: None, member: Principal, viewer: Principal) -> None:
    created = profiles.create_profile(
        member, email="a@example.com", attributes={"plan": "gold"}
    )
    with pytest.raises(PermissionDenied):
        profiles.create_profile(
            viewer, email="b@example.com", attributes={"plan": "gold"}
        )
    with pytest.raises(PermissionDenied):
        profiles.update_profile(
            viewer, created.id, {"plan": "silver"}, expected_updated_at=None
        )
    assert profiles.get_profile(viewer, created.id).id == created.id


def test_other_workspace_profile_not_found(
    schema: None, member: Principal, outsider: Principal
) -> None:
    created = profiles.create_profile(
        member, email="a@example.com", attributes={"plan": "gold"}
    )
    with pytest.raises(NotFound):
        profiles.get_profile(outsider, created.id)
    with pytest.raises(NotFound):
        profiles.update_profile(
            outsider, created.id, {"x": 1}, expected_updated_at=None
        )
    with pytest.raises(NotFound):
        profiles.list_history(outsider, created.id)


def test_history_pages(schema: None, member: Principal) -> None:
    created = profiles.create_profile(
        member, email="a@example.com", attributes={"plan": "gold"}
    )
    for seats in range(2, 7):
        profiles.update_profile(
            member, created.id, {"seats": seats}, expected_updated_at=None
        )
    first = profiles.list_history(member, created.id, limit=2)
    assert [entry.after for entry in first.entries if entry.key == "seats"] == [6, 5]
    assert first.next_cursor is not None
    second = profiles.list_history(
        member, created.id, limit=2, cursor=first.next_cursor
    )
    assert [entry.after for entry in second.entries if entry.key == "seats"] == [4, 3]


@pytest.mark.parametrize("table", ["audit_log", "profile_changes"])
def test_app_role_cannot_rewrite_history(
    schema: None, member: Principal, table: str
) -> None:
    profiles.create_profile(member, email="a@example.com", attributes={"plan": "gold"})
    with psycopg.connect(get_settings().database_url) as conn:
        conn.execute(
            "SELECT set_config('app.workspace_id', %s, false)",
            (str(member.workspace_id),),
        )
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] >= 1
        for statement in (
            f"UPDATE {table} SET actor_label = 'x'",
            f"DELETE FROM {table}",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()
            conn.execute(
                "SELECT set_config('app.workspace_id', %s, false)",
                (str(member.workspace_id),),
            )


def test_write_publishes_live_event(
    schema: None, member: Principal, redis_client
) -> None:
    pubsub = redis_client.pubsub()
    pubsub.subscribe(live.workspace_channel(member.workspace_id))
    pubsub.get_message(timeout=1)
    created = profiles.create_profile(
        member, email="a@example.com", attributes={"plan": "gold"}
    )
    message = None
    deadline = time.monotonic() + 5
    while message is None and time.monotonic() < deadline:
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
    pubsub.close()
    assert message is not None
    assert json.loads(message["data"]) == {
        "event": "profile.changed",
        "profile_id": created.id,
    }


def test_concurrent_unique_writes_serialized(schema: None, member: Principal) -> None:
    outcomes: list[str] = []

    def create(index: int) -> None:
        try:
            profiles.create_profile(
                member,
                email=f"race{index}@example.com",
                attributes={"plan": "gold", "code": "RAC1"},
            )
            outcomes.append("created")
        except ValidationFailed:
            outcomes.append("rejected")

    threads = [threading.Thread(target=create, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created", "rejected", "rejected", "rejected"]
