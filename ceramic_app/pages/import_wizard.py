"""The import wizard at /imports/new: six steps from a file to a report."""

from __future__ import annotations

import reflex as rx

from ceramic_app.components.imports import (
    issue_table,
    outcome_cards,
    progress_block,
    status_badge,
    stepper,
)
from ceramic_app.components.layout import app_shell, page_header
from ceramic_app.state.base import AppState
from ceramic_app.state.import_view import DATE_FORMAT_CHOICES, FIELD_TYPES
from ceramic_app.state.imports import ACCEPTED_TYPES, UPLOAD_ID
from ceramic_app.state.imports import ImportWizardState as W

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "cp1252", "latin-1"]
DELIMITERS = [(",", "Comma ,"), (";", "Semicolon ;"), ("tab", "Tab"), ("|", "Pipe |")]
FORMATS = [
    ("csv", "CSV"),
    ("tsv", "TSV"),
    ("json", "JSON array"),
    ("jsonl", "JSON Lines"),
]


def _error_callout() -> rx.Component:
    return rx.cond(
        W.error != "",
        rx.callout(
            W.error,
            icon="triangle-alert",
            color_scheme="red",
            width="100%",
            data_testid="wizard-error",
        ),
    )


def _section(title: str, *children: rx.Component, subtitle: str = "") -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading(title, size="4"),
            rx.cond(subtitle != "", rx.text(subtitle, size="2", color_scheme="gray")),
            *children,
            spacing="4",
            width="100%",
        ),
        size="3",
        width="100%",
    )


def _nav(*buttons: rx.Component) -> rx.Component:
    return rx.hstack(
        rx.spacer(), *buttons, width="100%", spacing="3", padding_top="4px"
    )


# -- step 1 ------------------------------------------------------------------------


def upload_step() -> rx.Component:
    """Drop zone with upload progress."""
    zone = rx.upload.root(
        rx.vstack(
            rx.center(
                rx.icon("file-up", size=28, color="var(--accent-11)"),
                width="56px",
                height="56px",
                border_radius="14px",
                background="var(--accent-a3)",
            ),
            rx.text(
                "Drop a file here, or click to choose one", size="3", weight="medium"
            ),
            rx.text(
                "CSV, TSV, JSON (an array of objects) or JSON Lines. Encoding, delimiter"
                " and line endings are detected; you can change them in the next step.",
                size="2",
                color_scheme="gray",
                text_align="center",
                max_width="460px",
            ),
            align="center",
            spacing="3",
            padding="48px 24px",
        ),
        id=UPLOAD_ID,
        accept=ACCEPTED_TYPES,
        multiple=False,
        max_files=1,
        no_keyboard=False,
        on_drop=W.receive_upload(
            rx.upload_files_chunk(
                upload_id=UPLOAD_ID, on_upload_progress=W.set_upload_progress
            )
        ),
        border="2px dashed var(--accent-a6)",
        border_radius="12px",
        width="100%",
        cursor="pointer",
        background="var(--accent-a2)",
        data_testid="import-dropzone",
    )
    uploading = rx.vstack(
        rx.text("Uploading ", W.file_name, "…", size="2"),
        rx.progress(
            value=W.upload_percent, max=100, width="100%", data_testid="upload-progress"
        ),
        width="100%",
        spacing="2",
    )
    return _section(
        "Upload a file",
        rx.cond(W.uploading, uploading, zone),
        _error_callout(),
        subtitle="Nothing is written until you start the import in the last step.",
    )


# -- step 2 ------------------------------------------------------------------------


def _setting(label: str, control: rx.Component) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"), control, spacing="1"
    )


def _simple_select(
    items: list[tuple[str, str]], value: rx.Var, on_change, testid: str
) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(width="170px", data_testid=testid),
        rx.select.content(*[rx.select.item(label, value=v) for v, label in items]),
        value=value,
        on_change=on_change,
        size="2",
    )


def _preview_table() -> rx.Component:
    return rx.box(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell("Line", width="60px"),
                    rx.foreach(
                        W.headers,
                        lambda h: rx.table.column_header_cell(h, white_space="nowrap"),
                    ),
                )
            ),
            rx.table.body(
                rx.foreach(
                    W.preview_rows,
                    lambda row, i: rx.table.row(
                        rx.table.cell(W.preview_lines[i], color="var(--gray-10)"),
                        rx.foreach(
                            row,
                            lambda cell: rx.table.cell(
                                cell,
                                max_width="220px",
                                overflow="hidden",
                                text_overflow="ellipsis",
                                white_space="pre",
                                title=cell,
                            ),
                        ),
                        data_testid="preview-row",
                    ),
                )
            ),
            size="1",
            variant="surface",
            data_testid="preview-table",
        ),
        overflow_x="auto",
        width="100%",
    )


