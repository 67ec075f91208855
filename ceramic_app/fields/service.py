"""Field service: create, edit, inspect, convert and delete a workspace's custom fields.

Admins manage fields; every role can list them and read their stats. Each
change records an audit entry in the same transaction. Work that rewrites
stored values runs in two steps, so that a page can show the impact first:

    check_type_change(admin, field_id, "number")        # -> TypeChangeReport
    begin_type_change(admin, field_id, "number", confirm=True)
    # then a job runs fields.jobs.convert_field(workspace_id, field_id, ...)

    plan_field_deletion(admin, field_id)                # -> DeletionPlan
    begin_field_deletion(admin, field_id, confirm=True)
    # then a job runs fields.jobs.delete_field_values(workspace_id, field_id, ...)

After a calculated field is created or its expression changes, a job runs
fields.jobs.recompute_field() to fill the stored values.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError

from ceramic_app import audit
from ceramic_app.accounts.service import Principal
from ceramic_app.db import tenant_connection
from ceramic_app.fields.errors import ConfirmationRequired, FieldError, NotFound
from ceramic_app.fields.expressions import (
    ExpressionError,
    calculation_order,
    compile_expression,
    dependents_of,
)
from ceramic_app.fields.keys import BUILTIN_KEYS, validate_key
from ceramic_app.fields.rules import RULES_BY_TYPE, normalize_rules, rule_violation
from ceramic_app.fields.stats import FieldStats, measure_field
from ceramic_app.fields.typed import ConversionError, convert_value
from ceramic_app.fields.validation import (
    FieldDef,
    load_schema,
    row_to_field,
)
from ceramic_app.message_templates.service import TemplateReference, references_to
from ceramic_app.models import FieldType, Role

logger = logging.getLogger(__name__)

MAX_LABEL_CHARS = 120
MAX_DESCRIPTION_CHARS = 2_000
MAX_EXAMPLES = 10
SCAN_BATCH_ROWS = 5_000


@dataclass(frozen=True)
class Example:
    """One profile's value that a change would reject, and why."""

    profile_id: int
    value: Any
    message: str


@dataclass(frozen=True)
class RuleImpact:
    """How many existing profiles break a proposed set of rules, with examples."""

    field_key: str
    rules: dict[str, Any]
    checked_values: int
    failing_values: int
    missing_required: int
    duplicate_profiles: int
    examples: list[Example] = field(default_factory=list)

    @property
    def breaking_profiles(self) -> int:
        """Profiles that break at least one rule (a value may break several)."""
        return self.failing_values + self.missing_required + self.duplicate_profiles


@dataclass(frozen=True)
class TypeChangeReport:
    """Outcome of converting a field's stored values to another type, computed without writing."""

    field_key: str
    from_type: FieldType
    to_type: FieldType
    values: int
    convertible: int
    failing: int
    examples: list[Example]
    kept_rules: dict[str, Any]
    dropped_rules: list[str]
    blocked_by: list[str]


@dataclass(frozen=True)
class DeletionPlan:
    """Template blocks, calculated fields and values that deleting a field affects."""

    field: FieldDef
    references: list[TemplateReference]
    dependents: list[str]
    stats: FieldStats

    @property
    def blocked(self) -> bool:
        """Tell whether calculated fields still read this field."""
        return bool(self.dependents)


# --- reading ----------------------------------------------------------------------


def list_fields(principal: Principal) -> list[FieldDef]:
    """Return every custom field of the workspace in display order."""
    principal.require(Role.VIEWER)
    with tenant_connection(principal.workspace_id) as conn:
        return list(load_schema(conn).fields.values())


def get_field(principal: Principal, field_id: int) -> FieldDef:
    """Return one custom field.

    Raises:
        NotFound: when the field is not in the principal's workspace.
    """
    principal.require(Role.VIEWER)
    with tenant_connection(principal.workspace_id) as conn:
        return _load_field(conn, field_id)


def get_field_by_key(principal: Principal, key: str) -> FieldDef:
    """Return the custom field with this key.

    Raises:
        FieldError: when key is a built-in field, which cannot be edited or deleted.
        NotFound: when no custom field has this key.
    """
    principal.require(Role.VIEWER)
    if key in BUILTIN_KEYS:
        raise FieldError(
            f"{key!r} is a built-in field; it cannot be edited or deleted."
        )
    with tenant_connection(principal.workspace_id) as conn:
        row = conn.execute(
            text(f"SELECT {_COLUMNS} FROM custom_fields WHERE key = :key"), {"key": key}
        ).first()
    if row is None:
        raise NotFound(f"There is no field with key {key!r} in this workspace.")
    return row_to_field(row)


