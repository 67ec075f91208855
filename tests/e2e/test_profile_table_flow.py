"""Browser flows of the profiles table: columns, sorting, keys, live rows, bulk tags.

These flows seed fields, tags and profiles straight into this run's
database, so they cannot run against an instance given by E2E_BASE_URL.
"""

from __future__ import annotations

import json
import os
import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text

from ceramic_app import live
from ceramic_app.accounts import service as accounts
from ceramic_app.db import global_connection, tenant_connection
from ceramic_app.models import Role
from tests.e2e.flows import PASSWORD, Account, sign_in, sign_out, sign_up

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        bool(os.environ.get("E2E_BASE_URL")),
        reason="seeds the database directly, so it needs the suite's own app",
    ),
]


def _workspace_id(account: Account) -> int:
    with global_connection() as conn:
        return int(
            conn.execute(
                text("SELECT id FROM workspaces WHERE name = :n"),
                {"n": account.workspace},
            ).scalar_one()
        )


def _seed(workspace_id: int, scores: list[float | None]) -> tuple[str, list[int]]:
    """Add a Score number field and one profile per score; return (column, ids)."""
    with tenant_connection(workspace_id) as conn:
        field_id = conn.execute(
            text(
                "INSERT INTO custom_fields (workspace_id, key, label, type)"
                " VALUES (:ws, 'score', 'Score', 'number') RETURNING id"
            ),
            {"ws": workspace_id},
        ).scalar_one()
        ids = []
        for n, score in enumerate(scores):
            attributes = {} if score is None else {"score": score}
            ids.append(
                conn.execute(
                    text(
                        "INSERT INTO profiles (workspace_id, email, email_key,"
                        " custom_id, attributes, created_at)"
                        " VALUES (:ws, :e, :e, :cid, CAST(:a AS jsonb),"
                        " now() - make_interval(mins => :n)) RETURNING id"
                    ),
                    {
                        "ws": workspace_id,
                        "e": f"person{n}@example.com",
                        "cid": f"CID-{n}",
                        "a": json.dumps(attributes),
                        "n": n,
                    },
                ).scalar_one()
            )
    return f"field:{field_id}", ids


def _headers(page: Page) -> list[str]:
    return page.get_by_test_id("column-header").all_inner_texts()


def _open_columns(page: Page) -> None:
    page.get_by_test_id("columns-button").click()
    expect(page.get_by_test_id("columns-popover")).to_be_visible()


def _close_columns(page: Page) -> None:
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("columns-popover")).to_have_count(0)


def test_columns_persist_per_member(page: Page, app_url: str) -> None:
    owner = sign_up(page, app_url, "columns")
    workspace_id = _workspace_id(owner)
    score_column, _ = _seed(workspace_id, [3, 1, 2])
    member_email = owner.email.replace("@", "-member@")
    accounts.add_member(workspace_id, member_email, "Member", PASSWORD, Role.MEMBER)
    page.reload()
    expect(page.get_by_test_id("profile-row")).to_have_count(3)
    assert _headers(page) == ["Email", "Custom ID", "Created", "Updated"]

    # Toggling changes the columns without a page load: the marker survives.
    page.evaluate("window.__noReload = true")
    _open_columns(page)
    page.get_by_test_id("column-toggle-custom_id").click()
    page.get_by_test_id("columns-filter").fill("sco")
    page.get_by_test_id(f"column-toggle-{score_column}").click()
    _close_columns(page)
    expect(page.get_by_test_id("column-header")).to_have_text(
        ["Email", "Created", "Updated", "Score"]
    )
    assert page.evaluate("window.__noReload") is True
    expect(page.get_by_test_id("profile-row").first).to_contain_text("3")

    page.reload()
    expect(page.get_by_test_id("column-header")).to_have_text(
        ["Email", "Created", "Updated", "Score"]
    )
    sign_out(page)
    sign_in(page, app_url, owner.email)
    expect(page.get_by_test_id("column-header")).to_have_text(
        ["Email", "Created", "Updated", "Score"]
    )

    sign_out(page)
    sign_in(page, app_url, member_email)
    expect(page.get_by_test_id("column-header")).to_have_text(
        ["Email", "Custom ID", "Created", "Updated"]
    )

    sign_out(page)
    sign_in(page, app_url, owner.email)
    _open_columns(page)
    page.get_by_test_id("columns-reset").click()
    _close_columns(page)
    expect(page.get_by_test_id("column-header")).to_have_text(
        ["Email", "Custom ID", "Created", "Updated"]
    )
    page.reload()
    expect(page.get_by_test_id("column-header")).to_have_text(
        ["Email", "Custom ID", "Created", "Updated"]
    )


