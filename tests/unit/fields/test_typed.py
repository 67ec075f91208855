"""Stored value shapes, parsing typed-in text and converting between types."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ceramic_app.fields.typed import (
    ConversionError,
    check_value,
    convert_value,
    format_number,
    number_text,
    parse_text,
)
from ceramic_app.models import FieldType

json_scalars = st.one_of(
    st.text(max_size=20).filter(lambda s: "\x00" not in s),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=10,
)


@pytest.mark.parametrize(
    ("field_type", "value"),
    [
        ("text", "hello"),
        ("number", 3),
        ("number", -2.5),
        ("boolean", False),
        ("date", "2024-02-29"),
        ("array", ["a", "b"]),
        ("json", {"a": [1, None]}),
        ("json", "plain"),
    ],
)
def test_check_value_accepts(field_type: str, value: object) -> None:
    assert check_value(field_type, value) is None


@pytest.mark.parametrize(
    ("field_type", "value", "fragment"),
    [
        ("text", 3, "not text"),
        ("text", "a\x00b", "NUL"),
        ("text", "x" * 10_001, "maximum is 10000"),
        ("number", True, "not a number"),
        ("number", "3", "not a number"),
        ("number", math.inf, "not a number"),
        ("boolean", "true", "not true or false"),
        ("date", "2023-02-29", "YYYY-MM-DD"),
        ("date", "31.03.2024", "YYYY-MM-DD"),
        ("array", "a,b", "not a list"),
        ("array", ["a", 1], "is not text"),
        ("json", math.nan, "not valid JSON"),
        ("json", {"a": "\x00"}, "NUL"),
    ],
)
def test_check_value_rejects(field_type: str, value: object, fragment: str) -> None:
    problem = check_value(field_type, value)
    assert problem is not None
    assert fragment in problem


@pytest.mark.parametrize(
    ("field_type", "text", "expected"),
    [
        ("number", " 42 ", 42),
        ("number", "-3.5", -3.5),
        ("number", "1e3", 1000.0),
        ("boolean", "Yes", True),
        ("boolean", "0", False),
        ("date", "2024-03-31", "2024-03-31"),
        ("array", "a, b,,c", ["a", "b", "c"]),
        ("json", '{"a": 1}', {"a": 1}),
        ("text", "  padded ", "  padded "),
        ("number", "   ", None),
    ],
)
def test_parse_text(field_type: str, text: str, expected: object) -> None:
    assert parse_text(field_type, text) == expected


@pytest.mark.parametrize(
    ("field_type", "text"),
    [
        ("number", "1,5"),
        ("array", '["x", 2]'),
        ("number", "1_000"),
        ("number", "nan"),
        ("number", "0x10"),
        ("number", "1e999"),
        ("boolean", "maybe"),
        ("date", "2024-13-01"),
        ("json", "{bad"),
    ],
)
def test_parse_text_rejects(field_type: str, text: str) -> None:
    with pytest.raises(ConversionError):
        parse_text(field_type, text)


@pytest.mark.parametrize(
    ("value", "new_type", "expected"),
    [
        (3, "text", "3"),
        (2.5, "text", "2.5"),
        (4.0, "text", "4"),
        (True, "text", "true"),
        (["a", 1, True], "text", "a, 1, true"),
        ({"a": 1}, "text", '{"a":1}'),
        ("12", "number", 12),
        (" 2.5 ", "number", 2.5),
        (False, "number", 0),
        ("", "number", None),
        ("yes", "boolean", True),
        (1, "boolean", True),
        ("2024-01-05", "date", "2024-01-05"),
        ("red, green", "array", ["red", "green"]),
        (7, "array", ["7"]),
        ("", "array", None),
        ([1, 2], "json", [1, 2]),
        ("x", "text", "x"),
    ],
)
def test_convert_value(value: object, new_type: str, expected: object) -> None:
    assert convert_value(value, new_type) == expected


@pytest.mark.parametrize(
    ("value", "new_type"),
    [
        ("twelve", "number"),
        ([1], "number"),
        ({"a": 1}, "number"),
        (2, "boolean"),
        ("perhaps", "boolean"),
        (20240105, "date"),
        ("05/01/2024", "date"),
        ({"a": 1}, "array"),
        ([[1]], "array"),
        ("x" * 10_001, "text"),
    ],
)
def test_convert_value_rejects(value: object, new_type: str) -> None:
    with pytest.raises(ConversionError):
        convert_value(value, new_type)


@given(value=json_values, new_type=st.sampled_from(list(FieldType)))
def test_conversion_idempotent(value: object, new_type: FieldType) -> None:
    try:
        once = convert_value(value, new_type)
    except ConversionError:
        return
    assert check_value(new_type, once) is None
    if once is not None:
        assert convert_value(once, new_type) == once


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (14220.869999999999, "14220.87"),
        (4737.4800000000005, "4737.48"),
        (0.1 + 0.2, "0.3"),
        (3.0, "3"),
        (-0.0, "0"),
        (-2.5, "-2.5"),
        (42, "42"),
        (12345678901234567890, "12345678901234567890"),
        (999999999999999.0, "999999999999999"),
        (1e15, "1e+15"),
        (1.5e20, "1.5e+20"),
        (1e300, "1e+300"),
        (0.0001, "0.0001"),
        (1.234e-5, "1.234e-05"),
        (123456.78901234567, "123456.789012346"),
    ],
)
def test_format_number(value: int | float, expected: str) -> None:
    assert format_number(value) == expected


@pytest.mark.parametrize(
    "value",
    [0.0, 4737.4800000000005, 14220.869999999999, 0.1 + 0.2, 2.5, -7, 10**15],
)
def test_number_text_round_trips(value: int | float) -> None:
    assert parse_text(FieldType.NUMBER, number_text(value)) == value


def test_convert_number_to_text_exact() -> None:
    assert convert_value(4737.4800000000005, "text") == "4737.4800000000005"