def field_stats(
    principal: Principal, field_id: int, *, exact: bool = False
) -> FieldStats:
    """Return how many profiles have a value for the field, and an example value.

    Large workspaces get a sampled estimate unless exact=True; see stats.py.
    """
    principal.require(Role.VIEWER)
    with tenant_connection(principal.workspace_id) as conn:
        definition = _load_field(conn, field_id)
        return measure_field(conn, principal.workspace_id, definition.key, exact=exact)


# --- creating and editing ---------------------------------------------------------


def create_field(
    principal: Principal,
    *,
    key: str,
    label: str,
    field_type: FieldType | str | None = None,
    description: str = "",
    rules: Mapping[str, Any] | None = None,
    expression: str | None = None,
) -> FieldDef:
    """Create a custom field; with an expression it is a calculated field.

    A calculated field's type is inferred from its expression (pass
    field_type=None or the same type). Its stored values are filled by
    fields.jobs.recompute_field(), which the caller enqueues.

    Raises:
        FieldError: for an invalid or taken key, label, type, rule or
            expression; the message names the fix.
    """
    principal.require(Role.ADMIN)
    key = validate_key(key)
    clean_label = _clean_label(label)
    clean_description = _clean_description(description)
    with tenant_connection(principal.workspace_id) as conn:
        schema = load_schema(conn, lock=True)
        if expression is not None:
            compiled = compile_expression(expression, schema.field_types(), own_key=key)
            resolved = FieldType(compiled.type.value)
            if field_type is not None and _parse_type(field_type) is not resolved:
                raise FieldError(
                    f"The expression gives a {resolved.value}, not a"
                    f" {_parse_type(field_type).value}; leave the type empty for"
                    " calculated fields."
                )
            clean_rules = normalize_rules(resolved, rules, calculated=True)
            expression = compiled.source
        else:
            if field_type is None:
                raise FieldError(
                    "Choose a type: " + ", ".join(t.value for t in FieldType) + "."
                )
            resolved = _parse_type(field_type)
            clean_rules = normalize_rules(resolved, rules)
        try:
            with conn.begin_nested():
                row = conn.execute(
                    text(
                        "INSERT INTO custom_fields (workspace_id, key, label, description,"
                        " type, rules, expression, position, created_by)"
                        " VALUES (:ws, :key, :label, :description, :type,"
                        " CAST(:rules AS jsonb), :expression,"
                        " (SELECT coalesce(max(position), -1) + 1 FROM custom_fields),"
                        " :by)"
                        f" RETURNING {_COLUMNS}"
                    ),
                    {
                        "ws": principal.workspace_id,
                        "key": key,
                        "label": clean_label,
                        "description": clean_description,
                        "type": resolved.value,
                        "rules": json.dumps(clean_rules),
                        "expression": expression,
                        "by": principal.user_id,
                    },
                ).one()
        except IntegrityError:
            raise FieldError(
                f"A field with key {key!r} already exists; choose another key."
            ) from None
        definition = row_to_field(row)
        audit.record(
            conn,
            principal,
            "field.create",
            "field",
            definition.id,
            after=definition.as_dict(),
        )
    logger.info("field %s created in workspace %s", key, principal.workspace_id)
    return definition


def update_field(
    principal: Principal,
    field_id: int,
    *,
    label: str | None = None,
    description: str | None = None,
    rules: Mapping[str, Any] | None = None,
    expression: str | None = None,
    position: int | None = None,
    confirm: bool = False,
) -> FieldDef:
    """Change a field's label, description, rules, expression or position.

    The key and the type do not change here (see begin_type_change()). When
    new rules would reject existing values, the call raises
    ConfirmationRequired with a RuleImpact unless confirm=True; existing
    values stay as they are either way. After an expression change the caller
    enqueues fields.jobs.recompute_field().

    Raises:
        NotFound, FieldError, ConfirmationRequired.
    """
    principal.require(Role.ADMIN)
    with tenant_connection(principal.workspace_id) as conn:
        schema = load_schema(conn, lock=True)
        before = _load_field(conn, field_id, lock=True)
        _require_active(before)
        changes: dict[str, Any] = {}
        if label is not None:
            changes["label"] = _clean_label(label)
        if description is not None:
            changes["description"] = _clean_description(description)
        if position is not None:
            changes["position"] = int(position)
        if expression is not None:
            changes.update(_checked_expression(schema, before, expression))
        if rules is not None:
            new_rules = normalize_rules(
                before.type, rules, calculated=before.is_calculated
            )
            if new_rules != before.rules and not confirm:
                impact = _rule_impact(conn, principal.workspace_id, before, new_rules)
                if impact.breaking_profiles:
                    raise ConfirmationRequired(
                        f"{impact.breaking_profiles} existing profiles break the new"
                        f" rules of {before.label}; confirm to save them anyway.",
                        impact,
                    )
            changes["rules"] = new_rules
        if not changes:
            return before
        after = _apply_changes(conn, before, changes)
        audit.record(
            conn,
            principal,
            "field.update",
            "field",
            field_id,
            before={name: before.as_dict()[name] for name in changes},
            after={name: after.as_dict()[name] for name in changes},
        )
    return after


