"""Field jobs that the Fields page starts, run by a real RQ worker: rows, events, roles."""

from __future__ import annotations

import pytest

from ceramic_app import field_jobs
from ceramic_app.accounts.service import PermissionDenied, Principal
from ceramic_app.fields import service as fields
from ceramic_app.fields.errors import FieldError, NotFound
from ceramic_app.models import FieldType
from ceramic_app.profiles import service as profiles


def _profiles_with(admin: Principal, key: str, values: list[object]) -> list[int]:
    return [
        profiles.create_profile(
            admin, email=f"p{index}@example.com", attributes={key: value}
        ).id
        for index, value in enumerate(values)
    ]


def test_deletion_job_removes_field(
    admin: Principal, wait_for_job, live_recorder
) -> None:
    field = fields.create_field(admin, key="plan", label="Plan", field_type="text")
    ids = _profiles_with(admin, "plan", ["gold", "silver", "gold"])
    recorder = live_recorder(admin)

    job_id = field_jobs.start_field_deletion(admin, field.id)
    job = wait_for_job(admin, job_id)

    assert job.status == "completed"
    assert job.kind == field_jobs.KIND_DELETE
    assert job.field_id == field.id
    assert job.result == {"removed": 3}
    assert job.done == job.total == 3
    with pytest.raises(NotFound):
        fields.get_field(admin, field.id)
    for profile_id in ids:
        assert "plan" not in profiles.get_profile(admin, profile_id).attributes
    events = [e for e in recorder.messages() if e.get("job_id") == job_id]
    running = [e for e in events if e.get("status") == "running"]
    assert running, events
    assert all(e["event"] == "job.progress" for e in events)
    assert running[-1]["total"] == 3
    assert events[-1]["status"] == "completed"


def test_deletion_job_keeps_search_documents(
    admin: Principal, wait_for_job, owner_sql
) -> None:
    field = fields.create_field(admin, key="plan", label="Plan", field_type="text")
    _profiles_with(admin, "plan", ["gold", "silver", "gold"])
    job = wait_for_job(admin, field_jobs.start_field_deletion(admin, field.id))
    assert job.status == "completed"
    stale = owner_sql(
        "SELECT p.id FROM profiles p LEFT JOIN profile_search s"
        "   ON s.workspace_id = p.workspace_id AND s.profile_id = p.id"
        " WHERE p.workspace_id = %s AND s.document IS DISTINCT FROM"
        "   profile_search_vector(p.email_key, p.custom_id, p.attributes)",
        (admin.workspace_id,),
    )
    assert stale == []
    matches = owner_sql(
        "SELECT count(*) FROM profile_search WHERE workspace_id = %s"
        " AND document @@ plainto_tsquery('simple', 'gold')",
        (admin.workspace_id,),
    )
    assert matches == [(0,)]


def test_type_change_job_converts(admin: Principal, wait_for_job) -> None:
    field = fields.create_field(admin, key="score", label="Score", field_type="text")
    first, second = _profiles_with(admin, "score", ["12", "n/a"])

    job_id = field_jobs.start_type_change(admin, field.id, "number")
    assert fields.get_field(admin, field.id).status in ("converting", "active")
    job = wait_for_job(admin, job_id)

    assert job.status == "completed"
    assert job.new_type == "number"
    assert job.result["converted"] == 1
    assert job.result["removed"] == 1
    converted = fields.get_field(admin, field.id)
    assert converted.type is FieldType.NUMBER
    assert converted.status == "active"
    assert profiles.get_profile(admin, first).attributes["score"] == 12
    assert "score" not in profiles.get_profile(admin, second).attributes


def test_recompute_job_fills_values(admin: Principal, wait_for_job) -> None:
    fields.create_field(admin, key="seats", label="Seats", field_type="number")
    (profile_id,) = _profiles_with(admin, "seats", [4])
    doubled = fields.create_field(
        admin, key="double_seats", label="Double seats", expression="seats * 2"
    )

    job = wait_for_job(admin, field_jobs.start_recompute(admin, doubled.id))

    assert job.status == "completed"
    assert profiles.get_profile(admin, profile_id).attributes["double_seats"] == 8


