"""The fields table of Settings > Fields: one row per field with stats and actions."""

from __future__ import annotations

import reflex as rx

from ceramic_app.state.field_editor import FieldEditorState
from ceramic_app.state.field_view import FieldRow
from ceramic_app.state.fields import FieldsState

HEADERS = ("Field", "Type", "Rules", "Profiles with a value", "Example", "")


def _job_status(row: rx.Var[FieldRow]) -> rx.Component:
    running = rx.vstack(
        rx.progress(
            value=row.job_percent,
            max=100,
            size="1",
            width="100%",
            data_testid="field-job-progress",
        ),
        rx.text(row.job_label, size="1", color_scheme="gray"),
        spacing="1",
        width="100%",
        max_width="280px",
        padding_top="4px",
    )
    failed = rx.hstack(
        rx.icon("circle-alert", size=14, color="var(--red-11)"),
        rx.text(row.job_label, ": ", row.job_error, size="1", color="var(--red-11)"),
        rx.button(
            "Resume",
            size="1",
            variant="soft",
            on_click=FieldsState.resume_job(row.id),
            data_testid="field-job-resume",
        ),
        align="center",
        spacing="2",
        padding_top="4px",
    )
    return rx.cond(row.job_running, running, rx.cond(row.job_failed, failed))


def _field_cell(row: rx.Var[FieldRow]) -> rx.Component:
    return rx.table.cell(
        rx.vstack(
            rx.hstack(
                rx.text(row.label, weight="medium", size="2"),
                rx.code(row.key, size="1", variant="soft", color_scheme="gray"),
                rx.cond(
                    row.builtin,
                    rx.badge(
                        "Built-in", size="1", variant="outline", color_scheme="gray"
                    ),
                ),
                align="center",
                spacing="2",
                wrap="wrap",
            ),
            rx.cond(
                row.description != "",
                rx.text(
                    row.description,
                    size="1",
                    color_scheme="gray",
                    max_width="340px",
                    trim="both",
                ),
            ),
            _job_status(row),
            spacing="1",
        ),
        min_width="220px",
    )


def _type_cell(row: rx.Var[FieldRow]) -> rx.Component:
    return rx.table.cell(
        rx.hstack(
            rx.badge(row.type_label, variant="soft", color_scheme="gray"),
            rx.cond(
                row.calculated,
                rx.badge(
                    rx.icon("sigma", size=12),
                    "Calculated",
                    variant="soft",
                    color_scheme="violet",
                    data_testid="field-calculated-badge",
                ),
            ),
            rx.cond(
                row.status != "active",
                rx.badge(row.status, variant="solid", color_scheme="amber"),
            ),
            spacing="1",
            wrap="wrap",
        ),
    )


def _rules_cell(row: rx.Var[FieldRow]) -> rx.Component:
    return rx.table.cell(
        rx.cond(
            row.calculated,
            rx.code(row.expression, size="1", variant="ghost", white_space="pre-wrap"),
            rx.cond(
                row.rules_summary != "",
                rx.text(row.rules_summary, size="1", color_scheme="gray"),
                rx.text("No rules", size="1", color="var(--gray-9)"),
            ),
        ),
        max_width="240px",
    )


def _count_cell(row: rx.Var[FieldRow]) -> rx.Component:
    estimate = rx.hstack(
        rx.tooltip(
            rx.icon("info", size=14, color="var(--amber-10)"),
            content=row.estimate_note,
        ),
        # A button, not a link: a link without a target reloads the page.
        rx.button(
            "Count exactly",
            size="1",
            variant="ghost",
            on_click=FieldsState.count_exactly(row.id),
            data_testid="field-count-exact",
        ),
        spacing="1",
        align="center",
    )
    return rx.table.cell(
        rx.cond(
            row.stats_loaded,
            rx.vstack(
                rx.text(row.count_label, size="2", data_testid="field-count"),
                rx.cond(row.estimated, estimate),
                spacing="1",
            ),
            rx.skeleton(rx.text("1,000 of 1,000"), height="14px", width="110px"),
        ),
        white_space="nowrap",
    )


def _example_cell(row: rx.Var[FieldRow]) -> rx.Component:
    return rx.table.cell(
        rx.cond(
            row.example != "",
            rx.text(
                row.example,
                size="1",
                font_family="var(--code-font-family)",
                color="var(--gray-11)",
                max_width="180px",
                overflow="hidden",
                text_overflow="ellipsis",
                white_space="nowrap",
                title=row.example,
            ),
            rx.text("—", size="1", color="var(--gray-8)"),
        ),
    )


def _actions_menu(row: rx.Var[FieldRow]) -> rx.Component:
    busy = row.status != "active"
    return rx.dropdown_menu.root(
        rx.dropdown_menu.trigger(
            rx.icon_button(
                rx.icon("ellipsis", size=16),
                variant="ghost",
                color_scheme="gray",
                aria_label="Field actions",
                disabled=busy,
                data_testid="field-actions-" + row.key,
            )
        ),
        rx.dropdown_menu.content(
            rx.dropdown_menu.item(
                rx.icon("pencil", size=14),
                "Edit",
                on_select=FieldEditorState.open_edit(row.id),
                data_testid="field-menu-edit",
            ),
            rx.cond(
                ~row.calculated,
                rx.dropdown_menu.item(
                    rx.icon("arrow-left-right", size=14),
                    "Change type…",
                    on_select=FieldsState.open_type_change(row.id),
                    data_testid="field-menu-type",
                ),
            ),
            rx.dropdown_menu.separator(),
            rx.dropdown_menu.item(
                rx.icon("trash-2", size=14),
                "Delete…",
                color="red",
                on_select=FieldsState.open_delete(row.id),
                data_testid="field-menu-delete",
            ),
            align="end",
        ),
    )


def _actions_cell(row: rx.Var[FieldRow]) -> rx.Component:
    locked = rx.tooltip(
        rx.icon("lock", size=14, color="var(--gray-9)"),
        content="Built-in fields cannot be edited or deleted.",
    )
    return rx.table.cell(
        rx.cond(
            row.builtin,
            rx.box(locked, data_testid="field-locked-" + row.key),
            _actions_menu(row),
        ),
        text_align="right",
        width="48px",
    )


def field_row(row: rx.Var[FieldRow]) -> rx.Component:
    """Build one row: field, type, rules, value count, example and actions."""
    return rx.table.row(
        _field_cell(row),
        _type_cell(row),
        _rules_cell(row),
        _count_cell(row),
        _example_cell(row),
        _actions_cell(row),
        align="center",
        data_testid="field-row-" + row.key,
        background=rx.cond(row.builtin, "var(--gray-a2)", "transparent"),
    )


def fields_table() -> rx.Component:
    """Build the table of built-in and custom fields."""
    return rx.table.root(
        rx.table.header(
            rx.table.row(*[rx.table.column_header_cell(title) for title in HEADERS])
        ),
        rx.table.body(rx.foreach(FieldsState.rows, field_row)),
        variant="surface",
        size="2",
        width="100%",
        data_testid="fields-table",
    )