def test_column_order_can_change(page: Page, app_url: str) -> None:
    owner = sign_up(page, app_url, "order")
    _seed(_workspace_id(owner), [1])
    page.reload()
    _open_columns(page)
    page.get_by_test_id("column-up-updated_at").click()
    expect(page.get_by_test_id("column-header")).to_have_text(
        ["Email", "Custom ID", "Updated", "Created"]
    )
    page.get_by_test_id("column-down-email").click()
    _close_columns(page)
    expect(page.get_by_test_id("column-header")).to_have_text(
        ["Custom ID", "Email", "Updated", "Created"]
    )
    page.reload()
    expect(page.get_by_test_id("column-header")).to_have_text(
        ["Custom ID", "Email", "Updated", "Created"]
    )


def test_sort_by_field_survives_reload(page: Page, app_url: str) -> None:
    owner = sign_up(page, app_url, "sort")
    score_column, _ = _seed(_workspace_id(owner), [10, None, 2.5, 100, -1])
    page.reload()
    _open_columns(page)
    page.get_by_test_id(f"column-toggle-{score_column}").click()
    _close_columns(page)
    page.get_by_test_id(f"sort-{score_column}").click()
    expect(page).to_have_url(re.compile(r"sort=field%3A\d+&order=asc"))
    emails = page.get_by_test_id("profile-row").locator("td:nth-child(2)")
    # Missing values first, then numbers in numeric order.
    expected = [
        "person1@example.com",
        "person4@example.com",
        "person2@example.com",
        "person0@example.com",
        "person3@example.com",
    ]
    expect(emails).to_have_text(expected)
    page.get_by_test_id(f"sort-{score_column}").click()
    expect(page).to_have_url(re.compile(r"order=desc"))
    expect(emails).to_have_text(list(reversed(expected)))
    page.reload()
    expect(emails).to_have_text(list(reversed(expected)))
    # Each sort pushed a history entry: Back returns to the ascending view.
    page.go_back()
    expect(page).to_have_url(re.compile(r"order=asc"))
    expect(emails).to_have_text(expected)


def test_keyboard_opens_profile(page: Page, app_url: str) -> None:
    owner = sign_up(page, app_url, "keys")
    _, ids = _seed(_workspace_id(owner), [1, 2, 3])
    page.reload()
    expect(page.get_by_test_id("profile-row")).to_have_count(3)
    page.get_by_test_id("profiles-total").click()
    for key in ("j", "ArrowDown", "j", "k"):
        page.keyboard.press(key)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/profiles/{ids[1]}")
    expect(page.get_by_test_id("profile-email")).to_have_text("person1@example.com")


def test_change_elsewhere_shows_live(page: Page, app_url: str) -> None:
    owner = sign_up(page, app_url, "live")
    workspace_id = _workspace_id(owner)
    _, ids = _seed(workspace_id, [1, 2])
    page.reload()
    expect(page.get_by_test_id("profile-row")).to_have_count(2)
    # The listener subscribes right after on_load; give it a moment.
    page.wait_for_timeout(1000)
    with tenant_connection(workspace_id) as conn:
        conn.execute(
            text("UPDATE profiles SET email = 'renamed@example.com' WHERE id = :id"),
            {"id": ids[0]},
        )
    live.publish(workspace_id, "profile.changed", profile_id=ids[0])
    expect(page.get_by_text("renamed@example.com")).to_be_visible(timeout=3000)

    with tenant_connection(workspace_id) as conn:
        conn.execute(
            text(
                "INSERT INTO profiles (workspace_id, email, email_key)"
                " VALUES (:ws, 'new@example.com', 'new@example.com')"
            ),
            {"ws": workspace_id},
        )
    live.publish(workspace_id, "profiles.changed", count=1)
    expect(page.get_by_test_id("profile-row")).to_have_count(3, timeout=3000)

    with tenant_connection(workspace_id) as conn:
        conn.execute(text("DELETE FROM profiles WHERE id = :id"), {"id": ids[1]})
    live.publish(workspace_id, "profile.changed", profile_id=ids[1])
    expect(page.get_by_test_id("profile-row")).to_have_count(2, timeout=3000)
    expect(page.get_by_text("person1@example.com")).to_have_count(0)


