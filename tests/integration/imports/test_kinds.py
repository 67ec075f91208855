"""Each kind of fault beyond its one case file: encodings, delimiters, line
endings, JSON Lines, limits, conflicts, rules, tags and modes, through the job."""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

import pytest
from sqlalchemy import text

from ceramic_app.db import tenant_connection
from ceramic_app.imports import service
from tests.integration.imports.support import (
    add_field,
    add_profile,
    counts,
    prepare,
    profiles,
    run_file,
)

TEXT = "email,first_name,city\r\nines@example.com,Inês,São Brás\r\nzoe@example.org,Zoë,Malmö\r\n"


def summary(created=0, updated=0, merged=0, skipped=0, rejected=0) -> dict[str, int]:
    return {
        "created": created,
        "updated": updated,
        "merged": merged,
        "skipped": skipped,
        "rejected": rejected,
    }


def errors(job) -> dict[str, str]:
    with open(job["error_file_path"], encoding="utf-8", newline="") as handle:
        return {row["line"]: row["reason"] for row in csv.DictReader(handle)}


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("cp1252", b""),
        ("utf-16-be", codecs.BOM_UTF16_BE),
        ("utf-16-le", b""),
        ("utf-8", codecs.BOM_UTF8),
    ],
)
def test_encodings_import(principal, worker, tmp_path, encoding, bom):
    path = tmp_path / "contacts.csv"
    path.write_bytes(bom + TEXT.encode(encoding))
    job = run_file(principal, path, worker=worker)
    assert counts(job) == summary(created=2)
    stored = profiles(principal)
    assert stored["ines@example.com"]["attributes"] == {
        "first_name": "Inês",
        "city": "São Brás",
    }
    assert stored["zoe@example.org"]["attributes"]["city"] == "Malmö"


@pytest.mark.parametrize(
    ("delimiter", "name"), [("|", "f.csv"), ("\t", "f.tsv"), (";", "f.txt")]
)
def test_delimiters_import(principal, worker, tmp_path, delimiter, name):
    path = tmp_path / name
    path.write_text(TEXT.replace(",", delimiter), encoding="utf-8")
    job = run_file(principal, path, worker=worker)
    assert job["source"]["delimiter"] == delimiter
    assert counts(job) == summary(created=2)


def test_cr_only_line_endings(principal, worker, tmp_path):
    path = tmp_path / "mac.csv"
    path.write_bytes(
        b'email,notes\ra@example.com,"two\rlines"\r\rbad-address,x\rc@example.com,z'
    )
    job = run_file(principal, path, worker=worker)
    assert job["source"]["line_ending"] == "cr"
    assert counts(job) == summary(created=2, skipped=1, rejected=1)
    assert list(errors(job)) == ["5"]
    assert profiles(principal)["a@example.com"]["attributes"]["notes"] == "two\rlines"


def test_json_lines_import(principal, worker, tmp_path):
    path = tmp_path / "contacts.jsonl"
    path.write_text(
        '{"email": "a@example.com", "first_name": "Ann", "age": 31}\n'
        '{"email": "b@example.com", "first_name": null}\n'
        '{"first_name": "No Email"}\n',
        encoding="utf-8",
    )
    job = run_file(principal, path, worker=worker, types={"age": "number"})
    assert counts(job) == summary(created=2, rejected=1)
    stored = profiles(principal)
    assert stored["a@example.com"]["attributes"] == {"first_name": "Ann", "age": 31}
    assert stored["b@example.com"]["attributes"] == {}
    assert list(errors(job)) == ["3"]


def test_over_long_value_rejected_with_limit(principal, worker, tmp_path):
    path = tmp_path / "long.csv"
    path.write_text(
        "email,notes\r\na@example.com," + "x" * 10_001 + "\r\nb@example.com,short\r\n",
        encoding="utf-8",
    )
    job = run_file(principal, path, worker=worker)
    assert counts(job) == summary(created=1, rejected=1)
    assert (
        errors(job)["2"]
        == "notes: the value is longer than the limit of 10,000 characters"
    )


