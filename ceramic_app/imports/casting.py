"""Vectorized casting and validation of one batch of text records.

cast_batch() turns a RecordBatch (every column as text) into one row per
record with the normalized e-mail key, custom_id, tags and the canonical text
of each mapped field value, plus the reason when the record is rejected.
Polars expressions decide which cells are valid. Only the cells they reject
(and non-ASCII e-mail addresses) go through the scalar parsers of
ceramic_app.values and ceramic_app.emails, so every reason is the specific
one a single edit would give. A unit test checks that both paths agree.

Canonical value text (what the database turns into JSON): text verbatim,
numbers with a decimal point and no '+', "true"/"false", ISO dates, and
compact JSON for arrays and json fields.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import polars as pl

from ceramic_app.emails import InvalidEmail, normalize_email, strip_invisible
from ceramic_app.imports.mapping import FieldPlan, ImportOptions, Plan
from ceramic_app.imports.source import RecordBatch
from ceramic_app.models import FieldType
from ceramic_app.settings import get_settings
from ceramic_app.values import (
    BOOLEAN_FALSE,
    BOOLEAN_TRUE,
    EXCEL_MAX_SERIAL,
    ISO_DATE_RE,
    MAX_NUMBER_CHARS,
    NUMBER_COMMA_RE,
    NUMBER_POINT_RE,
    ValueOptions,
    ValueRejected,
    check_rules,
    date_warning,
    parse_value,
    show,
    to_json_value,
)

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# ASCII addresses this pattern accepts normalize to their lower-case form;
# everything else goes through normalize_email for its exact reason.
FAST_EMAIL_RE = rf"^{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}$"
_ASCII_SPACE = " \t\n\r\x0b\x0c"
_DAY_MONTH_VEC = r"^(\d{1,2})([./-])(\d{1,2})([./-])(\d{4})$"
_EXCEL_1900 = dt.date(1899, 12, 30)
_EXCEL_1904 = dt.date(1904, 1, 1)
_FORMULA_APOSTROPHE = r"^'([=+\-@\t\r])"
# Rejected-row examples that a job report keeps (the error file has every row).
MAX_SAMPLES = 100
MAX_TAG_CHARS = 64


@dataclass
class CastResult:
    """One batch after casting: per-record frame plus column error counts.

    frame columns: __line, __record, __status ("ok", "blank", "rejected"),
    __reason, __email, __key, __cid, __cid_clear, __tags (JSON array text),
    v_<key> (canonical value text) and x_<key> (true when the cell clears
    the stored value), __warning, and raw c0..c{n-1}.
    """

    frame: pl.DataFrame
    column_errors: dict[str, int]
    errors: list[dict[str, Any]]
    seconds: float = 0.0
    # Reader-thread seconds per step (read, cast, stored lookups).
    timings: dict[str, float] = dataclasses.field(default_factory=dict)


def column_label(header: str, index: int) -> str:
    """Return a column's name as reports show it (the header, else its number)."""
    text = header.strip()
    return text if text else f"column {index + 1}"


def value_options(plan_field: FieldPlan, options: ImportOptions) -> ValueOptions:
    """Return the scalar parsing options for one mapped field."""
    return ValueOptions(
        decimal=options.decimal,
        date_format=plan_field.date_format,
        excel_dates=options.excel_dates,
    )


def _is_empty(raw: pl.Expr, kind: FieldType | None) -> pl.Expr:
    if kind is FieldType.TEXT:
        return raw.is_null() | (raw == "")
    return raw.is_null() | (raw.str.strip_chars() == "")


