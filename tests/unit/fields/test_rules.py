"""Normalizing rules dicts and checking values against each rule."""

from __future__ import annotations

import time

import pytest

from ceramic_app.fields import rules as rules_module
from ceramic_app.fields.errors import FieldError
from ceramic_app.fields.rules import normalize_rules, rule_violation


def test_normalize_drops_off_rules() -> None:
    raw = {"required": False, "unique": True, "pattern": None, "allowed": []}
    assert normalize_rules("text", raw) == {"unique": True}


def test_normalize_keeps_valid_rules() -> None:
    raw = {"min": 0, "max": 10.5, "allowed": [1, 2, 2]}
    assert normalize_rules("number", raw) == {"min": 0, "max": 10.5, "allowed": [1, 2]}


@pytest.mark.parametrize(
    ("field_type", "raw", "fragment"),
    [
        ("text", {"colour": 1}, "unknown rule 'colour'"),
        ("text", {"min": 3}, "does not apply to text"),
        ("boolean", {"unique": True}, "does not apply to boolean"),
        ("number", {"min": "3"}, "must be a number"),
        ("number", {"min": 5, "max": 1}, "greater than max"),
        ("date", {"min": "2024-02-30"}, "YYYY-MM-DD"),
        ("text", {"min_length": -1}, "whole number"),
        ("text", {"min_length": 5, "max_length": 2}, "greater than max_length"),
        ("text", {"required": "yes"}, "true or false"),
        ("text", {"pattern": "("}, "not valid"),
        ("text", {"pattern": "a" * 201}, "maximum is 200"),
        ("text", {"pattern": "(a+)+$"}, "exponential time"),
        ("text", {"pattern": r"(\w+\s?)*$"}, "exponential time"),
        ("number", {"allowed": ["a"]}, "not a number"),
        ("text", {"allowed": [None]}, "cannot contain null"),
        ("text", {"allowed": ["x"] * 501}, "maximum is 500"),
    ],
)
def test_normalize_rejects(field_type: str, raw: dict, fragment: str) -> None:
    with pytest.raises(FieldError) as caught:
        normalize_rules(field_type, raw)
    assert fragment in str(caught.value)


def test_calculated_fields_take_no_rules() -> None:
    with pytest.raises(FieldError, match="Calculated fields"):
        normalize_rules("number", {"required": True}, calculated=True)


def test_catastrophic_pattern_rejected_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(FieldError):
        normalize_rules("text", {"pattern": "(a|aa)+$"})
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("field_type", "rules", "value", "fragment"),
    [
        ("number", {"min": 1}, 0, "less than the minimum 1"),
        ("number", {"max": 1}, 1.5, "greater than the maximum 1"),
        ("date", {"min": "2024-01-01"}, "2023-12-31", "less than the minimum"),
        ("date", {"max": "2024-01-01"}, "2024-01-02", "greater than the maximum"),
        ("text", {"min_length": 3}, "ab", "has 2 characters"),
        ("text", {"max_length": 3}, "abcd", "has 4 characters"),
        ("array", {"max_length": 1}, ["a", "b"], "has 2 items"),
        ("text", {"pattern": "[0-9]+"}, "12a", "does not match"),
        ("array", {"pattern": "[a-z]+"}, ["ok", "NO"], '"NO" does not match'),
        ("text", {"allowed": ["gold", "silver"]}, "bronze", "choose one of"),
        ("number", {"allowed": [1, 2]}, 3, "not an allowed value"),
        ("array", {"allowed": ["a"]}, ["a", "b"], '"b" is not an allowed'),
    ],
)
def test_rule_violation_found(
    field_type: str, rules: dict, value: object, fragment: str
) -> None:
    message = rule_violation(field_type, rules, value)
    assert message is not None
    assert fragment in message


@pytest.mark.parametrize(
    ("field_type", "rules", "value"),
    [
        ("number", {"min": 1, "max": 3}, 1),
        ("number", {"min": 1, "max": 3}, 3.0),
        ("date", {"min": "2024-01-01"}, "2024-01-01"),
        ("text", {"min_length": 2, "max_length": 2}, "ab"),
        ("text", {"pattern": "[0-9]+"}, "123"),
        ("text", {"pattern": "^[0-9]+$"}, "123"),
        ("text", {"allowed": ["gold"]}, "gold"),
        ("number", {"allowed": [1]}, 1.0),
        ("array", {"allowed": ["a", "b"], "pattern": "[ab]"}, ["a", "b"]),
        ("text", {"required": True, "unique": True}, "anything"),
        ("text", {"min_length": 5}, None),
    ],
)
def test_rule_violation_passes(field_type: str, rules: dict, value: object) -> None:
    assert rule_violation(field_type, rules, value) is None


def test_pattern_is_full_match() -> None:
    assert rule_violation("text", {"pattern": "[0-9]+"}, "a1") is not None


def test_slow_pattern_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    # Skip the probes that normally reject this pattern when it is saved, to
    # reach the time limit that guards matching.
    monkeypatch.setattr(rules_module, "_PATTERN_PROBES", ())
    rules_module._compile_pattern.cache_clear()
    try:
        started = time.monotonic()
        message = rule_violation("text", {"pattern": "(a|aa)+$"}, "a" * 5000 + "!")
        elapsed = time.monotonic() - started
    finally:
        rules_module._compile_pattern.cache_clear()
    assert message is not None
    assert "timed out" in message
    assert elapsed < 1
