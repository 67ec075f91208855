"""Editor texts, parsing and history rows of the profile pages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ceramic_app.fields.typed import ConversionError
from ceramic_app.fields.validation import FieldDef
from ceramic_app.models import FieldType
from ceramic_app.profiles.service import HistoryEntry
from ceramic_app.state import profile_view as view


def _field(key: str, field_type: FieldType, **changes: object) -> FieldDef:
    values: dict[str, object] = {
        "id": 1,
        "key": key,
        "label": key.title(),
        "description": "",
        "type": field_type,
        "rules": {},
        "expression": None,
        "status": "active",
        "position": 0,
    }
    values.update(changes)
    return FieldDef(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field_type", "value", "text"),
    [
        ("text", "gold", "gold"),
        ("number", 3.0, "3"),
        ("number", 2.5, "2.5"),
        ("boolean", False, "false"),
        ("date", "2024-03-31", "2024-03-31"),
        ("array", ["a", "b"], "a, b"),
        ("json", {"a": 1}, '{\n  "a": 1\n}'),
        ("text", None, ""),
    ],
)
def test_editor_text_round_trip(field_type: str, value: object, text: str) -> None:
    assert view.editor_text(field_type, value) == text
    assert view.parse_input(field_type, text) == value


@pytest.mark.parametrize(
    ("field_type", "text"),
    [
        ("number", "abc"),
        ("date", "31/12/2024"),
        ("json", "{oops"),
        ("boolean", "maybe"),
    ],
)
def test_parse_input_rejects(field_type: str, text: str) -> None:
    with pytest.raises(ConversionError):
        view.parse_input(field_type, text)


def test_value_rows() -> None:
    definitions = [
        _field("seats", FieldType.NUMBER, rules={"required": True, "max": 9}),
        _field("vip", FieldType.BOOLEAN),
        _field("tags_list", FieldType.ARRAY),
        _field("double", FieldType.NUMBER, expression="seats * 2"),
        _field("old", FieldType.TEXT, status="deleting"),
    ]
    rows = view.value_rows(definitions, {"seats": 4, "vip": True, "tags_list": ["x"]})
    by_key = {row.key: row for row in rows}
    assert by_key["seats"].display == "4"
    assert by_key["seats"].required
    assert by_key["seats"].rules_summary == "required · ≤ 9"
    assert by_key["vip"].checked
    assert by_key["vip"].display == "Yes"
    assert by_key["tags_list"].chips == ["x"]
    assert by_key["double"].calculated
    assert not by_key["double"].editable
    assert not by_key["double"].has_value
    assert not by_key["old"].editable


def test_refresh_values() -> None:
    rows = view.value_rows([_field("seats", FieldType.NUMBER)], {"seats": 4})
    (row,) = view.refresh_values(rows, {})
    assert not row.has_value
    assert row.display == ""


def test_input_rows_put_required_first() -> None:
    definitions = [
        _field("plan", FieldType.TEXT),
        _field("seats", FieldType.NUMBER, rules={"required": True}),
        _field("double", FieldType.NUMBER, expression="seats * 2"),
    ]
    assert [row.key for row in view.input_rows(definitions)] == ["seats", "plan"]


def test_history_rows() -> None:
    entry = HistoryEntry(
        change_id=5,
        at=datetime(2024, 5, 1, 12, tzinfo=UTC),
        actor_type="user",
        actor_id=2,
        actor_label="Ada Admin <ada@example.com>",
        source="import",
        key="seats",
        before=None,
        after=[],
    )
    (row,) = view.history_rows([entry], {"seats": "Seats"})
    assert row.actor == "Ada Admin"
    assert row.actor_detail == "ada@example.com"
    assert row.source == "Import"
    assert row.field == "Seats"
    assert row.before == "(empty)"
    assert row.after == "(none)"


def test_split_actor_without_email() -> None:
    assert view.split_actor("field job", "system") == ("field job", "")
    assert view.split_actor("", "import_job") == ("Import", "")


def test_as_sentence() -> None:
    assert view.as_sentence("'x' is not a number") == "'x' is not a number."
    assert view.as_sentence("seats is required.") == "Seats is required."