def vector_cast(
    raw: pl.Expr, kind: FieldType, options: ValueOptions
) -> tuple[pl.Expr, pl.Expr]:
    """Return (canonical value, ok) expressions for non-empty cells of a type.

    ok is false where the scalar parser would reject the value; the value is
    only meaningful where ok is true.
    """
    text = raw.str.strip_chars()
    if kind is FieldType.TEXT:
        return raw, ~raw.str.contains("\x00", literal=True)
    if kind is FieldType.NUMBER:
        return _vector_number(text, options.decimal)
    if kind is FieldType.BOOLEAN:
        lowered = text.str.to_lowercase()
        value = (
            pl.when(lowered.is_in(BOOLEAN_TRUE))
            .then(pl.lit("true"))
            .otherwise(pl.lit("false"))
        )
        return value, lowered.is_in(BOOLEAN_TRUE + BOOLEAN_FALSE)
    if kind is FieldType.DATE:
        return _vector_date(text, options)
    if kind is FieldType.ARRAY:
        items = (
            text.str.split(",")
            .list.eval(pl.element().str.strip_chars())
            .list.eval(pl.element().filter(pl.element() != ""))
        )
        encoded = pl.struct(items.alias("a")).struct.json_encode()
        value = encoded.str.strip_prefix('{"a":').str.strip_suffix("}")
        ok = ~text.str.starts_with("[") & ~text.str.contains("\x00", literal=True)
        return value, ok
    # json: no vectorized validator exists, so every json cell takes the
    # scalar path (it is still exact, only slower).
    return raw, pl.lit(False)


def _vector_number(text: pl.Expr, decimal: str) -> tuple[pl.Expr, pl.Expr]:
    if decimal == "comma":
        ok = text.str.contains(NUMBER_COMMA_RE)
        text = text.str.replace_all(".", "", literal=True).str.replace(
            ",", ".", literal=True
        )
    else:
        ok = text.str.contains(NUMBER_POINT_RE)
    ok = ok & (text.str.len_chars() <= MAX_NUMBER_CHARS)
    value = (
        text.str.strip_prefix("+")
        .str.replace(r"^(-?)\.", "${1}0.")
        .str.replace(r"\.($|[eE])", ".0${1}")
    )
    return value, ok


def _vector_date(text: pl.Expr, options: ValueOptions) -> tuple[pl.Expr, pl.Expr]:
    iso = text.str.extract_groups(ISO_DATE_RE)
    year = iso.struct.field("1").cast(pl.Int32, strict=False)
    month = iso.struct.field("2").cast(pl.Int32, strict=False)
    day = iso.struct.field("3").cast(pl.Int32, strict=False)
    if options.date_format in ("DD/MM/YYYY", "MM/DD/YYYY"):
        dm = text.str.extract_groups(_DAY_MONTH_VEC)
        same_separator = dm.struct.field("2") == dm.struct.field("4")
        first = pl.when(same_separator).then(
            dm.struct.field("1").cast(pl.Int32, strict=False)
        )
        second = pl.when(same_separator).then(
            dm.struct.field("3").cast(pl.Int32, strict=False)
        )
        dm_year = pl.when(same_separator).then(
            dm.struct.field("5").cast(pl.Int32, strict=False)
        )
        dm_day, dm_month = (
            (first, second) if options.date_format == "DD/MM/YYYY" else (second, first)
        )
        year = pl.coalesce(year, dm_year)
        month = pl.coalesce(month, dm_month)
        day = pl.coalesce(day, dm_day)
    iso_text = pl.format(
        "{}-{}-{}",
        year.cast(pl.String).str.zfill(4),
        month.cast(pl.String).str.zfill(2),
        day.cast(pl.String).str.zfill(2),
    )
    parsed = (
        pl.when((year > 0) & month.is_between(1, 12))
        .then(iso_text.str.to_date("%Y-%m-%d", strict=False))
        .otherwise(None)
    )
    if options.excel_dates in ("1900", "1904"):
        serial = (
            pl.when(text.str.contains(r"^\d{1,7}(?:\.\d+)?$"))
            .then(text.cast(pl.Float64, strict=False).floor().cast(pl.Int64))
            .otherwise(None)
        )
        if options.excel_dates == "1900":
            valid = serial.is_between(1, EXCEL_MAX_SERIAL) & (serial != 60)
            offset = pl.when(serial < 60).then(serial + 1).otherwise(serial)
            excel = pl.when(valid).then(pl.lit(_EXCEL_1900) + pl.duration(days=offset))
        else:
            valid = serial.is_between(0, EXCEL_MAX_SERIAL - 1462)
            excel = pl.when(valid).then(pl.lit(_EXCEL_1904) + pl.duration(days=serial))
        parsed = pl.coalesce(parsed, excel)
    return parsed.dt.to_string("%Y-%m-%d"), parsed.is_not_null()