def _checked_expression(
    schema: Any, before: FieldDef, expression: str
) -> dict[str, Any]:
    if not before.is_calculated:
        raise FieldError(
            f"{before.label} stores entered values; create a new calculated field"
            " instead of adding an expression to it."
        )
    types = schema.field_types()
    compiled = compile_expression(expression, types, own_key=before.key)
    types[before.key] = compiled.type.value
    dependencies = schema.dependencies()
    dependencies[before.key] = set(compiled.references)
    calculation_order(dependencies)
    for dependent in dependents_of(before.key, dependencies):
        try:
            compile_expression(
                schema.fields[dependent].expression or "", types, own_key=dependent
            )
        except ExpressionError as exc:
            raise FieldError(
                f"Calculated field {dependent!r} reads {before.key!r} and would break: {exc}"
            ) from None
    return {"expression": compiled.source, "type": FieldType(compiled.type.value)}


def _apply_changes(
    conn: Connection, before: FieldDef, changes: dict[str, Any]
) -> FieldDef:
    merged = {**before.as_dict(), **changes}
    row = conn.execute(
        text(
            "UPDATE custom_fields SET label = :label, description = :description,"
            " rules = CAST(:rules AS jsonb), expression = :expression, type = :type,"
            " position = :position, updated_at = now()"
            f" WHERE id = :id RETURNING {_COLUMNS}"
        ),
        {
            "id": before.id,
            "label": merged["label"],
            "description": merged["description"],
            "rules": json.dumps(merged["rules"]),
            "expression": merged["expression"],
            "type": FieldType(merged["type"]).value,
            "position": merged["position"],
        },
    ).one()
    return row_to_field(row)


def preview_rules(
    principal: Principal, field_id: int, rules: Mapping[str, Any]
) -> RuleImpact:
    """Report how many existing profiles break rules, without saving them.

    Raises:
        NotFound, FieldError (for invalid rules).
    """
    principal.require(Role.ADMIN)
    with tenant_connection(principal.workspace_id) as conn:
        definition = _load_field(conn, field_id)
        new_rules = normalize_rules(
            definition.type, rules, calculated=definition.is_calculated
        )
        return _rule_impact(conn, principal.workspace_id, definition, new_rules)


def _rule_impact(
    conn: Connection, workspace_id: int, definition: FieldDef, rules: dict[str, Any]
) -> RuleImpact:
    examples: list[Example] = []
    checked = failing = 0
    value_rules = {
        name: value
        for name, value in rules.items()
        if name not in ("required", "unique")
    }
    if value_rules:
        for profile_id, value in scan_values(conn, workspace_id, definition.key):
            checked += 1
            message = rule_violation(definition.type, value_rules, value)
            if message:
                failing += 1
                if len(examples) < MAX_EXAMPLES:
                    examples.append(Example(profile_id, value, message))
    missing = 0
    if rules.get("required"):
        missing = conn.execute(
            text(
                "SELECT count(*) FROM profiles WHERE workspace_id = :ws"
                " AND NOT attributes ? :key"
            ),
            {"ws": workspace_id, "key": definition.key},
        ).scalar_one()
        for row in conn.execute(
            text(
                "SELECT id FROM profiles WHERE workspace_id = :ws AND NOT attributes ? :key"
                " ORDER BY id LIMIT 3"
            ),
            {"ws": workspace_id, "key": definition.key},
        ):
            examples.append(Example(int(row.id), None, f"{definition.label} is empty"))
    duplicates = 0
    if rules.get("unique"):
        duplicates = _duplicates(conn, workspace_id, definition, examples)
    return RuleImpact(
        field_key=definition.key,
        rules=rules,
        checked_values=checked,
        failing_values=failing,
        missing_required=int(missing),
        duplicate_profiles=duplicates,
        examples=examples,
    )