def preview_step() -> rx.Component:
    """What was detected, with overrides, and the first rows as they will be read."""
    settings = rx.hstack(
        _setting(
            "Format",
            _simple_select(FORMATS, W.source["format"], W.set_format, "format-select"),
        ),
        _setting(
            "Encoding",
            _simple_select(
                [(e, e) for e in ENCODINGS],
                W.source["encoding"],
                W.set_encoding,
                "encoding-select",
            ),
        ),
        rx.cond(
            (W.source["format"] == "csv") | (W.source["format"] == "tsv"),
            _setting(
                "Delimiter",
                _simple_select(
                    DELIMITERS,
                    rx.cond(
                        W.source["delimiter"] == "\t", "tab", W.source["delimiter"]
                    ),
                    W.set_delimiter,
                    "delimiter-select",
                ),
            ),
        ),
        _setting(
            "Line endings",
            rx.badge(
                W.source["line_ending"],
                size="2",
                variant="surface",
                data_testid="line-ending",
            ),
        ),
        _setting("File", rx.text(W.file_name, " · ", W.file_size_label, size="2")),
        spacing="5",
        align="end",
        wrap="wrap",
    )
    warnings = rx.foreach(
        W.warnings,
        lambda w: rx.callout(
            w, icon="info", color_scheme="amber", size="1", width="100%"
        ),
    )
    return _section(
        "Preview",
        settings,
        warnings,
        _error_callout(),
        _preview_table(),
        _nav(
            rx.button(
                "Continue to mapping",
                rx.icon("arrow-right", size=16),
                on_click=W.go_to_mapping,
                loading=W.busy,
                disabled=W.error != "",
                data_testid="to-mapping",
            )
        ),
        subtitle="The first rows exactly as they will be read. Change a setting if they look wrong.",
    )


# -- step 3 ------------------------------------------------------------------------


def _target_select(column: rx.Var) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(width="100%", data_testid="target-select"),
        rx.select.content(
            rx.foreach(
                W.field_choices,
                lambda pair: rx.select.item(
                    pair.split("|")[1], value=pair.split("|")[0]
                ),
            )
        ),
        value=column["choice"].to(str),
        on_change=lambda v: W.set_target(column["index"].to(int), v),
        size="2",
    )


def _details(column: rx.Var) -> rx.Component:
    target = column["target"].to(str)
    new_field = rx.hstack(
        rx.input(
            default_value=column["key"].to(str),
            on_blur=lambda v: W.set_new_key(column["index"].to(int), v),
            placeholder="field_key",
            size="2",
            width="170px",
            font_family="var(--code-font-family)",
            data_testid="new-key-input",
        ),
        rx.select.root(
            rx.select.trigger(width="120px", data_testid="new-type-select"),
            rx.select.content(*[rx.select.item(t, value=t) for t in FIELD_TYPES]),
            value=column["type"].to(str),
            on_change=lambda v: W.set_new_type(column["index"].to(int), v),
            size="2",
        ),
        spacing="2",
    )
    date_format = rx.cond(
        column["type"].to(str) == "date",
        rx.select.root(
            rx.select.trigger(
                placeholder="Date format",
                width="150px",
                data_testid="date-format-select",
            ),
            rx.select.content(
                *[rx.select.item(f, value=f) for f in DATE_FORMAT_CHOICES]
            ),
            value=column["date_format"].to(str),
            on_change=lambda v: W.set_date_format(column["index"].to(int), v),
            size="2",
        ),
    )
    return rx.hstack(
        rx.cond(target == "new_field", new_field),
        rx.cond(
            target == "field",
            rx.badge(column["type"].to(str), variant="surface", size="2"),
        ),
        rx.cond((target == "field") | (target == "new_field"), date_format),
        spacing="2",
        align="center",
        wrap="wrap",
    )


def _mapping_row(column: rx.Var) -> rx.Component:
    notes = column["notes"].to(str)
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.text(
                    rx.cond(
                        column["source"].to(str) != "",
                        column["source"].to(str),
                        "(no header)",
                    ),
                    weight="medium",
                    size="2",
                ),
                rx.text(
                    column["samples"].to(str),
                    size="1",
                    color_scheme="gray",
                    trim="both",
                ),
                spacing="1",
                max_width="260px",
            )
        ),
        rx.table.cell(_target_select(column), width="240px"),
        rx.table.cell(
            rx.vstack(
                _details(column),
                rx.cond(
                    notes != "",
                    rx.text(
                        notes,
                        size="1",
                        color="var(--amber-11)",
                        data_testid="column-note",
                    ),
                ),
                spacing="1",
            )
        ),
        data_testid="mapping-row",
        align="center",
    )