def _scalar_canonical(kind: FieldType, raw: str, options: ValueOptions) -> str:
    """Parse one cell with the scalar rules and return its canonical text."""
    value = parse_value(kind, raw, options)
    if kind is FieldType.TEXT or kind is FieldType.DATE:
        return value
    if kind is FieldType.BOOLEAN:
        return "true" if value else "false"
    if kind is FieldType.NUMBER:
        return repr(value) if isinstance(value, float) else str(value)
    return json.dumps(to_json_value(value), ensure_ascii=False, separators=(",", ":"))


def _scalar_fill(
    frame: pl.DataFrame, raw_col: str, kind: FieldType, options: ValueOptions
) -> tuple[list[str | None], list[str | None]]:
    """Run the scalar parser on the cells the vector path did not accept."""
    values: list[str | None] = []
    reasons: list[str | None] = []
    for raw, needs in zip(frame[raw_col], frame["__needs"], strict=True):
        if not needs:
            values.append(None)
            reasons.append(None)
            continue
        try:
            canonical = _scalar_canonical(kind, raw, options)
        except ValueRejected as exc:
            values.append(None)
            reasons.append(str(exc))
            continue
        values.append(canonical)
        reasons.append(None)
    return values, reasons


def cast_emails(raw: pl.Series) -> tuple[pl.Series, pl.Series, pl.Series]:
    """Return (display e-mail, key, reason) for a column of raw addresses.

    ASCII addresses matching FAST_EMAIL_RE are lower-cased in Polars; the
    rest go through normalize_email so that each rejection names its fault.
    """
    frame = pl.DataFrame({"raw": raw.cast(pl.String)})
    trimmed = pl.col("raw").str.strip_chars(_ASCII_SPACE)
    frame = frame.with_columns(
        fast=trimmed.str.contains(FAST_EMAIL_RE)
        & (trimmed.str.find("@", literal=True) <= 64)
        & (trimmed.str.len_bytes() <= 254),
        key=trimmed.str.to_lowercase(),
    )
    keys = frame["key"].to_list()
    emails = list(keys)
    reasons: list[str | None] = [None] * frame.height
    for i, (value, fast) in enumerate(zip(frame["raw"], frame["fast"], strict=True)):
        if fast:
            continue
        try:
            keys[i] = normalize_email(value)
        except InvalidEmail as exc:
            keys[i] = None
            emails[i] = None
            reasons[i] = str(exc)
            continue
        emails[i] = strip_invisible(value).lower()
    return (
        pl.Series("email", emails, dtype=pl.String),
        pl.Series("key", keys, dtype=pl.String),
        pl.Series("reason", reasons, dtype=pl.String),
    )


def _email_message(value: str | None, reason: str) -> str:
    if reason == "e-mail is required":
        return "an e-mail address is required"
    return f"{show(value or '')} is not a valid e-mail address: {reason}"


