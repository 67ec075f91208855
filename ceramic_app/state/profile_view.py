"""Display and input helpers for the profile pages: plain functions, no Reflex.

Editors work on text: editor_text() renders a stored value for its input,
and parse_input() turns the input back into the typed value that the profile
service validates.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import text

from ceramic_app.accounts.service import Principal
from ceramic_app.db import tenant_connection
from ceramic_app.fields.typed import number_text, parse_text
from ceramic_app.fields.validation import FieldDef
from ceramic_app.models import FieldType, Role
from ceramic_app.profiles.service import HistoryEntry
from ceramic_app.state.field_view import format_value, rules_summary, type_label

MAX_MATCHES = 8
MAX_HISTORY_VALUE_CHARS = 120
BUILTIN_LABELS = {"email": "E-mail", "custom_id": "Custom ID", "tags": "Tags"}
SOURCE_LABELS = {
    "ui": "Web app",
    "api": "API",
    "import": "Import",
    "field.convert": "Type change",
}
ACTOR_LABELS = {"api_key": "API key", "import_job": "Import", "system": "System"}
# Principal.actor_label of a user is "Name <e-mail>".
_ACTOR_LABEL = re.compile(r"(.+?) <([^<>]+)>")


@dataclasses.dataclass
class ValueRow:
    """One custom field of a profile, as the detail page shows and edits it."""

    key: str = ""
    label: str = ""
    type: str = ""
    type_label: str = ""
    description: str = ""
    expression: str = ""
    calculated: bool = False
    editable: bool = True
    required: bool = False
    rules_summary: str = ""
    has_value: bool = False
    display: str = ""
    chips: list[str] = dataclasses.field(default_factory=list)
    checked: bool = False


@dataclasses.dataclass
class InputRow:
    """One field of the new-profile form."""

    key: str = ""
    label: str = ""
    type: str = ""
    type_label: str = ""
    required: bool = False
    hint: str = ""


@dataclasses.dataclass
class HistoryRow:
    """One changed key of one history entry."""

    row_id: str = ""
    at: str = ""
    actor: str = ""
    actor_detail: str = ""
    source: str = ""
    field: str = ""
    before: str = ""
    after: str = ""


@dataclasses.dataclass
class ProfileMatch:
    """A profile found by e-mail."""

    id: str = ""
    email: str = ""
    custom_id: str = ""


# --- values ------------------------------------------------------------------------


def editor_text(field_type: str, value: Any) -> str:
    """Render a stored value as the text its editor starts with ("" for none)."""
    if value is None:
        return ""
    kind = FieldType(field_type)
    if kind is FieldType.JSON:
        return json.dumps(value, ensure_ascii=False, indent=2)
    if kind is FieldType.NUMBER and isinstance(value, int | float):
        return number_text(value)
    if kind is FieldType.BOOLEAN:
        return "true" if value else "false"
    if kind is FieldType.ARRAY and isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def parse_input(field_type: str, raw: str) -> Any:
    """Parse an editor's text into a typed value; blank text means "no value".

    Raises:
        ConversionError: with a message that names the expected form.
    """
    return parse_text(FieldType(field_type), raw)


def as_sentence(message: str) -> str:
    """Capitalize a service message and end it with a full stop, for display."""
    clean = message.strip()
    if clean and not clean.endswith("."):
        clean += "."
    return clean[:1].upper() + clean[1:]


def value_rows(
    definitions: Iterable[FieldDef], attributes: Mapping[str, Any]
) -> list[ValueRow]:
    """Return one row per custom field, with the profile's value."""
    rows = []
    for definition in definitions:
        value = attributes.get(definition.key)
        kind = definition.type.value
        rows.append(
            ValueRow(
                key=definition.key,
                label=definition.label,
                type=kind,
                type_label=type_label(kind),
                description=definition.description,
                expression=definition.expression or "",
                calculated=definition.is_calculated,
                editable=not definition.is_calculated and definition.status == "active",
                required=bool(definition.rules.get("required")),
                rules_summary=rules_summary(kind, definition.rules),
                has_value=value is not None,
                display=_display(kind, value),
                chips=[str(item) for item in value] if isinstance(value, list) else [],
                checked=value is True,
            )
        )
    return rows


