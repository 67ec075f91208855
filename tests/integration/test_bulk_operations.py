"""Bulk tag, field and delete operations and their undo, on the real database."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from ceramic_app.accounts.service import Principal
from ceramic_app.db import tenant_connection
from ceramic_app.profiles import bulk
from tests.integration.profile_data import add_field, add_profiles


def _tag(principal: Principal, name: str) -> int:
    with tenant_connection(principal.workspace_id) as conn:
        return int(
            conn.execute(
                text(
                    "INSERT INTO tags (workspace_id, name) VALUES (:ws, :n) RETURNING id"
                ),
                {"ws": principal.workspace_id, "n": name},
            ).scalar_one()
        )


def _tags_of(principal: Principal) -> dict[int, set[int]]:
    with tenant_connection(principal.workspace_id) as conn:
        rows = conn.execute(text("SELECT profile_id, tag_id FROM profile_tags")).all()
    tags: dict[int, set[int]] = {}
    for profile_id, tag_id in rows:
        tags.setdefault(profile_id, set()).add(tag_id)
    return tags


def _attributes(principal: Principal) -> dict[int, dict[str, Any]]:
    with tenant_connection(principal.workspace_id) as conn:
        rows = conn.execute(text("SELECT id, attributes FROM profiles")).all()
    return {profile_id: attributes for profile_id, attributes in rows}


def _audit(principal: Principal) -> list[Any]:
    """Return the workspace's audit entries about profiles, oldest first."""
    with tenant_connection(principal.workspace_id) as conn:
        return list(
            conn.execute(
                text(
                    "SELECT action, entity_id, meta FROM audit_log"
                    " WHERE entity_type <> 'membership' ORDER BY id"
                )
            ).all()
        )


def _params(principal: Principal, **extra: Any) -> dict[str, Any]:
    return {"actor": bulk.actor_params(principal), **extra}


def test_add_tags_to_all_matching(principal: Principal) -> None:
    ids = add_profiles(principal, [{"email": f"a{n}@example.com"} for n in range(7)])
    add_profiles(principal, [{"email": "b@example.com"}])
    vip = _tag(principal, "vip")
    progress: list[tuple[int, int]] = []
    selection = bulk.Selection(all_matching=True, search="a")
    result = bulk.add_tags(
        principal.workspace_id,
        selection,
        _params(principal, tag_ids=[vip]),
        lambda done, total: progress.append((done, total)),
    )
    assert result.selected == 7
    assert result.changed == 7
    assert _tags_of(principal) == {i: {vip} for i in ids}
    assert progress[0] == (0, 7)
    assert progress[-1] == (7, 7)
    (entry,) = _audit(principal)
    assert entry.action == "profiles.bulk_tags_add"
    assert entry.meta["count"] == 7


def test_all_matching_respects_tag_filter(principal: Principal) -> None:
    ids = add_profiles(principal, [{"email": f"f{n}@example.com"} for n in range(4)])
    vip = _tag(principal, "vip")
    gold = _tag(principal, "gold")
    bulk.add_tags(
        principal.workspace_id,
        bulk.Selection(ids=(ids[0], ids[1])),
        _params(principal, tag_ids=[vip]),
        lambda done, total: None,
    )
    selection = bulk.Selection.from_params(
        {"all_matching": True, "search": "f", "tag_ids": [vip]}
    )
    result = bulk.add_tags(
        principal.workspace_id,
        selection,
        _params(principal, tag_ids=[gold]),
        lambda done, total: None,
    )
    assert result.selected == 2
    assert _tags_of(principal) == {ids[0]: {vip, gold}, ids[1]: {vip, gold}}


def test_add_tags_in_several_batches(
    principal: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "BATCH_SIZE", 3)
    ids = add_profiles(principal, [{} for _ in range(8)])
    vip = _tag(principal, "vip")
    progress: list[tuple[int, int]] = []
    bulk.add_tags(
        principal.workspace_id,
        bulk.Selection(all_matching=True),
        _params(principal, tag_ids=[vip]),
        lambda done, total: progress.append((done, total)),
    )
    assert progress == [(0, 8), (3, 8), (6, 8), (8, 8)]
    assert set(_tags_of(principal)) == set(ids)


def test_add_tags_counts_only_new(principal: Principal) -> None:
    first, second = add_profiles(principal, [{}, {}])
    vip = _tag(principal, "vip")
    selection = bulk.Selection(ids=(first,))
    bulk.add_tags(principal.workspace_id, selection, _params(principal, tag_ids=[vip]))
    result = bulk.add_tags(
        principal.workspace_id,
        bulk.Selection(ids=(first, second)),
        _params(principal, tag_ids=[vip]),
    )
    assert result.selected == 2
    assert result.changed == 1