def _duplicates(
    conn: Connection, workspace_id: int, definition: FieldDef, examples: list[Example]
) -> int:
    groups = conn.execute(
        text(
            "SELECT attributes->:key AS value, count(*) AS n,"
            "       (array_agg(id ORDER BY id))[1:3] AS ids"
            "  FROM profiles WHERE workspace_id = :ws AND attributes ? :key"
            " GROUP BY attributes->:key HAVING count(*) > 1"
            " ORDER BY count(*) DESC"
        ),
        {"ws": workspace_id, "key": definition.key},
    ).all()
    for group in groups[:3]:
        examples.append(
            Example(
                int(group.ids[0]),
                group.value,
                f"{group.n} profiles share this value (ids {', '.join(map(str, group.ids))}, …)",
            )
        )
    return int(sum(group.n for group in groups))


def scan_values(conn: Connection, workspace_id: int, key: str) -> Any:
    """Yield (profile_id, value) for every profile with a value, in id order.

    Reads keyset pages of SCAN_BATCH_ROWS profiles over the primary key, so
    the scan costs one pass over the workspace whatever the value density.
    """
    after = 0
    while True:
        rows = conn.execute(
            text(
                "SELECT id, attributes->:key AS value FROM profiles"
                " WHERE workspace_id = :ws AND id > :after ORDER BY id LIMIT :n"
            ),
            {"ws": workspace_id, "key": key, "after": after, "n": SCAN_BATCH_ROWS},
        ).all()
        if not rows:
            return
        for row in rows:
            if row.value is not None:
                yield int(row.id), row.value
        after = int(rows[-1].id)


# --- type change ------------------------------------------------------------------


def check_type_change(
    principal: Principal, field_id: int, new_type: FieldType | str
) -> TypeChangeReport:
    """Report how the field's stored values would convert to new_type; change nothing.

    Raises:
        NotFound, FieldError (calculated field, same type, or field busy).
    """
    principal.require(Role.ADMIN)
    with tenant_connection(principal.workspace_id) as conn:
        schema = load_schema(conn)
        definition = _load_field(conn, field_id)
        return _type_change_report(
            conn, principal.workspace_id, schema, definition, new_type
        )


def _type_change_report(
    conn: Connection,
    workspace_id: int,
    schema: Any,
    definition: FieldDef,
    new_type: FieldType | str,
) -> TypeChangeReport:
    target = _parse_type(new_type)
    _require_active(definition)
    if definition.is_calculated:
        raise FieldError(
            f"{definition.label} is calculated; its type follows its expression."
        )
    if target is definition.type:
        raise FieldError(f"{definition.label} already has type {target.value}.")
    values = convertible = failing = 0
    examples: list[Example] = []
    for profile_id, value in scan_values(conn, workspace_id, definition.key):
        values += 1
        try:
            convert_value(value, target)
        except ConversionError as exc:
            failing += 1
            if len(examples) < MAX_EXAMPLES:
                examples.append(Example(profile_id, value, str(exc)))
        else:
            convertible += 1
    kept, dropped = split_rules(definition.rules, target)
    return TypeChangeReport(
        field_key=definition.key,
        from_type=definition.type,
        to_type=target,
        values=values,
        convertible=convertible,
        failing=failing,
        examples=examples,
        kept_rules=kept,
        dropped_rules=dropped,
        blocked_by=_dependents(schema, definition.key),
    )


def split_rules(
    rules: Mapping[str, Any], new_type: FieldType
) -> tuple[dict[str, Any], list[str]]:
    """Return the rules that survive a change to new_type, and the names dropped.

    Only required and unique carry over (where the new type accepts them),
    because bounds, patterns and allowed values are written for the old type.
    """
    kept = {
        name: value
        for name, value in rules.items()
        if name in ("required", "unique") and name in RULES_BY_TYPE[new_type]
    }
    return kept, sorted(set(rules) - set(kept))


def begin_type_change(
    principal: Principal,
    field_id: int,
    new_type: FieldType | str,
    *,
    confirm: bool = False,
) -> FieldDef:
    """Mark the field 'converting'; a job then runs fields.jobs.convert_field().

    Without confirm=True this raises ConfirmationRequired with the
    TypeChangeReport. Values that do not convert are removed by the job, and
    their old values are kept in the profile history.

    Raises:
        NotFound, FieldError (blocked by calculated fields), ConfirmationRequired.
    """
    principal.require(Role.ADMIN)
    with tenant_connection(principal.workspace_id) as conn:
        schema = load_schema(conn)
        definition = _load_field(conn, field_id, lock=True)
        target = _parse_type(new_type)
        if not confirm:
            report = _type_change_report(
                conn, principal.workspace_id, schema, definition, target
            )
            raise ConfirmationRequired(
                f"{report.convertible} values convert to {target.value} and"
                f" {report.failing} do not; confirm to convert.",
                report,
            )
        _require_active(definition)
        if definition.is_calculated or target is definition.type:
            raise FieldError(
                f"{definition.label} cannot be converted to {target.value}."
            )
        blocked_by = _dependents(schema, definition.key)
        if blocked_by:
            raise FieldError(
                f"Calculated fields {', '.join(blocked_by)} read {definition.key!r};"
                " change their expressions before changing its type."
            )
        after = _set_status(conn, definition.id, "converting")
        audit.record(
            conn,
            principal,
            "field.convert_start",
            "field",
            definition.id,
            before={"type": definition.type.value},
            after={"type": target.value},
        )
    return after


