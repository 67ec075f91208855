"""Browser flows of the import wizard, from upload to report, and tenant isolation.

These flows use only the UI, so they also run against a deployed instance
(E2E_BASE_URL); the files they upload are generated on the test machine.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import IMPORT_CASES
from tests.e2e.flows import sign_out, sign_up

pytestmark = pytest.mark.e2e

IMPORT_TIMEOUT = 180_000


def _write_csv(path: Path, rows: int, bad_every: int = 0) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Email", "Custom ID", "First Name", "Plan", "Score"])
        for n in range(1, rows + 1):
            email = (
                f"bad-{n}"
                if bad_every and n % bad_every == 0
                else f"person{n}@example.com"
            )
            writer.writerow(
                [email, f"ID-{n:06d}", f"Person {n}", ("free", "pro")[n % 2], n % 97]
            )
    return path


def upload(page: Page, base_url: str, path: Path) -> None:
    """Open the wizard and upload a file; wait for the preview."""
    page.goto(f"{base_url}/imports/new")
    expect(page.get_by_test_id("import-dropzone")).to_be_visible()
    page.locator("input[type=file]").set_input_files(str(path))
    expect(page.get_by_test_id("preview-table")).to_be_visible(timeout=60_000)


def validate_with_defaults(page: Page) -> None:
    """Go from the preview through mapping and options to the validation report."""
    page.get_by_test_id("to-mapping").click()
    expect(page.get_by_test_id("mapping-table")).to_be_visible()
    page.get_by_test_id("to-options").click()
    page.get_by_test_id("start-validation").click()
    expect(page.get_by_test_id("start-import")).to_be_visible(timeout=IMPORT_TIMEOUT)


def test_import_browse_search_and_isolation(
    page: Page, app_url: str, tmp_path: Path
) -> None:
    sign_up(page, app_url, "importer")
    upload(page, app_url, _write_csv(tmp_path / "customers.csv", 320, bad_every=40))
    expect(page.get_by_test_id("preview-row")).to_have_count(20)
    validate_with_defaults(page)
    expect(page.get_by_test_id("count-created")).to_have_text("312")
    expect(page.get_by_test_id("count-rejected")).to_have_text("8")

    page.get_by_test_id("start-import").click()
    expect(page.get_by_test_id("import-done")).to_be_visible(timeout=IMPORT_TIMEOUT)
    expect(page.get_by_test_id("import-progress-percent")).to_have_text("100%")
    expect(page.get_by_test_id("import-progress-label")).to_contain_text(
        "320 of 320 rows"
    )
    expect(page.get_by_test_id("count-created")).to_have_text("312")
    expect(page.get_by_test_id("error-table-row").first).to_contain_text("bad-40")

    page.get_by_test_id("view-profiles").click()
    page.wait_for_url("**/profiles**")
    expect(page.get_by_test_id("profile-row")).to_have_count(50)
    expect(page.get_by_test_id("profiles-total")).to_have_text("312 profiles")
    page.get_by_test_id("profiles-search").fill("person123@")
    expect(page.get_by_test_id("profile-row")).to_have_count(1)
    expect(page.get_by_test_id("profile-row")).to_contain_text("person123@example.com")

    sign_out(page)
    sign_up(page, app_url, "neighbour")
    expect(page.get_by_test_id("profiles-empty")).to_be_visible()
    page.goto(f"{app_url}/profiles?q=person123")
    expect(page.get_by_test_id("profile-row")).to_have_count(0)
    page.goto(f"{app_url}/imports")
    expect(page.get_by_test_id("history-row")).to_have_count(0)


def test_wizard_fix_mapping_and_download_errors(page: Page, app_url: str) -> None:
    sign_up(page, app_url, "dates")
    upload(page, app_url, IMPORT_CASES / "18_ambiguous_dates.csv")
    page.get_by_test_id("to-mapping").click()
    problems = page.get_by_test_id("mapping-problems")
    expect(problems).to_contain_text("choose the date format")

    rows = page.get_by_test_id("mapping-row")
    signup = rows.filter(has_text="signup_date").first
    if signup.get_by_test_id("date-format-select").count() == 0:
        # Mixed spellings make the column read as text; the user knows better.
        signup.get_by_test_id("new-type-select").click()
        page.get_by_role("option", name="date", exact=True).click()
    for name in ("birthday", "signup_date"):
        row = rows.filter(has_text=name).first
        row.get_by_test_id("date-format-select").click()
        page.get_by_role("option", name="DD/MM/YYYY").click()
    expect(problems).to_have_count(0)

    page.get_by_test_id("to-options").click()
    page.get_by_test_id("start-validation").click()
    expect(page.get_by_test_id("start-import")).to_be_visible(timeout=IMPORT_TIMEOUT)
    expect(page.get_by_test_id("count-created")).to_have_text("3")
    expect(page.get_by_test_id("count-rejected")).to_have_text("3")
    expect(page.get_by_test_id("error-table")).to_contain_text("04/13/1990")

    page.get_by_test_id("start-import").click()
    expect(page.get_by_test_id("import-done")).to_be_visible(timeout=IMPORT_TIMEOUT)
    with page.expect_download() as download_info:
        page.get_by_test_id("download-errors").click()
    download = download_info.value
    assert download.suggested_filename.endswith("-rejected-rows.csv")
    with open(download.path(), newline="", encoding="utf-8-sig") as handle:
        records = list(csv.DictReader(handle))
    assert [r["line"] for r in records] == ["4", "5", "6"]
    assert all(r["reason"] for r in records)
    assert records[0]["email"] == "cleo.marsh@example.net"


def test_cancel_running_import(page: Page, app_url: str, tmp_path: Path) -> None:
    sign_up(page, app_url, "cancel")
    upload(page, app_url, _write_csv(tmp_path / "large.csv", 400_000))
    validate_with_defaults(page)
    page.get_by_test_id("start-import").click()
    expect(page.get_by_test_id("cancel")).to_be_visible()
    page.get_by_test_id("cancel").click()
    expect(page.get_by_test_id("import-cancelled")).to_be_visible(
        timeout=IMPORT_TIMEOUT
    )
    expect(page.get_by_test_id("job-status")).to_have_text("cancelled")
    label = page.get_by_test_id("import-progress-label").inner_text()
    done = int(re.sub(r"[^0-9]", "", label.split(" of ")[0]))
    assert done < 400_000
    page.goto(f"{app_url}/imports")
    expect(page.get_by_test_id("history-row").first).to_contain_text("cancelled")
