"""Column preferences and sorted keyset pages against the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from ceramic_app.accounts import service as accounts
from ceramic_app.accounts.service import Principal
from ceramic_app.db import tenant_connection
from ceramic_app.models import Role
from ceramic_app.profiles import columns, queries, sort_indexes
from tests.integration.profile_data import add_field, add_profiles

# Preferences ---------------------------------------------------------------


def test_preferences_default_without_row(principal: Principal) -> None:
    available, visible = columns.load_visible_columns(principal)
    assert visible == list(columns.DEFAULT_COLUMNS)
    assert [c.id for c in available][:5] == [c.id for c in columns.STANDARD_COLUMNS]


def test_preferences_saved_and_reloaded(principal: Principal) -> None:
    score = add_field(principal, "score", "number")
    saved = columns.save_visible_columns(principal, ["email", score, "tags"])
    assert saved == ["email", score, "tags"]
    _, visible = columns.load_visible_columns(principal)
    assert visible == ["email", score, "tags"]


def test_preferences_reject_unknown_column(principal: Principal) -> None:
    with pytest.raises(columns.InvalidColumns, match="unknown column 'field:999999'"):
        columns.save_visible_columns(principal, ["email", "field:999999"])
    _, visible = columns.load_visible_columns(principal)
    assert visible == list(columns.DEFAULT_COLUMNS)


def test_preferences_reject_too_many(principal: Principal) -> None:
    with pytest.raises(columns.InvalidColumns, match="at most"):
        columns.save_visible_columns(principal, ["email"] * (columns.MAX_COLUMNS + 1))


def test_preferences_isolated_between_members(make_principal) -> None:
    owner = make_principal()
    member = make_principal(Role.MEMBER, workspace_id=owner.workspace_id)
    score = add_field(owner, "score", "number")
    columns.save_visible_columns(owner, ["email", score])
    _, member_visible = columns.load_visible_columns(member)
    assert member_visible == list(columns.DEFAULT_COLUMNS)
    columns.save_visible_columns(member, ["custom_id"])
    _, owner_visible = columns.load_visible_columns(owner)
    assert owner_visible == ["email", score]


def test_preferences_isolated_between_workspaces(make_principal) -> None:
    first = make_principal()
    second = make_principal()
    first_field = add_field(first, "score", "number")
    with pytest.raises(columns.InvalidColumns):
        columns.save_visible_columns(second, ["email", first_field])
    available, _ = columns.load_visible_columns(second)
    assert first_field not in [c.id for c in available]


def test_preferences_same_user_two_workspaces(make_principal) -> None:
    first = make_principal()
    second_owner = make_principal()
    # The same person, added to a second workspace.
    accounts.add_member(
        second_owner.workspace_id,
        first.user_email,
        first.user_name,
        "correct horse battery",
        Role.MEMBER,
    )
    token = accounts.create_session(first.user_id, second_owner.workspace_id)
    in_second = accounts.resolve_session(token)
    assert in_second is not None
    columns.save_visible_columns(first, ["email"])
    _, visible = columns.load_visible_columns(in_second)
    assert visible == list(columns.DEFAULT_COLUMNS)


def test_deleted_field_leaves_columns(principal: Principal) -> None:
    score = add_field(principal, "score", "number")
    columns.save_visible_columns(principal, ["email", score])
    with tenant_connection(principal.workspace_id) as conn:
        conn.execute(
            text("DELETE FROM custom_fields WHERE id = :id"),
            {"id": int(score.removeprefix(columns.FIELD_PREFIX))},
        )
    available, visible = columns.load_visible_columns(principal)
    assert visible == ["email"]
    assert score not in [c.id for c in available]


def test_recreated_field_starts_unchecked(principal: Principal) -> None:
    old = add_field(principal, "score", "number")
    columns.save_visible_columns(principal, ["email", old])
    with tenant_connection(principal.workspace_id) as conn:
        conn.execute(
            text("DELETE FROM custom_fields WHERE id = :id"),
            {"id": int(old.removeprefix(columns.FIELD_PREFIX))},
        )
    new = add_field(principal, "score", "number")
    available, visible = columns.load_visible_columns(principal)
    assert new in [c.id for c in available]
    assert new not in visible


def test_inactive_field_hidden_until_active(principal: Principal) -> None:
    score = add_field(principal, "score", "number")
    columns.save_visible_columns(principal, ["email", score])
    field_id = int(score.removeprefix(columns.FIELD_PREFIX))
    with tenant_connection(principal.workspace_id) as conn:
        conn.execute(
            text("UPDATE custom_fields SET status = 'converting' WHERE id = :id"),
            {"id": field_id},
        )
    available, visible = columns.load_visible_columns(principal)
    assert visible == ["email"]
    assert score not in [c.id for c in available]
    with tenant_connection(principal.workspace_id) as conn:
        conn.execute(
            text("UPDATE custom_fields SET status = 'active' WHERE id = :id"),
            {"id": field_id},
        )
    _, visible = columns.load_visible_columns(principal)
    assert visible == ["email", score]


def test_reset_restores_defaults(principal: Principal) -> None:
    columns.save_visible_columns(principal, ["tags"])
    assert columns.reset_visible_columns(principal) == list(columns.DEFAULT_COLUMNS)
    _, visible = columns.load_visible_columns(principal)
    assert visible == list(columns.DEFAULT_COLUMNS)


# Sorted pages --------------------------------------------------------------


def _walk(principal: Principal, sort: str, descending: bool, limit: int) -> list[int]:
    """Follow next cursors from the first page to the last; return the ids."""
    seen: list[int] = []
    after = None
    for _ in range(100):
        page = queries.list_profiles(
            principal, sort=sort, descending=descending, after=after, limit=limit
        )
        seen.extend(r.id for r in page.rows)
        if page.next_cursor is None:
            return seen
        after = page.next_cursor
    raise AssertionError("paging did not end after 100 pages")


def _walk_back(
    principal: Principal, sort: str, descending: bool, limit: int
) -> list[int]:
    """Go to the last page, then follow prev cursors back; return all ids."""
    after = None
    for _ in range(100):
        page = queries.list_profiles(
            principal, sort=sort, descending=descending, after=after, limit=limit
        )
        if page.next_cursor is None:
            break
        after = page.next_cursor
    pages = [[r.id for r in page.rows]]
    before = page.prev_cursor
    for _ in range(100):
        if before is None:
            return [i for ids in pages for i in ids]
        page = queries.list_profiles(
            principal, sort=sort, descending=descending, before=before, limit=limit
        )
        pages.insert(0, [r.id for r in page.rows])
        before = page.prev_cursor
    raise AssertionError("paging back did not end after 100 pages")


# Scores with ties, a missing value, an explicit JSON null and mixed types:
# jsonb orders null < string < number < boolean, and numbers numerically.
SCORED = [
    {"attributes": {"score": 10}},
    {"attributes": {"score": 9.5}},
    {"attributes": {}},
    {"attributes": {"score": 10}},
    {"attributes": {"score": -1}},
    {"attributes": {"score": None}},
    {"attributes": {"score": 100}},
    {"attributes": {"score": 10}},
    {"attributes": {}},
    {"attributes": {"score": 2}},
    {"attributes": {"score": "text"}},
]


def _score_rank(attributes: dict[str, Any]) -> tuple[int, Any]:
    value = attributes.get("score")
    if value is None:
        return (0, 0)
    if isinstance(value, str):
        return (1, value)
    return (2, value)


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("limit", [1, 3, 4, 50])
def test_number_field_sort_across_pages(
    principal: Principal, descending: bool, limit: int
) -> None:
    score = add_field(principal, "score", "number")
    ids = add_profiles(principal, SCORED)
    expected = [
        i
        for _, i in sorted(
            (
                (_score_rank(p["attributes"]), i)
                for p, i in zip(SCORED, ids, strict=True)
            ),
            reverse=descending,
        )
    ]
    assert _walk(principal, score, descending, limit) == expected
    assert _walk_back(principal, score, descending, limit) == expected


@pytest.mark.parametrize("descending", [False, True])
def test_date_field_sort_across_pages(principal: Principal, descending: bool) -> None:
    last_order = add_field(principal, "last_order", "date")
    dates = ["2024-03-01", "2023-12-31", None, "2024-03-01", "2024-01-15", None]
    profiles = [{"attributes": {"last_order": d} if d else {}} for d in dates]
    ids = add_profiles(principal, profiles)
    # Missing dates sort first; ISO dates compare as text, which is chronological.
    expected = [
        i
        for _, i in sorted(
            ((d is not None, d or ""), i) for d, i in zip(dates, ids, strict=True)
        )
    ]
    if descending:
        expected.reverse()
    assert _walk(principal, last_order, descending, 2) == expected
    assert _walk_back(principal, last_order, descending, 2) == expected


@pytest.mark.parametrize("descending", [False, True])
def test_custom_id_sort_with_missing(principal: Principal, descending: bool) -> None:
    custom_ids = ["B-2", None, "A-10", "a-1", None, "B-10"]
    ids = add_profiles(principal, [{"custom_id": c} for c in custom_ids])
    # Custom IDs compare byte-wise (collation C); missing ones sort as "".
    expected = [
        i
        for _, i in sorted(
            ((c or "").encode(), i) for c, i in zip(custom_ids, ids, strict=True)
        )
    ]
    if descending:
        expected.reverse()
    assert _walk(principal, "custom_id", descending, 2) == expected
    assert _walk_back(principal, "custom_id", descending, 2) == expected


@pytest.mark.parametrize("descending", [False, True])
def test_updated_sort_breaks_ties_by_id(principal: Principal, descending: bool) -> None:
    same = datetime(2024, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
    updated = [same, same + timedelta(microseconds=1), same, same, same]
    ids = add_profiles(principal, [{"updated": u} for u in updated])
    expected = [i for _, i in sorted(zip(updated, ids, strict=True))]
    if descending:
        expected.reverse()
    assert _walk(principal, "updated_at", descending, 2) == expected
    assert _walk_back(principal, "updated_at", descending, 2) == expected


def test_email_sort_with_search(principal: Principal) -> None:
    emails = ["bob@example.com", "ann@example.com", "bea@example.com", "cy@x.org"]
    add_profiles(principal, [{"email": e} for e in emails])
    page = queries.list_profiles(principal, search="B", sort="email", descending=False)
    assert [r.email for r in page.rows] == ["bea@example.com", "bob@example.com"]
    assert page.total == 2


def test_cursor_of_other_sort_rejected_by_list(principal: Principal) -> None:
    add_profiles(principal, [{}, {}, {}])
    page = queries.list_profiles(principal, sort="created_at", limit=1)
    assert page.next_cursor is not None
    with pytest.raises(queries.InvalidCursor):
        queries.list_profiles(principal, sort="email", after=page.next_cursor)


def test_unknown_sort_rejected(principal: Principal) -> None:
    with pytest.raises(queries.InvalidSort):
        queries.list_profiles(principal, sort="field:424242")
    with pytest.raises(queries.InvalidSort):
        queries.list_profiles(principal, sort="tags")


def test_other_workspace_field_not_sortable(make_principal) -> None:
    first = make_principal()
    second = make_principal()
    score = add_field(first, "score", "number")
    with pytest.raises(queries.InvalidSort):
        queries.list_profiles(second, sort=score)


def test_view_hides_other_workspace(make_principal) -> None:
    first = make_principal()
    second = make_principal()
    add_profiles(first, [{}, {}])
    with tenant_connection(second.workspace_id) as conn:
        visible = conn.execute(
            text("SELECT count(*) FROM workspace_profiles")
        ).scalar_one()
    assert visible == 0
    page = queries.list_profiles(second)
    assert page.rows == []


def test_rows_carry_tags(principal: Principal) -> None:
    (profile_id,) = add_profiles(principal, [{}])
    with tenant_connection(principal.workspace_id) as conn:
        for name in ("vip", "Alpha"):
            tag_id = conn.execute(
                text(
                    "INSERT INTO tags (workspace_id, name) VALUES (:ws, :n) RETURNING id"
                ),
                {"ws": principal.workspace_id, "n": name},
            ).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO profile_tags (workspace_id, profile_id, tag_id)"
                    " VALUES (:ws, :p, :t)"
                ),
                {"ws": principal.workspace_id, "p": profile_id, "t": tag_id},
            )
    (row,) = queries.list_profiles(principal).rows
    assert row.tags == ["Alpha", "vip"]
    (fresh,) = queries.get_profile_rows(principal, [profile_id])
    assert fresh.tags == ["Alpha", "vip"]


def test_tag_filter_keeps_tagged_profiles(principal: Principal) -> None:
    ids = add_profiles(principal, [{"email": f"t{n}@example.com"} for n in range(5)])
    with tenant_connection(principal.workspace_id) as conn:
        vip, gold = (
            conn.execute(
                text(
                    "INSERT INTO tags (workspace_id, name) VALUES (:ws, :n) RETURNING id"
                ),
                {"ws": principal.workspace_id, "n": name},
            ).scalar_one()
            for name in ("vip", "gold")
        )
        for profile_id, tag_id in ((ids[0], vip), (ids[2], vip), (ids[3], gold)):
            conn.execute(
                text(
                    "INSERT INTO profile_tags (workspace_id, profile_id, tag_id)"
                    " VALUES (:ws, :p, :t)"
                ),
                {"ws": principal.workspace_id, "p": profile_id, "t": tag_id},
            )
    page = queries.list_profiles(
        principal, tag_ids=[vip], sort="email", descending=False
    )
    assert [row.id for row in page.rows] == [ids[0], ids[2]]
    assert page.total == 2
    both = queries.list_profiles(principal, tag_ids=[vip, gold], search="t3")
    assert [row.id for row in both.rows] == [ids[3]]
    assert queries.list_profiles(principal, tag_ids=[vip + gold + 100]).rows == []


# Sort indexes --------------------------------------------------------------


def _explain(principal: Principal, sort: str) -> str:
    with tenant_connection(principal.workspace_id) as conn:
        key = queries.find_sort_key(conn, sort)
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        conn.execute(text("SET LOCAL enable_sort = off"))
        plan = conn.execute(
            text(
                "EXPLAIN SELECT p.id FROM workspace_profiles p"
                f" WHERE p.workspace_id = {principal.workspace_id}"
                f" AND ({key.expression}, p.id) > (CAST('1' AS jsonb), 0)"
                f" ORDER BY {key.expression}, p.id LIMIT 51"
            )
        ).all()
    return "\n".join(line for (line,) in plan)


def test_sort_index_sync_creates_and_drops(
    principal: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sort_indexes, "MIN_PROFILES", 20)
    score = add_field(principal, "score", "number")
    add_field(principal, "plan", "text")
    field_id = int(score.removeprefix(columns.FIELD_PREFIX))
    name = sort_indexes.sort_index_name(principal.workspace_id, field_id)
    add_profiles(principal, [{"attributes": {"score": n}} for n in range(19)])
    assert sort_indexes.missing_sort_indexes(principal.workspace_id) == []
    add_profiles(
        principal, [{"email": "last@example.com", "attributes": {"score": 19}}]
    )

    assert sort_indexes.missing_sort_indexes(principal.workspace_id) == [name]
    result = sort_indexes.sync_sort_indexes(principal.workspace_id)
    assert result.created == [name]
    assert sort_indexes.missing_sort_indexes(principal.workspace_id) == []
    assert name in _explain(principal, score)
    assert "Index Cond" in _explain(principal, score)

    again = sort_indexes.sync_sort_indexes(principal.workspace_id)
    assert again.created == []
    assert again.dropped == []

    with tenant_connection(principal.workspace_id) as conn:
        conn.execute(text("DELETE FROM custom_fields WHERE id = :id"), {"id": field_id})
    dropped = sort_indexes.sync_sort_indexes(principal.workspace_id)
    assert dropped.dropped == [name]