def test_undo_add_tags_keeps_older_tags(principal: Principal) -> None:
    first, second = add_profiles(principal, [{}, {}])
    vip = _tag(principal, "vip")
    old = _tag(principal, "old")
    bulk.add_tags(
        principal.workspace_id,
        bulk.Selection(ids=(first,)),
        _params(principal, tag_ids=[vip]),
    )
    result = bulk.add_tags(
        principal.workspace_id,
        bulk.Selection(ids=(first, second)),
        _params(principal, tag_ids=[vip, old]),
    )
    # A fresh undo of only the second operation: the first one's vip stays.
    undone = bulk.undo_operation(
        principal.workspace_id, result.operation_id, _params(principal)
    )
    assert undone.changed == 2
    assert _tags_of(principal) == {first: {vip}}
    assert bulk.undo_blocker(principal.workspace_id, result.operation_id) == (
        "this change was already undone"
    )


def test_undo_remove_tags_restores(principal: Principal) -> None:
    (profile_id,) = add_profiles(principal, [{}])
    vip = _tag(principal, "vip")
    bulk.add_tags(
        principal.workspace_id,
        bulk.Selection(ids=(profile_id,)),
        _params(principal, tag_ids=[vip]),
    )
    removed = bulk.remove_tags(
        principal.workspace_id,
        bulk.Selection(ids=(profile_id,)),
        _params(principal, tag_ids=[vip]),
    )
    assert removed.changed == 1
    assert _tags_of(principal) == {}
    bulk.undo_operation(
        principal.workspace_id, removed.operation_id, _params(principal)
    )
    assert _tags_of(principal) == {profile_id: {vip}}


def test_set_field_and_undo(principal: Principal) -> None:
    add_field(principal, "score", "number")
    ids = add_profiles(
        principal,
        [
            {"attributes": {"score": 1, "other": "x"}},
            {"attributes": {}},
            {"attributes": {"score": 5}},
        ],
    )
    result = bulk.set_field(
        principal.workspace_id,
        bulk.Selection(all_matching=True),
        _params(principal, field_key="score", value=5),
    )
    assert result.changed == 2
    after = _attributes(principal)
    assert [after[i].get("score") for i in ids] == [5, 5, 5]
    assert after[ids[0]]["other"] == "x"

    bulk.undo_operation(principal.workspace_id, result.operation_id, _params(principal))
    restored = _attributes(principal)
    assert restored[ids[0]] == {"score": 1, "other": "x"}
    assert restored[ids[1]] == {}
    assert restored[ids[2]] == {"score": 5}


def test_set_field_none_clears(principal: Principal) -> None:
    add_field(principal, "score", "number")
    (profile_id,) = add_profiles(principal, [{"attributes": {"score": 3}}])
    bulk.set_field(
        principal.workspace_id,
        bulk.Selection(ids=(profile_id,)),
        _params(principal, field_key="score", value=None),
    )
    assert _attributes(principal)[profile_id] == {}


@pytest.mark.parametrize(
    ("field_type", "value"),
    [("number", "12"), ("number", True), ("date", "2024-13-01"), ("boolean", 1)],
)
def test_set_field_rejects_wrong_type(
    principal: Principal, field_type: str, value: Any
) -> None:
    add_field(principal, "target", field_type)
    add_profiles(principal, [{}])
    with pytest.raises(bulk.BulkError, match="is not a valid"):
        bulk.set_field(
            principal.workspace_id,
            bulk.Selection(all_matching=True),
            _params(principal, field_key="target", value=value),
        )


def test_set_unknown_field_rejected(principal: Principal) -> None:
    with pytest.raises(bulk.BulkError, match="not found"):
        bulk.set_field(
            principal.workspace_id,
            bulk.Selection(all_matching=True),
            _params(principal, field_key="nope", value=1),
        )