def mapping_step() -> rx.Component:
    """Where each column goes, with types for new fields."""
    problems = rx.cond(
        W.problems.length() > 0,
        rx.callout.root(
            rx.callout.icon(rx.icon("triangle-alert")),
            rx.vstack(
                rx.foreach(W.problems, lambda p: rx.text(p, size="2")), spacing="1"
            ),
            color_scheme="amber",
            width="100%",
            data_testid="mapping-problems",
        ),
    )
    table = rx.table.root(
        rx.table.header(
            rx.table.row(
                rx.table.column_header_cell("Column in the file"),
                rx.table.column_header_cell("Maps to"),
                rx.table.column_header_cell("Details"),
            )
        ),
        rx.table.body(rx.foreach(W.columns, _mapping_row)),
        variant="surface",
        size="2",
        width="100%",
        data_testid="mapping-table",
    )
    return _section(
        "Map columns",
        problems,
        table,
        _nav(
            rx.button(
                "Back",
                variant="soft",
                color_scheme="gray",
                on_click=W.go_to_step("preview"),
            ),
            rx.button(
                "Continue to options",
                rx.icon("arrow-right", size=16),
                on_click=W.go_to_options,
                disabled=~W.mapped_email,
                data_testid="to-options",
            ),
        ),
        subtitle="Columns were matched by their headers. New fields are created when the import starts.",
    )


# -- step 4 ------------------------------------------------------------------------


def _radio(name: str, value: rx.Var, items: list[tuple[str, str]]) -> rx.Component:
    return rx.radio_group.root(
        rx.vstack(
            *[
                rx.text(
                    rx.flex(
                        rx.radio_group.item(value=v, data_testid=f"{name}-{v}"),
                        label,
                        spacing="2",
                    ),
                    as_="label",
                    size="2",
                )
                for v, label in items
            ],
            spacing="2",
        ),
        value=value,
        on_change=lambda v: W.set_option(name, v),
    )


def _option(title: str, hint: str, control: rx.Component) -> rx.Component:
    return rx.grid(
        rx.vstack(
            rx.text(title, weight="medium", size="2"),
            rx.text(hint, size="1", color_scheme="gray"),
            spacing="1",
        ),
        control,
        columns="2",
        spacing="5",
        width="100%",
        padding_y="8px",
        border_bottom="1px solid var(--gray-a4)",
    )


def options_step() -> rx.Component:
    """Mode, empty cells, number format and Excel dates."""
    return _section(
        "Options",
        _option(
            "Mode",
            "What happens to rows whose e-mail already belongs to a profile.",
            _radio(
                "mode",
                W.mode,
                [
                    ("upsert", "Create new profiles and update existing ones"),
                    ("create", "Only create new profiles"),
                    ("update", "Only update existing profiles"),
                ],
            ),
        ),
        _option(
            "Empty cells",
            "An empty cell on an existing profile.",
            _radio(
                "empty_cells",
                W.empty_cells,
                [
                    ("keep", "Keep the stored value"),
                    ("clear", "Clear the stored value"),
                ],
            ),
        ),
        _option(
            "Numbers",
            "The decimal separator of number columns.",
            _radio(
                "decimal",
                W.decimal,
                [
                    ("point", "Decimal point (1,234.5)"),
                    ("comma", "Decimal comma (1.234,5)"),
                ],
            ),
        ),
        _option(
            "Excel serial dates",
            "Read plain numbers in date columns as Excel date serials.",
            _radio(
                "excel_dates",
                W.excel_dates,
                [
                    ("off", "No: reject them"),
                    ("1900", "Yes, 1900 date system (Windows)"),
                    ("1904", "Yes, 1904 date system (old Mac)"),
                ],
            ),
        ),
        _nav(
            rx.button(
                "Back",
                variant="soft",
                color_scheme="gray",
                on_click=W.go_to_step("mapping"),
            ),
            rx.button(
                "Validate the whole file",
                rx.icon("list-checks", size=16),
                on_click=W.start_validation,
                data_testid="start-validation",
            ),
        ),
        subtitle="Dates in date columns use the format chosen on the mapping step.",
    )


# -- steps 5 and 6 -------------------------------------------------------------------


