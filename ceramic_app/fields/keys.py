"""Custom field keys: format, built-in names and words reserved by expressions."""

from __future__ import annotations

import keyword
import re

from ceramic_app.fields.errors import FieldError

KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

# Profile columns and computed names that a custom field may not shadow.
BUILTIN_KEYS = frozenset(
    {"email", "custom_id", "created_at", "updated_at", "tags", "id"}
)

# Calculated-field expressions use Python's expression grammar, where these
# words cannot be field names, plus the literals true, false and null.
RESERVED_KEYS = frozenset(
    {word for word in keyword.kwlist if word.islower()} | {"true", "false", "null"}
)


def validate_key(key: object) -> str:
    """Return key unchanged if it can name a new custom field, else raise FieldError."""
    if not isinstance(key, str) or not key:
        raise FieldError("Enter a key, for example 'signup_date'.")
    if not KEY_PATTERN.fullmatch(key):
        suggestion = suggest_key(key)
        hint = f" such as {suggestion!r}" if suggestion else ""
        raise FieldError(
            f"Key {key!r} is not valid: use 1 to 63 lower-case letters, digits"
            f" and '_', starting with a letter{hint}."
        )
    if key in BUILTIN_KEYS:
        raise FieldError(
            f"Key {key!r} is a built-in profile field; choose another key,"
            f" for example '{key}_2'."
        )
    if key in RESERVED_KEYS:
        raise FieldError(
            f"Key {key!r} is a reserved word in calculated-field expressions;"
            f" choose another key, for example '{key}_value'."
        )
    return key


def suggest_key(label: str) -> str:
    """Derive a snake_case key from a label ("Signup date" -> "signup_date").

    Returns an empty string when the label has no ASCII letter to start with.
    """
    words = re.findall(r"[a-z0-9]+", label.lower())
    key = "_".join(words)
    key = re.sub(r"^[0-9_]+", "", key)[:63].rstrip("_")
    if not key:
        return ""
    if key in BUILTIN_KEYS or key in RESERVED_KEYS:
        key = f"{key}_value"
    return key