def test_undo_blocked_after_later_change(principal: Principal) -> None:
    first, second = add_profiles(principal, [{}, {}])
    vip = _tag(principal, "vip")
    result = bulk.add_tags(
        principal.workspace_id,
        bulk.Selection(ids=(first, second)),
        _params(principal, tag_ids=[vip]),
    )
    assert bulk.undo_blocker(principal.workspace_id, result.operation_id) is None
    with tenant_connection(principal.workspace_id) as conn:
        conn.execute(
            text(
                "UPDATE profiles SET updated_at = now() + interval '1 second'"
                " WHERE id = :id"
            ),
            {"id": second},
        )
    blocker = bulk.undo_blocker(principal.workspace_id, result.operation_id)
    assert blocker == "1 of its profiles changed since, so it can no longer be undone"
    with pytest.raises(bulk.BulkError, match="changed since"):
        bulk.undo_operation(
            principal.workspace_id, result.operation_id, _params(principal)
        )
    assert _tags_of(principal) == {first: {vip}, second: {vip}}


def test_delete_needs_typed_confirmation(principal: Principal) -> None:
    ids = add_profiles(principal, [{}, {}, {}])
    vip = _tag(principal, "vip")
    selection = bulk.Selection(ids=tuple(ids[:2]))
    bulk.add_tags(principal.workspace_id, selection, _params(principal, tag_ids=[vip]))
    with pytest.raises(bulk.BulkError, match="type 'delete 2 profiles'"):
        bulk.delete_profiles(
            principal.workspace_id, selection, _params(principal, confirmation="yes")
        )
    result = bulk.delete_profiles(
        principal.workspace_id,
        selection,
        _params(principal, confirmation="Delete 2  profiles"),
    )
    assert result.changed == 2
    assert set(_attributes(principal)) == {ids[2]}
    assert _tags_of(principal) == {}
    assert "cannot be undone" in (
        bulk.undo_blocker(principal.workspace_id, result.operation_id) or ""
    )
    assert _audit(principal)[-1].action == "profiles.bulk_delete"


def test_bulk_stays_in_workspace(make_principal) -> None:
    first = make_principal()
    second = make_principal()
    (foreign,) = add_profiles(first, [{}])
    vip = _tag(second, "vip")
    result = bulk.add_tags(
        second.workspace_id,
        bulk.Selection(ids=(foreign,)),
        _params(second, tag_ids=[vip]),
    )
    assert result.selected == 0
    assert _tags_of(first) == {}


def test_tag_of_other_workspace_rejected(make_principal) -> None:
    first = make_principal()
    second = make_principal()
    foreign_tag = _tag(first, "vip")
    add_profiles(second, [{}])
    with pytest.raises(bulk.BulkError, match="not found"):
        bulk.add_tags(
            second.workspace_id,
            bulk.Selection(all_matching=True),
            _params(second, tag_ids=[foreign_tag]),
        )


def test_selection_rejects_bad_ids() -> None:
    with pytest.raises(bulk.BulkError, match="integers"):
        bulk.Selection.from_params({"ids": ["x"]})
    with pytest.raises(bulk.BulkError, match="at most"):
        bulk.Selection.from_params({"ids": list(range(bulk.MAX_EXPLICIT_IDS + 1))})
    selection = bulk.Selection.from_params({"ids": ["3", 1, 3], "search": "a"})
    assert selection.ids == (1, 3)
    assert bulk.Selection.from_params(selection.to_params()) == selection


def test_undo_data_expires(principal: Principal) -> None:
    (profile_id,) = add_profiles(principal, [{}])
    vip = _tag(principal, "vip")
    old = bulk.add_tags(
        principal.workspace_id,
        bulk.Selection(ids=(profile_id,)),
        _params(principal, tag_ids=[vip]),
    )
    with tenant_connection(principal.workspace_id) as conn:
        conn.execute(
            text(
                "UPDATE bulk_operations SET created_at = now() - interval '8 days'"
                " WHERE id = :id"
            ),
            {"id": old.operation_id},
        )
    assert bulk.prune_undo_items(principal.workspace_id) == 1
    assert bulk.undo_blocker(principal.workspace_id, old.operation_id) == (
        "changes older than 7 days cannot be undone"
    )
    assert bulk.prune_undo_items(principal.workspace_id) == 0