def cast_batch(
    batch: RecordBatch, plan: Plan, options: ImportOptions, empty_clears: bool
) -> CastResult:
    """Cast and validate one batch; see CastResult for the output columns.

    empty_clears is true for JSON sources (an explicit null or "" clears a
    value) and for CSV with empty_cells="clear".
    """
    max_chars = get_settings().max_value_chars
    frame = batch.frame
    raw_columns = [f"c{i}" for i in range(len(plan.headers))]
    if options.unescape_formulas:
        frame = frame.with_columns(
            pl.col(c).str.replace(_FORMULA_APOSTROPHE, "${1}") for c in raw_columns
        )
    blank = pl.all_horizontal(
        [
            (pl.col(c).is_null() | (pl.col(c).str.strip_chars() == ""))
            for c in raw_columns
        ]
    )
    frame = frame.with_columns(__blank=blank)
    mapped = [plan.email_index]
    if plan.custom_id_index is not None:
        mapped.append(plan.custom_id_index)
    if plan.tags_index is not None:
        mapped.append(plan.tags_index)
    mapped.extend(f.index for f in plan.fields)

    errors: dict[str, pl.Series] = {}
    # Structure checks on every mapped cell: NUL bytes and the length limit.
    for index in mapped:
        col = pl.col(f"c{index}")
        label = column_label(plan.headers[index], index)
        check = frame.select(
            pl.when(col.str.contains("\x00", literal=True))
            .then(pl.lit(f"{label} contains a NUL (0x00) character"))
            .when(col.str.len_chars() > max_chars)
            .then(
                pl.lit(
                    f"{label}: the value is longer than the limit of {max_chars:,}"
                    " characters"
                )
            )
            .alias("e")
        ).to_series()
        errors[f"__struct{index}"] = check

    email_raw = frame[f"c{plan.email_index}"]
    email, key, email_reason = cast_emails(email_raw)
    email_label = column_label(plan.headers[plan.email_index], plan.email_index)
    email_errors = [
        None if r is None or "NUL" in r else f"{email_label}: {_email_message(v, r)}"
        for v, r in zip(email_raw, email_reason, strict=True)
    ]
    errors["__email"] = pl.Series(email_errors, dtype=pl.String)
    frame = frame.with_columns(__email=email, __key=key)

    outputs: list[pl.Expr] = []
    if plan.custom_id_index is not None:
        raw = pl.col(f"c{plan.custom_id_index}")
        cid = raw.str.strip_chars()
        empty = raw.is_null() | (cid == "")
        clears = raw.is_not_null() & (cid == "") if empty_clears else pl.lit(False)
        outputs += [
            pl.when(empty).then(None).otherwise(cid).alias("__cid"),
            clears.alias("__cid_clear"),
        ]
    else:
        outputs += [
            pl.lit(None, pl.String).alias("__cid"),
            pl.lit(False).alias("__cid_clear"),
        ]
    frame = frame.with_columns(outputs)
    if plan.tags_index is not None:
        tag_plan = FieldPlan(
            plan.tags_index,
            plan.headers[plan.tags_index],
            "_tags",
            FieldType.ARRAY,
            {},
            None,
            False,
            "tags",
        )
        frame, tag_errors, _ = _cast_field(frame, tag_plan, options, empty_clears)
        frame = frame.rename({"v__tags": "__tags"}).drop("x__tags")
        too_long = frame.select(
            pl.col("__tags")
            .str.json_decode(pl.List(pl.String))
            .list.eval(pl.element().str.len_chars() > MAX_TAG_CHARS)
            .list.any()
            .fill_null(False)
        ).to_series()
        tag_label = column_label(plan.headers[plan.tags_index], plan.tags_index)
        errors["__tagsv"] = pl.Series(
            [
                e
                if e is not None
                else (
                    f"{tag_label}: a tag is longer than {MAX_TAG_CHARS} characters"
                    if long
                    else None
                )
                for e, long in zip(tag_errors, too_long, strict=True)
            ],
            dtype=pl.String,
        )
    else:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("__tags"))

    warnings: list[pl.Series] = []
    for plan_field in plan.fields:
        frame, field_errors, field_warning = _cast_field(
            frame, plan_field, options, empty_clears
        )
        errors[f"v_{plan_field.key}"] = field_errors
        if field_warning is not None:
            warnings.append(field_warning)

    problems = batch.problems
    if problems:
        errors["__read"] = pl.Series(
            [problems.get(r) for r in frame["__record"]], dtype=pl.String
        )
    error_frame = pl.DataFrame(errors)
    reason = error_frame.select(
        pl.concat_str(list(error_frame.columns), separator="; ", ignore_nulls=True)
        .replace("", None)
        .alias("r")
    ).to_series()
    frame = frame.with_columns(
        __reason=pl.when(pl.col("__blank")).then(None).otherwise(reason),
    ).with_columns(
        __status=pl.when(pl.col("__blank"))
        .then(pl.lit("blank"))
        .when(pl.col("__reason").is_not_null())
        .then(pl.lit("rejected"))
        .otherwise(pl.lit("ok")),
        __warning=(
            pl.concat_str(warnings, separator="; ", ignore_nulls=True).replace("", None)
            if warnings
            else pl.lit(None, pl.String)
        ),
    )
    column_errors, samples = _summarize_errors(frame, error_frame, plan)
    return CastResult(frame=frame, column_errors=column_errors, errors=samples)


