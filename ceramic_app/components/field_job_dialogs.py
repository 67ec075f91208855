"""Dialogs that start field jobs: change a field's type, and delete a field."""

from __future__ import annotations

import reflex as rx

from ceramic_app.components.field_editor_dialog import example_table
from ceramic_app.state.field_view import TYPE_LABELS, ReferenceRow
from ceramic_app.state.fields import FieldsState as F


def _cancel(testid: str) -> rx.Component:
    return rx.dialog.close(
        rx.button("Cancel", variant="soft", color_scheme="gray", data_testid=testid)
    )


def _type_report() -> rx.Component:
    return rx.cond(
        F.type_checking,
        rx.hstack(
            rx.spinner(size="2"),
            rx.text("Checking every stored value…", size="2", color_scheme="gray"),
            align="center",
            spacing="2",
        ),
        rx.cond(
            F.type_checked,
            rx.vstack(
                rx.foreach(F.type_lines, lambda line: rx.text(line, size="2")),
                rx.cond(
                    F.type_examples.length() > 0,
                    rx.vstack(
                        rx.text(
                            "Values that do not convert", size="2", weight="medium"
                        ),
                        rx.scroll_area(
                            example_table(F.type_examples, "type-example"),
                            max_height="240px",
                            type="auto",
                            scrollbars="vertical",
                        ),
                        width="100%",
                    ),
                ),
                rx.cond(
                    F.type_blocked != "",
                    rx.callout(
                        F.type_blocked, icon="ban", color_scheme="red", width="100%"
                    ),
                ),
                spacing="2",
                width="100%",
                data_testid="type-report",
            ),
        ),
    )


def type_change_dialog() -> rx.Component:
    """Build the dialog that reports a type change's impact, then starts the job."""
    picker = rx.select.root(
        rx.select.trigger(placeholder="Choose the new type", data_testid="type-target"),
        rx.select.content(
            rx.foreach(
                F.type_choices,
                lambda kind: rx.select.item(
                    rx.match(kind, *TYPE_LABELS.items(), kind), value=kind
                ),
            )
        ),
        value=F.type_target,
        on_change=F.choose_type,
    )
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Change the type of ", F.type_field_label),
            rx.dialog.description(
                "Values are converted by a background job. Nothing changes until"
                " you start it.",
                size="2",
                color_scheme="gray",
            ),
            rx.vstack(
                rx.hstack(
                    rx.badge(
                        F.type_from_label, size="2", variant="soft", color_scheme="gray"
                    ),
                    rx.icon("arrow-right", size=16, color="var(--gray-9)"),
                    picker,
                    align="center",
                    spacing="3",
                ),
                _type_report(),
                rx.cond(
                    F.type_error != "",
                    rx.callout(
                        F.type_error,
                        icon="circle-alert",
                        color_scheme="red",
                        width="100%",
                    ),
                ),
                rx.hstack(
                    _cancel("type-cancel"),
                    rx.button(
                        "Convert values",
                        on_click=F.confirm_type_change,
                        disabled=~F.type_checked | (F.type_blocked != ""),
                        loading=F.type_starting,
                        data_testid="type-confirm",
                    ),
                    justify="end",
                    spacing="3",
                    width="100%",
                ),
                spacing="4",
                width="100%",
                padding_top="12px",
            ),
            max_width="640px",
            data_testid="type-dialog",
        ),
        open=F.type_open,
        on_open_change=F.close_type_change,
    )


def _reference_row(reference: rx.Var[ReferenceRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.link(
                reference.template_name,
                href="/templates?template=" + reference.template_id,
                weight="medium",
            )
        ),
        rx.table.cell(reference.block_name),
        rx.table.cell(
            rx.code(
                reference.snippet, size="1", variant="ghost", white_space="pre-wrap"
            )
        ),
        data_testid="delete-reference",
    )


def _references() -> rx.Component:
    listing = rx.vstack(
        rx.callout(
            "These template blocks use the field. After deletion they render"
            " nothing in its place.",
            icon="triangle-alert",
            color_scheme="amber",
            width="100%",
        ),
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell("Template"),
                    rx.table.column_header_cell("Block"),
                    rx.table.column_header_cell("Where"),
                )
            ),
            rx.table.body(rx.foreach(F.delete_references, _reference_row)),
            size="1",
            variant="surface",
            width="100%",
        ),
        spacing="2",
        width="100%",
        data_testid="delete-references",
    )
    none = rx.text(
        "No template uses this field.",
        size="2",
        color_scheme="gray",
        data_testid="delete-no-references",
    )
    return rx.cond(F.delete_references.length() > 0, listing, none)


def _delete_plan() -> rx.Component:
    return rx.vstack(
        _references(),
        rx.cond(
            F.delete_dependents.length() > 0,
            rx.callout.root(
                rx.callout.icon(rx.icon("ban", size=16)),
                rx.callout.text(
                    "Calculated fields read this field: ",
                    F.delete_dependents.join(", "),
                    ". Change or delete them first.",
                ),
                color_scheme="red",
                width="100%",
                data_testid="delete-blocked",
            ),
        ),
        rx.text(
            "Profiles with a value: ",
            F.delete_values_label,
            ". The values are removed from every profile and cannot be restored.",
            size="2",
        ),
        rx.vstack(
            rx.text("Type ", rx.code(F.delete_key), " to confirm.", size="2"),
            rx.input(
                value=F.delete_confirm_text,
                on_change=F.set_delete_confirm_text,
                placeholder=F.delete_key,
                width="100%",
                data_testid="delete-confirm-input",
            ),
            spacing="1",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def delete_field_dialog() -> rx.Component:
    """Build the dialog that lists a field's uses, then starts its deletion job."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Delete field ", F.delete_label, "?"),
            rx.vstack(
                rx.cond(
                    F.delete_loading,
                    rx.hstack(
                        rx.spinner(size="2"), rx.text("Looking for uses…", size="2")
                    ),
                    _delete_plan(),
                ),
                rx.cond(
                    F.delete_error != "",
                    rx.callout(
                        F.delete_error,
                        icon="circle-alert",
                        color_scheme="red",
                        width="100%",
                    ),
                ),
                rx.hstack(
                    _cancel("delete-cancel"),
                    rx.button(
                        rx.icon("trash-2", size=14),
                        "Delete field",
                        color_scheme="red",
                        on_click=F.confirm_delete,
                        disabled=~F.delete_confirmed
                        | (F.delete_dependents.length() > 0),
                        loading=F.delete_starting,
                        data_testid="delete-confirm",
                    ),
                    justify="end",
                    spacing="3",
                    width="100%",
                ),
                spacing="4",
                width="100%",
                padding_top="12px",
            ),
            max_width="680px",
            data_testid="delete-dialog",
        ),
        open=F.delete_open,
        on_open_change=F.close_delete,
    )