def test_bulk_tag_then_undo(page: Page, app_url: str) -> None:
    owner = sign_up(page, app_url, "bulk")
    workspace_id = _workspace_id(owner)
    _seed(workspace_id, [1, 2, 3])
    with tenant_connection(workspace_id) as conn:
        conn.execute(
            text("INSERT INTO tags (workspace_id, name) VALUES (:ws, 'vip')"),
            {"ws": workspace_id},
        )
    page.reload()
    _open_columns(page)
    page.get_by_test_id("column-toggle-tags").click()
    _close_columns(page)
    rows = page.get_by_test_id("profile-row")
    expect(rows).to_have_count(3)

    rows.nth(0).get_by_test_id("row-select").click()
    rows.nth(2).get_by_test_id("row-select").click()
    expect(page.get_by_test_id("selection-label")).to_have_text("2 selected")
    page.get_by_test_id("bulk-tags-add").click()
    expect(page.get_by_test_id("bulk-dialog")).to_be_visible()
    page.get_by_test_id("bulk-apply").click()
    expect(page.get_by_test_id("bulk-result")).to_have_text(
        "Tag vip added to 2 profiles."
    )
    expect(rows.nth(0)).to_contain_text("vip")
    expect(rows.nth(1)).not_to_contain_text("vip")
    expect(rows.nth(2)).to_contain_text("vip")

    page.get_by_test_id("bulk-undo").click()
    expect(page.get_by_test_id("bulk-result")).to_have_text("Undone on 2 profiles.")
    for index in range(3):
        expect(rows.nth(index)).not_to_contain_text("vip")


def test_tag_filter_narrows_rows(page: Page, app_url: str) -> None:
    owner = sign_up(page, app_url, "tagfilter")
    workspace_id = _workspace_id(owner)
    _, ids = _seed(workspace_id, [1, 2, 3])
    with tenant_connection(workspace_id) as conn:
        tag_id = conn.execute(
            text(
                "INSERT INTO tags (workspace_id, name) VALUES (:ws, 'churn risk')"
                " RETURNING id"
            ),
            {"ws": workspace_id},
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO profile_tags (workspace_id, profile_id, tag_id)"
                " VALUES (:ws, :p, :t)"
            ),
            {"ws": workspace_id, "p": ids[1], "t": tag_id},
        )
    page.reload()
    rows = page.get_by_test_id("profile-row")
    expect(rows).to_have_count(3)
    page.get_by_test_id("tag-filter").click()
    page.get_by_role("option", name="churn risk").click()
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_contain_text("person1@example.com")
    expect(page).to_have_url(re.compile(rf"tag={tag_id}"))
    page.reload()
    expect(rows).to_have_count(1)
    expect(page.get_by_test_id("profiles-total")).to_have_text("1 profile")

    page.get_by_test_id("tag-filter").click()
    page.get_by_role("option", name="All tags").click()
    expect(rows).to_have_count(3)


