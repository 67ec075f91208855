"""A workspace's field definitions and the one validator for typed custom values.

Every write path (profile pages, the REST API and imports) loads the
workspace's Schema once per transaction or batch and calls validate_values()
on each profile's changes, then check_unique() for fields with the unique
rule. Calculated values come from compute_calculated(), never from input.

    schema = load_schema(conn, lock=True)
    clean = validate_values(schema, {"plan": "gold", "seats": 3}, partial=True)
    errors = check_unique(conn, schema, workspace_id, clean, exclude_profile_id=7)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, text

from ceramic_app.fields.errors import ValidationFailed
from ceramic_app.fields.expressions import (
    Expression,
    ExpressionError,
    calculation_order,
    compile_expression,
)
from ceramic_app.fields.keys import BUILTIN_KEYS
from ceramic_app.fields.rules import rule_violation
from ceramic_app.fields.typed import check_value, describe, is_number
from ceramic_app.models import FieldType

logger = logging.getLogger(__name__)

_STATUS_MESSAGES = {
    "converting": "is being converted to another type; try again when the"
    " conversion has finished",
    "deleting": "is being deleted and no longer accepts values",
}


@dataclass(frozen=True)
class FieldDef:
    """One custom field as stored in custom_fields."""

    id: int
    key: str
    label: str
    description: str
    type: FieldType
    rules: dict[str, Any]
    expression: str | None
    status: str
    position: int
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def is_calculated(self) -> bool:
        """Tell whether values come from an expression instead of input."""
        return self.expression is not None

    def as_dict(self) -> dict[str, Any]:
        """Return the definition as JSON-ready data (for audit entries and pages)."""
        return {
            "id": self.id,
            "key": self.key,
            "label": self.label,
            "description": self.description,
            "type": self.type.value,
            "rules": self.rules,
            "expression": self.expression,
            "status": self.status,
            "position": self.position,
        }


@dataclass(frozen=True)
class Schema:
    """All custom fields of one workspace, with compiled calculated expressions."""

    fields: dict[str, FieldDef]
    expressions: dict[str, Expression] = field(default_factory=dict)
    order: tuple[str, ...] = ()

    @classmethod
    def from_fields(cls, definitions: list[FieldDef]) -> Schema:
        """Build a schema and compile every calculated field's expression.

        A stored expression that no longer compiles is logged and skipped, so
        one broken definition does not block writes to every profile.
        """
        by_key = {definition.key: definition for definition in definitions}
        types = {
            definition.key: definition.type.value
            for definition in definitions
            if definition.status == "active"
        }
        expressions: dict[str, Expression] = {}
        for definition in definitions:
            if not definition.is_calculated or definition.status != "active":
                continue
            try:
                expressions[definition.key] = compile_expression(
                    definition.expression or "", types, own_key=definition.key
                )
            except ExpressionError as exc:
                logger.error(
                    "calculated field %s (id %s) does not compile: %s",
                    definition.key,
                    definition.id,
                    exc,
                )
        dependencies = {key: set(expr.references) for key, expr in expressions.items()}
        try:
            order = tuple(calculation_order(dependencies))
        except ExpressionError as exc:
            # Saving a field rejects cycles, so this needs a concurrent edit.
            logger.error("calculated fields form a cycle, none is computed: %s", exc)
            expressions, order = {}, ()
        return cls(fields=by_key, expressions=expressions, order=order)

    def field_types(self) -> dict[str, str]:
        """Return {key: type} of the active fields, as expressions expect."""
        return {
            key: definition.type.value
            for key, definition in self.fields.items()
            if definition.status == "active"
        }

    def dependencies(self) -> dict[str, set[str]]:
        """Return {calculated key: keys it reads} for the compiled expressions."""
        return {key: set(expr.references) for key, expr in self.expressions.items()}


_FIELD_COLUMNS = (
    "id, key, label, description, type, rules, expression, status, position,"
    " created_at, updated_at"
)


def row_to_field(row: Any) -> FieldDef:
    """Convert a custom_fields row (selected with _FIELD_COLUMNS) to a FieldDef."""
    return FieldDef(
        id=int(row.id),
        key=row.key,
        label=row.label,
        description=row.description,
        type=FieldType(row.type),
        rules=dict(row.rules or {}),
        expression=row.expression,
        status=row.status,
        position=int(row.position),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def load_fields(conn: Connection) -> list[FieldDef]:
    """Return the workspace's fields in display order."""
    rows = conn.execute(
        text(f"SELECT {_FIELD_COLUMNS} FROM custom_fields ORDER BY position, id")
    )
    return [row_to_field(row) for row in rows]


