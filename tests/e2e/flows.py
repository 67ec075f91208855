"""Steps that several browser flows share: accounts and navigation."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from playwright.sync_api import Page, expect

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Account:
    """Credentials of an account a flow created."""

    name: str
    email: str
    workspace: str


def sign_up(page: Page, base_url: str, label: str = "qa") -> Account:
    """Create a new account and workspace through the sign-up form."""
    tag = secrets.token_hex(4)
    account = Account(
        name=f"QA {label} {tag}",
        email=f"{label}-{tag}@example.com",
        workspace=f"QA {label} {tag}",
    )
    page.goto(f"{base_url}/signup")
    page.get_by_test_id("name-input").fill(account.name)
    page.get_by_test_id("email-input").fill(account.email)
    page.get_by_test_id("password-input").fill(PASSWORD)
    page.get_by_test_id("workspace-input").fill(account.workspace)
    page.get_by_test_id("sign-up").click()
    page.wait_for_url("**/profiles**")
    expect(page.get_by_test_id("workspace-name")).to_have_text(account.workspace)
    return account


def sign_in(page: Page, base_url: str, email: str, password: str = PASSWORD) -> None:
    """Sign in through the form and wait for the profiles page."""
    page.goto(f"{base_url}/login")
    page.get_by_test_id("email-input").fill(email)
    page.get_by_test_id("password-input").fill(password)
    page.get_by_test_id("sign-in").click()
    page.wait_for_url("**/profiles**")


def sign_out(page: Page) -> None:
    """Sign out from the sidebar and wait for the sign-in page."""
    page.get_by_test_id("sign-out").click()
    page.wait_for_url("**/login**")
