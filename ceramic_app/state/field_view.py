"""Display and form helpers for Settings > Fields: plain functions, no Reflex.

The page state holds only what these functions return: dataclasses of
strings, numbers and booleans, so that Reflex can send them to the browser.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import text

from ceramic_app.accounts.service import Principal
from ceramic_app.db import tenant_connection
from ceramic_app.field_jobs import KIND_CONVERT, KIND_DELETE, FieldJob
from ceramic_app.fields.errors import FieldError
from ceramic_app.fields.rules import RULES_BY_TYPE
from ceramic_app.fields.service import DeletionPlan, RuleImpact, TypeChangeReport
from ceramic_app.fields.stats import FieldStats
from ceramic_app.fields.typed import ConversionError, format_number, parse_text
from ceramic_app.fields.validation import FieldDef
from ceramic_app.models import FieldType, Role

FIELD_TYPES = [t.value for t in FieldType]
TYPE_LABELS = {
    "text": "Text",
    "number": "Number",
    "date": "Date",
    "boolean": "Yes / no",
    "array": "List of texts",
    "json": "JSON",
    "datetime": "Timestamp",
}
# Keys of the rule inputs in the field dialog, in display order.
RULE_INPUTS = (
    "required",
    "unique",
    "min",
    "max",
    "min_length",
    "max_length",
    "pattern",
    "allowed",
)
MAX_EXAMPLE_CHARS = 80

# (key, label, type, description) of the profile columns every workspace has.
BUILTIN_FIELDS = (
    ("email", "E-mail", "text", "The customer's address; one profile per address."),
    ("custom_id", "Custom ID", "text", "Your own identifier, unique when set."),
    ("created_at", "Created", "datetime", "When the profile was created."),
    ("updated_at", "Updated", "datetime", "When a value of the profile last changed."),
)
_BUILTIN_RULES = {
    "email": "required · unique",
    "custom_id": "unique",
    "created_at": "set by the system",
    "updated_at": "set by the system",
}


@dataclasses.dataclass
class FieldRow:
    """One row of the fields table."""

    id: int = 0
    key: str = ""
    label: str = ""
    description: str = ""
    type: str = ""
    type_label: str = ""
    rules_summary: str = ""
    expression: str = ""
    calculated: bool = False
    builtin: bool = False
    status: str = "active"
    stats_loaded: bool = False
    count_label: str = ""
    estimated: bool = False
    estimate_note: str = ""
    example: str = ""
    job_id: int = 0
    job_verb: str = ""
    job_label: str = ""
    job_percent: int = 0
    job_running: bool = False
    job_failed: bool = False
    job_error: str = ""


@dataclasses.dataclass
class ExampleRow:
    """An existing profile's value that a change affects."""

    profile_id: str = ""
    value: str = ""
    message: str = ""


@dataclasses.dataclass
class ReferenceRow:
    """A template block that uses a field, with the text around one use."""

    template_id: str = ""
    template_name: str = ""
    block_name: str = ""
    snippet: str = ""


# --- values ------------------------------------------------------------------------


def format_value(value: Any, limit: int = MAX_EXAMPLE_CHARS) -> str:
    """Render a stored JSON value compactly: texts as they are, the rest as JSON."""
    if value is None:
        return "—"
    if isinstance(value, str):
        rendered = value
    elif isinstance(value, bool):
        rendered = "true" if value else "false"
    elif isinstance(value, int | float):
        rendered = format_number(value)
    else:
        rendered = json.dumps(value, ensure_ascii=False, default=str)
    rendered = " ".join(rendered.split())
    if len(rendered) > limit:
        rendered = rendered[: limit - 1] + "…"
    return rendered


def type_label(field_type: str) -> str:
    """Return the name of a field type as the pages show it."""
    return TYPE_LABELS.get(field_type, field_type)


# --- rules -------------------------------------------------------------------------


def rule_inputs(field_type: str) -> list[str]:
    """Return the rule inputs that the dialog shows for a type."""
    accepted = RULES_BY_TYPE[FieldType(field_type)]
    return [name for name in RULE_INPUTS if name in accepted]


