"""Column mapping: header normalization, synonyms, type inference and checks.

A mapping names the target of each source column. It is stored as JSON in
import_jobs.mapping:

    {"columns": [
        {"index": 0, "source": " E-mail Address ", "target": "email"},
        {"index": 1, "source": "Custom ID", "target": "custom_id"},
        {"index": 2, "source": "Tags", "target": "tags"},
        {"index": 3, "source": "First Name", "target": "field", "key": "first_name"},
        {"index": 4, "source": "Date of Birth", "target": "new_field",
         "key": "date_of_birth", "label": "Date of Birth", "type": "date"},
        {"index": 5, "source": "", "target": "skip"}]}

target is one of email, custom_id, tags (comma-separated tag names), field
(an existing custom field, by key), new_field (created when the import
starts; key matches ^[a-z][a-z0-9_]{0,62}$, label defaults to the header) or
skip. Columns left out of the list are skipped. A proposal from
propose_mapping() adds "type" for existing fields, "notes" and "needs_choice"
(for example the date format of an ambiguous DD/MM vs MM/DD column) for the
wizard to show; check_mapping() ignores them except needs_choice.

Options are stored as JSON in import_jobs.options (see ImportOptions).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any

from ceramic_app.emails import strip_invisible
from ceramic_app.imports.source import JSON_CONTAINER_KEYS
from ceramic_app.models import FieldType
from ceramic_app.values import (
    BOOLEAN_FALSE,
    BOOLEAN_TRUE,
    DATE_FORMATS,
    DECIMAL_SEPARATORS,
    EXCEL_DATE_SYSTEMS,
    NUMBER_COMMA_RE,
    NUMBER_POINT_RE,
)

TARGETS = ("email", "custom_id", "tags", "field", "new_field", "skip")
MODES = ("upsert", "create", "update")
EMPTY_CELLS = ("keep", "clear")
FIELD_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Columns that the error file of an earlier import adds after the originals.
ERROR_FILE_COLUMNS = ("line", "reason")

# Normalized header -> target. Custom-field synonyms map to a field key.
SYNONYMS: dict[str, str] = {
    "email": "email",
    "e mail": "email",
    "email address": "email",
    "e mail address": "email",
    "mail": "email",
    "email addr": "email",
    "emailaddress": "email",
    "custom id": "custom_id",
    "customid": "custom_id",
    "external id": "custom_id",
    "externalid": "custom_id",
    "ext id": "custom_id",
    "customer id": "custom_id",
    "tags": "tags",
    "tag": "tags",
    "labels": "tags",
    "first name": "first_name",
    "firstname": "first_name",
    "given name": "first_name",
    "forename": "first_name",
    "last name": "last_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family name": "last_name",
    "phone number": "phone",
    "telephone": "phone",
    "tel": "phone",
    "mobile": "phone",
    "company name": "company",
    "organization": "company",
    "organisation": "company",
}
_CORE_TARGETS = ("email", "custom_id", "tags")
# Header words that mark identifiers, which are text even when all digits.
_IDENTIFIER_WORDS = {
    "id",
    "code",
    "zip",
    "postal",
    "postcode",
    "plz",
    "phone",
    "tel",
    "mobile",
    "fax",
    "iban",
    "account",
    "no",
    "nr",
    "number",
    "ref",
    "sku",
    "ean",
    "ssn",
}
_PHONE_RE = re.compile(r"^\+?[\d\s().\-/]{6,}$")
_ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DAY_MONTH_RE = re.compile(r"^(\d{1,2})([./-])(\d{1,2})\2(\d{4})$")
_NUMBER_POINT = re.compile(NUMBER_POINT_RE)
_NUMBER_COMMA = re.compile(NUMBER_COMMA_RE)


class MappingError(ValueError):
    """A mapping or options document that cannot be used; the message gives the reason."""


@dataclass
class ImportOptions:
    """Import options, stored as JSON in import_jobs.options.

    mode: "upsert" (create and update), "create" (rows matching a profile are
    skipped) or "update" (rows matching no profile are skipped).
    empty_cells: "keep" (an empty cell leaves the stored value) or "clear".
    decimal: "point" or "comma" for number fields.
    excel_dates: None, "1900" or "1904": read plain numbers in date fields as
    Excel serial dates of that date system.
    date_formats: field key -> "YYYY-MM-DD", "DD/MM/YYYY" or "MM/DD/YYYY".
    unescape_formulas: drop the apostrophe that our CSV export puts before
    cells starting with = + - @ TAB or CR.
    """

    mode: str = "upsert"
    empty_cells: str = "keep"
    decimal: str = "point"
    excel_dates: str | None = None
    date_formats: dict[str, str] = field(default_factory=dict)
    unescape_formulas: bool = False

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form stored in import_jobs.options."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ImportOptions:
        """Build and check options from JSON.

        Raises:
            MappingError: an unknown option or value.
        """
        data = dict(data or {})
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise MappingError(f"Unknown import options: {', '.join(sorted(unknown))}.")
        options = cls(**data)
        _require(options.mode in MODES, f"mode must be one of {', '.join(MODES)}.")
        _require(
            options.empty_cells in EMPTY_CELLS,
            f"empty_cells must be one of {', '.join(EMPTY_CELLS)}.",
        )
        _require(
            options.decimal in DECIMAL_SEPARATORS,
            f"decimal must be one of {', '.join(DECIMAL_SEPARATORS)}.",
        )
        _require(
            options.excel_dates in (None, *EXCEL_DATE_SYSTEMS),
            "excel_dates must be null, '1900' or '1904'.",
        )
        for key, fmt in options.date_formats.items():
            _require(
                fmt in DATE_FORMATS,
                f"date format {fmt!r} of {key} must be one of {', '.join(DATE_FORMATS)}.",
            )
        return options


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise MappingError(message)


@dataclass(frozen=True)
class FieldInfo:
    """The parts of a custom field that mapping and casting need."""

    key: str
    label: str
    type: FieldType
    rules: dict[str, Any]
    expression: str | None = None
    status: str = "active"


@dataclass(frozen=True)
class FieldPlan:
    """One source column bound to one custom field for an import run."""

    index: int
    source: str
    key: str
    type: FieldType
    rules: dict[str, Any]
    date_format: str | None
    is_new: bool
    label: str


@dataclass(frozen=True)
class Plan:
    """A checked mapping: where email, custom_id, tags and fields come from."""

    email_index: int
    custom_id_index: int | None
    tags_index: int | None
    fields: tuple[FieldPlan, ...]
    headers: tuple[str, ...]


def normalize_header(header: str) -> str:
    """Normalize a header for matching: trim, case-fold, space/_/- alike."""
    text = unicodedata.normalize("NFKC", strip_invisible(header.replace("\x00", "")))
    text = text.casefold()
    text = re.sub(r"[\s_\-]+", " ", text)
    return text.strip()


def field_key_for(header: str) -> str:
    """Build a snake_case field key (^[a-z][a-z0-9_]{0,62}$) from a header."""
    ascii_text = (
        unicodedata.normalize("NFKD", normalize_header(header))
        .encode("ascii", "ignore")
        .decode()
    )
    key = re.sub(r"[^a-z0-9]+", "_", ascii_text).strip("_")
    if not key:
        key = "field"
    if not key[0].isalpha():
        key = f"f_{key}"
    return key[:63].rstrip("_")


def _match_name(header: str) -> str:
    """Return the normalized name used for matching, without a container prefix."""
    prefix, dot, rest = header.partition(".")
    if dot and prefix.strip() in JSON_CONTAINER_KEYS:
        header = rest
    return normalize_header(header)


def propose_mapping(
    headers: list[str],
    fields: list[FieldInfo],
    samples: list[list[str | None]],
) -> dict[str, Any]:
    """Propose a target for every column, with inferred types for new fields.

    samples contains the first records (row-wise) for type inference. Duplicate
    and blank headers are flagged in "notes" and mapped to skip; no two
    columns are ever merged.
    """
    by_name: dict[str, FieldInfo] = {}
    for info in fields:
        by_name.setdefault(normalize_header(info.key), info)
        by_name.setdefault(normalize_header(info.label), info)
    names = [_match_name(h) for h in headers]
    counts: dict[str, int] = {}
    for name in names:
        if name:
            counts[name] = counts.get(name, 0) + 1
    error_file = len(headers) >= 2 and [n for n in names[-2:]] == list(
        ERROR_FILE_COLUMNS
    )
    columns: list[dict[str, Any]] = []
    taken: set[str] = set()
    for index, header in enumerate(headers):
        name = names[index]
        values = [row[index] for row in samples if index < len(row)]
        entry: dict[str, Any] = {"index": index, "source": header, "target": "skip"}
        columns.append(entry)
        if not name:
            entry["notes"] = ["The column has no header; it is ignored."]
            continue
        if error_file and index >= len(headers) - 2:
            entry["notes"] = ["Added by the error file of an earlier import; ignored."]
            continue
        if counts[name] > 1:
            others = [
                str(i + 1) for i, n in enumerate(names) if n == name and i != index
            ]
            entry["notes"] = [
                f"Duplicate header {header.strip()!r} (also column {', '.join(others)});"
                " choose a target for each column."
            ]
            continue
        target = SYNONYMS.get(name, name)
        if target in _CORE_TARGETS:
            if target not in taken:
                entry["target"] = target
                taken.add(target)
            continue
        info = by_name.get(normalize_header(target)) or by_name.get(name)
        if info is not None:
            _propose_existing(entry, info, taken)
            continue
        key = target if FIELD_KEY_RE.match(target) else field_key_for(header)
        if key in taken or any(f.key == key for f in fields):
            entry["notes"] = [f"Field key {key!r} is already used; choose a target."]
            continue
        inferred = infer_type(header, values)
        entry.update(
            target="new_field",
            key=key,
            label=strip_invisible(header.replace("\x00", "")) or key,
            type=inferred.type,
        )
        if inferred.date_format:
            entry["date_format"] = inferred.date_format
        if inferred.needs_choice:
            entry["needs_choice"] = inferred.needs_choice
        if inferred.notes:
            entry["notes"] = inferred.notes
        taken.add(key)
    return {"columns": columns}


def _propose_existing(entry: dict[str, Any], info: FieldInfo, taken: set[str]) -> None:
    if info.key in taken:
        entry["notes"] = [f"Field {info.key!r} is already mapped; choose a target."]
        return
    if info.expression:
        entry["notes"] = [
            f"Field {info.key!r} is calculated and cannot be imported; it is skipped."
        ]
        return
    entry.update(target="field", key=info.key, type=info.type.value)
    taken.add(info.key)


@dataclass
class Inference:
    """An inferred field type, with the date format and open questions."""

    type: str
    date_format: str | None = None
    needs_choice: list[str] | None = None
    notes: list[str] | None = None


def _looks_like_identifier(header: str, values: list[str]) -> bool:
    words = set(normalize_header(header).split())
    if words & _IDENTIFIER_WORDS:
        return True
    for value in values:
        digits = value.lstrip("+-")
        if value.startswith("+") or (
            len(digits) > 1 and digits[0] == "0" and digits[1].isdigit()
        ):
            return True
        if " " in value.strip() or len(digits.replace(".", "")) > 15:
            return True
    return False


def infer_type(header: str, raw_values: list[str | None]) -> Inference:
    """Infer a field type from sample values; identifiers always stay text.

    A column is a number only when no value looks like an identifier: a
    leading zero, '+', inner spaces, more than 15 digits, a phone number or
    an identifier-like header keep it text. Boolean needs word spellings
    (true/yes/on...), so a 0/1 column is a number. Date needs every value to
    be ISO or every non-ISO value to have one day-month shape, and the
    DD/MM vs MM/DD choice is always left to the user (notes give a hint
    when some day is above 12 in only one position).
    """
    values = [v.strip() for v in raw_values if v is not None and v.strip()]
    if not values:
        return Inference("text")
    lowered = {v.lower() for v in values}
    if lowered <= set(BOOLEAN_TRUE + BOOLEAN_FALSE) and lowered - {"0", "1"}:
        return Inference("boolean")
    date = _infer_date(values)
    if date is not None:
        return date
    if all(_NUMBER_POINT.match(v) for v in values):
        if _looks_like_identifier(header, values) or any(
            _PHONE_RE.match(v) and len(v) > 9 for v in values
        ):
            return Inference("text", notes=["Identifier-like values are kept as text."])
        return Inference("number")
    if all(_NUMBER_COMMA.match(v) for v in values) and any("," in v for v in values):
        if not _looks_like_identifier(header, values):
            return Inference(
                "number",
                notes=["Values use a decimal comma: set the decimal option to comma."],
            )
    if all(v.startswith("[") for v in values) and all(
        _is_text_array(v) for v in values
    ):
        return Inference("array")
    if all(v[0] in "{[" for v in values) and all(_is_json(v) for v in values):
        return Inference("json")
    hint = _near_miss_hint(header, values)
    return Inference("text", notes=[hint] if hint else None)


def _near_miss_hint(header: str, values: list[str]) -> str | None:
    """Return a hint naming the type most sampled values have, if some break it.

    Such a column stays text, because a typed field would reject the other
    rows. The hint lets the user choose the type anyway. A type counts only
    when at least half of the values have it, and number is never hinted
    for identifier-like columns.
    """
    booleans = set(BOOLEAN_TRUE + BOOLEAN_FALSE)
    checks = [
        ("boolean", lambda v: v.lower() in booleans and v not in ("0", "1")),
        ("date", lambda v: bool(_ISO_DATE_RE.match(v) or _DAY_MONTH_RE.match(v))),
        ("number", lambda v: bool(_NUMBER_POINT.match(v))),
        ("json", lambda v: v[0] in "{[" and _is_json(v)),
    ]
    best: tuple[str, int, list[str]] | None = None
    for kind, matches in checks:
        if kind == "number" and _looks_like_identifier(header, values):
            continue
        misses = [v for v in values if not matches(v)]
        hits = len(values) - len(misses)
        if misses and hits * 2 >= len(values) and (best is None or hits > best[1]):
            best = (kind, hits, misses)
    if best is None:
        return None
    kind, hits, misses = best
    return (
        f"{hits} of {len(values)} sampled values look like {kind}; kept as text"
        f" because {len(misses)} do not (e.g. {misses[0][:40]!r})."
        f" Choose {kind} to import them typed and reject the others."
    )


def _is_json(value: str) -> bool:
    try:
        json.loads(value)
    except (json.JSONDecodeError, RecursionError):
        return False
    return True


def _is_text_array(value: str) -> bool:
    try:
        parsed = json.loads(value)
    except (json.JSONDecodeError, RecursionError):
        return False
    return isinstance(parsed, list) and all(isinstance(v, str) for v in parsed)


def _infer_date(values: list[str]) -> Inference | None:
    others = [v for v in values if not _ISO_DATE_RE.match(v)]
    if not others:
        return Inference("date", date_format="YYYY-MM-DD")
    shapes = [_DAY_MONTH_RE.match(v) for v in others]
    if not all(shapes):
        return None
    first_high = any(int(m.group(1)) > 12 for m in shapes if m)
    second_high = any(int(m.group(3)) > 12 for m in shapes if m)
    choices = ["DD/MM/YYYY", "MM/DD/YYYY"]
    if first_high and not second_high:
        note = (
            "Some days are above 12 in the first position, which suggests DD/MM/YYYY."
        )
    elif second_high and not first_high:
        note = (
            "Some days are above 12 in the second position, which suggests MM/DD/YYYY."
        )
    elif first_high and second_high:
        note = "Values read as both DD/MM and MM/DD: check the column."
    else:
        note = "Every value reads both as DD/MM and as MM/DD."
    return Inference("date", needs_choice=choices, notes=[note + " Choose the format."])


def open_date_columns(
    mapping: dict[str, Any], fields: list[FieldInfo], options: ImportOptions
) -> list[dict[str, Any]]:
    """Return the date columns whose format is neither named nor asked for yet.

    A date column maps to a new date field or an existing one. Its format is
    named by the entry's date_format or by options.date_formats, and asked
    for by the entry's needs_choice.
    """
    types = {f.key: f.type.value for f in fields}
    found = []
    for entry in mapping.get("columns") or []:
        if not isinstance(entry, dict):
            continue
        key = entry.get("key")
        if entry.get("target") == "new_field":
            kind = entry.get("type")
        elif entry.get("target") == "field" and isinstance(key, str):
            kind = types.get(key)
        else:
            continue
        named = entry.get("date_format") or options.date_formats.get(key)
        if kind == "date" and not named and not entry.get("needs_choice"):
            found.append(entry)
    return found


def add_date_choices(
    mapping: dict[str, Any],
    fields: list[FieldInfo],
    options: ImportOptions,
    samples: list[list[str | None]],
) -> dict[str, Any]:
    """Return the mapping with needs_choice set where the date format is ambiguous.

    An open date column (see open_date_columns) whose sampled values read
    both as DD/MM and as MM/DD gets the needs_choice that a proposal gives
    it, so check_mapping blocks it in a hand-written mapping too.
    """
    open_columns = {id(entry) for entry in open_date_columns(mapping, fields, options)}
    columns = []
    for entry in mapping.get("columns") or []:
        index = entry.get("index") if id(entry) in open_columns else None
        if isinstance(index, int):
            values = [
                value.strip()
                for row in samples
                if index < len(row)
                for value in [row[index]]
                if value is not None and value.strip()
            ]
            inferred = _infer_date(values) if values else None
            if inferred is not None and inferred.needs_choice:
                entry = {**entry, "needs_choice": inferred.needs_choice}
        columns.append(entry)
    return {**mapping, "columns": columns}


def check_mapping(
    mapping: dict[str, Any],
    headers: list[str],
    fields: list[FieldInfo],
    options: ImportOptions,
    delimiter_hint: str | None = None,
) -> tuple[Plan | None, list[str]]:
    """Check a mapping against the headers and fields; return (plan, problems).

    The plan is None when any problem blocks the import.
    """
    problems: list[str] = []
    existing = {f.key: f for f in fields}
    columns = mapping.get("columns")
    if not isinstance(columns, list):
        return None, ["The mapping must hold a list under 'columns'."]
    used_index: set[int] = set()
    used_key: dict[str, str] = {}
    email: list[int] = []
    custom_id: list[int] = []
    tags: list[int] = []
    plans: list[FieldPlan] = []
    for entry in columns:
        index = entry.get("index")
        target = entry.get("target", "skip")
        if not isinstance(index, int) or not 0 <= index < len(headers):
            problems.append(f"Column index {index!r} does not exist in the file.")
            continue
        source = headers[index]
        label = f"column {index + 1} ({source.strip()!r})"
        if index in used_index:
            problems.append(f"{label} is mapped twice.")
            continue
        used_index.add(index)
        if target not in TARGETS:
            problems.append(f"{label}: unknown target {target!r}.")
        elif target == "email":
            email.append(index)
        elif target == "custom_id":
            custom_id.append(index)
        elif target == "tags":
            tags.append(index)
        elif target in ("field", "new_field"):
            plan = _field_plan(entry, index, source, label, existing, options, problems)
            if plan is None:
                continue
            if plan.key in used_key:
                problems.append(
                    f"{label} and {used_key[plan.key]} both map to field {plan.key!r};"
                    " map one of them to skip."
                )
                continue
            used_key[plan.key] = label
            plans.append(plan)
    if not email:
        message = "No column is mapped to email; every profile needs an e-mail address."
        if delimiter_hint:
            message += (
                f" The header was read as one column {headers[0][:60]!r}; the file"
                f" seems to use {delimiter_hint} as the delimiter."
            )
        problems.append(message)
    for name, found in (("email", email), ("custom_id", custom_id), ("tags", tags)):
        if len(found) > 1:
            problems.append(
                f"{len(found)} columns are mapped to {name}"
                f" ({', '.join(str(i + 1) for i in found)}); keep one."
            )
    if problems:
        return None, problems
    return (
        Plan(
            email_index=email[0],
            custom_id_index=custom_id[0] if custom_id else None,
            tags_index=tags[0] if tags else None,
            fields=tuple(plans),
            headers=tuple(headers),
        ),
        [],
    )


def _field_plan(
    entry: dict[str, Any],
    index: int,
    source: str,
    label: str,
    existing: dict[str, FieldInfo],
    options: ImportOptions,
    problems: list[str],
) -> FieldPlan | None:
    key = entry.get("key")
    if not isinstance(key, str) or not FIELD_KEY_RE.match(key):
        problems.append(
            f"{label}: field key {key!r} must match ^[a-z][a-z0-9_]{{0,62}}$"
            " (lower-case letters, digits and '_', starting with a letter)."
        )
        return None
    date_format = options.date_formats.get(key) or entry.get("date_format")
    if entry.get("needs_choice") and not options.date_formats.get(key):
        problems.append(
            f"{label}: choose the date format of field {key!r}"
            f" ({' or '.join(entry['needs_choice'])})."
        )
        return None
    if entry["target"] == "field":
        info = existing.get(key)
        if info is None:
            problems.append(f"{label}: custom field {key!r} does not exist.")
            return None
        if info.expression:
            problems.append(
                f"{label}: field {key!r} is calculated (read-only); map the column"
                " to skip or to another field."
            )
            return None
        if info.status != "active":
            problems.append(
                f"{label}: field {key!r} is being {info.status.removesuffix('ing')}ed;"
                " wait until that job has finished."
            )
            return None
        return FieldPlan(
            index,
            source,
            key,
            info.type,
            dict(info.rules or {}),
            date_format,
            False,
            info.label,
        )
    if key in existing:
        problems.append(
            f"{label}: field {key!r} already exists; map the column to it (target"
            " 'field') or choose a new key."
        )
        return None
    try:
        kind = FieldType(entry.get("type") or "text")
    except ValueError:
        problems.append(
            f"{label}: unknown type {entry.get('type')!r}; choose one of"
            f" {', '.join(t.value for t in FieldType)}."
        )
        return None
    new_label = str(entry.get("label") or strip_invisible(source) or key)[:200]
    return FieldPlan(index, source, key, kind, {}, date_format, True, new_label)