def test_custom_id_conflicts_reject_rows_not_batch(principal, worker, tmp_path):
    add_profile(principal, "owner@example.com", {}, custom_id="C-1")
    path = tmp_path / "ids.csv"
    path.write_text(
        "email,custom_id\r\n"
        "thief@example.com,C-1\r\n"
        "first@example.com,C-2\r\n"
        "second@example.com,C-2\r\n"
        "first@example.com,C-2\r\n"
        "owner@example.com,C-1\r\n",
        encoding="utf-8",
    )
    job = run_file(principal, path, worker=worker)
    assert counts(job) == summary(created=1, updated=1, merged=1, rejected=2)
    reasons = errors(job)
    assert reasons["2"] == (
        "custom_id: 'C-1' already belongs to another profile (owner@example.com)"
    )
    assert (
        reasons["4"] == "custom_id: 'C-2' is already used by another e-mail on line 3"
    )
    stored = profiles(principal)
    assert stored["first@example.com"]["custom_id"] == "C-2"
    assert "thief@example.com" not in stored


def test_field_rules_enforced(principal, worker, tmp_path):
    add_field(principal, "code", "text", {"pattern": "[A-Z]{3}", "required": True})
    add_field(principal, "age", "number", {"min": 0, "max": 130})
    add_field(principal, "plan", "text", {"allowed": ["free", "pro"]})
    add_field(principal, "nick", "text", {"unique": True, "max_length": 5})
    add_profile(principal, "stored@example.com", {"nick": "ace", "code": "AAA"})
    path = tmp_path / "rules.csv"
    path.write_text(
        "email,code,age,plan,nick\r\n"
        "ok@example.com,ABC,30,pro,bee\r\n"
        "lower@example.com,abc,30,pro,\r\n"
        "old@example.com,ABC,131,free,\r\n"
        "plan@example.com,ABC,1,gold,\r\n"
        "long@example.com,ABC,1,free,toolong\r\n"
        "taken@example.com,ABC,1,free,ace\r\n"
        "dup@example.com,ABC,1,free,bee\r\n"
        "nocode@example.com,,1,free,\r\n"
        "stored@example.com,,5,free,\r\n",
        encoding="utf-8",
    )
    job = run_file(principal, path, worker=worker)
    reasons = errors(job)
    assert counts(job) == summary(created=1, updated=1, rejected=7)
    assert reasons["3"] == "code: does not match the pattern [A-Z]{3}"
    assert reasons["4"] == "age: 131 is greater than the maximum 130"
    assert reasons["5"] == "plan: 'gold' is not one of: free, pro"
    assert reasons["6"] == "nick: is longer than the max length of 5 characters"
    assert (
        reasons["7"]
        == "nick: 'ace' already belongs to another profile (stored@example.com)"
    )
    assert reasons["8"] == "nick: 'bee' is already used by another e-mail on line 2"
    assert reasons["9"] == "code: a value is required"
    assert profiles(principal)["stored@example.com"]["attributes"]["age"] == 5


def test_calculated_field_mapping_rejected(principal, tmp_path):
    add_field(principal, "total", "number", expression="a + b")
    path = tmp_path / "calc.csv"
    path.write_text("email,total\r\na@example.com,5\r\n", encoding="utf-8")
    job = service.create_import(principal, "calc.csv", path)
    mapping = {
        "columns": [
            {"index": 0, "target": "email"},
            {"index": 1, "target": "field", "key": "total"},
        ]
    }
    problems = service.save_mapping(principal, job["id"], mapping, {})
    assert problems == [
        "column 2 ('total'): field 'total' is calculated (read-only); map the column"
        " to skip or to another field."
    ]
    with pytest.raises(service.ImportRequestError, match="calculated"):
        service.start_import(principal, job["id"])