def rules_summary(field_type: str, rules: Mapping[str, Any]) -> str:
    """Summarize rules in one line, such as "required · 1–100 · 3 allowed values"."""
    parts: list[str] = []
    if rules.get("required"):
        parts.append("required")
    if rules.get("unique"):
        parts.append("unique")
    low, high = rules.get("min"), rules.get("max")
    if low is not None and high is not None:
        parts.append(f"{format_value(low)} – {format_value(high)}")
    elif low is not None:
        parts.append(f"≥ {format_value(low)}")
    elif high is not None:
        parts.append(f"≤ {format_value(high)}")
    unit = "items" if field_type == FieldType.ARRAY.value else "chars"
    shortest, longest = rules.get("min_length"), rules.get("max_length")
    if shortest is not None and longest is not None:
        parts.append(f"{shortest}–{longest} {unit}")
    elif shortest is not None:
        parts.append(f"at least {shortest} {unit}")
    elif longest is not None:
        parts.append(f"at most {longest} {unit}")
    if rules.get("pattern"):
        parts.append(f"pattern {format_value(rules['pattern'], 30)}")
    allowed = rules.get("allowed") or []
    if allowed:
        noun = "value" if len(allowed) == 1 else "values"
        parts.append(f"{len(allowed)} allowed {noun}")
    return " · ".join(parts)


def rules_to_form(field_type: str, rules: Mapping[str, Any]) -> dict[str, Any]:
    """Return the dialog's rule inputs for stored rules (texts and booleans)."""
    form: dict[str, Any] = {name: "" for name in RULE_INPUTS}
    form["required"] = bool(rules.get("required"))
    form["unique"] = bool(rules.get("unique"))
    for name in ("min", "max", "min_length", "max_length", "pattern"):
        if rules.get(name) is not None:
            form[name] = format_value(rules[name], limit=10_000)
    form["allowed"] = "\n".join(
        format_value(item, limit=10_000) for item in rules.get("allowed") or []
    )
    return form


def rules_from_form(field_type: str, form: Mapping[str, Any]) -> dict[str, Any]:
    """Turn the dialog's rule inputs into a rules dict for the field service.

    Inputs that do not apply to the type are ignored, because the dialog hides
    them when the type changes. The service checks the result again.

    Raises:
        FieldError: naming the input that does not parse.
    """
    kind = FieldType(field_type)
    accepted = RULES_BY_TYPE[kind]
    rules: dict[str, Any] = {}
    for name in ("required", "unique"):
        if name in accepted and form.get(name):
            rules[name] = True
    for name, caption in (("min", "Minimum"), ("max", "Maximum")):
        raw = str(form.get(name) or "").strip()
        if name in accepted and raw:
            rules[name] = _parse_bound(kind, raw, caption)
    for name, caption in (
        ("min_length", "Minimum length"),
        ("max_length", "Maximum length"),
    ):
        raw = str(form.get(name) or "").strip()
        if name in accepted and raw:
            if not raw.isdigit():
                raise FieldError(
                    f"{caption} {raw!r} is not valid; enter a whole number such as 10."
                )
            rules[name] = int(raw)
    pattern = str(form.get("pattern") or "")
    if "pattern" in accepted and pattern.strip():
        rules["pattern"] = pattern.strip()
    if "allowed" in accepted:
        lines = [line.strip() for line in str(form.get("allowed") or "").splitlines()]
        items = [line for line in lines if line]
        if items:
            rules["allowed"] = [_parse_allowed(kind, item) for item in items]
    return rules


def _parse_bound(kind: FieldType, raw: str, caption: str) -> Any:
    try:
        value = parse_text(kind, raw)
    except ConversionError as exc:
        raise FieldError(f"{caption}: {exc}.") from None
    return value


def _parse_allowed(kind: FieldType, item: str) -> Any:
    item_type = FieldType.TEXT if kind is FieldType.ARRAY else kind
    try:
        return parse_text(item_type, item)
    except ConversionError as exc:
        raise FieldError(f"Allowed values: {exc}.") from None


# --- rows --------------------------------------------------------------------------


