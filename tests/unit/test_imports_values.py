"""Scalar value parsers, field rules, and their agreement with the vectorized casts."""

from __future__ import annotations

import json

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ceramic_app.emails import InvalidEmail, normalize_email
from ceramic_app.imports.casting import (
    _scalar_canonical,
    cast_emails,
    vector_cast,
)
from ceramic_app.models import FieldType
from ceramic_app.values import (
    JSON_NULL,
    ValueOptions,
    ValueRejected,
    check_rules,
    parse_array,
    parse_boolean,
    parse_date,
    parse_json,
    parse_number,
    parse_text,
    parse_value,
    rule_violation,
)


def test_text_kept_verbatim() -> None:
    assert parse_text("=1+2") == "=1+2"
    assert parse_text("+46 8 5550100") == "+46 8 5550100"
    assert parse_text("\tleading tab") == "\tleading tab"
    assert parse_text('{"not":"json"}') == '{"not":"json"}'
    assert parse_text("") is None


def test_text_rejects_nul() -> None:
    with pytest.raises(ValueRejected, match="NUL"):
        parse_text("Ka\x00ri")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", 1),
        ("-5", -5),
        ("+7", 7),
        ("1.5", 1.5),
        (".5", 0.5),
        ("1e3", 1000.0),
        (" 42 ", 42),
    ],
)
def test_number_point(raw: str, expected: float) -> None:
    assert parse_number(raw) == expected


def test_number_decimal_comma_rejected_by_default() -> None:
    with pytest.raises(ValueRejected, match=r"decimal separator is '\.'"):
        parse_number("1,5")


@pytest.mark.parametrize(
    ("raw", "expected"), [("1,5", 1.5), ("1.234,5", 1234.5), ("-0,25", -0.25)]
)
def test_number_decimal_comma_option(raw: str, expected: float) -> None:
    assert parse_number(raw, "comma") == expected


@pytest.mark.parametrize("raw", ["abc", "1 000", "0x10", "nan", "inf", "1e999", "--1"])
def test_number_rejects(raw: str) -> None:
    with pytest.raises(ValueRejected):
        parse_number(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("TRUE", True),
        ("yes", True),
        ("Y", True),
        ("1", True),
        ("on", True),
        ("True ", True),
        ("false", False),
        ("No", False),
        ("n", False),
        ("0", False),
        ("OFF", False),
        ("", None),
    ],
)
def test_boolean_spellings(raw: str, expected: bool | None) -> None:
    assert parse_boolean(raw) is expected


@pytest.mark.parametrize("raw", ["maybe", "x", "ja", "nein", "2"])
def test_boolean_rejects_with_spellings(raw: str) -> None:
    with pytest.raises(
        ValueRejected, match="use true/false, yes/no, y/n, 1/0 or on/off"
    ):
        parse_boolean(raw)


def test_date_iso_no_timezone_shift() -> None:
    assert parse_date("1990-04-03") == "1990-04-03"
    assert parse_date(" 2024-01-01 ") == "2024-01-01"


def test_date_day_month_needs_format() -> None:
    with pytest.raises(ValueRejected, match="choose DD/MM/YYYY or MM/DD/YYYY"):
        parse_date("03/04/1990")


def test_date_formats() -> None:
    assert parse_date("03/04/1990", "DD/MM/YYYY") == "1990-04-03"
    assert parse_date("03/04/1990", "MM/DD/YYYY") == "1990-03-04"
    assert parse_date("15.01.2024", "DD/MM/YYYY") == "2024-01-15"
    assert parse_date("1990-04-03", "DD/MM/YYYY") == "1990-04-03"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("04/13/1990", "month 13"),
        ("31/02/1990", "day 31 does not exist in February 1990"),
        ("15/01/24", "4-digit year required"),
        ("15 Jan 2024", "expected DD/MM/YYYY"),
        ("2024-02-30", "day 30 does not exist"),
        ("15/01-2024", "expected DD/MM/YYYY"),
    ],
)
def test_date_rejections(raw: str, message: str) -> None:
    with pytest.raises(ValueRejected, match=message):
        parse_date(raw, "DD/MM/YYYY")


def test_date_excel_serial_rejected_with_meaning() -> None:
    with pytest.raises(
        ValueRejected, match=r"45292 looks like an Excel serial date \(= 2024-01-01\)"
    ):
        parse_date("45292")