def test_tags_created_and_linked(principal, worker, tmp_path):
    with tenant_connection(principal.workspace_id) as conn:
        conn.execute(
            text("INSERT INTO tags (workspace_id, name) VALUES (:ws, 'VIP')"),
            {"ws": principal.workspace_id},
        )
    path = tmp_path / "tags.csv"
    path.write_text(
        'email,Tags\r\na@example.com,"vip, beta"\r\nb@example.com,beta\r\n'
        'a@example.com,"new"\r\nc@example.com,' + "t" * 65 + "\r\n",
        encoding="utf-8",
    )
    job = run_file(principal, path, worker=worker)
    assert counts(job) == summary(created=2, merged=1, rejected=1)
    with tenant_connection(principal.workspace_id) as conn:
        names = sorted(
            conn.execute(text("SELECT name FROM tags")).scalars(), key=str.lower
        )
        links = conn.execute(
            text(
                "SELECT p.email_key, t.name FROM profile_tags pt"
                " JOIN profiles p ON p.id = pt.profile_id"
                " JOIN tags t ON t.id = pt.tag_id"
            )
        ).all()
    links = sorted(links, key=lambda r: (r[0], r[1].lower()))
    assert names == ["beta", "new", "VIP"]
    assert links == [
        ("a@example.com", "beta"),
        ("a@example.com", "new"),
        ("a@example.com", "VIP"),
        ("b@example.com", "beta"),
    ]
    assert "longer than 64 characters" in errors(job)["5"]


@pytest.mark.parametrize(
    ("mode", "expected", "emails"),
    [
        (
            "create",
            summary(created=1, skipped=1),
            {"old@example.com", "new@example.com"},
        ),
        ("update", summary(updated=1, skipped=1), {"old@example.com"}),
        (
            "upsert",
            summary(created=1, updated=1),
            {"old@example.com", "new@example.com"},
        ),
    ],
)
def test_modes(principal, worker, tmp_path, mode, expected, emails):
    add_profile(principal, "old@example.com", {"city": "Before"})
    path = tmp_path / "mode.csv"
    path.write_text(
        "email,city\r\nold@example.com,After\r\nnew@example.com,Here\r\n",
        encoding="utf-8",
    )
    job = run_file(principal, path, worker=worker, options={"mode": mode})
    assert counts(job) == expected
    stored = profiles(principal)
    assert set(stored) == emails
    after = "Before" if mode == "create" else "After"
    assert stored["old@example.com"]["attributes"]["city"] == after


