"""The `ceramic` command: import, dry run, rejection exit code, demo, db upgrade."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from sqlalchemy import text

from ceramic_app import cli
from ceramic_app.accounts import service as accounts
from ceramic_app.db import tenant_connection
from ceramic_app.queues import get_queue
from ceramic_app.settings import PROJECT_ROOT
from tests.conftest import IMPORT_CASES
from tests.integration.imports.support import (
    add_field,
    add_profile,
    profiles,
    stale_search_documents,
)


def ceramic(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ceramic_app.cli", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_cli_import_prints_report(principal):
    result = ceramic(
        "import",
        str(IMPORT_CASES / "14_invalid_emails.csv"),
        "--workspace",
        principal.workspace_slug,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "completed" in result.stdout
    assert (
        "line 3: email: 'no-at-sign.example.com' is not a valid e-mail address"
        in result.stdout
    )
    assert len(profiles(principal)) == 3


def test_cli_import_refreshes_search(principal):
    # No worker runs here: the command must write the documents itself.
    result = ceramic(
        "import",
        str(IMPORT_CASES / "05_utf8_multibyte_roundtrip.csv"),
        "--workspace",
        principal.workspace_slug,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with tenant_connection(principal.workspace_id) as conn:
        indexed = conn.execute(
            text("SELECT search_indexed_at FROM import_jobs")
        ).scalar_one()
    assert indexed is not None
    assert len(profiles(principal)) == 4
    assert stale_search_documents(principal) == []


def test_cli_dry_run_writes_nothing(principal):
    result = ceramic(
        "import",
        str(IMPORT_CASES / "13_duplicate_emails_case.csv"),
        "--workspace",
        principal.workspace_slug,
        "--dry-run",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "validated" in result.stdout
    assert profiles(principal) == {}


def test_cli_rejected_file_exits_nonzero(principal, tmp_path):
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"source": {"delimiter": ","}}))
    result = ceramic(
        "import",
        str(IMPORT_CASES / "03_semicolon_excel_eu.csv"),
        "--workspace",
        principal.workspace_slug,
        "--mapping",
        str(mapping),
    )
    assert result.returncode == 1
    assert "seems to use ';' as the delimiter" in result.stdout


def test_cli_all_rows_rejected_exits_nonzero(principal, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("email\r\nnot-an-email\r\n", encoding="utf-8")
    result = ceramic("import", str(path), "--workspace", principal.workspace_slug)
    assert result.returncode == 1, result.stdout


def test_cli_demo_is_idempotent(database):
    first = ceramic("demo", timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Created demo@example.com with password" in first.stdout
    password = first.stdout.split("password ")[1].split()[0]
    user_id, workspace_id = accounts.authenticate("demo@example.com", password)
    assert user_id
    second = ceramic("demo", timeout=600)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "already exists" in second.stdout
    with tenant_connection(workspace_id) as conn:
        total = conn.execute(text("SELECT count(*) FROM profiles")).scalar_one()
        types = dict(conn.execute(text("SELECT key, type FROM custom_fields")).all())
        jobs = conn.execute(text("SELECT status FROM import_jobs")).scalars().all()
    assert total == 10_000
    assert jobs == ["completed", "completed"]
    assert types["lifetime_value"] == "number"
    assert types["signup_date"] == "date"
    assert types["newsletter_opt_in"] == "boolean"
    assert types["phone"] == "text"


def test_cli_db_upgrade(database):
    result = ceramic("db", "upgrade")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "newest schema" in result.stdout


def _ambiguous_date_mapping(tmp_path):
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps(
            {
                "mapping": {
                    "columns": [
                        {"index": 0, "source": "email", "target": "email"},
                        {
                            "index": 1,
                            "source": "birthday",
                            "target": "new_field",
                            "key": "birthday",
                            "type": "date",
                        },
                    ]
                }
            }
        )
    )
    return mapping


def _field_keys(principal) -> set[str]:
    with tenant_connection(principal.workspace_id) as conn:
        return set(conn.execute(text("SELECT key FROM custom_fields")).scalars())


def test_cli_ambiguous_date_blocks_import(principal, tmp_path):
    for extra in ([], ["--dry-run"]):
        result = ceramic(
            "import",
            str(IMPORT_CASES / "18_ambiguous_dates.csv"),
            "--workspace",
            principal.workspace_slug,
            "--mapping",
            str(_ambiguous_date_mapping(tmp_path)),
            *extra,
        )
        assert result.returncode == 1, result.stdout + result.stderr
        assert "choose the date format of field 'birthday'" in result.stdout
        assert "DD/MM/YYYY or MM/DD/YYYY" in result.stdout
        assert profiles(principal) == {}
        assert "birthday" not in _field_keys(principal)


def test_cli_chosen_date_format_imports(principal, tmp_path):
    spec = json.loads(_ambiguous_date_mapping(tmp_path).read_text())
    spec["options"] = {"date_formats": {"birthday": "DD/MM/YYYY"}}
    mapping = tmp_path / "chosen.json"
    mapping.write_text(json.dumps(spec))
    result = ceramic(
        "import",
        str(IMPORT_CASES / "18_ambiguous_dates.csv"),
        "--workspace",
        principal.workspace_slug,
        "--mapping",
        str(mapping),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    stored = profiles(principal)
    assert stored["ana.pereira@example.com"]["attributes"] == {"birthday": "1990-04-03"}


def _add_full_name_fields(principal) -> None:
    add_field(principal, "first_name", "text")
    add_field(principal, "last_name", "text")
    add_field(principal, "full_name", "text", expression="first_name + ' ' + last_name")


def test_cli_import_recomputes_calculated_fields(principal, redis_client, tmp_path):
    _add_full_name_fields(principal)
    add_profile(
        principal,
        "kept@example.com",
        {"first_name": "Ana", "last_name": "Old", "full_name": "Ana Old"},
    )
    path = tmp_path / "names.csv"
    path.write_text(
        "email,first_name,last_name\n"
        "kept@example.com,Ana,Pereira\n"
        "new@example.com,Ben,Okafor\n"
    )
    get_queue().remove(f"sort-indexes-{principal.workspace_id}")

    cli.import_file(
        file=path, workspace=principal.workspace_slug, mapping=None, dry_run=False
    )

    stored = profiles(principal)
    assert stored["kept@example.com"]["attributes"]["full_name"] == "Ana Pereira"
    assert stored["new@example.com"]["attributes"]["full_name"] == "Ben Okafor"
    sync = get_queue().fetch_job(f"sort-indexes-{principal.workspace_id}")
    assert sync is not None


def test_cli_dry_run_skips_recompute(principal, redis_client, tmp_path):
    _add_full_name_fields(principal)
    add_profile(
        principal,
        "kept@example.com",
        {"first_name": "Ana", "last_name": "Old", "full_name": "Stale"},
    )
    path = tmp_path / "names.csv"
    path.write_text("email,first_name,last_name\nkept@example.com,Ana,Pereira\n")

    cli.import_file(
        file=path, workspace=principal.workspace_slug, mapping=None, dry_run=True
    )

    stored = profiles(principal)
    assert stored["kept@example.com"]["attributes"]["full_name"] == "Stale"
    assert get_queue().fetch_job(f"sort-indexes-{principal.workspace_id}") is None
