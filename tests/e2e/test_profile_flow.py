"""Browser flows of one profile: create it, edit it, see its history and live changes."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from ceramic_app.fields import service as fields
from ceramic_app.models import Role
from ceramic_app.profiles import service as profiles
from tests.e2e.flows import sign_in, sign_out
from tests.e2e.workspace_setup import (
    add_member,
    create_account,
    principal_for,
    signed_in_account,
)

pytestmark = pytest.mark.e2e


def test_member_fixes_invalid_value(page: Page, app_url: str) -> None:
    owner = signed_in_account(page, app_url, "editor")
    admin = principal_for(owner.email)
    fields.create_field(
        admin, key="seats", label="Seats", field_type="number", rules={"max": 500}
    )
    profile = profiles.create_profile(
        admin, email="customer@example.com", attributes={"seats": 3}
    )
    member_email = add_member(owner)
    sign_out(page)
    sign_in(page, app_url, member_email)

    page.goto(f"{app_url}/profiles/{profile.id}")
    expect(page.get_by_test_id("profile-email")).to_have_text("customer@example.com")
    expect(page.get_by_test_id("value-seats")).to_have_text("3")
    page.get_by_test_id("edit-seats").click()
    editor = page.get_by_test_id("value-editor")
    editor.fill("lots")
    page.get_by_test_id("value-save").click()
    expect(page.get_by_test_id("value-error")).to_contain_text("is not a number")
    editor.fill("900")
    page.get_by_test_id("value-save").click()
    expect(page.get_by_test_id("value-error")).to_contain_text("maximum 500")
    editor.fill("42")
    page.get_by_test_id("value-save").click()
    expect(page.get_by_test_id("value-editor")).to_have_count(0)
    expect(page.get_by_test_id("value-seats")).to_have_text("42")

    page.get_by_test_id("tab-history").click()
    change = page.get_by_test_id("history-row").filter(has_text="Seats").first
    expect(change).to_contain_text("3")
    expect(change).to_contain_text("42")
    expect(change).to_contain_text(member_email)
    assert profiles.get_profile(admin, profile.id).attributes["seats"] == 42


def test_create_profile_from_form(page: Page, app_url: str) -> None:
    owner = signed_in_account(page, app_url, "creator")
    admin = principal_for(owner.email)
    fields.create_field(
        admin,
        key="plan",
        label="Plan",
        field_type="text",
        rules={"required": True, "allowed": ["gold", "silver"]},
    )
    fields.create_field(admin, key="seats", label="Seats", field_type="number")
    page.goto(f"{app_url}/profiles")
    page.get_by_test_id("new-profile").click()
    page.get_by_test_id("new-profile-email").fill("not-an-address")
    page.get_by_test_id("new-profile-plan").locator("input").fill("bronze")
    page.get_by_test_id("new-profile-seats").locator("input").fill("lots")
    page.get_by_test_id("new-profile-create").click()
    # A value that does not parse and rule violations are reported together.
    errors = page.get_by_test_id("new-profile-error")
    expect(errors.filter(has_text="not a valid e-mail")).to_have_count(1)
    expect(errors.filter(has_text="not an allowed value")).to_have_count(1)
    expect(errors.filter(has_text="not a number")).to_have_count(1)
    expect(page.get_by_test_id("new-profile-error-summary")).to_have_text(
        "3 values need fixing; see the messages above."
    )
    page.get_by_test_id("new-profile-seats").locator("input").fill("")

    page.get_by_test_id("new-profile-email").fill("new.customer@example.com")
    page.get_by_test_id("new-profile-plan").locator("input").fill("gold")
    page.get_by_test_id("new-profile-create").click()
    page.wait_for_url(re.compile(r".*/profiles/\d+$"))
    expect(page.get_by_test_id("profile-email")).to_have_text(
        "new.customer@example.com"
    )
    expect(page.get_by_test_id("value-plan")).to_have_text("gold")


def test_profile_refreshes_on_outside_change(page: Page, app_url: str) -> None:
    owner = signed_in_account(page, app_url, "live")
    admin = principal_for(owner.email)
    fields.create_field(admin, key="city", label="City", field_type="text")
    profile = profiles.create_profile(
        admin, email="mover@example.com", attributes={"city": "Lyon"}
    )
    page.goto(f"{app_url}/profiles/{profile.id}")
    expect(page.get_by_test_id("value-city")).to_have_text("Lyon")
    # Let the page's live listener subscribe before the change is published.
    page.wait_for_timeout(1_000)

    profiles.update_profile(
        admin, profile.id, {"city": "Nantes"}, expected_updated_at=profile.updated_at
    )

    expect(page.get_by_test_id("value-city")).to_have_text("Nantes", timeout=3_000)


def test_stale_edit_reports_conflict(page: Page, app_url: str) -> None:
    owner = signed_in_account(page, app_url, "conflict")
    admin = principal_for(owner.email)
    fields.create_field(admin, key="city", label="City", field_type="text")
    profile = profiles.create_profile(
        admin, email="mover@example.com", attributes={"city": "Lyon"}
    )
    page.goto(f"{app_url}/profiles/{profile.id}")
    page.get_by_test_id("edit-city").click()
    profiles.update_profile(
        admin, profile.id, {"city": "Nantes"}, expected_updated_at=profile.updated_at
    )
    page.get_by_test_id("value-editor").fill("Paris")
    page.get_by_test_id("value-save").click()

    expect(page.get_by_test_id("profile-notice")).to_contain_text(
        "Someone else changed this profile"
    )
    expect(page.get_by_test_id("value-city")).to_have_text("Nantes")
    assert profiles.get_profile(admin, profile.id).attributes["city"] == "Nantes"


def test_unknown_profile_shows_not_found(page: Page, app_url: str) -> None:
    other = principal_for(create_account("other").email)
    foreign = profiles.create_profile(other, email="theirs@example.com")
    signed_in_account(page, app_url, "mine")
    for path in ("999999999", "not-a-number", str(foreign.id)):
        page.goto(f"{app_url}/profiles/{path}")
        expect(page.get_by_test_id("profile-not-found")).to_be_visible()
        expect(page.get_by_test_id("profile-email")).to_have_count(0)


def test_viewer_sees_profile_read_only(page: Page, app_url: str) -> None:
    owner = signed_in_account(page, app_url, "reader")
    admin = principal_for(owner.email)
    fields.create_field(admin, key="city", label="City", field_type="text")
    profile = profiles.create_profile(
        admin, email="read@example.com", attributes={"city": "Lyon"}
    )
    viewer_email = add_member(owner, Role.VIEWER)
    sign_out(page)
    sign_in(page, app_url, viewer_email)
    page.goto(f"{app_url}/profiles/{profile.id}")
    expect(page.get_by_test_id("value-city")).to_have_text("Lyon")
    expect(page.get_by_test_id("read-only")).to_be_visible()
    expect(page.get_by_test_id("edit-city")).to_have_count(0)
    expect(page.get_by_test_id("edit-email")).to_have_count(0)
    expect(page.get_by_test_id("add-tag")).to_have_count(0)
    page.goto(f"{app_url}/profiles")
    expect(page.get_by_test_id("profile-row")).to_have_count(1)
    expect(page.get_by_test_id("new-profile")).to_have_count(0)
    expect(page.get_by_test_id("open-import")).to_have_count(0)
    expect(page.get_by_test_id("row-select")).to_have_count(0)
    page.goto(f"{app_url}/imports/new")
    expect(page.get_by_test_id("import-viewer-notice")).to_be_visible()


def test_date_edit_keeps_value_until_cleared(page: Page, app_url: str) -> None:
    owner = signed_in_account(page, app_url, "dates")
    admin = principal_for(owner.email)
    fields.create_field(admin, key="renewal", label="Renewal", field_type="date")
    fields.create_field(admin, key="nickname", label="Nickname", field_type="text")
    profile = profiles.create_profile(
        admin, email="dated@example.com", attributes={"renewal": "2022-02-02"}
    )
    page.goto(f"{app_url}/profiles/{profile.id}")

    # The browser reports a half-typed date as empty: saving it must not clear.
    page.get_by_test_id("edit-renewal").click()
    page.get_by_test_id("value-editor").fill("")
    page.get_by_test_id("value-save").click()
    expect(page.get_by_test_id("value-error")).to_contain_text("incomplete")
    assert profiles.get_profile(admin, profile.id).attributes["renewal"] == "2022-02-02"

    page.get_by_test_id("value-clear").click()
    expect(page.get_by_test_id("value-editor")).to_have_count(0)
    expect(page.get_by_test_id("value-renewal")).to_contain_text("Empty")
    assert "renewal" not in profiles.get_profile(admin, profile.id).attributes

    page.get_by_test_id("edit-nickname").click()
    page.get_by_test_id("value-editor").fill("Dee")
    page.get_by_test_id("value-editor").press("Enter")
    expect(page.get_by_test_id("value-editor")).to_have_count(0)
    expect(page.get_by_test_id("value-nickname")).to_have_text("Dee")