def field_row(definition: FieldDef) -> FieldRow:
    """Return the table row of a custom field, without its stats."""
    return FieldRow(
        id=definition.id,
        key=definition.key,
        label=definition.label,
        description=definition.description,
        type=definition.type.value,
        type_label=type_label(definition.type.value),
        rules_summary=rules_summary(definition.type.value, definition.rules),
        expression=definition.expression or "",
        calculated=definition.is_calculated,
        status=definition.status,
    )


@dataclasses.dataclass(frozen=True)
class BuiltinStats:
    """Value counts and examples of the built-in columns."""

    total: int
    with_custom_id: int
    example_email: str | None
    example_custom_id: str | None


def builtin_rows(stats: BuiltinStats) -> list[FieldRow]:
    """Return the rows of the built-in profile columns with their value counts."""
    counts = {"custom_id": stats.with_custom_id}
    examples = {"email": stats.example_email, "custom_id": stats.example_custom_id}
    rows = []
    for key, label, kind, description in BUILTIN_FIELDS:
        rows.append(
            FieldRow(
                key=key,
                label=label,
                description=description,
                type=kind,
                type_label=type_label(kind),
                rules_summary=_BUILTIN_RULES[key],
                builtin=True,
                stats_loaded=True,
                count_label=count_label(
                    counts.get(key, stats.total), stats.total, False
                ),
                example=examples.get(key) or "",
            )
        )
    return rows


def builtin_stats(principal: Principal) -> BuiltinStats:
    """Count the workspace's profiles and those with a custom ID, with examples.

    The examples come from the lowest e-mail and custom ID, which the unique
    indexes on (workspace_id, email_key) and (workspace_id, custom_id) return
    without a scan.
    """
    principal.require(Role.VIEWER)
    with tenant_connection(principal.workspace_id) as conn:
        row = conn.execute(
            text(
                "SELECT count(*) AS total, count(custom_id) AS with_custom_id,"
                " (SELECT email FROM profiles WHERE workspace_id = :ws"
                "   ORDER BY email_key LIMIT 1) AS example_email,"
                " (SELECT custom_id FROM profiles WHERE workspace_id = :ws"
                "   AND custom_id IS NOT NULL ORDER BY custom_id LIMIT 1)"
                "   AS example_custom_id"
                " FROM profiles WHERE workspace_id = :ws"
            ),
            {"ws": principal.workspace_id},
        ).one()
    return BuiltinStats(
        total=int(row.total),
        with_custom_id=int(row.with_custom_id),
        example_email=row.example_email,
        example_custom_id=row.example_custom_id,
    )


def count_label(with_value: int, total: int, estimated: bool) -> str:
    """Return "1,234 of 5,000 (25%)", prefixed with "≈" for an estimate."""
    if total == 0:
        return "No profiles yet"
    percent = with_value * 100 / total
    share = f"{percent:.0f}%" if percent >= 1 or with_value == 0 else "<1%"
    prefix = "≈ " if estimated else ""
    return f"{prefix}{with_value:,} of {total:,} ({share})"


def apply_stats(row: FieldRow, stats: FieldStats) -> FieldRow:
    """Return row with its value count and example filled in from stats."""
    note = ""
    if stats.estimated:
        note = (
            f"Estimated from a sample of {stats.sample_rows or 0:,} profiles; the"
            " true count can differ when the values sit together in the table."
        )
    return dataclasses.replace(
        row,
        stats_loaded=True,
        count_label=count_label(
            stats.with_value, stats.total_profiles, stats.estimated
        ),
        estimated=stats.estimated,
        estimate_note=note,
        example="" if stats.example is None else format_value(stats.example),
    )


def copy_stats(row: FieldRow, source: FieldRow) -> FieldRow:
    """Return row with the value count and example of source (an older row)."""
    return dataclasses.replace(
        row,
        stats_loaded=source.stats_loaded,
        count_label=source.count_label,
        estimated=source.estimated,
        estimate_note=source.estimate_note,
        example=source.example,
    )


