"""Stored shapes of custom field values: checking, parsing text and type conversion.

Values live in profiles.attributes as JSON, by field type:

- text: a string
- number: a JSON number (int or float, never a boolean, NaN or infinity)
- boolean: true or false
- date: a "YYYY-MM-DD" string
- array: a list of strings
- json: any JSON value

A null value is never stored: the key is removed instead. Strings may not
contain NUL, because PostgreSQL's jsonb cannot store U+0000.
"""

from __future__ import annotations

import json
import math
import re
from datetime import date
from typing import Any

from ceramic_app import values
from ceramic_app.models import FieldType
from ceramic_app.settings import get_settings

MAX_ARRAY_ITEMS = 1_000
MAX_JSON_CHARS = 100_000
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMBER_RE = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$")
_TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
_FALSE_WORDS = frozenset({"false", "f", "no", "n", "0"})


class ConversionError(ValueError):
    """A value that cannot take the requested type; the message gives the reason."""


def max_text_chars() -> int:
    """Return the longest text value, in characters, that a field may store."""
    return get_settings().max_value_chars


def describe(value: Any, limit: int = 60) -> str:
    """Return a short JSON rendering of value for error messages."""
    try:
        rendered = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        rendered = repr(value)
    if len(rendered) > limit:
        rendered = rendered[: limit - 1] + "…"
    return rendered