def test_date_excel_1900_option() -> None:
    assert parse_date("45292", excel_dates="1900") == "2024-01-01"
    assert parse_date("32874", excel_dates="1900") == "1990-01-01"
    assert parse_date("45292.5", excel_dates="1900") == "2024-01-01"
    assert parse_date("61", excel_dates="1900") == "1900-03-01"
    assert parse_date("59", excel_dates="1900") == "1900-02-28"
    assert parse_date("1", excel_dates="1900") == "1900-01-01"
    with pytest.raises(ValueRejected, match="1900-02-29"):
        parse_date("60", excel_dates="1900")


def test_date_excel_1904_option() -> None:
    assert parse_date("0", excel_dates="1904") == "1904-01-01"
    assert parse_date("45292", excel_dates="1904") == "2028-01-02"


def test_array_forms() -> None:
    assert parse_array('["hiking","chess"]') == ["hiking", "chess"]
    assert parse_array("hiking, chess") == ["hiking", "chess"]
    assert parse_array(" hiking ,, chess ") == ["hiking", "chess"]
    assert parse_array("[]") == []
    assert parse_array("") is None


def test_array_rejects_bracket_text() -> None:
    with pytest.raises(
        ValueRejected, match=r"starts with '\[' but is not a valid JSON array"
    ):
        parse_array("[hiking, chess]")
    with pytest.raises(ValueRejected, match="array of text"):
        parse_array("[1,2]")


def test_json_values() -> None:
    assert parse_json('{"a": 1}') == {"a": 1}
    assert parse_json("[1,2]") == [1, 2]
    assert parse_json("null") is JSON_NULL
    assert parse_json("") is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"vpn": no}', "invalid JSON at line 1 column 9"),
        ('{"a":1,}', "invalid JSON at line 1 column 8"),
        ("NaN", "invalid JSON"),
        ('"\\u0000"', "NUL"),
        ('"\\ud800"', "lone surrogate"),
    ],
)
def test_json_rejects(raw: str, message: str) -> None:
    with pytest.raises(ValueRejected, match=message):
        parse_json(raw)


def test_rules_vectorized() -> None:
    values = pl.Series(["ab", "abcdef", None, "zz"])
    violations = check_rules(
        "text",
        {
            "min_length": 2,
            "max_length": 4,
            "pattern": "[a-z]+",
            "allowed": ["ab", "abcdef"],
            "required": True,
        },
        values,
    ).to_list()
    assert violations[0] is None
    assert "longer than the max length of 4" in violations[1]
    assert violations[2] == "a value is required"
    assert "is not one of" in violations[3]


def test_rules_number_and_date_bounds() -> None:
    assert "less than the minimum 0" in rule_violation("number", {"min": 0}, -1)
    assert rule_violation("number", {"min": 0, "max": 10}, 10) is None
    assert "greater than the maximum 2020-12-31" in rule_violation(
        "date", {"max": "2020-12-31"}, "2021-01-01"
    )


def test_rules_pattern_uses_python_regex() -> None:
    rules = {"pattern": r"(?!test)\w+"}
    assert rule_violation("text", rules, "hello") is None
    assert "does not match" in rule_violation("text", rules, "testing")


def test_rules_array_allowed_items() -> None:
    rules = {"allowed": ["a", "b"]}
    assert rule_violation("array", rules, ["a", "b"]) is None
    assert "not one of" in rule_violation("array", rules, ["a", "c"])


def test_rules_required_only_when_creating() -> None:
    assert rule_violation("text", {"required": True}, None, creating=False) is None


# -- vectorized vs scalar agreement ----------------------------------------

_NUMBERISH = st.from_regex(
    r"\A[ +\-]?[0-9]{0,4}[.,]?[0-9]{0,3}([eE][+-]?[0-9]{1,3})? ?\Z", fullmatch=True
)
_DATEISH = st.from_regex(
    r"\A ?([0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}|[0-9]{1,6}(\.[0-9]{1,2})?) ?\Z",
    fullmatch=True,
)
_BOOLISH = st.sampled_from(
    [
        "true",
        "TRUE",
        " yes",
        "Y",
        "1",
        "on",
        "off ",
        "no",
        "0",
        "n",
        "x",
        "ja",
        "maybe",
        "tru",
    ]
)
_ARRAYISH = st.one_of(
    st.lists(st.text(alphabet='ab ,"[]\\é', max_size=5), max_size=4).map(",".join),
    st.lists(st.text(max_size=4), max_size=3).map(json.dumps),
)