def apply_job(row: FieldRow, job: FieldJob | None) -> FieldRow:
    """Return row with the progress or failure of its newest job, if that matters."""
    if job is None or job.status == "completed":
        return dataclasses.replace(
            row, job_id=0, job_label="", job_running=False, job_failed=False
        )
    verb = {KIND_CONVERT: "Converting", KIND_DELETE: "Deleting values"}.get(
        job.kind, "Calculating values"
    )
    if job.kind == KIND_CONVERT and job.new_type:
        verb = f"Converting to {type_label(job.new_type).lower()}"
    if job.active:
        return dataclasses.replace(
            row,
            job_id=job.id,
            job_verb=verb,
            job_label=progress_label(verb, job.done, job.total),
            job_percent=progress_percent(job.done, job.total),
            job_running=True,
            job_failed=False,
            job_error="",
        )
    if job.stale:
        error = "The process running this job stopped before it finished."
    else:
        error = job.error or "The job failed."
    return dataclasses.replace(
        row,
        job_id=job.id,
        job_label=f"{verb} stopped",
        job_percent=progress_percent(job.done, job.total),
        job_running=False,
        job_failed=True,
        job_error=error,
    )


def job_outcome(job: FieldJob, label: str) -> tuple[bool, str]:
    """Return (succeeded, message) describing how a finished job ended."""
    if job.status != "completed":
        return False, f"The job for {label} failed: {job.error or 'unknown error'}"
    result = job.result
    if job.kind == KIND_CONVERT:
        target = type_label(job.new_type or "").lower()
        return True, (
            f"{label} is now {target}: {int(result.get('converted', 0)):,} values"
            f" converted, {int(result.get('removed', 0)):,} removed."
        )
    if job.kind == KIND_DELETE:
        return True, (
            f"{label} was deleted with its {int(result.get('removed', 0)):,} values."
        )
    return True, (
        f"{label} was recalculated; {int(result.get('updated', 0)):,} profiles changed."
    )


def progress_percent(done: int, total: int | None) -> int:
    """Return progress as a whole percentage (0 while the total is unknown)."""
    if not total:
        return 0
    return max(0, min(100, int(done * 100 / total)))


def progress_label(verb: str, done: int, total: int | None) -> str:
    """Return a line such as "Deleting values · 5,000 of 20,000 profiles"."""
    if total is None:
        return f"{verb} · starting"
    return f"{verb} · {done:,} of {total:,} profiles"


# --- impact reports ----------------------------------------------------------------


def example_rows(examples: list[Any]) -> list[ExampleRow]:
    """Return fields.service.Example items as rows of text."""
    return [
        ExampleRow(
            profile_id=str(example.profile_id),
            value=format_value(example.value),
            message=example.message,
        )
        for example in examples
    ]


def impact_lines(impact: RuleImpact) -> list[str]:
    """Return one line per way that existing profiles break the new rules."""
    lines = []
    if impact.failing_values:
        lines.append(
            f"{impact.failing_values:,} of {impact.checked_values:,} stored values"
            " break the new value rules."
        )
    if impact.missing_required:
        lines.append(
            f"{impact.missing_required:,} profiles have no value, but the field"
            " becomes required."
        )
    if impact.duplicate_profiles:
        lines.append(
            f"{impact.duplicate_profiles:,} profiles share a value with another"
            " profile, but the field becomes unique."
        )
    return lines


def type_change_lines(report: TypeChangeReport) -> list[str]:
    """Return the summary lines of a type change report."""
    target = type_label(report.to_type.value).lower()
    lines = [
        f"{report.values:,} profiles have a value: {report.convertible:,} convert"
        f" to {target} and {report.failing:,} do not.",
    ]
    if report.failing:
        lines.append(
            "Values that do not convert are removed; the profile history keeps"
            " the old value."
        )
    if report.dropped_rules:
        lines.append(
            "These rules do not carry over and are removed: "
            + ", ".join(report.dropped_rules)
            + "."
        )
    return lines


def reference_rows(plan: DeletionPlan) -> list[ReferenceRow]:
    """Return one row per use of the field in a template block."""
    return [
        ReferenceRow(
            template_id=str(reference.template_id),
            template_name=reference.template_name,
            block_name=reference.block_name,
            snippet=snippet,
        )
        for reference in plan.references
        for snippet in reference.snippets
    ]