def test_bulk_set_field_then_undo(page: Page, app_url: str) -> None:
    owner = sign_up(page, app_url, "setfield")
    score_column, _ = _seed(_workspace_id(owner), [1, 2])
    page.reload()
    _open_columns(page)
    page.get_by_test_id(f"column-toggle-{score_column}").click()
    _close_columns(page)
    rows = page.get_by_test_id("profile-row")
    score_cells = rows.locator("td:last-child")
    expect(score_cells).to_have_text(["1", "2"])

    rows.nth(1).get_by_test_id("row-select").click()
    page.get_by_test_id("bulk-field-set").click()
    page.get_by_test_id("bulk-field-value").fill("42.5")
    page.get_by_test_id("bulk-apply").click()
    expect(page.get_by_test_id("bulk-result")).to_have_text("Score set on 1 profile.")
    expect(score_cells).to_have_text(["1", "42.5"])

    page.get_by_test_id("bulk-undo").click()
    expect(page.get_by_test_id("bulk-result")).to_have_text("Undone on 1 profile.")
    expect(score_cells).to_have_text(["1", "2"])


def test_bulk_set_field_rejects_invalid_value(page: Page, app_url: str) -> None:
    owner = sign_up(page, app_url, "setinvalid")
    workspace_id = _workspace_id(owner)
    score_column, ids = _seed(workspace_id, [1, 2])
    with tenant_connection(workspace_id) as conn:
        conn.execute(text("UPDATE custom_fields SET rules = '{\"max\": 100}'::jsonb"))
    page.reload()
    _open_columns(page)
    page.get_by_test_id(f"column-toggle-{score_column}").click()
    _close_columns(page)
    rows = page.get_by_test_id("profile-row")
    score_cells = rows.locator("td:last-child")
    expect(score_cells).to_have_text(["1", "2"])

    rows.nth(1).get_by_test_id("row-select").click()
    page.get_by_test_id("bulk-field-set").click()
    page.get_by_test_id("bulk-field-value").fill("150")
    page.get_by_test_id("bulk-apply").click()
    error = page.get_by_test_id("bulk-field-error")
    expect(error).to_contain_text("150")
    expect(error).to_contain_text("100")
    expect(error).not_to_contain_text("BulkError")
    expect(page.get_by_test_id("bulk-dialog")).to_be_visible()
    expect(page.get_by_test_id("bulk-progress")).to_have_count(0)

    page.get_by_test_id("bulk-field-value").fill("abc")
    expect(error).to_have_count(0)
    page.get_by_test_id("bulk-apply").click()
    expect(error).to_contain_text("not a number")
    expect(page.get_by_test_id("bulk-dialog")).to_be_visible()
    expect(score_cells).to_have_text(["1", "2"])

    page.get_by_test_id("bulk-field-value").fill("50")
    page.get_by_test_id("bulk-apply").click()
    expect(page.get_by_test_id("bulk-result")).to_have_text("Score set on 1 profile.")
    expect(score_cells).to_have_text(["1", "50"])

    # A later edit of the profile blocks the undo, so the Undo button goes away.
    with tenant_connection(workspace_id) as conn:
        conn.execute(
            text("UPDATE profiles SET updated_at = now() WHERE id = ANY(:ids)"),
            {"ids": ids},
        )
    page.get_by_test_id("bulk-undo").click()
    expect(page.get_by_text("can no longer be undone")).to_be_visible()
    expect(page.get_by_text("BulkError")).to_have_count(0)
    expect(page.get_by_test_id("bulk-undo")).to_have_count(0)
    expect(score_cells).to_have_text(["1", "50"])


def test_bulk_delete_needs_confirmation(page: Page, app_url: str) -> None:
    owner = sign_up(page, app_url, "delete")
    _seed(_workspace_id(owner), [1, 2, 3])
    page.reload()
    rows = page.get_by_test_id("profile-row")
    expect(rows).to_have_count(3)
    page.get_by_test_id("page-select").click()
    expect(page.get_by_test_id("selection-label")).to_have_text("3 selected")
    page.get_by_test_id("bulk-delete").click()
    expect(page.get_by_test_id("bulk-apply")).to_be_disabled()
    page.get_by_test_id("bulk-delete-confirmation").fill("delete 3 profiles")
    expect(page.get_by_test_id("bulk-apply")).to_be_enabled()
    page.get_by_test_id("bulk-apply").click()
    expect(page.get_by_test_id("bulk-result")).to_have_text("3 profiles deleted.")
    expect(page.get_by_test_id("profiles-empty")).to_be_visible()