def refresh_values(
    rows: Iterable[ValueRow], attributes: Mapping[str, Any]
) -> list[ValueRow]:
    """Return rows showing the values that attributes now hold."""
    refreshed = []
    for row in rows:
        value = attributes.get(row.key)
        refreshed.append(
            dataclasses.replace(
                row,
                has_value=value is not None,
                display=_display(row.type, value),
                chips=[str(item) for item in value] if isinstance(value, list) else [],
                checked=value is True,
            )
        )
    return refreshed


def _display(field_type: str, value: Any) -> str:
    if value is None:
        return ""
    if field_type == FieldType.JSON.value:
        return json.dumps(value, ensure_ascii=False, indent=2)
    if field_type == FieldType.BOOLEAN.value:
        return "Yes" if value else "No"
    return format_value(value, limit=10_000)


def input_rows(definitions: Iterable[FieldDef]) -> list[InputRow]:
    """Return the fields a new profile can be given, required ones first."""
    rows = [
        InputRow(
            key=definition.key,
            label=definition.label,
            type=definition.type.value,
            type_label=type_label(definition.type.value),
            required=bool(definition.rules.get("required")),
            hint=_input_hint(definition.type.value),
        )
        for definition in definitions
        if not definition.is_calculated and definition.status == "active"
    ]
    return sorted(rows, key=lambda row: not row.required)


def _input_hint(field_type: str) -> str:
    return {
        "array": "Separate items with commas.",
        "json": 'Any JSON value, for example {"plan": "gold"}.',
        "number": "Digits with '.' as the decimal point.",
    }.get(field_type, "")


# --- history -----------------------------------------------------------------------


def history_rows(
    entries: Iterable[HistoryEntry], labels: Mapping[str, str]
) -> list[HistoryRow]:
    """Return history entries as rows, naming fields by their labels."""
    rows = []
    for entry in entries:
        actor, detail = split_actor(entry.actor_label, entry.actor_type)
        rows.append(
            HistoryRow(
                row_id=f"{entry.change_id}:{entry.key}",
                at=entry.at.isoformat(),
                actor=actor,
                actor_detail=detail,
                source=SOURCE_LABELS.get(entry.source, entry.source),
                field=labels.get(entry.key) or BUILTIN_LABELS.get(entry.key, entry.key),
                before=_history_value(entry.before),
                after=_history_value(entry.after),
            )
        )
    return rows


def split_actor(label: str, actor_type: str) -> tuple[str, str]:
    """Split an actor label "Name <e-mail>" into its name and its e-mail."""
    match = _ACTOR_LABEL.fullmatch(label or "")
    if match:
        return match.group(1), match.group(2)
    return label or ACTOR_LABELS.get(actor_type, actor_type), ""


def _history_value(value: Any) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ", ".join(value) if value else "(none)"
    return format_value(value, limit=MAX_HISTORY_VALUE_CHARS)


# --- lookups -----------------------------------------------------------------------


def find_profiles(
    principal: Principal, query: str, limit: int = MAX_MATCHES
) -> list[ProfileMatch]:
    """Return profiles whose e-mail starts with query (ignoring case), by e-mail.

    NOTE: the prefix LIKE reads the (workspace_id, email_key) index only
    under the C collation, which the development cluster uses. Under other
    collations it filters the workspace's rows until it has LIMIT matches.
    """
    principal.require(Role.VIEWER)
    term = query.strip().lower()[:254]
    if not term:
        return []
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    with tenant_connection(principal.workspace_id) as conn:
        rows = conn.execute(
            text(
                "SELECT id, email, custom_id FROM profiles"
                " WHERE workspace_id = :ws AND email_key LIKE :prefix"
                " ORDER BY email_key LIMIT :limit"
            ),
            {"ws": principal.workspace_id, "prefix": escaped + "%", "limit": limit},
        ).all()
    return [
        ProfileMatch(id=str(row.id), email=row.email, custom_id=row.custom_id or "")
        for row in rows
    ]
