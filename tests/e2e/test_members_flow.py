"""Browser flow of Settings > Members: add, sign in as the new member, change role, remove."""

from __future__ import annotations

import secrets

from playwright.sync_api import Page, expect

from tests.e2e.flows import sign_in, sign_out
from tests.e2e.workspace_setup import signed_in_account


def test_admin_manages_members(page: Page, app_url: str) -> None:
    owner = signed_in_account(page, app_url, "members")
    page.get_by_test_id("nav-members").click()
    page.wait_for_url("**/settings/members")
    expect(page.get_by_test_id("member-row")).to_have_count(1)

    email = f"teammate-{secrets.token_hex(4)}@example.com"
    page.get_by_test_id("member-email-input").fill(email)
    page.get_by_test_id("member-name-input").fill("Team Mate")
    page.get_by_test_id("member-add").click()
    expect(page.get_by_test_id("member-password-notice")).to_contain_text(email)
    password = page.get_by_test_id("member-password").inner_text().strip()
    assert len(password) >= 10
    new_row = page.get_by_test_id("member-row").filter(has_text=email)
    expect(new_row.get_by_test_id("member-role")).to_contain_text("member")
    page.get_by_test_id("member-password-done").click()
    expect(page.get_by_test_id("member-password-notice")).to_have_count(0)

    page.get_by_test_id("member-email-input").fill(email)
    page.get_by_test_id("member-add").click()
    expect(page.get_by_test_id("member-add-error")).to_contain_text("already a member")

    sign_out(page)
    sign_in(page, app_url, email, password)
    expect(page.get_by_test_id("user-role")).to_have_text("member")
    expect(page.get_by_test_id("nav-members")).to_have_count(0)
    page.goto(f"{app_url}/settings/members")
    page.wait_for_url("**/profiles")
    expect(page.get_by_test_id("members-table")).to_have_count(0)
    sign_out(page)

    sign_in(page, app_url, owner.email)
    page.goto(f"{app_url}/settings/members")
    row = page.get_by_test_id("member-row").filter(has_text=email)
    row.get_by_test_id("member-role").click()
    page.get_by_role("option", name="viewer", exact=True).click()
    expect(row.get_by_test_id("member-role")).to_contain_text("viewer")

    row.get_by_test_id("member-remove").click()
    page.get_by_test_id("member-remove-confirm").click()
    expect(page.get_by_test_id("member-row").filter(has_text=email)).to_have_count(0)
    expect(page.get_by_test_id("member-row")).to_have_count(1)

    page.goto(f"{app_url}/audit")
    expect(page.get_by_text("membership.delete")).to_be_visible()
    expect(page.get_by_text("membership.update")).to_be_visible()
