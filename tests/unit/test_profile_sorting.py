"""Sort keys, keyset cursors, column lists and cell values, without a database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ceramic_app.profiles import bulk, cells, columns, queries


def _field(field_id: int, key: str, field_type: str) -> columns.Column:
    return columns.Column(
        columns.field_column_id(field_id), key.title(), field_type, key
    )


def test_field_sort_expression_never_null() -> None:
    expression = queries.field_sort_expression("score")
    assert expression == "coalesce(p.attributes -> 'score', 'null'::jsonb)"


def test_field_sort_expression_without_alias() -> None:
    expression = queries.field_sort_expression("score", table_alias="")
    assert expression == "coalesce(attributes -> 'score', 'null'::jsonb)"


@pytest.mark.parametrize(
    "key", ["Score", "1st", "a-b", "a'b", "", "sc ore", "é", "a" * 64]
)
def test_field_sort_expression_rejects_bad_key(key: str) -> None:
    with pytest.raises(queries.InvalidSort):
        queries.field_sort_expression(key)


def test_sort_key_of_number_field_is_jsonb() -> None:
    key = queries.sort_key_for(_field(7, "score", "number"))
    assert key.column_id == "field:7"
    assert key.cursor_type == "jsonb"
    assert "'score'" in key.expression


def test_sort_key_of_dates_is_timestamptz() -> None:
    for column in columns.STANDARD_COLUMNS[2:4]:
        key = queries.sort_key_for(column)
        assert key.cursor_type == "timestamptz"


def test_sort_key_of_custom_id_has_no_null() -> None:
    key = queries.sort_key_for(columns.STANDARD_COLUMNS[1])
    assert key.expression == "coalesce(p.custom_id, '')"


def test_tags_column_cannot_be_sorted() -> None:
    with pytest.raises(queries.InvalidSort):
        queries.sort_key_for(columns.STANDARD_COLUMNS[4])


@pytest.mark.parametrize(
    "value",
    ["null", "12.5", '"2024-01-31"', "", "2024-05-01 10:00:00.123456+00", "ünï"],
)
def test_cursor_round_trip(value: str) -> None:
    cursor = queries.encode_cursor("field:3", value, 42)
    assert "=" not in cursor
    assert queries.decode_cursor(cursor, "field:3") == (value, 42)


def test_cursor_of_other_sort_rejected() -> None:
    cursor = queries.encode_cursor("created_at", "2024-01-01", 1)
    with pytest.raises(queries.InvalidCursor, match="made for sort"):
        queries.decode_cursor(cursor, "updated_at")


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 !",
        "",
        queries.encode_cursor("email", "a", 1)[:-3],
        "WzEsMl0",  # [1,2]: two items
        "WyJlbWFpbCIsMSwxXQ",  # ["email",1,1]: value is not text
        "WyJlbWFpbCIsImEiLCIxIl0",  # ["email","a","1"]: id is not an int
        "WyJlbWFpbCIsImEiLHRydWVd",  # ["email","a",true]: id is a boolean
    ],
)
def test_cursor_garbage_rejected(cursor: str) -> None:
    with pytest.raises(queries.InvalidCursor):
        queries.decode_cursor(cursor, "email")


def test_toggle_column_appends_and_removes() -> None:
    visible = ["email", "custom_id"]
    assert columns.toggle_column(visible, "field:2", True) == [
        "email",
        "custom_id",
        "field:2",
    ]
    assert columns.toggle_column(visible, "email", False) == ["custom_id"]
    assert columns.toggle_column(["email"], "email", False) == ["email"]
    assert columns.toggle_column(visible, "email", True) == ["custom_id", "email"]


def test_move_column_clamps_at_ends() -> None:
    visible = ["a", "b", "c"]
    assert columns.move_column(visible, "b", -1) == ["b", "a", "c"]
    assert columns.move_column(visible, "b", 1) == ["a", "c", "b"]
    assert columns.move_column(visible, "a", -1) == ["a", "b", "c"]
    assert columns.move_column(visible, "c", 1) == ["a", "b", "c"]
    assert columns.move_column(visible, "x", 1) == ["a", "b", "c"]


def test_clean_column_ids_drops_unknown_and_repeats() -> None:
    available = [*columns.STANDARD_COLUMNS, _field(5, "score", "number")]
    requested = ["field:5", "email", "field:9", "email", 3, "tags"]
    assert columns.clean_column_ids(requested, available) == [
        "field:5",
        "email",
        "tags",
    ]


@pytest.mark.parametrize(
    ("value", "field_type", "expected"),
    [
        (None, "text", ""),
        (None, "array", []),
        (True, "boolean", "true"),
        (False, "boolean", "false"),
        (12.5, "number", "12.5"),
        (4095.0, "number", "4095"),
        (7, "number", "7"),
        ("2024-02-29", "date", "2024-02-29"),
        (["a", 1, True], "array", ["a", "1", "true"]),
        ("solo", "array", ["solo"]),
        ({"b": 1}, "json", '{"b": 1}'),
    ],
)
def test_format_value_by_type(value, field_type: str, expected) -> None:
    assert cells.format_value(value, field_type) == expected


def test_format_value_cuts_long_text() -> None:
    shown = cells.format_value("x" * 5000, "text")
    assert len(shown) == cells.MAX_CELL_CHARS
    assert shown.endswith("…")


def test_format_value_cuts_json() -> None:
    shown = cells.format_value({"k": "v" * 1000}, "json")
    assert len(shown) == cells.MAX_JSON_CHARS


def test_format_value_caps_chips() -> None:
    chips = cells.format_value(list(range(30)), "array")
    assert len(chips) == cells.MAX_CHIPS + 1
    assert chips[-1] == "+10"


def test_row_cells_carry_hidden_field_values() -> None:
    now = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    row = queries.ProfileRow(
        id=9,
        email="a@example.com",
        custom_id=None,
        created_at=now,
        updated_at=now,
        attributes={"score": 3, "vip": True},
        tags=["gold"],
    )
    available = [
        *columns.STANDARD_COLUMNS,
        _field(1, "score", "number"),
        _field(2, "vip", "boolean"),
        _field(3, "missing", "date"),
    ]
    shown = cells.row_cells(row, available)
    assert shown["id"] == "9"
    assert shown["custom_id"] == ""
    assert shown["created_at"] == "2024-01-02T03:04:05+00:00"
    assert shown["tags"] == ["gold"]
    assert shown["field:1"] == "3"
    assert shown["field:2"] == "true"
    assert shown["field:3"] == ""


@pytest.mark.parametrize(
    ("field_type", "raw", "expected"),
    [
        ("number", " 12 ", 12),
        ("number", "1,200.5", 1200.5),
        ("number", "3.0", 3.0),
        ("boolean", "Yes", True),
        ("boolean", "false", False),
        ("array", "a, b,,c ", ["a", "b", "c"]),
        ("json", '{"a": [1]}', {"a": [1]}),
        ("text", "  hi ", "hi"),
        ("date", "2024-02-29", "2024-02-29"),
        ("number", "   ", None),
    ],
)
def test_parse_field_input(field_type: str, raw: str, expected) -> None:
    assert bulk.parse_field_input(field_type, raw) == expected


@pytest.mark.parametrize(
    ("field_type", "raw"), [("number", "ten"), ("boolean", "maybe"), ("json", "{")]
)
def test_parse_field_input_rejects(field_type: str, raw: str) -> None:
    with pytest.raises(bulk.BulkError):
        bulk.parse_field_input(field_type, raw)
