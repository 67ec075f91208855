"""Validation rules of one custom field: normalizing a rules dict and checking a value.

Rules are stored in custom_fields.rules as a JSON object with these optional
entries (absent means "no rule"):

    required    bool    a profile must have a value
    unique      bool    no two profiles of the workspace share a value
    min, max    number for number fields, "YYYY-MM-DD" for date fields
    min_length, max_length
                int     characters of a text, items of an array
    pattern     str     regular expression that the whole text (or every
                        array item) must match; run by the `regex` module
                        with a time limit, so a pathological pattern fails
                        the value instead of hanging the server
    allowed     list    the only values accepted (for arrays: per item)

required and unique need the other profiles, so validation.py checks them;
this module checks everything that depends on the value alone.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import regex

from ceramic_app.fields.errors import FieldError
from ceramic_app.fields.typed import check_value, describe, is_number, parse_iso_date
from ceramic_app.models import FieldType

MAX_PATTERN_CHARS = 200
MAX_ALLOWED_VALUES = 500
# Wall-clock limit for one pattern match. A value whose match runs longer fails
# validation with a message that requests a simpler pattern.
PATTERN_TIMEOUT_SECONDS = 0.05

RULE_NAMES = (
    "required",
    "unique",
    "min",
    "max",
    "min_length",
    "max_length",
    "pattern",
    "allowed",
)

# Which rules each field type accepts; calculated fields accept none.
RULES_BY_TYPE: dict[FieldType, frozenset[str]] = {
    FieldType.TEXT: frozenset(
        {"required", "unique", "min_length", "max_length", "pattern", "allowed"}
    ),
    FieldType.NUMBER: frozenset({"required", "unique", "min", "max", "allowed"}),
    FieldType.DATE: frozenset({"required", "unique", "min", "max", "allowed"}),
    FieldType.BOOLEAN: frozenset({"required"}),
    FieldType.ARRAY: frozenset(
        {"required", "min_length", "max_length", "pattern", "allowed"}
    ),
    FieldType.JSON: frozenset({"required"}),
}

# Inputs that make backtracking patterns such as (a+)+$ run for seconds or more.
# They are as long as the longest text value (10,000 characters by default),
# because some patterns are only quadratic and slow down on long values alone.
_PATTERN_PROBES = tuple(
    chunk * (10_000 // len(chunk)) + "!"
    for chunk in ("a", "0", " ", "aA0", "a.", "a@", "ab-_")
)


class PatternTimeout(RuntimeError):
    """A pattern match ran past PATTERN_TIMEOUT_SECONDS."""


def normalize_rules(
    field_type: FieldType | str,
    rules: Mapping[str, Any] | None,
    *,
    calculated: bool = False,
) -> dict[str, Any]:
    """Return the canonical rules dict for a field, dropping entries that are off.

    Raises:
        FieldError: listing every invalid entry and how to fix it.
    """
    field_type = FieldType(field_type)
    if not rules:
        return {}
    if not isinstance(rules, Mapping):
        raise FieldError("Rules must be an object such as {'required': true}.")
    if calculated:
        raise FieldError(
            "Calculated fields take no validation rules, because no one enters"
            " their values; remove the rules."
        )
    problems: list[str] = []
    accepted = RULES_BY_TYPE[field_type]
    unknown = sorted(set(rules) - set(RULE_NAMES))
    if unknown:
        problems.append(
            f"unknown rule {', '.join(map(repr, unknown))}; known rules are"
            f" {', '.join(RULE_NAMES)}"
        )
    normalized: dict[str, Any] = {}
    for name in RULE_NAMES:
        if name not in rules or rules[name] is None:
            continue
        value = rules[name]
        if name not in accepted:
            if value is False:
                continue
            problems.append(
                f"rule {name!r} does not apply to {field_type.value} fields"
                f" (they accept {', '.join(sorted(accepted))})"
            )
            continue
        try:
            cleaned = _normalize_rule(field_type, name, value)
        except FieldError as exc:
            problems.append(str(exc))
            continue
        if cleaned is not None:
            normalized[name] = cleaned
    problems.extend(_check_bounds(normalized))
    if problems:
        raise FieldError("Invalid rules: " + "; ".join(problems) + ".")
    return normalized


def _normalize_rule(field_type: FieldType, name: str, value: Any) -> Any:
    if name in ("required", "unique"):
        if not isinstance(value, bool):
            raise FieldError(f"rule {name!r} must be true or false")
        return value or None
    if name in ("min", "max"):
        return _normalize_bound(field_type, name, value)
    if name in ("min_length", "max_length"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise FieldError(f"rule {name!r} must be a whole number of 0 or more")
        return value
    if name == "pattern":
        if not isinstance(value, str) or not value:
            raise FieldError("rule 'pattern' must be a non-empty regular expression")
        compile_pattern(value)
        return value
    return _normalize_allowed(field_type, value)


def _normalize_bound(field_type: FieldType, name: str, value: Any) -> Any:
    if field_type is FieldType.NUMBER:
        if not is_number(value):
            raise FieldError(f"rule {name!r} must be a number, not {describe(value)}")
        return value
    if not isinstance(value, str) or parse_iso_date(value) is None:
        raise FieldError(
            f"rule {name!r} must be a date in the form YYYY-MM-DD, not {describe(value)}"
        )
    return value


def _normalize_allowed(field_type: FieldType, value: Any) -> list[Any] | None:
    if not isinstance(value, list):
        raise FieldError("rule 'allowed' must be a list of values")
    if not value:
        return None
    if len(value) > MAX_ALLOWED_VALUES:
        raise FieldError(
            f"rule 'allowed' has {len(value)} values; the maximum is"
            f" {MAX_ALLOWED_VALUES}"
        )
    item_type = FieldType.TEXT if field_type is FieldType.ARRAY else field_type
    unique: list[Any] = []
    for item in value:
        if item is None:
            raise FieldError("rule 'allowed' cannot contain null")
        problem = check_value(item_type, item)
        if problem:
            raise FieldError(f"rule 'allowed': {problem}")
        if item not in unique:
            unique.append(item)
    return unique


def _check_bounds(rules: dict[str, Any]) -> list[str]:
    problems = []
    for low, high in (("min", "max"), ("min_length", "max_length")):
        if low in rules and high in rules and rules[low] > rules[high]:
            problems.append(
                f"{low} {describe(rules[low])} is greater than {high}"
                f" {describe(rules[high])}"
            )
    return problems


def compile_pattern(pattern: str) -> regex.Pattern[str]:
    """Compile a rule pattern, rejecting long, invalid or backtracking-prone ones.

    Raises:
        FieldError: naming the problem and the fix.
    """
    if len(pattern) > MAX_PATTERN_CHARS:
        raise FieldError(
            f"the pattern has {len(pattern)} characters; the maximum is"
            f" {MAX_PATTERN_CHARS}"
        )
    return _compile_pattern(pattern)


@functools.lru_cache(maxsize=512)
def _compile_pattern(pattern: str) -> regex.Pattern[str]:
    try:
        compiled = regex.compile(pattern)
    except regex.error as exc:
        raise FieldError(f"the pattern {pattern!r} is not valid: {exc}") from None
    for probe in _PATTERN_PROBES:
        try:
            compiled.fullmatch(probe, timeout=PATTERN_TIMEOUT_SECONDS)
        except TimeoutError:
            raise FieldError(
                f"the pattern {pattern!r} can take exponential time on some inputs"
                " (nested repetition such as (a+)+); rewrite it without repeating a"
                " repeated group"
            ) from None
    return compiled


def match_pattern(pattern: str, text: str) -> bool:
    """Tell whether the whole text matches pattern.

    Raises:
        PatternTimeout: when matching takes longer than PATTERN_TIMEOUT_SECONDS.
    """
    try:
        return (
            compile_pattern(pattern).fullmatch(text, timeout=PATTERN_TIMEOUT_SECONDS)
            is not None
        )
    except TimeoutError:
        raise PatternTimeout(pattern) from None


def rule_violation(
    field_type: FieldType | str, rules: Mapping[str, Any], value: Any
) -> str | None:
    """Return why a well-typed, non-null value breaks a value rule, or None.

    required and unique are not checked here, because they depend on other
    profiles or on the whole record.
    """
    field_type = FieldType(field_type)
    if value is None:
        return None
    if "min" in rules and value < rules["min"]:
        return (
            f"{describe(value)} is less than the minimum {describe(rules['min'])};"
            f" enter {describe(rules['min'])} or more"
        )
    if "max" in rules and value > rules["max"]:
        return (
            f"{describe(value)} is greater than the maximum {describe(rules['max'])};"
            f" enter {describe(rules['max'])} or less"
        )
    unit = "items" if field_type is FieldType.ARRAY else "characters"
    if "min_length" in rules and len(value) < rules["min_length"]:
        return (
            f"{describe(value)} has {len(value)} {unit}; enter at least"
            f" {rules['min_length']}"
        )
    if "max_length" in rules and len(value) > rules["max_length"]:
        return (
            f"{describe(value)} has {len(value)} {unit}; enter at most"
            f" {rules['max_length']}"
        )
    items = value if field_type is FieldType.ARRAY else [value]
    if "pattern" in rules:
        for item in items:
            problem = _pattern_problem(rules["pattern"], item)
            if problem:
                return problem
    if "allowed" in rules:
        for item in items:
            if item not in rules["allowed"]:
                choices = ", ".join(describe(a, 30) for a in rules["allowed"][:10])
                more = " …" if len(rules["allowed"]) > 10 else ""
                return f"{describe(item)} is not an allowed value; choose one of {choices}{more}"
    return None


def _pattern_problem(pattern: str, text: str) -> str | None:
    try:
        if match_pattern(pattern, text):
            return None
    except PatternTimeout:
        return (
            f"checking {describe(text)} against the pattern {pattern!r} timed out;"
            " ask an admin to simplify the pattern"
        )
    return (
        f"{describe(text)} does not match the pattern {pattern!r};"
        " enter a value in the form that the pattern describes"
    )
