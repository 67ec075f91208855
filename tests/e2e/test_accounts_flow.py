"""Browser flows for sign-up, sign-in, sign-out and protected pages."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.flows import PASSWORD, sign_in, sign_out, sign_up

pytestmark = pytest.mark.e2e


def test_sign_up_shows_empty_workspace(page: Page, app_url: str) -> None:
    sign_up(page, app_url, "empty")
    expect(page.get_by_test_id("profiles-empty")).to_be_visible()
    expect(page.get_by_test_id("user-role")).to_have_text("admin")


def test_sign_out_then_protected_page_redirects(page: Page, app_url: str) -> None:
    account = sign_up(page, app_url, "signout")
    sign_out(page)
    page.goto(f"{app_url}/profiles")
    page.wait_for_url("**/login**")
    expect(page.get_by_test_id("profiles-table")).to_have_count(0)
    sign_in(page, app_url, account.email)
    expect(page.get_by_test_id("workspace-name")).to_have_text(account.workspace)


def test_wrong_password_shows_error(page: Page, app_url: str) -> None:
    account = sign_up(page, app_url, "wrongpw")
    sign_out(page)
    page.get_by_test_id("email-input").fill(account.email)
    page.get_by_test_id("password-input").fill(PASSWORD + "x")
    page.get_by_test_id("sign-in").click()
    expect(page.get_by_test_id("form-error")).to_have_text(
        "E-mail or password is incorrect."
    )
    expect(page.get_by_test_id("email-input")).to_have_value(account.email)


def test_session_cookie_is_http_only(page: Page, app_url: str) -> None:
    sign_up(page, app_url, "cookie")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["ceramic_session"]["httpOnly"] is True
    assert "ceramic_session" not in page.evaluate("document.cookie")
    storage = page.evaluate(
        "JSON.stringify(Object.assign({}, localStorage, sessionStorage))"
    )
    assert cookies["ceramic_session"]["value"] not in storage