def _report_details() -> rx.Component:
    return rx.vstack(
        outcome_cards(W.cards),
        rx.cond(
            W.column_errors.length() > 0,
            rx.vstack(
                rx.heading("Errors by column", size="3"),
                rx.hstack(
                    rx.foreach(
                        W.column_errors,
                        lambda c: rx.badge(
                            c["column"],
                            ": ",
                            c["count"],
                            color_scheme="red",
                            variant="soft",
                            size="2",
                        ),
                    ),
                    wrap="wrap",
                    spacing="2",
                    data_testid="column-errors",
                ),
                spacing="2",
                width="100%",
            ),
        ),
        rx.cond(
            W.sample_errors.length() > 0,
            rx.vstack(
                rx.heading("Rejected rows", size="3"),
                rx.text(
                    "Up to 100 examples; the download holds every rejected row.",
                    size="1",
                    color_scheme="gray",
                ),
                issue_table(W.sample_errors, "error-table"),
                spacing="2",
                width="100%",
            ),
        ),
        rx.cond(
            W.sample_warnings.length() > 0,
            rx.vstack(
                rx.heading("Warnings (", W.warning_count, ")", size="3"),
                issue_table(W.sample_warnings, "warning-table"),
                spacing="2",
                width="100%",
            ),
        ),
        spacing="5",
        width="100%",
    )


def validate_step() -> rx.Component:
    """Progress of the dry run, then what the import would do."""
    return _section(
        "Validation",
        rx.cond(
            W.is_active,
            rx.vstack(
                progress_block(W.percent, W.progress_label, "validation-progress"),
                rx.button(
                    "Cancel",
                    variant="soft",
                    color_scheme="red",
                    on_click=W.cancel,
                    data_testid="cancel",
                ),
                spacing="3",
                width="100%",
            ),
            rx.vstack(
                rx.callout(
                    "Nothing has been written yet. This is what the import will do.",
                    icon="info",
                    size="1",
                    width="100%",
                ),
                _report_details(),
                _nav(
                    rx.button(
                        "Back to mapping",
                        variant="soft",
                        color_scheme="gray",
                        on_click=W.go_to_step("mapping"),
                        data_testid="back-to-mapping",
                    ),
                    rx.button(
                        "Start import",
                        rx.icon("play", size=16),
                        on_click=W.start_import,
                        data_testid="start-import",
                    ),
                ),
                spacing="4",
                width="100%",
            ),
        ),
        subtitle="Every row is checked before anything is written.",
    )


def run_step() -> rx.Component:
    """Live progress of the import, cancel, and the final report."""
    final_banner = rx.match(
        W.status,
        (
            "completed",
            rx.callout(
                "Import completed.",
                icon="circle-check",
                color_scheme="green",
                width="100%",
                data_testid="import-done",
            ),
        ),
        (
            "cancelled",
            rx.callout(
                "Import cancelled. Rows written before the cancel stay; the rest were not imported.",
                icon="circle-stop",
                color_scheme="orange",
                width="100%",
                data_testid="import-cancelled",
            ),
        ),
        (
            "failed",
            rx.callout(
                W.job_message,
                icon="circle-x",
                color_scheme="red",
                width="100%",
                data_testid="import-failed",
            ),
        ),
        rx.fragment(),
    )
    return _section(
        "Import",
        rx.hstack(
            rx.text(W.file_name, weight="medium"),
            status_badge(W.status),
            spacing="3",
            align="center",
        ),
        progress_block(W.percent, W.progress_label),
        rx.cond(
            W.is_active,
            rx.button(
                "Cancel import",
                variant="soft",
                color_scheme="red",
                on_click=W.cancel,
                data_testid="cancel",
            ),
        ),
        final_banner,
        _report_details(),
        rx.cond(
            W.is_final,
            _nav(
                rx.cond(
                    W.has_error_file,
                    rx.button(
                        rx.icon("download", size=16),
                        "Download rejected rows",
                        variant="soft",
                        on_click=W.download_errors,
                        data_testid="download-errors",
                    ),
                ),
                rx.link(
                    rx.button(
                        "Import another file", variant="soft", color_scheme="gray"
                    ),
                    href="/imports/new",
                    data_testid="import-another",
                ),
                rx.link(
                    rx.button("View profiles"),
                    href="/profiles",
                    data_testid="view-profiles",
                ),
            ),
        ),
    )


def _viewer_notice() -> rx.Component:
    return rx.callout(
        "Your role in this workspace is viewer, which can read profiles but not"
        " import them. Ask an admin to make you a member.",
        icon="info",
        color_scheme="gray",
        data_testid="import-viewer-notice",
    )


def import_wizard_page() -> rx.Component:
    """The wizard."""
    body = rx.match(
        W.step,
        ("preview", preview_step()),
        ("mapping", mapping_step()),
        ("options", options_step()),
        ("validate", validate_step()),
        ("run", run_step()),
        rx.cond(AppState.can_edit, upload_step(), _viewer_notice()),
    )
    return app_shell(
        page_header(
            "Import profiles",
            "From a CSV, TSV, JSON or JSON Lines file.",
            rx.link(
                rx.button("Import history", variant="soft", color_scheme="gray"),
                href="/imports",
            ),
        ),
        rx.vstack(
            stepper(W.step_index, W.go_to_step),
            body,
            spacing="4",
            width="100%",
            max_width="1100px",
        ),
    )
