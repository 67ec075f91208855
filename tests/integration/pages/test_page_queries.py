"""Database helpers of the pages: built-in stats, e-mail lookup and audit actors."""

from __future__ import annotations

import pytest

from ceramic_app.accounts.service import PermissionDenied, Principal
from ceramic_app.profiles import service as profiles
from ceramic_app.state import audit_view, field_view, profile_view


def test_builtin_stats(admin: Principal, outsider: Principal) -> None:
    profiles.create_profile(admin, email="b@example.com", custom_id="C-2")
    profiles.create_profile(admin, email="a@example.com")
    profiles.create_profile(admin, email="c@example.com", custom_id="C-1")
    profiles.create_profile(outsider, email="0@example.com", custom_id="A-0")

    stats = field_view.builtin_stats(admin)

    assert stats.total == 3
    assert stats.with_custom_id == 2
    assert stats.example_email == "a@example.com"
    assert stats.example_custom_id == "C-1"
    rows = {row.key: row for row in field_view.builtin_rows(stats)}
    assert rows["custom_id"].count_label == "2 of 3 (67%)"
    assert rows["email"].count_label == "3 of 3 (100%)"
    assert all(row.builtin for row in rows.values())


def test_builtin_stats_empty_workspace(admin: Principal) -> None:
    stats = field_view.builtin_stats(admin)
    assert stats.total == 0
    assert stats.example_email is None


def test_find_profiles_by_prefix(admin: Principal, outsider: Principal) -> None:
    profiles.create_profile(admin, email="Ada.Lovelace@example.com", custom_id="7")
    profiles.create_profile(admin, email="adam@example.com")
    profiles.create_profile(admin, email="grace@example.com")
    profiles.create_profile(outsider, email="ada@other.example.com")

    matches = profile_view.find_profiles(admin, " ADA")

    assert [m.email for m in matches] == [
        "Ada.Lovelace@example.com",
        "adam@example.com",
    ]
    assert matches[0].custom_id == "7"
    assert profile_view.find_profiles(admin, "") == []
    assert profile_view.find_profiles(outsider, "ada.") == []


def test_find_profiles_escapes_wildcards(admin: Principal) -> None:
    profiles.create_profile(admin, email="a_b@example.com")
    profiles.create_profile(admin, email="axb@example.com")
    assert [m.email for m in profile_view.find_profiles(admin, "a_")] == [
        "a_b@example.com"
    ]
    assert profile_view.find_profiles(admin, "%") == []


def test_actor_choices_list_members(
    admin: Principal, member: Principal, outsider: Principal
) -> None:
    choices = audit_view.actor_choices(admin)
    values = [choice["value"] for choice in choices]
    assert values[0] == "all"
    assert f"user:{admin.user_id}" in values
    assert f"user:{member.user_id}" in values
    assert f"user:{outsider.user_id}" not in values
    assert "type:system" in values


def test_actor_choices_admins_only(member: Principal) -> None:
    with pytest.raises(PermissionDenied):
        audit_view.actor_choices(member)