def test_job_resumes_after_crash(
    principal: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "BATCH_SIZE", 2)
    ids = add_profiles(principal, [{} for _ in range(5)])
    vip = _tag(principal, "vip")
    parameters = bulk.job_params(
        principal, "tags.add", bulk.Selection(all_matching=True), tag_ids=[vip]
    )
    calls: list[tuple[int, int]] = []

    def crash_after_first_batch(done: int, total: int) -> None:
        calls.append((done, total))
        if done == 2:
            raise RuntimeError("worker lost")

    with pytest.raises(RuntimeError, match="worker lost"):
        bulk.run_job(principal.workspace_id, 77, parameters, crash_after_first_batch)
    assert set(_tags_of(principal)) == set(ids[:2])

    result = bulk.run_job(principal.workspace_id, 77, parameters)
    assert result["changed"] == 5
    assert set(_tags_of(principal)) == set(ids)
    with tenant_connection(principal.workspace_id) as conn:
        operations = conn.execute(
            text("SELECT status, changed_count FROM bulk_operations")
        ).all()
    assert operations == [("completed", 5)]

    undo = bulk.run_job(
        principal.workspace_id,
        78,
        bulk.job_params(
            principal,
            "undo",
            bulk.Selection(),
            operation_id=result["operation_id"],
        ),
    )
    assert undo["changed"] == 5
    assert _tags_of(principal) == {}


def test_job_rejects_unknown_operation(principal: Principal) -> None:
    with pytest.raises(bulk.BulkError, match="unknown bulk operation 'merge'"):
        bulk.job_params(principal, "merge", bulk.Selection())
    with pytest.raises(bulk.BulkError, match="unknown bulk operation"):
        bulk.run_job(principal.workspace_id, 1, {"operation": "merge"})


def _history(principal: Principal) -> list[Any]:
    with tenant_connection(principal.workspace_id) as conn:
        return list(
            conn.execute(
                text(
                    "SELECT profile_id, source, actor_id, changes FROM profile_changes"
                    " ORDER BY profile_id, id"
                )
            ).all()
        )


def test_bulk_changes_write_history(principal: Principal) -> None:
    ids = add_profiles(
        principal,
        [
            {"email": "h1@example.com", "attributes": {"plan": "free"}},
            {"email": "h2@example.com"},
        ],
    )
    add_field(principal, "plan", "text")
    vip = _tag(principal, "VIP")
    everyone = bulk.Selection(all_matching=True)
    bulk.set_field(
        principal.workspace_id,
        everyone,
        _params(principal, field_key="plan", value="pro"),
    )
    bulk.add_tags(principal.workspace_id, everyone, _params(principal, tag_ids=[vip]))
    rows = _history(principal)
    by_profile = {pid: [r.changes for r in rows if r.profile_id == pid] for pid in ids}
    assert by_profile[ids[0]] == [{"plan": ["free", "pro"]}, {"tags": [[], ["VIP"]]}]
    assert by_profile[ids[1]] == [{"plan": [None, "pro"]}, {"tags": [[], ["VIP"]]}]
    assert {r.source for r in rows} == {"bulk"}
    assert {r.actor_id for r in rows} == {principal.user_id}


def test_bulk_undo_writes_history(principal: Principal) -> None:
    (pid,) = add_profiles(
        principal, [{"email": "u1@example.com", "attributes": {"plan": "free"}}]
    )
    add_field(principal, "plan", "text")
    result = bulk.set_field(
        principal.workspace_id,
        bulk.Selection(all_matching=True),
        _params(principal, field_key="plan", value="pro"),
    )
    bulk.undo_operation(principal.workspace_id, result.operation_id, _params(principal))
    changes = [r.changes for r in _history(principal) if r.profile_id == pid]
    assert changes == [{"plan": ["free", "pro"]}, {"plan": ["pro", "free"]}]


def test_bulk_set_field_enforces_rules(principal: Principal) -> None:
    add_profiles(principal, [{"email": "r1@example.com"}, {"email": "r2@example.com"}])
    add_field(principal, "score", "number")
    add_field(principal, "member_no", "text")
    with tenant_connection(principal.workspace_id) as conn:
        conn.execute(
            text(
                "UPDATE custom_fields SET rules = CASE key"
                " WHEN 'score' THEN '{\"min\": 0, \"max\": 10}'::jsonb"
                " ELSE '{\"unique\": true}'::jsonb END"
            )
        )
    everyone = bulk.Selection(all_matching=True)
    with pytest.raises(bulk.BulkError, match="10"):
        bulk.set_field(
            principal.workspace_id,
            everyone,
            _params(principal, field_key="score", value=11),
        )
    with pytest.raises(bulk.BulkError, match="unique"):
        bulk.set_field(
            principal.workspace_id,
            everyone,
            _params(principal, field_key="member_no", value="A-1"),
        )
    assert _history(principal) == []


def _set_rules(principal: Principal, key: str, rules: str) -> None:
    with tenant_connection(principal.workspace_id) as conn:
        conn.execute(
            text(
                "UPDATE custom_fields SET rules = CAST(:rules AS jsonb) WHERE key = :key"
            ),
            {"rules": rules, "key": key},
        )