def test_recompute_rejects_entered_field(admin: Principal) -> None:
    field = fields.create_field(admin, key="plan", label="Plan", field_type="text")
    with pytest.raises(FieldError, match="not a calculated field"):
        field_jobs.start_recompute(admin, field.id)


def test_member_cannot_start_jobs(
    admin: Principal, member: Principal, viewer: Principal, owner_sql
) -> None:
    field = fields.create_field(admin, key="plan", label="Plan", field_type="text")
    for principal in (member, viewer):
        with pytest.raises(PermissionDenied):
            field_jobs.start_field_deletion(principal, field.id)
        with pytest.raises(PermissionDenied):
            field_jobs.start_type_change(principal, field.id, "number")
        with pytest.raises(PermissionDenied):
            field_jobs.enqueue_field_job(principal, field_jobs.KIND_DELETE, field.id)
        with pytest.raises(PermissionDenied):
            field_jobs.resume_field_job(principal, field.id)
    assert fields.get_field(admin, field.id).status == "active"
    rows = owner_sql(
        "SELECT count(*) FROM background_jobs WHERE workspace_id = %s",
        (admin.workspace_id,),
    )
    assert rows == [(0,)]


def test_other_workspace_cannot_delete(admin: Principal, outsider: Principal) -> None:
    field = fields.create_field(admin, key="plan", label="Plan", field_type="text")
    with pytest.raises(NotFound):
        field_jobs.start_field_deletion(outsider, field.id)
    assert fields.get_field(admin, field.id).status == "active"


def test_latest_jobs_hides_other_workspace(
    admin: Principal, outsider: Principal, wait_for_job
) -> None:
    field = fields.create_field(admin, key="plan", label="Plan", field_type="text")
    wait_for_job(admin, field_jobs.start_field_deletion(admin, field.id))
    assert field.id in field_jobs.latest_jobs(admin)
    assert field_jobs.latest_jobs(outsider) == {}


def test_stopped_job_can_resume(admin: Principal, owner_sql, wait_for_job) -> None:
    field = fields.create_field(admin, key="plan", label="Plan", field_type="text")
    _profiles_with(admin, "plan", ["gold"])
    fields.begin_field_deletion(admin, field.id, confirm=True)
    # A job whose web process stopped: running, with a heartbeat long ago.
    owner_sql(
        "INSERT INTO background_jobs (workspace_id, kind, status, params, heartbeat_at)"
        " VALUES (%s, 'field.delete', 'running', %s::jsonb, now() - interval '1 hour')",
        (admin.workspace_id, f'{{"field_id": {field.id}}}'),
    )
    stopped = field_jobs.latest_jobs(admin)[field.id]
    assert stopped.stale
    assert not stopped.active

    job = wait_for_job(admin, field_jobs.resume_field_job(admin, field.id))

    assert job.status == "completed"
    assert field_jobs.get_job(admin, stopped.id).status == "failed"
    with pytest.raises(NotFound):
        fields.get_field(admin, field.id)


def test_running_job_cannot_resume(admin: Principal, owner_sql) -> None:
    field = fields.create_field(admin, key="plan", label="Plan", field_type="text")
    owner_sql(
        "INSERT INTO background_jobs (workspace_id, kind, status, params, heartbeat_at)"
        " VALUES (%s, 'field.delete', 'running', %s::jsonb, now())",
        (admin.workspace_id, f'{{"field_id": {field.id}}}'),
    )
    with pytest.raises(FieldError, match="still running"):
        field_jobs.resume_field_job(admin, field.id)


def test_failed_job_records_error(admin: Principal, wait_for_job) -> None:
    field = fields.create_field(admin, key="plan", label="Plan", field_type="text")
    # Deleting values of a field that is not marked 'deleting' fails in the job.
    job = wait_for_job(
        admin, field_jobs.enqueue_field_job(admin, field_jobs.KIND_DELETE, field.id)
    )
    assert job.status == "failed"
    assert "FieldError" in (job.error or "")
    assert "not marked for deletion" in (job.error or "")
    assert fields.get_field(admin, field.id).status == "active"
