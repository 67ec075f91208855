"""Tag management and bulk tagging, with history, audit and roles."""

from __future__ import annotations

import pytest

from ceramic_app import tags
from ceramic_app.accounts.service import PermissionDenied, Principal
from ceramic_app.fields.errors import NotFound
from ceramic_app.profiles import service as profiles


def make_profiles(member: Principal, count: int) -> list[int]:
    """Create count profiles and return their ids."""
    return [
        profiles.create_profile(member, email=f"t{index}@example.com").id
        for index in range(count)
    ]


def test_tag_lifecycle(admin: Principal, viewer: Principal, owner_sql) -> None:
    tag = tags.create_tag(admin, "  VIP   customer ", "red")
    assert tag.name == "VIP customer"
    assert tag.color == "red"
    renamed = tags.update_tag(admin, tag.id, name="VIP")
    assert renamed.name == "VIP"
    recoloured = tags.update_tag(admin, tag.id, color="blue")
    assert (recoloured.name, recoloured.color) == ("VIP", "blue")
    assert [(t.name, t.color) for t in tags.list_tags(viewer)] == [("VIP", "blue")]
    tags.delete_tag(admin, tag.id)
    assert tags.list_tags(viewer) == []
    actions = owner_sql(
        "SELECT action FROM audit_log WHERE workspace_id = %s AND entity_type = 'tag'"
        " ORDER BY id",
        (admin.workspace_id,),
    )
    assert [row[0] for row in actions] == [
        "tag.create",
        "tag.update",
        "tag.update",
        "tag.delete",
    ]


def test_names_unique_ignoring_case(admin: Principal) -> None:
    tags.create_tag(admin, "VIP")
    with pytest.raises(tags.TagError, match="already exists"):
        tags.create_tag(admin, "vip")
    other = tags.create_tag(admin, "Gold")
    with pytest.raises(tags.TagError, match="already exists"):
        tags.update_tag(admin, other.id, name="Vip")


@pytest.mark.parametrize(
    ("name", "color"),
    [("", "gray"), ("x" * 65, "gray"), ("a,b", "gray"), ("ok", "#ff0000")],
)
def test_invalid_tag_rejected(admin: Principal, name: str, color: str) -> None:
    with pytest.raises(tags.TagError):
        tags.create_tag(admin, name, color)


def test_roles_for_tags(admin: Principal, member: Principal, viewer: Principal) -> None:
    tag = tags.create_tag(admin, "VIP")
    [profile_id] = make_profiles(member, 1)
    with pytest.raises(PermissionDenied):
        tags.create_tag(member, "Other")
    with pytest.raises(PermissionDenied):
        tags.delete_tag(member, tag.id)
    with pytest.raises(PermissionDenied):
        tags.add_tags(viewer, [profile_id], [tag.id])
    assert tags.add_tags(member, [profile_id], [tag.id]).changed_pairs == 1


def test_bulk_add_and_remove(admin: Principal, member: Principal) -> None:
    vip = tags.create_tag(admin, "VIP")
    gold = tags.create_tag(admin, "gold")
    ids = make_profiles(member, 3)
    tags.add_tags(member, ids[:1], [gold.id])
    result = tags.add_tags(member, ids, [vip.id, gold.id])
    assert result.changed_pairs == 5
    assert result.changed_profiles == 3
    again = tags.add_tags(member, ids, [vip.id])
    assert again.changed_pairs == 0
    assert [t.name for t in profiles.get_profile(member, ids[0]).tags] == [
        "gold",
        "VIP",
    ]
    history = profiles.list_history(member, ids[0]).entries
    tag_entries = [(e.before, e.after) for e in history if e.key == "tags"]
    assert tag_entries[0] == (["gold"], ["gold", "VIP"])
    assert tag_entries[1] == ([], ["gold"])
    removed = tags.remove_tags(member, ids, [gold.id])
    assert removed.changed_pairs == 3
    assert [t.name for t in profiles.get_profile(member, ids[1]).tags] == ["VIP"]
    latest = profiles.list_history(member, ids[1]).entries[0]
    assert (latest.key, latest.before, latest.after) == (
        "tags",
        ["gold", "VIP"],
        ["VIP"],
    )
    counts = {t.name: t.profile_count for t in tags.list_tags(member)}
    assert counts == {"gold": 0, "VIP": 3}


def test_other_workspace_ids_ignored(
    admin: Principal, member: Principal, outsider: Principal
) -> None:
    tag = tags.create_tag(admin, "VIP")
    foreign_tag = tags.create_tag(outsider, "Foreign")
    [own_id] = make_profiles(member, 1)
    foreign_profile = profiles.create_profile(outsider, email="f@example.com").id
    result = tags.add_tags(member, [own_id, foreign_profile], [tag.id])
    assert result.changed_profiles == 1
    assert profiles.get_profile(outsider, foreign_profile).tags == []
    with pytest.raises(NotFound):
        tags.add_tags(member, [own_id], [foreign_tag.id])
    with pytest.raises(NotFound):
        tags.update_tag(admin, foreign_tag.id, name="Mine")


def test_bulk_limit(member: Principal, admin: Principal) -> None:
    tag = tags.create_tag(admin, "VIP")
    with pytest.raises(tags.TagError, match="at most"):
        tags.add_tags(member, range(tags.MAX_BULK_PROFILES + 1), [tag.id])


def test_bulk_tagging_audited(admin: Principal, member: Principal, owner_sql) -> None:
    tag = tags.create_tag(admin, "VIP")
    ids = make_profiles(member, 2)
    tags.add_tags(member, ids, [tag.id])
    rows = owner_sql(
        "SELECT action, actor_id, meta FROM audit_log WHERE workspace_id = %s"
        " AND action = 'profile.tag'",
        (admin.workspace_id,),
    )
    assert len(rows) == 1
    assert rows[0][1] == member.user_id
    assert rows[0][2]["profiles"] == 2
    assert rows[0][2]["tags"] == ["VIP"]