def test_unique_field_set_on_one_profile(principal: Principal) -> None:
    first, second = add_profiles(
        principal,
        [
            {"email": "u1@example.com", "attributes": {"code": "A-1"}},
            {"email": "u2@example.com"},
        ],
    )
    add_field(principal, "code", "text")
    _set_rules(principal, "code", '{"unique": true}')
    result = bulk.set_field(
        principal.workspace_id,
        bulk.Selection(ids=(second,)),
        _params(principal, field_key="code", value="B-2"),
    )
    assert result.changed == 1
    assert _attributes(principal)[second] == {"code": "B-2"}
    assert _attributes(principal)[first] == {"code": "A-1"}


def test_unique_field_rejects_taken_value(principal: Principal) -> None:
    first, second = add_profiles(
        principal,
        [
            {"email": "t1@example.com", "attributes": {"code": "A-1"}},
            {"email": "t2@example.com"},
        ],
    )
    add_field(principal, "code", "text")
    _set_rules(principal, "code", '{"unique": true}')
    single = bulk.Selection(ids=(second,))
    with pytest.raises(bulk.BulkError, match='"A-1" is already used by profile'):
        bulk.check_field_value(principal.workspace_id, single, "code", "A-1")
    with pytest.raises(bulk.BulkError, match='"A-1" is already used by profile'):
        bulk.set_field(
            principal.workspace_id,
            single,
            _params(principal, field_key="code", value="A-1"),
        )
    assert _attributes(principal)[second] == {}
    # The profile that stores the value may keep it.
    own = bulk.Selection(ids=(first,))
    assert bulk.check_field_value(principal.workspace_id, own, "code", "A-1") == "A-1"


def test_unique_field_rejects_two_profiles(principal: Principal) -> None:
    ids = add_profiles(
        principal, [{"email": "v1@example.com"}, {"email": "v2@example.com"}]
    )
    add_field(principal, "code", "text")
    _set_rules(principal, "code", '{"unique": true}')
    both = bulk.Selection(ids=tuple(ids))
    with pytest.raises(bulk.BulkError, match="cannot be set on several profiles"):
        bulk.check_field_value(principal.workspace_id, both, "code", "C-3")
    # Clearing a unique field on several profiles is allowed.
    assert bulk.check_field_value(principal.workspace_id, both, "code", None) is None


@pytest.mark.parametrize(
    ("rules", "field_type", "value", "fragment"),
    [
        ('{"max": 100}', "number", 150, "150"),
        ('{"min": 0}', "number", -1, "-1"),
        ("{}", "number", "abc", "not a valid number"),
        ('{"max_length": 3}', "text", "abcd", "3"),
        ('{"pattern": "^[A-Z]+$"}', "text", "abc", "pattern"),
        ('{"allowed": ["free", "pro"]}', "text", "gold", "gold"),
    ],
)
def test_check_field_value_rejects(
    principal: Principal, rules: str, field_type: str, value: Any, fragment: str
) -> None:
    add_profiles(principal, [{"email": "w1@example.com"}])
    add_field(principal, "value", field_type)
    _set_rules(principal, "value", rules)
    everyone = bulk.Selection(all_matching=True)
    with pytest.raises(bulk.BulkError, match=fragment):
        bulk.check_field_value(principal.workspace_id, everyone, "value", value)


def test_bulk_set_field_recomputes_calculated(principal: Principal) -> None:
    from workers.background import JobContext
    from workers.kinds import run_bulk_profiles

    (pid,) = add_profiles(
        principal, [{"email": "c1@example.com", "attributes": {"score": 2}}]
    )
    add_field(principal, "score", "number")
    with tenant_connection(principal.workspace_id) as conn:
        conn.execute(
            text(
                "INSERT INTO custom_fields (workspace_id, key, label, type, expression)"
                " VALUES (:ws, 'double_score', 'Double score', 'number', 'score * 2')"
            ),
            {"ws": principal.workspace_id},
        )
    params = bulk.job_params(
        principal,
        "field.set",
        bulk.Selection(all_matching=True),
        field_key="score",
        value=5,
    )
    context = JobContext(principal.workspace_id, 0, "profiles.bulk", params, 1)
    context.progress = lambda *args: None  # type: ignore[method-assign]
    run_bulk_profiles(context)
    assert _attributes(principal)[pid] == {"score": 5, "double_score": 10}