def load_schema(conn: Connection, *, lock: bool = False) -> Schema:
    """Load the workspace's schema in the connection's transaction.

    With lock=True the field rows are locked FOR SHARE until the transaction
    ends, so a type change or deletion cannot start between validating a
    write and committing it. Writers use it; readers do not need it.
    """
    suffix = " FOR SHARE" if lock else ""
    rows = conn.execute(
        text(
            f"SELECT {_FIELD_COLUMNS} FROM custom_fields ORDER BY position, id{suffix}"
        )
    )
    return Schema.from_fields([row_to_field(row) for row in rows])


def validate_values(
    schema: Schema,
    values: Mapping[str, Any],
    *,
    partial: bool,
) -> dict[str, Any]:
    """Check typed custom values against the schema and return them.

    A None value means "remove the value". With partial=False (a new profile)
    every required field must have a value; with partial=True (an update) only
    the keys present in values are checked. Unique rules need the database and
    are checked by check_unique().

    Raises:
        ValidationFailed: with one message per failing key.
    """
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        problem = _problem(schema, key, value)
        if problem:
            errors[key] = problem
        else:
            cleaned[key] = value
    if not partial:
        for key, definition in schema.fields.items():
            if (
                definition.rules.get("required")
                and definition.status == "active"
                and values.get(key) is None
                and key not in errors
            ):
                errors[key] = f"{definition.label} is required; enter a value"
    if errors:
        raise ValidationFailed(errors)
    return cleaned


def _problem(schema: Schema, key: str, value: Any) -> str | None:
    definition = schema.fields.get(key)
    if definition is None:
        if key in BUILTIN_KEYS:
            return f"{key!r} is a built-in field; set it with its own parameter"
        return f"there is no field with key {key!r}; create it first or check the key"
    if definition.status in _STATUS_MESSAGES:
        return f"{definition.label} {_STATUS_MESSAGES[definition.status]}"
    if definition.is_calculated:
        return (
            f"{definition.label} is calculated from {definition.expression!r}"
            " and cannot be set"
        )
    if value is None:
        if definition.rules.get("required"):
            return f"{definition.label} is required; enter a value"
        return None
    problem = check_value(definition.type, value)
    if problem:
        return problem
    return rule_violation(definition.type, definition.rules, value)


def check_unique(
    conn: Connection,
    schema: Schema,
    workspace_id: int,
    values: Mapping[str, Any],
    *,
    exclude_profile_id: int | None = None,
) -> dict[str, str]:
    """Return {key: message} for values of unique fields that another profile has.

    Takes a transaction-level advisory lock per (field, value), so two
    concurrent writers of the same value are serialized and the second reads
    the first one's row. Writers that skip this function are not serialized.
    """
    errors: dict[str, str] = {}
    for key, value in values.items():
        definition = schema.fields.get(key)
        if value is None or definition is None or not definition.rules.get("unique"):
            continue
        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:lock_key, 0))"),
            {"lock_key": f"unique:{workspace_id}:{key}:{_lock_value(value)}"},
        )
        other = conn.execute(
            text(
                "SELECT id FROM profiles WHERE workspace_id = :ws"
                " AND attributes @> CAST(:document AS jsonb)"
                " AND (CAST(:exclude AS bigint) IS NULL OR id <> :exclude) LIMIT 1"
            ),
            {
                "ws": workspace_id,
                "document": json.dumps({key: value}),
                "exclude": exclude_profile_id,
            },
        ).scalar()
        if other is not None:
            errors[key] = (
                f"{describe(value)} is already used by profile {other};"
                f" {definition.label} must be unique, so enter another value"
            )
    return errors


def _lock_value(value: Any) -> str:
    # 3 and 3.0 are the same jsonb number, so they must take the same lock.
    if is_number(value):
        return repr(float(value))
    return json.dumps(value, sort_keys=True)


def compute_calculated(
    schema: Schema, record: Mapping[str, Any], today: date
) -> dict[str, Any]:
    """Evaluate every calculated field for one profile record, inputs first.

    record is built by expressions.profile_record(); results of earlier
    calculated fields feed later ones. Returns {key: JSON value or None}.
    """
    current = dict(record)
    results: dict[str, Any] = {}
    for key in schema.order:
        value = schema.expressions[key].evaluate(current, today)
        results[key] = value
        current[key] = value
    return results
