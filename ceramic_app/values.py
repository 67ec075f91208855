"""Typed custom-field values: one set of parsing and rule checks for every path.

The import, the profile editor and the REST API all turn user text into stored
values here, so "1,5", "yes" or "03/04/1990" mean the same thing everywhere.
The import path runs vectorized Polars versions of these parsers
(ceramic_app.imports.casting). It falls back to the functions here for the
exact reason of each rejected cell, and a test checks that both agree.

Stored forms (inside profiles.attributes, a JSON object keyed by field key):

- text: the string verbatim ('=' and '+' are never stripped).
- number: a JSON number.
- boolean: JSON true or false.
- date: the ISO string "YYYY-MM-DD" (a calendar date, no time zone).
- array: a JSON array of strings.
- json: any JSON value.

An empty cell (or whitespace only, for every type but text) means null.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass
from typing import Any

import polars as pl

from ceramic_app.models import FieldType

BOOLEAN_TRUE = ("true", "yes", "y", "1", "on")
BOOLEAN_FALSE = ("false", "no", "n", "0", "off")
BOOLEAN_HINT = "use true/false, yes/no, y/n, 1/0 or on/off"

# Date column formats a user can choose. ISO YYYY-MM-DD is always accepted too;
# the day-month formats accept '/', '.' and '-' as separators.
DATE_FORMATS = ("YYYY-MM-DD", "DD/MM/YYYY", "MM/DD/YYYY")
EXCEL_DATE_SYSTEMS = ("1900", "1904")
DECIMAL_SEPARATORS = ("point", "comma")

# Excel's 1900 system counts 1900-01-01 as serial 1 and invents 1900-02-29
# (serial 60); from serial 61 on, day n is 1899-12-30 + n.
_EXCEL_1900_BASE = dt.date(1899, 12, 30)
_EXCEL_1904_BASE = dt.date(1904, 1, 1)
EXCEL_MAX_SERIAL = 2_958_465  # 9999-12-31 in the 1900 system

MAX_NUMBER_CHARS = 40

NUMBER_POINT_RE = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,2})?$"
NUMBER_COMMA_RE = (
    r"^[+-]?(?:\d{1,3}(?:\.\d{3})+(?:,\d*)?|\d+(?:,\d*)?|,\d+)(?:[eE][+-]?\d{1,2})?$"
)
ISO_DATE_RE = r"^(\d{4})-(\d{2})-(\d{2})$"
EXCEL_SERIAL_RE = r"^\d{1,7}(?:\.\d+)?$"

_NUMBER_POINT = re.compile(NUMBER_POINT_RE)
_NUMBER_COMMA = re.compile(NUMBER_COMMA_RE)
_ISO_DATE = re.compile(ISO_DATE_RE)
_DAY_MONTH = re.compile(r"^(\d{1,2})([./-])(\d{1,2})\2(\d+)$")
_EXCEL_SERIAL = re.compile(EXCEL_SERIAL_RE)


class ValueRejected(ValueError):
    """A value that cannot be stored in its field; the message gives the reason."""


@dataclass(frozen=True)
class ValueOptions:
    """Reading options for ambiguous text: decimal separator, date format, Excel dates."""

    decimal: str = "point"
    date_format: str | None = None
    excel_dates: str | None = None


def show(raw: str, limit: int = 60) -> str:
    """Quote a value for a message, truncated and with control characters visible."""
    text = raw if len(raw) <= limit else raw[: limit - 1] + "…"
    return repr(text)


def parse_text(raw: str) -> str | None:
    """Return text verbatim; only an empty string is null."""
    if raw == "":
        return None
    if "\x00" in raw:
        raise ValueRejected("contains a NUL (0x00) character")
    return raw


def parse_number(raw: str, decimal: str = "point") -> int | float | None:
    """Parse a number written with a decimal point (or comma, when chosen)."""
    text = raw.strip()
    if not text:
        return None
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueRejected(
            f"{show(text)} is not a number (longer than {MAX_NUMBER_CHARS} characters)"
        )
    if decimal == "comma":
        if not _NUMBER_COMMA.match(text):
            raise ValueRejected(
                f"{show(text)} is not a number (decimal comma chosen: write 1234,5)"
            )
        text = text.replace(".", "").replace(",", ".")
    elif not _NUMBER_POINT.match(text):
        if re.match(r"^[+-]?\d+,\d+$", text):
            raise ValueRejected(
                f"{show(text)} is not a number: the decimal separator is '.'"
                " (choose decimal comma for this import if ',' is meant)"
            )
        raise ValueRejected(f"{show(text)} is not a number")
    return _number_from_canonical(normalize_number_text(text))


def normalize_number_text(text: str) -> str:
    """Return the canonical form of a point-decimal number: no '+', no spaces."""
    text = text.strip().lstrip("+")
    if text.startswith("."):
        text = "0" + text
    if text.startswith("-."):
        text = "-0" + text[1:]
    if text.endswith("."):
        text += "0"
    return text.replace(".e", ".0e").replace(".E", ".0E")


def _number_from_canonical(text: str) -> int | float:
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    value = float(text)
    if not math.isfinite(value):
        raise ValueRejected(f"{show(text)} is out of range")
    return value


def parse_boolean(raw: str) -> bool | None:
    """Parse true/yes/y/1/on and false/no/n/0/off, ignoring case and spaces."""
    text = raw.strip().lower()
    if not text:
        return None
    if text in BOOLEAN_TRUE:
        return True
    if text in BOOLEAN_FALSE:
        return False
    raise ValueRejected(f"{show(raw)} is not a boolean ({BOOLEAN_HINT})")


def excel_serial_to_date(serial: float, system: str = "1900") -> dt.date:
    """Convert an Excel serial day number to a date (the time part is dropped)."""
    day = math.floor(serial)
    if system == "1904":
        if day < 0 or day > EXCEL_MAX_SERIAL - 1462:
            raise ValueRejected(f"{serial:g} is out of the Excel 1904 date range")
        return _EXCEL_1904_BASE + dt.timedelta(days=day)
    if day < 1 or day > EXCEL_MAX_SERIAL:
        raise ValueRejected(f"{serial:g} is out of the Excel date range")
    if day == 60:
        raise ValueRejected(
            "60 is Excel's 1900-02-29, a date that does not exist (Excel's 1900 bug)"
        )
    if day < 60:
        return _EXCEL_1900_BASE + dt.timedelta(days=day + 1)
    return _EXCEL_1900_BASE + dt.timedelta(days=day)


def _excel_hint(text: str) -> str:
    """Describe what an Excel-serial-looking number would mean in the 1900 system."""
    try:
        return f"= {excel_serial_to_date(float(text)).isoformat()}"
    except ValueRejected:
        return (
            "Excel's non-existent 1900-02-29" if math.floor(float(text)) == 60 else ""
        )


def _calendar_date(year: int, month: int, day: int, raw: str, label: str) -> str:
    if not 1 <= month <= 12:
        raise ValueRejected(f"{show(raw)} is not a valid {label} date (month {month})")
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        raise ValueRejected(
            f"{show(raw)} is not a valid date (day {day} does not exist in"
            f" {dt.date(year or 1, month, 1):%B} {year})"
        ) from None


def parse_date(
    raw: str, date_format: str | None = None, excel_dates: str | None = None
) -> str | None:
    """Parse a calendar date to ISO YYYY-MM-DD under one column-wide format.

    ISO dates are always accepted. date_format "DD/MM/YYYY" or "MM/DD/YYYY"
    adds day-month dates with '/', '.' or '-'. Plain numbers are Excel serial
    dates only when excel_dates is "1900" or "1904"; otherwise they are
    rejected with the date they would mean.
    """
    text = raw.strip()
    if not text:
        return None
    iso = _ISO_DATE.match(text)
    if iso:
        year, month, day = (int(g) for g in iso.groups())
        if year == 0:
            raise ValueRejected(f"{show(text)} is not a valid date (year 0)")
        return _calendar_date(year, month, day, text, "YYYY-MM-DD")
    if _EXCEL_SERIAL.match(text):
        if excel_dates in EXCEL_DATE_SYSTEMS:
            return excel_serial_to_date(float(text), excel_dates).isoformat()
        hint = _excel_hint(text)
        raise ValueRejected(
            f"{text} looks like an Excel serial date ({hint}). Enable 'Excel serial"
            " dates' or format the column as a date before exporting"
        )
    day_month = _DAY_MONTH.match(text)
    if day_month:
        first, _, second, year_text = day_month.groups()
        if date_format not in ("DD/MM/YYYY", "MM/DD/YYYY"):
            raise ValueRejected(
                f"{show(text)} needs a date format: choose DD/MM/YYYY or MM/DD/YYYY"
                " for this column"
            )
        if len(year_text) != 4:
            raise ValueRejected(
                f"{show(text)} is not a valid {date_format} date"
                " (4-digit year required)"
            )
        if date_format == "DD/MM/YYYY":
            day, month = int(first), int(second)
        else:
            month, day = int(first), int(second)
        if int(year_text) == 0:
            raise ValueRejected(f"{show(text)} is not a valid date (year 0)")
        return _calendar_date(int(year_text), month, day, text, date_format)
    expected = "YYYY-MM-DD" if date_format in (None, "YYYY-MM-DD") else date_format
    raise ValueRejected(f"{show(text)} is not a valid date (expected {expected})")


def date_warning(raw: str, excel_dates: str | None) -> str | None:
    """Return the warning for a valid date that lost information, or None."""
    text = raw.strip()
    if excel_dates and _EXCEL_SERIAL.match(text) and "." in text:
        if float(text) != math.floor(float(text)):
            return f"time part of {text} dropped"
    return None


def _check_json_text(value: Any) -> None:
    """Reject JSON that Postgres jsonb cannot store (NUL, lone surrogates)."""
    dumped = json.dumps(value, ensure_ascii=False)
    if "\\u0000" in dumped:
        raise ValueRejected("contains a NUL (0x00) character")
    try:
        dumped.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueRejected(
            "contains an invalid Unicode escape (lone surrogate)"
        ) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: str) -> Any:
    """Parse any JSON value; invalid JSON is rejected with line and column.

    Returns the Python value; the caller must tell an empty cell (None is
    returned for '') from a JSON null (the sentinel JSON_NULL).
    """
    text = raw.strip()
    if not text:
        return None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ValueRejected(
            f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise ValueRejected(f"invalid JSON: {exc}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueRejected("invalid JSON: number out of range")
    _check_json_text(value)
    return JSON_NULL if value is None else value


class _JsonNull:
    """The JSON literal null inside a json field, as opposed to an empty cell."""

    def __repr__(self) -> str:
        return "JSON_NULL"


JSON_NULL = _JsonNull()


def parse_array(raw: str) -> list[str] | None:
    """Parse a JSON array of strings, or comma-separated text, to a list.

    Items of comma-separated text are trimmed and empty items dropped, so
    " a ,, b " is ["a", "b"]. "[]" is the empty list.
    """
    text = raw.strip()
    if not text:
        return None
    if text.startswith("["):
        try:
            value = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            raise ValueRejected(
                f"{show(text)} starts with '[' but is not a valid JSON array;"
                ' use ["a","b"] or a,b'
            ) from None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueRejected(
                f'{show(text)} is not an array of text; use ["a","b"] or a,b'
            )
        _check_json_text(value)
        return value
    if "\x00" in text:
        raise ValueRejected("contains a NUL (0x00) character")
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_value(
    field_type: FieldType | str, raw: str, options: ValueOptions | None = None
) -> Any:
    """Parse user text for a field type; None means empty.

    Raises:
        ValueRejected: with a reason a user can act on (not prefixed with the
            field name).
    """
    options = options or ValueOptions()
    kind = FieldType(field_type)
    if kind is FieldType.TEXT:
        return parse_text(raw)
    if kind is FieldType.NUMBER:
        return parse_number(raw, options.decimal)
    if kind is FieldType.BOOLEAN:
        return parse_boolean(raw)
    if kind is FieldType.DATE:
        return parse_date(raw, options.date_format, options.excel_dates)
    if kind is FieldType.ARRAY:
        return parse_array(raw)
    return parse_json(raw)


def to_json_value(value: Any) -> Any:
    """Return the value as it is stored in attributes (JSON_NULL becomes None)."""
    return None if value is JSON_NULL else value


# ---------------------------------------------------------------------------
# Field rules: required, unique, min, max, min_length, max_length, pattern,
# allowed. Enforced by check_rules, the one entry point for the import and for
# single edits (the unique rule needs the database: see the import engine).


def canonical_text(field_type: FieldType | str, value: Any) -> str | None:
    """Return the text form check_rules compares: ISO dates, JSON for arrays."""
    if value is None:
        return None
    kind = FieldType(field_type)
    if kind is FieldType.BOOLEAN:
        return "true" if value else "false"
    if kind in (FieldType.ARRAY, FieldType.JSON):
        return json.dumps(
            to_json_value(value), ensure_ascii=False, separators=(",", ":")
        )
    if kind is FieldType.NUMBER:
        return repr(value) if isinstance(value, float) else str(value)
    return str(value)


def _compile_pattern(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def check_rules(
    field_type: FieldType | str,
    rules: dict[str, Any],
    values: pl.Series,
    creating: pl.Series | bool = True,
) -> pl.Series:
    """Return the rule violation of each value, or null where it passes.

    values contains the canonical text of parsed values (canonical_text); null is
    an empty value. The required rule applies where creating is true, because
    an empty cell on an update keeps the stored value. The unique rule is not
    checked here: it needs the other profiles (see the import engine).
    """
    kind = FieldType(field_type)
    frame = pl.DataFrame({"v": values.cast(pl.String)})
    frame = frame.with_columns(
        creating=pl.Series([creating] * len(frame), dtype=pl.Boolean)
        if isinstance(creating, bool)
        else creating.cast(pl.Boolean)
    )
    checks: list[pl.Expr] = []
    v = pl.col("v")
    if rules.get("required"):
        checks.append(
            pl.when(v.is_null() & pl.col("creating")).then(
                pl.lit("a value is required")
            )
        )
    for bound, op in (("min", "ge"), ("max", "le")):
        limit = rules.get(bound)
        if limit is None:
            continue
        if kind is FieldType.NUMBER:
            number = v.cast(pl.Float64, strict=False)
            ok = number >= float(limit) if op == "ge" else number <= float(limit)
        elif kind is FieldType.DATE:
            ok = v >= str(limit) if op == "ge" else v <= str(limit)
        else:
            continue
        word = "less" if op == "ge" else "greater"
        checks.append(
            pl.when(v.is_not_null() & ~ok).then(
                pl.format(f"{{}} is {word} than the {bound}imum {limit}", v)
            )
        )
    length = _length_expr(kind, v)
    if length is not None:
        for bound, op in (("min_length", "ge"), ("max_length", "le")):
            limit = rules.get(bound)
            if limit is None:
                continue
            ok = length >= int(limit) if op == "ge" else length <= int(limit)
            word = "shorter" if op == "ge" else "longer"
            unit = "items" if kind is FieldType.ARRAY else "characters"
            checks.append(
                pl.when(v.is_not_null() & ~ok).then(
                    pl.lit(
                        f"is {word} than the {bound.replace('_', ' ')} of {limit} {unit}"
                    )
                )
            )
    pattern = rules.get("pattern")
    if pattern and kind is FieldType.TEXT:
        checks.append(_pattern_check(frame, pattern))
    allowed = rules.get("allowed")
    if allowed:
        checks.append(_allowed_check(kind, allowed))
    if not checks:
        return pl.Series("violation", [None] * len(values), dtype=pl.String)
    result = frame.select(
        pl.coalesce([c.otherwise(None) for c in checks]).alias("violation")
    )
    return result.to_series()


def _length_expr(kind: FieldType, v: pl.Expr) -> pl.Expr | None:
    if kind is FieldType.TEXT:
        return v.str.len_chars()
    if kind is FieldType.ARRAY:
        return v.str.json_decode(pl.List(pl.String)).list.len()
    return None


def _pattern_check(frame: pl.DataFrame, pattern: str) -> pl.Expr:
    """Match the whole value against pattern with Python's re semantics."""
    compiled = _compile_pattern(pattern)
    if compiled is None:
        return pl.when(pl.col("v").is_not_null()).then(
            pl.lit(f"the field's pattern {pattern!r} is not a valid regular expression")
        )
    # Python's re is the reference; per-value matching keeps look-arounds and
    # back-references working, which the Rust regex engine of Polars lacks.
    matched = pl.Series(
        [None if s is None else bool(compiled.fullmatch(s)) for s in frame["v"]],
        dtype=pl.Boolean,
    )
    return pl.when(matched.not_()).then(pl.lit(f"does not match the pattern {pattern}"))


def _allowed_check(kind: FieldType, allowed: list[Any]) -> pl.Expr:
    v = pl.col("v")
    allowed_text = [canonical_text(kind, a) for a in allowed]
    listing = ", ".join(str(a) for a in allowed)
    if kind is FieldType.ARRAY:
        items = v.str.json_decode(pl.List(pl.String))
        allowed_items = [str(a) for a in allowed]
        bad = items.list.eval(pl.element().is_in(allowed_items).not_()).list.any()
        return pl.when(v.is_not_null() & bad).then(
            pl.lit(f"contains an item that is not one of: {listing}")
        )
    return pl.when(v.is_not_null() & ~v.is_in(allowed_text)).then(
        pl.format(f"'{{}}' is not one of: {listing}", v)
    )


def rule_violation(
    field_type: FieldType | str,
    rules: dict[str, Any],
    value: Any,
    creating: bool = True,
) -> str | None:
    """Check one parsed value against a field's rules (for single edits)."""
    text = canonical_text(field_type, value)
    series = pl.Series("v", [text], dtype=pl.String)
    return check_rules(field_type, rules, series, creating).item()