# --- deletion ---------------------------------------------------------------------


def plan_field_deletion(principal: Principal, field_id: int) -> DeletionPlan:
    """List what deleting the field touches, so the page can warn first."""
    principal.require(Role.ADMIN)
    with tenant_connection(principal.workspace_id) as conn:
        schema = load_schema(conn)
        definition = _load_field(conn, field_id)
        return DeletionPlan(
            field=definition,
            references=references_to(conn, definition.key),
            dependents=_dependents(schema, definition.key),
            stats=measure_field(conn, principal.workspace_id, definition.key),
        )


def begin_field_deletion(
    principal: Principal, field_id: int, *, confirm: bool = False
) -> FieldDef:
    """Mark the field 'deleting'; a job then runs fields.jobs.delete_field_values().

    Without confirm=True this raises ConfirmationRequired with the
    DeletionPlan (template blocks that use the key, value count).

    Raises:
        NotFound, FieldError (calculated fields read it, or the field is busy),
        ConfirmationRequired.
    """
    principal.require(Role.ADMIN)
    if not confirm:
        plan = plan_field_deletion(principal, field_id)
        raise ConfirmationRequired(
            f"{len(plan.references)} template blocks use {plan.field.key!r};"
            " confirm to delete the field and its values.",
            plan,
        )
    with tenant_connection(principal.workspace_id) as conn:
        schema = load_schema(conn)
        definition = _load_field(conn, field_id, lock=True)
        _require_active(definition)
        dependents = _dependents(schema, definition.key)
        if dependents:
            raise FieldError(
                f"Calculated fields {', '.join(dependents)} read {definition.key!r};"
                " change or delete them first."
            )
        after = _set_status(conn, definition.id, "deleting")
        audit.record(
            conn,
            principal,
            "field.delete_start",
            "field",
            definition.id,
            before=definition.as_dict(),
        )
    return after


# --- helpers ----------------------------------------------------------------------

_COLUMNS = (
    "id, key, label, description, type, rules, expression, status, position,"
    " created_at, updated_at"
)


def _load_field(conn: Connection, field_id: int, *, lock: bool = False) -> FieldDef:
    suffix = " FOR UPDATE" if lock else ""
    row = conn.execute(
        text(f"SELECT {_COLUMNS} FROM custom_fields WHERE id = :id{suffix}"),
        {"id": field_id},
    ).first()
    if row is None:
        raise NotFound(f"Field {field_id} was not found in this workspace.")
    return row_to_field(row)


def _set_status(conn: Connection, field_id: int, status: str) -> FieldDef:
    row = conn.execute(
        text(
            "UPDATE custom_fields SET status = :status, updated_at = now()"
            f" WHERE id = :id RETURNING {_COLUMNS}"
        ),
        {"id": field_id, "status": status},
    ).one()
    return row_to_field(row)


def _require_active(definition: FieldDef) -> None:
    if definition.status != "active":
        raise FieldError(
            f"{definition.label} is {definition.status}; wait until that job has finished."
        )


def _dependents(schema: Any, key: str) -> list[str]:
    return dependents_of(key, schema.dependencies())


def _parse_type(value: FieldType | str) -> FieldType:
    try:
        return FieldType(value)
    except ValueError:
        raise FieldError(
            f"Type {value!r} is not valid; choose one of "
            + ", ".join(t.value for t in FieldType)
            + "."
        ) from None


def _clean_label(label: str) -> str:
    clean = (label or "").strip()
    if not clean:
        raise FieldError("Enter a label, for example 'Signup date'.")
    if len(clean) > MAX_LABEL_CHARS:
        raise FieldError(
            f"The label has {len(clean)} characters; the maximum is {MAX_LABEL_CHARS}."
        )
    return clean


def _clean_description(description: str) -> str:
    clean = (description or "").strip()
    if len(clean) > MAX_DESCRIPTION_CHARS:
        raise FieldError(
            f"The description has {len(clean)} characters; the maximum is"
            f" {MAX_DESCRIPTION_CHARS}."
        )
    return clean
