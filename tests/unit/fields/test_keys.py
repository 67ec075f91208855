"""Field key format, built-in names and reserved words."""

from __future__ import annotations

import pytest

from ceramic_app.fields.errors import FieldError
from ceramic_app.fields.keys import suggest_key, validate_key


@pytest.mark.parametrize("key", ["a", "signup_date", "x1", "a" * 63, "ltv_2024"])
def test_valid_keys_accepted(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key",
    ["", "1abc", "_a", "Signup", "signup-date", "a b", "a" * 64, "ä", "a.b", None, 3],
)
def test_malformed_keys_rejected(key: object) -> None:
    with pytest.raises(FieldError):
        validate_key(key)


@pytest.mark.parametrize(
    "key", ["email", "custom_id", "created_at", "updated_at", "tags", "id"]
)
def test_builtin_keys_rejected(key: str) -> None:
    with pytest.raises(FieldError, match="built-in"):
        validate_key(key)


@pytest.mark.parametrize("key", ["class", "if", "and", "true", "null", "lambda"])
def test_reserved_words_rejected(key: str) -> None:
    with pytest.raises(FieldError, match="reserved word"):
        validate_key(key)


def test_message_suggests_key() -> None:
    with pytest.raises(FieldError, match="'signup_date'"):
        validate_key("Signup Date")


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Signup date", "signup_date"),
        ("  Lifetime value (EUR) ", "lifetime_value_eur"),
        ("2024 revenue", "revenue"),
        ("Email", "email_value"),
        ("Class", "class_value"),
        ("日本", ""),
    ],
)
def test_suggest_key(label: str, expected: str) -> None:
    assert suggest_key(label) == expected