def _cast_field(
    frame: pl.DataFrame,
    plan_field: FieldPlan,
    options: ImportOptions,
    empty_clears: bool,
) -> tuple[pl.DataFrame, pl.Series, pl.Series | None]:
    kind = plan_field.type
    scalar_options = value_options(plan_field, options)
    raw_name = f"c{plan_field.index}"
    raw = pl.col(raw_name)
    value, ok = vector_cast(raw, kind, scalar_options)
    empty = _is_empty(raw, kind)
    frame = frame.with_columns(
        __value=pl.when(empty | ~ok).then(None).otherwise(value),
        # Cells with NUL or over the length limit already have a reason.
        __needs=~empty
        & ~ok.fill_null(False)
        & ~raw.str.contains("\x00", literal=True)
        & (raw.str.len_chars() <= get_settings().max_value_chars),
    )
    label = column_label(plan_field.source, plan_field.index)
    reasons: list[str | None] = [None] * frame.height
    if frame["__needs"].any():
        fixed, scalar_reasons = _scalar_fill(frame, raw_name, kind, scalar_options)
        frame = frame.with_columns(
            __value=pl.coalesce(pl.col("__value"), pl.Series(fixed, dtype=pl.String))
        )
        reasons = [None if r is None else f"{label}: {r}" for r in scalar_reasons]
    rule_reasons = check_rules(kind, plan_field.rules, frame["__value"], creating=False)
    combined: list[str | None] = []
    for parse_reason, rule_reason in zip(reasons, rule_reasons, strict=True):
        if parse_reason is None and rule_reason is not None:
            parse_reason = f"{label}: {rule_reason}"
        combined.append(parse_reason)
    clears = raw.is_not_null() & empty if empty_clears else pl.lit(False)
    frame = (
        frame.rename({"__value": f"v_{plan_field.key}"})
        .with_columns(clears.alias(f"x_{plan_field.key}"))
        .drop("__needs")
    )
    warning = None
    if kind is FieldType.DATE and scalar_options.excel_dates:
        flagged = frame.select(
            raw.str.contains(r"^\s*\d+\.\d*[1-9]\d*\s*$").fill_null(False)
        ).to_series()
        if flagged.any():
            warning = pl.Series(
                [
                    (
                        f"{label}: {w}"
                        if (w := date_warning(v, scalar_options.excel_dates))
                        else None
                    )
                    if f
                    else None
                    for v, f in zip(frame[raw_name], flagged, strict=True)
                ],
                dtype=pl.String,
            )
    return frame, pl.Series(combined, dtype=pl.String), warning


def _summarize_errors(
    frame: pl.DataFrame, error_frame: pl.DataFrame, plan: Plan
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Count errors per column and keep the first MAX_SAMPLES errors in line order."""
    counts: dict[str, int] = {}
    samples: list[dict[str, Any]] = []
    not_blank = ~frame["__blank"]
    sources: dict[str, int | None] = {f"v_{f.key}": f.index for f in plan.fields}
    sources["__email"] = plan.email_index
    sources["__read"] = None
    if plan.tags_index is not None:
        sources["__tagsv"] = plan.tags_index
    for i in range(len(plan.headers)):
        sources[f"__struct{i}"] = i
    for name in error_frame.columns:
        column = error_frame[name]
        mask = column.is_not_null() & not_blank
        count = int(mask.sum())
        if not count:
            continue
        index = sources.get(name)
        label = "record" if index is None else column_label(plan.headers[index], index)
        counts[label] = counts.get(label, 0) + count
        # The first MAX_SAMPLES errors of the batch are among the first
        # MAX_SAMPLES of their own column, so the cut below keeps exactly them.
        picked = frame.filter(mask).head(MAX_SAMPLES)
        reasons = column.filter(mask).head(MAX_SAMPLES)
        for row, reason in zip(picked.iter_rows(named=True), reasons, strict=True):
            value = None if index is None else row[f"c{index}"]
            samples.append(
                {
                    "line": row["__line"],
                    "record": row["__record"],
                    "column": label,
                    "value": None if value is None else truncate(value),
                    "reason": reason,
                }
            )
    samples.sort(key=lambda sample: sample["record"])
    return counts, samples[:MAX_SAMPLES]


def truncate(value: str, limit: int = 80) -> str:
    """Shorten a value for reports; NUL is shown as \\x00 (jsonb cannot hold it)."""
    text = value if len(value) <= limit else value[: limit - 1] + "…"
    return text.replace("\x00", "\\x00")
