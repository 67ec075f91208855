"""Rule forms, summaries and job rows of the Fields page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ceramic_app.field_jobs import KIND_CONVERT, KIND_DELETE, FieldJob
from ceramic_app.fields.errors import FieldError
from ceramic_app.state import field_view as view


def _job(**changes: object) -> FieldJob:
    values: dict[str, object] = {
        "id": 7,
        "kind": KIND_DELETE,
        "field_id": 3,
        "new_type": None,
        "status": "running",
        "done": 5_000,
        "total": 20_000,
        "error": None,
        "created_at": datetime(2024, 1, 1, tzinfo=UTC),
        "stale": False,
        "result": {},
    }
    values.update(changes)
    return FieldJob(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field_type", "rules"),
    [
        ("text", {"required": True, "min_length": 2, "max_length": 9, "pattern": "^a"}),
        ("text", {"unique": True, "allowed": ["gold", "silver"]}),
        ("number", {"min": 1, "max": 2.5, "allowed": [1, 2]}),
        ("date", {"min": "2024-01-01", "max": "2024-12-31", "unique": True}),
        ("array", {"min_length": 1, "allowed": ["a", "b"]}),
        ("boolean", {"required": True}),
        ("json", {}),
    ],
)
def test_rules_form_round_trip(field_type: str, rules: dict) -> None:
    form = view.rules_to_form(field_type, rules)
    assert view.rules_from_form(field_type, form) == rules


def test_rules_form_ignores_hidden_inputs() -> None:
    form = {"required": True, "min": "3", "pattern": "x", "min_length": "2"}
    assert view.rules_from_form("number", form) == {"required": True, "min": 3}
    assert view.rules_from_form("boolean", form) == {"required": True}


@pytest.mark.parametrize(
    ("field_type", "form", "message"),
    [
        ("number", {"min": "ten"}, "Minimum"),
        ("date", {"max": "31/12/2024"}, "Maximum"),
        ("text", {"max_length": "-1"}, "Maximum length"),
        ("number", {"allowed": "1\ntwo"}, "Allowed values"),
    ],
)
def test_rules_form_rejects_bad_input(
    field_type: str, form: dict, message: str
) -> None:
    with pytest.raises(FieldError, match=message):
        view.rules_from_form(field_type, form)


def test_rules_summary() -> None:
    summary = view.rules_summary(
        "number", {"required": True, "min": 1, "max": 100, "allowed": [1, 2, 3]}
    )
    assert summary == "required · 1 – 100 · 3 allowed values"
    assert view.rules_summary("array", {"max_length": 3}) == "at most 3 items"
    assert view.rules_summary("text", {}) == ""


def test_count_label() -> None:
    assert view.count_label(1_234, 5_000, False) == "1,234 of 5,000 (25%)"
    assert view.count_label(3, 1_000, True) == "≈ 3 of 1,000 (<1%)"
    assert view.count_label(0, 0, False) == "No profiles yet"


def test_format_value() -> None:
    assert view.format_value("gold") == "gold"
    assert view.format_value(3.0) == "3"
    assert view.format_value(True) == "true"
    assert view.format_value({"a": [1, 2]}) == '{"a": [1, 2]}'
    assert view.format_value(None) == "—"
    assert view.format_value("x" * 100, limit=10) == "x" * 9 + "…"


def test_running_job_shows_progress() -> None:
    row = view.apply_job(view.FieldRow(id=3, label="Plan"), _job())
    assert row.job_running
    assert not row.job_failed
    assert row.job_id == 7
    assert row.job_percent == 25
    assert row.job_label == "Deleting values · 5,000 of 20,000 profiles"


def test_stale_job_shows_stopped() -> None:
    row = view.apply_job(
        view.FieldRow(id=3), _job(kind=KIND_CONVERT, new_type="number", stale=True)
    )
    assert not row.job_running
    assert row.job_failed
    assert row.job_label == "Converting to number stopped"
    assert "stopped before it finished" in row.job_error


def test_completed_job_clears_row() -> None:
    busy = view.apply_job(view.FieldRow(id=3), _job())
    row = view.apply_job(busy, _job(status="completed"))
    assert row.job_id == 0
    assert not row.job_running
    assert not row.job_failed


def test_job_outcome_messages() -> None:
    done = _job(
        status="completed",
        kind=KIND_CONVERT,
        new_type="number",
        result={"converted": 1_200, "removed": 3},
    )
    assert view.job_outcome(done, "Score") == (
        True,
        "Score is now number: 1,200 values converted, 3 removed.",
    )
    failed = _job(status="failed", error="boom")
    assert view.job_outcome(failed, "Plan") == (False, "The job for Plan failed: boom")


def test_progress_without_total() -> None:
    assert view.progress_percent(10, None) == 0
    assert (
        view.progress_label("Deleting values", 0, None) == "Deleting values · starting"
    )
