"""The tags page at /tags: tags with counts; admins create, rename, recolour, delete."""

from __future__ import annotations

import reflex as rx

from ceramic_app.components.feedback import (
    empty_state,
    error_callout,
    inline_error,
    skeleton_table,
)
from ceramic_app.components.layout import app_shell, page_header
from ceramic_app.state.base import AppState
from ceramic_app.state.tags import TagRow
from ceramic_app.state.tags import TagsState as S
from ceramic_app.tags import PALETTE


def palette_picker(
    selected: rx.Var[str], on_pick: rx.EventHandler, testid: str
) -> rx.Component:
    """Build a row of palette swatches with a ring around the selected colour."""
    return rx.hstack(
        *[
            rx.box(
                on_click=on_pick(color),
                width="20px",
                height="20px",
                border_radius="50%",
                background=f"var(--{color}-9)",
                cursor="pointer",
                box_shadow=rx.cond(
                    selected == color,
                    f"0 0 0 2px var(--color-background), 0 0 0 4px var(--{color}-9)",
                    "none",
                ),
                title=color,
                aria_label=f"Colour {color}",
                data_testid=f"{testid}-{color}",
            )
            for color in PALETTE
        ],
        spacing="2",
        align="center",
    )


def _create_form() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.input(
                    value=S.new_name,
                    on_change=S.set_new_name,
                    placeholder="New tag name",
                    width="260px",
                    data_testid="tag-name-input",
                ),
                palette_picker(S.new_color, S.set_new_color, "new-color"),
                rx.button(
                    rx.icon("plus", size=14),
                    "Create tag",
                    on_click=S.create,
                    data_testid="tag-create",
                ),
                spacing="4",
                align="center",
                wrap="wrap",
            ),
            inline_error(S.create_error, "tag-create-error"),
            spacing="2",
        ),
        width="100%",
    )


def _view_cells(row: rx.Var[TagRow]) -> list[rx.Component]:
    actions = rx.hstack(
        rx.icon_button(
            rx.icon("pencil", size=14),
            size="1",
            variant="ghost",
            color_scheme="gray",
            aria_label="Rename or recolour",
            on_click=S.start_edit(row.id),
            data_testid="tag-edit",
        ),
        rx.icon_button(
            rx.icon("trash-2", size=14),
            size="1",
            variant="ghost",
            color_scheme="red",
            aria_label="Delete tag",
            on_click=S.ask_delete(row.id),
            data_testid="tag-delete",
        ),
        spacing="3",
        justify="end",
    )
    return [
        rx.table.cell(
            rx.badge(row.name, color_scheme=row.color, size="2", variant="soft"),
            data_testid="tag-name",
        ),
        rx.table.cell(rx.text(row.count_label, size="2"), data_testid="tag-count"),
        rx.table.cell(rx.cond(AppState.is_admin, actions), text_align="right"),
    ]


def _edit_cells() -> list[rx.Component]:
    return [
        rx.table.cell(
            rx.vstack(
                rx.input(
                    value=S.edit_name,
                    on_change=S.set_edit_name,
                    width="240px",
                    data_testid="tag-edit-name",
                ),
                inline_error(S.edit_error, "tag-edit-error"),
                spacing="1",
            )
        ),
        rx.table.cell(palette_picker(S.edit_color, S.set_edit_color, "edit-color")),
        rx.table.cell(
            rx.hstack(
                rx.button(
                    "Save", size="1", on_click=S.save_edit, data_testid="tag-save"
                ),
                rx.button(
                    "Cancel",
                    size="1",
                    variant="soft",
                    color_scheme="gray",
                    on_click=S.cancel_edit,
                ),
                spacing="2",
                justify="end",
            ),
            text_align="right",
        ),
    ]


def _tag_row(row: rx.Var[TagRow]) -> rx.Component:
    return rx.cond(
        S.editing_id == row.id,
        rx.table.row(*_edit_cells(), align="center", data_testid="tag-row"),
        rx.table.row(*_view_cells(row), align="center", data_testid="tag-row"),
    )


def _table() -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                rx.table.column_header_cell("Tag"),
                rx.table.column_header_cell("Tagged profiles"),
                rx.table.column_header_cell(""),
            )
        ),
        rx.table.body(rx.foreach(S.rows, _tag_row)),
        variant="surface",
        width="100%",
        data_testid="tags-table",
    )


def _delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete tag ", S.delete_name, "?"),
            rx.alert_dialog.description(
                "It is removed from ",
                S.delete_count_label,
                ". The profiles themselves stay.",
                size="2",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button("Cancel", variant="soft", color_scheme="gray")
                ),
                rx.alert_dialog.action(
                    rx.button(
                        "Delete tag",
                        color_scheme="red",
                        on_click=S.confirm_delete,
                        data_testid="tag-delete-confirm",
                    )
                ),
                justify="end",
                spacing="3",
                padding_top="12px",
            ),
        ),
        open=S.delete_open,
        on_open_change=S.set_delete_open,
    )


def tags_page() -> rx.Component:
    """Build the tags page with profile counts and the admin actions."""
    header = page_header(
        "Tags",
        "Labels for grouping profiles. Members tag profiles; admins manage the tags.",
    )
    listing = rx.cond(
        S.rows.length() > 0,
        _table(),
        empty_state(
            "tag",
            "No tags yet",
            "Tags group profiles across imports and edits, for example"
            " “Newsletter” or “Churn risk”.",
            testid="tags-empty",
        ),
    )
    body = rx.cond(
        S.error != "",
        error_callout(S.error, S.refresh, "tags-error"),
        rx.cond(S.loading, skeleton_table(3, 4), listing),
    )
    return app_shell(
        header,
        rx.vstack(rx.cond(AppState.is_admin, _create_form()), body, spacing="4"),
        _delete_dialog(),
    )
