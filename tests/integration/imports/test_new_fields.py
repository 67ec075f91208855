"""Custom fields that an import creates: who may create them and their audit entries."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from ceramic_app.db import tenant_connection
from ceramic_app.imports import service
from ceramic_app.models import Role
from tests.integration.imports.support import add_field, prepare, wait_for
from tests.integration.imports.test_cases import field_keys

MEMBER_REJECTION = (
    "Only admins can create fields: map column 'nickname' to an existing field"
    " or skip it."
)


def _write(tmp_path, name: str = "people.csv"):
    path = tmp_path / name
    path.write_text(
        "email,nickname,score\r\nana@example.com,Ana,3\r\nben@example.org,Benny,4\r\n",
        encoding="utf-8",
    )
    return path


def _new_field(column: dict, key: str, type_: str = "text") -> None:
    column.update(target="new_field", key=key, label=key, type=type_)


def test_member_proposal_skips_new_fields(make_principal, tmp_path):
    admin = make_principal()
    member = make_principal(Role.MEMBER, workspace_id=admin.workspace_id)
    job = service.create_import(member, "people.csv", _write(tmp_path))
    proposal = service.propose_mapping_for(member, job["id"])
    nickname = next(
        c for c in proposal["mapping"]["columns"] if c["source"] == "nickname"
    )
    assert nickname["target"] == "skip"
    assert "Only admins can create fields" in nickname["notes"][0]
    assert proposal["problems"] == []


def test_member_new_field_rejected(make_principal, tmp_path):
    admin = make_principal()
    member = make_principal(Role.MEMBER, workspace_id=admin.workspace_id)
    job = service.create_import(member, "people.csv", _write(tmp_path))
    proposal = service.propose_mapping_for(member, job["id"])
    mapping = proposal["mapping"]
    nickname = next(c for c in mapping["columns"] if c["source"] == "nickname")
    _new_field(nickname, "nickname")
    problems = service.save_mapping(member, job["id"], mapping, proposal["options"])
    assert problems == [MEMBER_REJECTION]
    with pytest.raises(service.ImportRequestError) as raised:
        service.start_import(member, job["id"])
    assert MEMBER_REJECTION in str(raised.value)
    assert service.get_import(member, job["id"])["status"] == "draft"
    with pytest.raises(service.ImportRequestError):
        service.start_validation(member, job["id"])
    assert "nickname" not in field_keys(admin)


def test_member_maps_existing_field(make_principal, tmp_path):
    admin = make_principal()
    member = make_principal(Role.MEMBER, workspace_id=admin.workspace_id)
    add_field(admin, "nickname", "text")
    job = service.create_import(member, "people.csv", _write(tmp_path))
    proposal = service.propose_mapping_for(member, job["id"])
    nickname = next(
        c for c in proposal["mapping"]["columns"] if c["source"] == "nickname"
    )
    assert nickname["target"] == "field"
    problems = service.save_mapping(
        member, job["id"], proposal["mapping"], proposal["options"]
    )
    assert problems == []


def test_admin_new_field_accepted(principal, tmp_path):
    job = service.create_import(principal, "people.csv", _write(tmp_path))
    proposal = service.propose_mapping_for(principal, job["id"])
    nickname = next(
        c for c in proposal["mapping"]["columns"] if c["source"] == "nickname"
    )
    assert nickname["target"] == "new_field"
    problems = service.save_mapping(
        principal, job["id"], proposal["mapping"], proposal["options"]
    )
    assert problems == []


def _field_audit(principal) -> list:
    with tenant_connection(principal.workspace_id) as conn:
        return conn.execute(
            text(
                "SELECT actor_type, actor_id, actor_label, entity_id, after, meta"
                " FROM audit_log WHERE action = 'field.create' ORDER BY id"
            )
        ).all()


def test_created_fields_audited(principal, worker, tmp_path):
    job_id, _ = prepare(principal, _write(tmp_path), types={"score": "number"})
    service.start_import(principal, job_id)
    job = wait_for(principal, job_id, worker=worker)
    assert job["status"] == "completed", job["error_message"]
    with tenant_connection(principal.workspace_id) as conn:
        ids = dict(conn.execute(text("SELECT key, id FROM custom_fields")).all())
    entries = _field_audit(principal)
    assert [e.after["key"] for e in entries] == ["nickname", "score"]
    for entry in entries:
        assert entry.actor_type == "user"
        assert entry.actor_id == principal.user_id
        assert entry.actor_label == principal.actor_label
        assert entry.entity_id == str(ids[entry.after["key"]])
        assert entry.meta == {"import_job": job_id, "file": "people.csv"}
    assert entries[1].after["type"] == "number"


def test_existing_field_not_audited_again(principal, worker, tmp_path):
    add_field(principal, "nickname", "text")
    job_id, _ = prepare(principal, _write(tmp_path), types={"score": "number"})
    service.start_import(principal, job_id)
    job = wait_for(principal, job_id, worker=worker)
    assert job["status"] == "completed", job["error_message"]
    assert [e.after["key"] for e in _field_audit(principal)] == ["score"]