OPTION_SETS = [
    ValueOptions(),
    ValueOptions(decimal="comma"),
    ValueOptions(date_format="DD/MM/YYYY"),
    ValueOptions(date_format="MM/DD/YYYY", excel_dates="1900"),
    ValueOptions(excel_dates="1904"),
]


def _agree(kind: FieldType, values: list[str], options: ValueOptions) -> None:
    frame = pl.DataFrame({"raw": pl.Series(values, dtype=pl.String)})
    value, ok = vector_cast(pl.col("raw"), kind, options)
    result = frame.select(value=value, ok=ok.fill_null(False))
    for raw, vec_value, vec_ok in zip(
        values, result["value"], result["ok"], strict=True
    ):
        if not raw.strip():
            continue
        try:
            scalar = _scalar_canonical(kind, raw, options)
        except ValueRejected:
            scalar = None
        if vec_ok:
            # The vector path may only accept what the scalar path accepts,
            # with the same value.
            assert scalar is not None, (kind, raw, vec_value)
            if kind is FieldType.NUMBER:
                assert float(vec_value) == float(scalar), (raw, vec_value, scalar)
            elif kind is FieldType.ARRAY:
                assert json.loads(vec_value) == json.loads(scalar), (
                    raw,
                    vec_value,
                    scalar,
                )
            else:
                assert vec_value == scalar, (raw, vec_value, scalar)
        elif kind not in (FieldType.JSON, FieldType.ARRAY):
            # Numbers, booleans and dates need no scalar fallback for valid
            # values, so a vector rejection must be a scalar rejection too.
            assert scalar is None, (kind, raw, scalar)


@settings(max_examples=300, deadline=None)
@given(st.lists(_NUMBERISH, min_size=1, max_size=20), st.sampled_from(OPTION_SETS))
def test_number_vector_agrees(values: list[str], options: ValueOptions) -> None:
    _agree(FieldType.NUMBER, values, options)


@settings(max_examples=300, deadline=None)
@given(st.lists(_DATEISH, min_size=1, max_size=20), st.sampled_from(OPTION_SETS))
def test_date_vector_agrees(values: list[str], options: ValueOptions) -> None:
    _agree(FieldType.DATE, values, options)


@settings(max_examples=100, deadline=None)
@given(st.lists(_BOOLISH, min_size=1, max_size=20))
def test_boolean_vector_agrees(values: list[str]) -> None:
    _agree(FieldType.BOOLEAN, values, ValueOptions())


@settings(max_examples=200, deadline=None)
@given(st.lists(_ARRAYISH, min_size=1, max_size=10))
def test_array_vector_agrees(values: list[str]) -> None:
    _agree(FieldType.ARRAY, values, ValueOptions())


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=12), min_size=1, max_size=10))
def test_text_vector_agrees(values: list[str]) -> None:
    _agree(FieldType.TEXT, values, ValueOptions())


_EMAILISH = st.one_of(
    st.emails().map(str),
    st.from_regex(
        r"\A ?[A-Za-z0-9._+'\-]{0,8}@{0,2}[A-Za-z0-9_\-.]{0,10}(\.[A-Za-z]{1,4})? ?\Z",
        fullmatch=True,
    ),
    st.text(alphabet="aé@.-_ \u00a0\u200bß", max_size=12),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_EMAILISH, min_size=1, max_size=20))
def test_email_vector_agrees_with_normalize_email(values: list[str]) -> None:
    _, keys, reasons = cast_emails(pl.Series(values, dtype=pl.String))
    for raw, key, reason in zip(values, keys, reasons, strict=True):
        try:
            expected = normalize_email(raw)
        except InvalidEmail as exc:
            assert key is None, (raw, key)
            assert reason == str(exc)
            continue
        assert key == expected, (raw, key, expected)
        assert reason is None


def test_parse_value_dispatch() -> None:
    assert parse_value("number", "3") == 3
    assert parse_value(FieldType.BOOLEAN, "yes") is True
    assert parse_value("date", "2024-01-01") == "2024-01-01"