def is_number(value: Any) -> bool:
    """Tell whether value is a finite JSON number (booleans are not numbers)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def parse_iso_date(value: str) -> date | None:
    """Return the date of a strict "YYYY-MM-DD" string, or None."""
    if not _DATE_RE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def check_value(field_type: FieldType | str, value: Any) -> str | None:
    """Return why value cannot be stored in a field of field_type, or None if it can."""
    field_type = FieldType(field_type)
    if value is None:
        return None
    if field_type is FieldType.TEXT:
        return _check_text(value)
    if field_type is FieldType.NUMBER:
        if not is_number(value):
            return f"{describe(value)} is not a number; enter digits such as 42 or 3.5"
        return None
    if field_type is FieldType.BOOLEAN:
        if not isinstance(value, bool):
            return f"{describe(value)} is not true or false"
        return None
    if field_type is FieldType.DATE:
        if not isinstance(value, str) or parse_iso_date(value) is None:
            return f"{describe(value)} is not a date; use the form YYYY-MM-DD"
        return None
    if field_type is FieldType.ARRAY:
        return _check_array(value)
    return _check_json(value)


def _check_text(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"{describe(value)} is not text"
    if "\x00" in value:
        return "the text contains a NUL (0x00) character; remove it"
    limit = max_text_chars()
    if len(value) > limit:
        return f"the text has {len(value)} characters; the maximum is {limit}"
    return None


def _check_array(value: Any) -> str | None:
    if not isinstance(value, list):
        return f"{describe(value)} is not a list of texts"
    if len(value) > MAX_ARRAY_ITEMS:
        return f"the list has {len(value)} items; the maximum is {MAX_ARRAY_ITEMS}"
    for item in value:
        if not isinstance(item, str):
            return f"item {describe(item)} is not text; a list holds only texts"
        problem = _check_text(item)
        if problem:
            return f"item {describe(item)}: {problem}"
    return None


def _check_json(value: Any) -> str | None:
    try:
        rendered = json.dumps(value, allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError) as exc:
        return f"{describe(value)} is not valid JSON ({exc})"
    if "\\u0000" in rendered:
        return "the JSON contains a NUL (\\u0000) character; remove it"
    if len(rendered) > MAX_JSON_CHARS:
        return (
            f"the JSON has {len(rendered)} characters; the maximum is {MAX_JSON_CHARS}"
        )
    return None


def parse_text(field_type: FieldType | str, text: str) -> Any:
    """Parse text typed by a person into a value of field_type.

    Forms, the REST API and imports share the parsers of ceramic_app.values,
    so they accept exactly the same spellings. An empty or blank text returns
    None (no value).

    Raises:
        ConversionError: with a message that names the expected form.
    """
    field_type = FieldType(field_type)
    if field_type is FieldType.TEXT:
        return text if text.strip() else None
    try:
        return values.to_json_value(values.parse_value(field_type, text))
    except values.ValueRejected as exc:
        raise ConversionError(str(exc)) from None


def _parse_number(text: str) -> int | float:
    if not _NUMBER_RE.fullmatch(text):
        raise ConversionError(
            f"{text!r} is not a number; use digits with '.' as the decimal point,"
            " e.g. 1234.5"
        )
    if re.fullmatch(r"[+-]?\d+", text) and len(text) <= 18:
        return int(text)
    number = float(text)
    if not math.isfinite(number):
        raise ConversionError(f"{text!r} is too large for a number")
    return number


def _parse_array(text: str) -> list[str]:
    if text.startswith("["):
        try:
            loaded = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ConversionError(
                f"{describe(text)} is not a valid JSON list ({exc})"
            ) from None
        return _to_array(loaded)
    return [part.strip() for part in text.split(",") if part.strip()]


# Every decimal of 15 significant digits survives a trip through a double
# (DBL_DIG in C's float.h), so rounding to 15 digits hides the binary noise that
# arithmetic leaves behind, such as 4737.4800000000005, and keeps real digits.
DISPLAY_DIGITS = 15


def format_number(value: int | float) -> str:
    """Render a number for display with at most 15 significant digits.

    Integral values have no decimal point, and floats whose magnitude is 1e15
    or more, or below 1e-4, use exponent notation (1.5e+20). Ints are shown exactly. The
    text may round a float, so editors and conversions use number_text.
    """
    if isinstance(value, int):
        return str(value)
    if value.is_integer() and abs(value) < 10**DISPLAY_DIGITS:
        return str(int(value))
    return f"{value:.{DISPLAY_DIGITS}g}"


def number_text(value: int | float) -> str:
    """Render a number without rounding: repr for floats, ints as they are.

    Integral floats have no decimal point. Unlike format_number it keeps every
    digit, so an editor that saves the text unchanged keeps the stored value.
    """
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def convert_value(value: Any, new_type: FieldType | str) -> Any:
    """Convert a stored value to new_type, whatever type it was stored as.

    The conversion follows the JSON shape of the value rather than the field's
    old type, so running it twice changes nothing. Returns None only when the
    value converts to "no value" (e.g. a blank text to a number).

    Raises:
        ConversionError: when the value has no sensible form in new_type.
    """
    new_type = FieldType(new_type)
    if new_type is FieldType.JSON:
        converted = value
    elif new_type is FieldType.TEXT:
        converted = _to_text(value)
    elif new_type is FieldType.NUMBER:
        converted = _to_number(value)
    elif new_type is FieldType.BOOLEAN:
        converted = _to_boolean(value)
    elif new_type is FieldType.DATE:
        if not isinstance(value, str):
            raise ConversionError(f"{describe(value)} is not a date text (YYYY-MM-DD)")
        converted = parse_text(FieldType.DATE, value)
    else:
        # An empty list is stored as no value, like every other empty input.
        converted = _to_array(value) or None
    problem = check_value(new_type, converted)
    if problem:
        raise ConversionError(problem)
    return converted


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return number_text(value)
    if isinstance(value, list) and all(_is_scalar(item) for item in value):
        return ", ".join(_to_text(item) for item in value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | bool) or is_number(value)


def _to_number(value: Any) -> int | float | None:
    if isinstance(value, bool):
        return 1 if value else 0
    if is_number(value):
        return value
    if isinstance(value, str):
        return parse_text(FieldType.NUMBER, value)
    raise ConversionError(f"{describe(value)} cannot become a number")


def _to_boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if is_number(value):
        if value in (0, 1):
            return bool(value)
        raise ConversionError(f"{describe(value)} is neither 0 nor 1")
    if isinstance(value, str):
        return parse_text(FieldType.BOOLEAN, value)
    raise ConversionError(f"{describe(value)} cannot become true or false")


def _to_array(value: Any) -> list[str]:
    if isinstance(value, list):
        if not all(_is_scalar(item) for item in value):
            raise ConversionError(
                f"{describe(value)} contains nested lists or objects; a list holds"
                " only texts"
            )
        return [_to_text(item) for item in value]
    if isinstance(value, str):
        return _parse_array(value.strip()) if value.strip() else []
    if _is_scalar(value):
        return [_to_text(value)]
    raise ConversionError(f"{describe(value)} is an object, not a list")
