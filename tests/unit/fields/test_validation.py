"""validate_values() and compute_calculated() on a schema built in memory."""

from __future__ import annotations

from datetime import date

import pytest

from ceramic_app.fields.errors import ValidationFailed
from ceramic_app.fields.expressions import profile_record
from ceramic_app.fields.validation import (
    FieldDef,
    Schema,
    compute_calculated,
    validate_values,
)
from ceramic_app.models import FieldType


def field(
    key: str, field_type: str, rules: dict | None = None, **extra: object
) -> FieldDef:
    """Build a FieldDef with defaults for the columns a test does not care about."""
    return FieldDef(
        id=len(key),
        key=key,
        label=key.title(),
        description="",
        type=FieldType(field_type),
        rules=rules or {},
        expression=extra.get("expression"),  # type: ignore[arg-type]
        status=str(extra.get("status", "active")),
        position=0,
    )


SCHEMA = Schema.from_fields(
    [
        field("plan", "text", {"required": True, "allowed": ["gold", "silver"]}),
        field("seats", "number", {"min": 1}),
        field("signup", "date"),
        field("old", "text", status="deleting"),
        field("busy", "text", status="converting"),
        field("total", "number", expression="seats * 2"),
        field("doubled", "number", expression="total * 2"),
    ]
)


def test_valid_values_pass() -> None:
    values = {"plan": "gold", "seats": 2, "signup": "2024-01-01"}
    assert validate_values(SCHEMA, values, partial=False) == values


def test_none_means_remove() -> None:
    assert validate_values(SCHEMA, {"seats": None}, partial=True) == {"seats": None}


@pytest.mark.parametrize(
    ("values", "key", "fragment"),
    [
        ({"plan": None}, "plan", "Plan is required"),
        ({"plan": "bronze"}, "plan", "not an allowed value"),
        ({"seats": 0}, "seats", "less than the minimum"),
        ({"seats": True}, "seats", "not a number"),
        ({"signup": "2024-13-01"}, "signup", "YYYY-MM-DD"),
        ({"email": "x@example.com"}, "email", "built-in"),
        ({"nope": 1}, "nope", "no field with key 'nope'"),
        ({"old": "x"}, "old", "being deleted"),
        ({"busy": "x"}, "busy", "being converted"),
        ({"total": 3}, "total", "cannot be set"),
    ],
)
def test_rejections(values: dict, key: str, fragment: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_values(SCHEMA, values, partial=True)
    assert fragment in caught.value.errors[key]


def test_required_on_create_only() -> None:
    assert validate_values(SCHEMA, {"seats": 2}, partial=True) == {"seats": 2}
    with pytest.raises(ValidationFailed) as caught:
        validate_values(SCHEMA, {"seats": 2}, partial=False)
    assert list(caught.value.errors) == ["plan"]


def test_all_errors_reported_together() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_values(SCHEMA, {"plan": "x", "seats": -1}, partial=True)
    assert set(caught.value.errors) == {"plan", "seats"}
    assert "plan:" in str(caught.value)


def test_calculated_in_dependency_order() -> None:
    assert SCHEMA.order == ("total", "doubled")
    record = profile_record({"seats": 3})
    assert compute_calculated(SCHEMA, record, date(2024, 1, 1)) == {
        "total": 6,
        "doubled": 12,
    }
    assert compute_calculated(SCHEMA, profile_record({}), date(2024, 1, 1)) == {
        "total": None,
        "doubled": None,
    }


def test_broken_expression_skipped() -> None:
    schema = Schema.from_fields(
        [field("total", "number", expression="missing * 2"), field("seats", "number")]
    )
    assert schema.expressions == {}
    assert schema.order == ()