def test_decimal_comma_option(principal, worker, tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text(
        "email;price\r\na@example.com;1,5\r\nb@example.com;1.234,75\r\n",
        encoding="utf-8",
    )
    job_id, proposal = prepare(principal, path)
    price = next(c for c in proposal["mapping"]["columns"] if c["source"] == "price")
    assert price["type"] == "number"
    assert proposal["options"]["decimal"] == "comma"
    service.start_import(principal, job_id)
    from tests.integration.imports.support import wait_for

    job = wait_for(principal, job_id, worker=worker)
    assert counts(job) == summary(created=2)
    stored = profiles(principal)
    assert stored["a@example.com"]["attributes"]["price"] == 1.5
    assert stored["b@example.com"]["attributes"]["price"] == 1234.75


def test_decimal_comma_rejected_without_option(principal, worker, tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text(
        'email,price\r\na@example.com,"1,5"\r\nb@example.com,2\r\n', encoding="utf-8"
    )
    job = run_file(
        principal,
        path,
        worker=worker,
        types={"price": "number"},
        options={"decimal": "point"},
    )
    assert counts(job) == summary(created=1, rejected=1)
    assert "the decimal separator is '.'" in errors(job)["2"]


def test_history_for_updates_only(principal, worker, tmp_path):
    add_profile(principal, "old@example.com", {"city": "Before", "plan": "free"})
    path = tmp_path / "h.csv"
    path.write_text(
        "email,city,plan\r\nold@example.com,After,free\r\nnew@example.com,Here,pro\r\n",
        encoding="utf-8",
    )
    job = run_file(principal, path, worker=worker)
    with tenant_connection(principal.workspace_id) as conn:
        rows = conn.execute(
            text(
                "SELECT actor_type, actor_id, actor_label, source, changes FROM profile_changes"
            )
        ).all()
    assert len(rows) == 1
    actor_type, actor_id, label, source, changes = rows[0]
    assert (actor_type, actor_id, source) == ("import_job", job["id"], "import")
    assert label == f"import #{job['id']} (h.csv)"
    assert changes == {"city": ["Before", "After"]}


def test_unchanged_rows_skip_write(principal, worker, tmp_path):
    path = tmp_path / "same.csv"
    path.write_text("email,city\r\na@example.com,X\r\n", encoding="utf-8")
    run_file(principal, path, worker=worker)
    with tenant_connection(principal.workspace_id) as conn:
        before = conn.execute(text("SELECT updated_at, xmin::text FROM profiles")).one()
    again = run_file(principal, path, worker=worker)
    assert counts(again) == summary(updated=1)
    assert again["report"]["counts"]["unchanged"] == 1
    with tenant_connection(principal.workspace_id) as conn:
        after = conn.execute(text("SELECT updated_at, xmin::text FROM profiles")).one()
        history = conn.execute(
            text("SELECT count(*) FROM profile_changes")
        ).scalar_one()
    assert after == before
    assert history == 0


def test_upload_over_limit_rejected(principal, tmp_path, monkeypatch):
    from ceramic_app.settings import get_settings

    monkeypatch.setattr(get_settings(), "max_upload_bytes", 20)
    path = tmp_path / "big.csv"
    path.write_text("email\r\n" + "a@example.com\r\n" * 5, encoding="utf-8")
    with pytest.raises(service.ImportRequestError, match="the limit is 20 bytes"):
        service.create_import(principal, "big.csv", path)


def test_binary_file_rejected_at_file_level(principal, tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(bytes(range(256)) * 4)
    job = service.create_import(principal, "photo.csv", Path(path))
    assert job["status"] in ("draft", "rejected")


def test_custom_id_taken_during_batch_retried(principal, tmp_path, monkeypatch):
    # Simulates a custom_id stored by another writer after the reader thread
    # looked: the upsert hits the unique index, and the batch is redone with
    # the check inside its transaction.
    from ceramic_app.imports import engine

    monkeypatch.setattr(engine, "stored_holders", lambda *args: {})
    add_profile(principal, "owner@example.com", {}, custom_id="C-1")
    path = tmp_path / "race.csv"
    path.write_text(
        "email,custom_id\r\nthief@example.com,C-1\r\nfine@example.com,C-2\r\n",
        encoding="utf-8",
    )
    job_id, _ = prepare(principal, path)
    service.start_import(principal, job_id, enqueue=False)
    assert engine.run_import(principal.workspace_id, job_id) == "completed"
    job = service.get_import(principal, job_id)
    assert counts(job) == summary(created=1, rejected=1)
    assert errors(job)["2"] == (
        "custom_id: 'C-1' already belongs to another profile (owner@example.com)"
    )


def cities_and_tags(principal) -> list[tuple]:
    """Return (email_key, city, tag name) of every profile, by e-mail."""
    with tenant_connection(principal.workspace_id) as conn:
        rows = conn.execute(
            text(
                "SELECT p.email_key, p.attributes ->> 'city', t.name FROM profiles p"
                " LEFT JOIN profile_tags pt ON pt.profile_id = p.id"
                " LEFT JOIN tags t ON t.id = pt.tag_id ORDER BY 1"
            )
        ).all()
    return [tuple(r) for r in rows]


@pytest.fixture
def two_record_batches(monkeypatch):
    """Make imports write batches of two records, with no smaller first batches."""
    from ceramic_app.imports import engine
    from ceramic_app.settings import get_settings

    monkeypatch.setattr(get_settings(), "import_batch_rows", 2)
    monkeypatch.setattr(engine, "RAMP_UP_ROWS", ())


def test_stored_email_copied_as_new_is_redone(principal, tmp_path):
    # The import starts without looking up stored e-mails, so a stored one
    # is first copied as a new profile. The unique index stops the COPY and
    # the batch is redone through the staging table, which updates that
    # profile and still creates and tags the new one.
    from ceramic_app.imports import engine

    add_field(principal, "city", "text")
    add_profile(principal, "late@example.com", {"city": "Oslo"})
    path = tmp_path / "race.csv"
    path.write_text(
        "email,city,Tags\r\nlate@example.com,Bergen,vip\r\nnew@example.com,Turku,vip\r\n",
        encoding="utf-8",
    )
    job_id, _ = prepare(principal, path)
    service.start_import(principal, job_id, enqueue=False)
    assert engine.run_import(principal.workspace_id, job_id) == "completed"
    job = service.get_import(principal, job_id)
    assert counts(job) == summary(created=1, updated=1)
    assert cities_and_tags(principal) == [
        ("late@example.com", "Bergen", "vip"),
        ("new@example.com", "Turku", "vip"),
    ]


def test_new_and_stored_profiles_in_one_batch(principal, worker, tmp_path):
    # New rows are copied straight into profiles, stored ones are staged and
    # upserted; both get their tags and required-field checks.
    add_field(principal, "city", "text", rules={"required": True})
    add_profile(principal, "old@example.com", {"city": "Oslo"})
    path = tmp_path / "mixed.csv"
    path.write_text(
        "email,city,Tags\r\nold@example.com,,gold\r\nnew@example.com,Turku,gold\r\n"
        "nocity@example.com,,gold\r\n",
        encoding="utf-8",
    )
    job = run_file(principal, path, worker=worker)
    assert counts(job) == summary(created=1, updated=1, rejected=1)
    assert errors(job)["4"] == "city: a value is required"
    assert cities_and_tags(principal) == [
        ("new@example.com", "Turku", "gold"),
        ("old@example.com", "Oslo", "gold"),
    ]


def test_stored_keys_found_without_lookups(principal, tmp_path, two_record_batches):
    # An import starts without stored lookups. The first batch that contains
    # a stored e-mail or custom_id is redone with them, and so are later
    # batches, so each outcome matches a run that looked up from the start.
    from ceramic_app.imports import engine

    add_field(principal, "city", "text")
    add_profile(principal, "old1@example.com", {"city": "Oslo"})
    add_profile(principal, "owner@example.com", {"city": "Rome"}, custom_id="C-1")
    path = tmp_path / "mixed.csv"
    path.write_text(
        "email,custom_id,city\r\n"
        "new1@example.com,,Turku\r\n"
        "new2@example.com,,Turku\r\n"
        "thief@example.com,C-1,Turku\r\n"
        "owner@example.com,C-1,Pisa\r\n"
        "old1@example.com,,Bergen\r\n"
        "new3@example.com,,Turku\r\n",
        encoding="utf-8",
    )
    job_id, _ = prepare(principal, path)
    service.start_import(principal, job_id, enqueue=False)
    assert engine.run_import(principal.workspace_id, job_id) == "completed"
    job = service.get_import(principal, job_id)
    assert counts(job) == summary(created=3, updated=2, rejected=1)
    assert errors(job) == {
        "4": "custom_id: 'C-1' already belongs to another profile (owner@example.com)"
    }
    stored = {
        key: (row["custom_id"], row["attributes"]["city"])
        for key, row in profiles(principal).items()
    }
    assert stored == {
        "new1@example.com": (None, "Turku"),
        "new2@example.com": (None, "Turku"),
        "new3@example.com": (None, "Turku"),
        "old1@example.com": (None, "Bergen"),
        "owner@example.com": ("C-1", "Pisa"),
    }


class _Crash(BaseException):
    """Stops an import between batches, as a killed worker would."""


@pytest.mark.parametrize(
    ("mode", "rows", "expected", "stored"),
    [
        (
            "create",
            "old@example.com,Early\r\nn1@example.com,A\r\nn2@example.com,B\r\n"
            "n3@example.com,C\r\nold@example.com,Late\r\nn1@example.com,A2\r\n",
            summary(created=3, merged=1, skipped=2),
            {"old@example.com": "Stored", "n1@example.com": "A2"},
        ),
        (
            "update",
            "old@example.com,X\r\nghost@example.com,G1\r\nn2@example.com,B\r\n"
            "n3@example.com,C\r\nghost@example.com,G2\r\nold@example.com,Y\r\n",
            summary(updated=1, merged=1, skipped=4),
            {"old@example.com": "Y"},
        ),
    ],
)
def test_resumed_import_keeps_mode_skips(
    principal, tmp_path, monkeypatch, two_record_batches, mode, rows, expected, stored
):
    # A record the mode skipped before a crash must still be skipped when a
    # later record with its e-mail comes after the resume.
    from ceramic_app.imports import engine

    add_field(principal, "city", "text")
    add_profile(principal, "old@example.com", {"city": "Stored"})
    path = tmp_path / f"{mode}.csv"
    path.write_text("email,city\r\n" + rows, encoding="utf-8")
    job_id, _ = prepare(principal, path, options={"mode": mode})
    service.start_import(principal, job_id, enqueue=False)
    finish_batch = engine.ImportRun._after_batch

    def crash_after_two_batches(run, done, last):
        finish_batch(run, done, last)
        if done >= 4:
            raise _Crash

    monkeypatch.setattr(engine.ImportRun, "_after_batch", crash_after_two_batches)
    with pytest.raises(_Crash):
        engine.run_import(principal.workspace_id, job_id)
    monkeypatch.setattr(engine.ImportRun, "_after_batch", finish_batch)
    with tenant_connection(principal.workspace_id) as conn:
        conn.execute(
            text("UPDATE import_jobs SET status = 'queued' WHERE id = :id"),
            {"id": job_id},
        )
    assert engine.run_import(principal.workspace_id, job_id) == "completed"
    job = service.get_import(principal, job_id)
    assert job["records_done"] == 6
    assert counts(job) == expected
    cities = {
        key: row["attributes"].get("city") for key, row in profiles(principal).items()
    }
    for key, city in stored.items():
        assert cities[key] == city
    assert "ghost@example.com" not in cities


def test_validation_predicts_later_duplicate_merge(
    principal, tmp_path, two_record_batches
):
    # A later record that repeats a new profile's e-mail with a required
    # field empty merges into it. The validation pass rolls the first
    # record back, and must still predict the merge, not a rejection.
    from ceramic_app.imports import engine

    add_field(principal, "city", "text", rules={"required": True})
    path = tmp_path / "later.csv"
    path.write_text(
        "email,city\r\nn1@example.com,A\r\nn2@example.com,B\r\nn1@example.com,\r\n",
        encoding="utf-8",
    )
    job_id, _ = prepare(principal, path)
    service.start_validation(principal, job_id, enqueue=False)
    assert engine.run_validation(principal.workspace_id, job_id) == "validated"
    predicted = service.get_import(principal, job_id)["validation"]["summary"]
    assert predicted == summary(created=2, merged=1)
    service.start_import(principal, job_id, enqueue=False)
    assert engine.run_import(principal.workspace_id, job_id) == "completed"
    assert counts(service.get_import(principal, job_id)) == predicted
