"""Value rows of the profile detail page: display, typed inline editors and errors."""

from __future__ import annotations

import reflex as rx

from ceramic_app.components.feedback import inline_error
from ceramic_app.state.base import AppState
from ceramic_app.state.profile_detail import ProfileDetailState as P
from ceramic_app.state.profile_view import ValueRow

LABEL_WIDTH = "220px"


def _text_editor(input_type: str = "text") -> rx.Component:
    return rx.input(
        value=P.draft_text,
        on_change=P.set_draft_text,
        on_key_down=P.editor_key_down,
        type=input_type,
        width="100%",
        max_width="420px",
        auto_focus=True,
        data_testid="value-editor",
    )


def _json_editor() -> rx.Component:
    return rx.text_area(
        value=P.draft_text,
        on_change=P.set_draft_text,
        rows="6",
        width="100%",
        font_family="var(--code-font-family)",
        data_testid="value-editor",
    )


def _array_editor() -> rx.Component:
    chips = rx.foreach(
        P.draft_items,
        lambda item, index: rx.badge(
            item,
            rx.icon(
                "x",
                size=12,
                cursor="pointer",
                on_click=P.remove_draft_item(index),
                aria_label="Remove item",
            ),
            variant="soft",
            size="2",
            data_testid="draft-item",
        ),
    )
    return rx.vstack(
        rx.hstack(chips, spacing="1", wrap="wrap"),
        rx.input(
            value=P.draft_item_input,
            on_change=P.set_draft_item_input,
            on_key_down=P.item_key_down,
            placeholder="Type an item and press Enter",
            width="100%",
            max_width="420px",
            data_testid="value-editor",
        ),
        spacing="2",
        width="100%",
    )


def value_editor(kind: rx.Var[str], key: rx.Var[str]) -> rx.Component:
    """Build the typed editor of a value, with save, cancel and its error."""
    editor = rx.match(
        kind,
        ("date", _text_editor("date")),
        ("json", _json_editor()),
        ("array", _array_editor()),
        _text_editor(),
    )
    return rx.vstack(
        editor,
        rx.cond(P.errors.contains(key), inline_error(P.errors[key], "value-error")),
        rx.hstack(
            rx.button(
                "Save",
                size="1",
                on_click=P.save_edit,
                loading=P.saving,
                data_testid="value-save",
            ),
            rx.button(
                "Cancel",
                size="1",
                variant="soft",
                color_scheme="gray",
                on_click=P.cancel_edit,
                data_testid="value-cancel",
            ),
            rx.cond(
                key != "email",
                rx.button(
                    "Clear value",
                    size="1",
                    variant="ghost",
                    color_scheme="red",
                    on_click=P.clear_value(key),
                    data_testid="value-clear",
                ),
            ),
            spacing="2",
            align="center",
        ),
        spacing="2",
        width="100%",
    )


def _empty() -> rx.Component:
    return rx.text("Empty", size="2", color="var(--gray-9)", font_style="italic")


def _boolean_display(row: rx.Var[ValueRow]) -> rx.Component:
    return rx.hstack(
        rx.switch(
            checked=row.checked,
            on_change=P.set_boolean(row.key),
            disabled=~AppState.can_edit | ~row.editable | P.saving,
            data_testid="switch-" + row.key,
        ),
        rx.text(
            rx.cond(row.has_value, row.display, "Not set"),
            size="2",
            color=rx.cond(row.has_value, "var(--gray-12)", "var(--gray-9)"),
        ),
        align="center",
        spacing="2",
    )


def _value_display(row: rx.Var[ValueRow]) -> rx.Component:
    chips = rx.hstack(
        rx.foreach(row.chips, lambda item: rx.badge(item, variant="soft", size="2")),
        spacing="1",
        wrap="wrap",
    )
    shown = rx.match(
        row.type,
        ("boolean", _boolean_display(row)),
        ("array", chips),
        (
            "json",
            rx.code(row.display, size="1", variant="ghost", white_space="pre-wrap"),
        ),
        rx.text(row.display, size="2", white_space="pre-wrap", word_break="break-word"),
    )
    return rx.box(
        rx.cond(row.has_value | (row.type == "boolean"), shown, _empty()),
        data_testid="value-" + row.key,
    )


def _row_actions(row: rx.Var[ValueRow]) -> rx.Component:
    editable = AppState.can_edit & row.editable & (row.type != "boolean")
    return rx.cond(
        editable & (P.editing_key != row.key),
        rx.hstack(
            rx.icon_button(
                rx.icon("pencil", size=14),
                size="1",
                variant="ghost",
                color_scheme="gray",
                aria_label="Edit",
                on_click=P.start_edit(row.key),
                data_testid="edit-" + row.key,
            ),
            spacing="1",
        ),
    )


def _row_label(row: rx.Var[ValueRow]) -> rx.Component:
    calculated = rx.tooltip(
        rx.badge(
            rx.icon("sigma", size=11), "Calculated", size="1", color_scheme="violet"
        ),
        content="= " + row.expression,
    )
    return rx.vstack(
        rx.hstack(
            rx.text(row.label, size="2", weight="medium"),
            rx.cond(row.required, rx.text("*", color="var(--red-10)", size="2")),
            rx.cond(row.calculated, calculated),
            spacing="1",
            align="center",
        ),
        rx.text(row.type_label, " · ", row.key, size="1", color_scheme="gray"),
        rx.cond(
            row.rules_summary != "",
            rx.text(row.rules_summary, size="1", color="var(--gray-9)"),
        ),
        spacing="0",
        width=LABEL_WIDTH,
        min_width=LABEL_WIDTH,
    )


def value_row(row: rx.Var[ValueRow]) -> rx.Component:
    """Build one field row: label, value or its editor, and the edit action."""
    return rx.hstack(
        _row_label(row),
        rx.box(
            rx.cond(
                P.editing_key == row.key,
                value_editor(row.type, row.key),
                _value_display(row),
            ),
            flex="1",
            min_width="0",
        ),
        _row_actions(row),
        align="start",
        spacing="4",
        width="100%",
        padding="12px 16px",
        border_bottom="1px solid var(--gray-a4)",
        _hover={"background": "var(--gray-a2)"},
        data_testid="value-row-" + row.key,
    )
