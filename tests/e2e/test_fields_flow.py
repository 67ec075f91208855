"""Browser flows of Settings > Fields and templates, and who may reach them."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import text

from ceramic_app import live
from ceramic_app.db import tenant_connection
from ceramic_app.fields import service as fields
from tests.e2e.flows import sign_in, sign_out
from tests.e2e.workspace_setup import add_member, principal_for, signed_in_account

pytestmark = pytest.mark.e2e


def _create_text_field(page: Page, label: str, key: str) -> None:
    page.get_by_test_id("new-field").click()
    page.get_by_test_id("field-label-input").fill(label)
    expect(page.get_by_test_id("field-key-input")).to_have_value(key)
    page.get_by_test_id("field-save").click()
    expect(page.get_by_test_id("field-dialog")).to_have_count(0)
    expect(page.get_by_test_id(f"field-row-{key}")).to_be_visible()


def _create_template(page: Page, name: str, content: str) -> None:
    page.get_by_test_id("new-template").click()
    page.get_by_test_id("template-name").fill(name)
    page.get_by_test_id("block-content").first.fill(content)
    page.get_by_test_id("template-save").click()
    expect(page.get_by_test_id("template-item").filter(has_text=name)).to_be_visible()


def test_delete_field_used_in_template(page: Page, app_url: str) -> None:
    signed_in_account(page, app_url, "fields")
    page.goto(f"{app_url}/settings/fields")
    expect(page.get_by_test_id("field-locked-email")).to_be_visible()
    _create_text_field(page, "Loyalty tier", "loyalty_tier")

    page.goto(f"{app_url}/templates")
    _create_template(page, "Welcome", "Hello, your tier is {{ loyalty_tier }}.")

    page.goto(f"{app_url}/settings/fields")
    page.get_by_test_id("field-actions-loyalty_tier").click()
    page.get_by_test_id("field-menu-delete").click()
    reference = page.get_by_test_id("delete-reference")
    expect(reference).to_have_count(1)
    expect(reference).to_contain_text("Welcome")
    expect(reference).to_contain_text("Body")
    expect(reference).to_contain_text("{{ loyalty_tier }}")
    confirm = page.get_by_test_id("delete-confirm")
    expect(confirm).to_be_disabled()
    page.get_by_test_id("delete-confirm-input").fill("loyalty_tier")
    expect(confirm).to_be_enabled()
    confirm.click()

    expect(page.get_by_test_id("field-row-loyalty_tier")).to_have_count(
        0, timeout=30_000
    )
    page.reload()
    expect(page.get_by_test_id("field-row-email")).to_be_visible()
    expect(page.get_by_test_id("field-row-loyalty_tier")).to_have_count(0)


def test_rule_change_shows_breaking_profiles(page: Page, app_url: str) -> None:
    signed_in_account(page, app_url, "rules")
    page.goto(f"{app_url}/settings/fields")
    _create_text_field(page, "Plan", "plan")
    page.goto(f"{app_url}/profiles")
    page.get_by_test_id("new-profile").click()
    page.get_by_test_id("new-profile-email").fill("rule-breaker@example.com")
    page.get_by_test_id("new-profile-plan").locator("input").fill("platinum")
    page.get_by_test_id("new-profile-create").click()
    page.wait_for_url(re.compile(r".*/profiles/\d+$"))

    page.goto(f"{app_url}/settings/fields")
    page.get_by_test_id("field-actions-plan").click()
    page.get_by_test_id("field-menu-edit").click()
    page.get_by_test_id("rule-allowed").fill("gold\nsilver")
    page.get_by_test_id("field-save").click()
    impact = page.get_by_test_id("rule-impact")
    expect(impact).to_contain_text("1 of 1 stored values break")
    expect(page.get_by_test_id("impact-example")).to_contain_text("platinum")
    expect(page.get_by_test_id("field-save")).to_have_text("Save anyway")
    page.get_by_test_id("field-save").click()
    expect(page.get_by_test_id("field-row-plan")).to_contain_text("2 allowed values")


def test_expression_error_shows_inline(page: Page, app_url: str) -> None:
    signed_in_account(page, app_url, "expr")
    page.goto(f"{app_url}/settings/fields")
    page.get_by_test_id("new-field").click()
    page.get_by_test_id("field-label-input").fill("Score")
    page.get_by_test_id("field-calculated-switch").click()
    page.get_by_test_id("field-expression-input").fill("missing_field * 2")
    expect(page.get_by_test_id("field-expression-error")).to_contain_text(
        "missing_field"
    )


def test_member_cannot_open_field_settings(page: Page, app_url: str) -> None:
    owner = signed_in_account(page, app_url, "owner")
    member_email = add_member(owner)
    sign_out(page)
    sign_in(page, app_url, member_email)
    expect(page.get_by_test_id("user-role")).to_have_text("member")
    expect(page.get_by_test_id("nav-fields")).to_have_count(0)
    expect(page.get_by_test_id("nav-audit-log")).to_have_count(0)

    page.goto(f"{app_url}/settings/fields")
    page.wait_for_url("**/profiles")
    expect(page.get_by_test_id("fields-table")).to_have_count(0)
    page.goto(f"{app_url}/audit")
    page.wait_for_url("**/profiles")
    expect(page.get_by_test_id("audit-table")).to_have_count(0)


def test_job_progress_shows_live(page: Page, app_url: str) -> None:
    owner = signed_in_account(page, app_url, "progress")
    admin = principal_for(owner.email)
    field = fields.create_field(admin, key="plan", label="Plan", field_type="text")
    # A running job row and the events the job runner publishes for it. No
    # worker runs the job, so the bar can only move through these events.
    with tenant_connection(admin.workspace_id) as conn:
        job_id = conn.execute(
            text(
                "INSERT INTO background_jobs (workspace_id, kind, status, params,"
                " progress_total, heartbeat_at) VALUES (:ws, 'field.delete', 'running',"
                " CAST(:params AS jsonb), 10000, now()) RETURNING id"
            ),
            {"ws": admin.workspace_id, "params": json.dumps({"field_id": field.id})},
        ).scalar_one()
    page.goto(f"{app_url}/settings/fields")
    row = page.get_by_test_id("field-row-plan")
    expect(row.get_by_test_id("field-job-progress")).to_be_visible()
    page.wait_for_timeout(1_000)  # let the page's listener subscribe

    live.publish(
        admin.workspace_id, "job.progress", job_id=job_id, done=2500, total=10000
    )
    expect(row).to_contain_text("Deleting values · 2,500 of 10,000 profiles")
    live.publish(
        admin.workspace_id, "job.progress", job_id=job_id, done=7500, total=10000
    )
    expect(row).to_contain_text("7,500 of 10,000 profiles")

    with tenant_connection(admin.workspace_id) as conn:
        conn.execute(
            text("UPDATE background_jobs SET status = 'completed' WHERE id = :id"),
            {"id": job_id},
        )
    live.publish(admin.workspace_id, "job.progress", job_id=job_id, status="completed")
    expect(row.get_by_test_id("field-job-progress")).to_have_count(0)
