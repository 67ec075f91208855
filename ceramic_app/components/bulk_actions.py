"""Bulk action bar, dialogs, progress and undo for the profiles table."""

from __future__ import annotations

import reflex as rx

from ceramic_app.state.profile_bulk import ProfileBulkState
from ceramic_app.state.profiles import ProfilesState


def _action_button(label: str, icon: str, kind: str, **props) -> rx.Component:
    return rx.button(
        rx.icon(icon, size=14),
        label,
        on_click=ProfileBulkState.open_dialog(kind),
        size="1",
        variant="soft",
        data_testid=f"bulk-{kind.replace('.', '-')}",
        **props,
    )


def selection_bar() -> rx.Component:
    """Render the selection count and bulk actions while rows are selected."""
    select_all = rx.cond(
        ProfilesState.page_selected
        & ~ProfilesState.all_matching
        & (ProfilesState.total > ProfilesState.rows.length()),
        rx.button(
            "Select all ",
            ProfilesState.total_label,
            on_click=ProfilesState.select_all_matching,
            variant="ghost",
            size="1",
            data_testid="select-all-matching",
        ),
        rx.fragment(),
    )
    return rx.cond(
        (ProfilesState.selected_ids.length() > 0) | ProfilesState.all_matching,
        rx.hstack(
            rx.text(
                ProfilesState.selection_label,
                size="2",
                weight="medium",
                data_testid="selection-label",
            ),
            select_all,
            rx.spacer(),
            rx.cond(
                ProfilesState.can_edit,
                rx.hstack(
                    _action_button("Add tag", "tag", "tags.add"),
                    _action_button("Remove tag", "tag", "tags.remove"),
                    _action_button("Set field", "pencil", "field.set"),
                    rx.cond(
                        ProfilesState.is_admin,
                        _action_button(
                            "Delete", "trash-2", "delete", color_scheme="red"
                        ),
                        rx.fragment(),
                    ),
                    spacing="2",
                ),
                rx.fragment(),
            ),
            rx.button(
                "Clear",
                on_click=ProfilesState.clear_selection,
                size="1",
                variant="ghost",
                color_scheme="gray",
                data_testid="clear-selection",
            ),
            align="center",
            width="100%",
            padding="8px 12px",
            margin_bottom="8px",
            border_radius="8px",
            background="var(--accent-a3)",
            data_testid="selection-bar",
        ),
        rx.fragment(),
    )


def progress_and_result() -> rx.Component:
    """Render the progress of a running bulk change, then its result and undo."""
    return rx.cond(
        ProfileBulkState.running,
        rx.hstack(
            rx.spinner(size="2"),
            rx.text(ProfileBulkState.progress_label, size="2"),
            rx.progress(value=ProfileBulkState.progress_percent, width="240px"),
            align="center",
            spacing="3",
            margin_bottom="8px",
            data_testid="bulk-progress",
        ),
        rx.cond(
            ProfileBulkState.result_message != "",
            rx.callout.root(
                rx.hstack(
                    rx.callout.text(
                        ProfileBulkState.result_message, data_testid="bulk-result"
                    ),
                    rx.spacer(),
                    rx.cond(
                        ProfileBulkState.undo_operation_id > 0,
                        rx.button(
                            rx.icon("undo-2", size=14),
                            "Undo",
                            on_click=ProfileBulkState.undo,
                            size="1",
                            variant="soft",
                            data_testid="bulk-undo",
                        ),
                        rx.fragment(),
                    ),
                    rx.icon_button(
                        rx.icon("x", size=14),
                        on_click=ProfileBulkState.dismiss_result,
                        size="1",
                        variant="ghost",
                        color_scheme="gray",
                        aria_label="Dismiss",
                    ),
                    align="center",
                    width="100%",
                ),
                color_scheme="grass",
                size="1",
                margin_bottom="8px",
                width="100%",
            ),
            rx.fragment(),
        ),
    )


def _tag_inputs() -> rx.Component:
    return rx.cond(
        ProfileBulkState.tag_options.length() > 0,
        rx.select.root(
            rx.select.trigger(width="100%", data_testid="bulk-tag-select"),
            rx.select.content(
                rx.foreach(
                    ProfileBulkState.tag_options,
                    lambda tag: rx.select.item(tag["name"], value=tag["id"]),
                )
            ),
            value=ProfileBulkState.tag_id,
            on_change=ProfileBulkState.set_tag_id,
        ),
        rx.text("This workspace has no tags yet.", size="2", color_scheme="gray"),
    )


def _field_inputs() -> rx.Component:
    return rx.vstack(
        rx.select.root(
            rx.select.trigger(width="100%", data_testid="bulk-field-select"),
            rx.select.content(
                rx.foreach(
                    ProfileBulkState.field_options,
                    lambda column: rx.select.item(column["label"], value=column["id"]),
                )
            ),
            value=ProfileBulkState.field_id,
            on_change=ProfileBulkState.set_field_id,
        ),
        rx.input(
            placeholder="New value (empty clears the field)",
            value=ProfileBulkState.field_input,
            on_change=ProfileBulkState.set_field_input,
            width="100%",
            color_scheme=rx.cond(ProfileBulkState.field_error != "", "red", "gray"),
            aria_invalid=ProfileBulkState.field_error != "",
            data_testid="bulk-field-value",
        ),
        rx.cond(
            ProfileBulkState.field_error != "",
            rx.text(
                ProfileBulkState.field_error,
                color_scheme="red",
                size="1",
                data_testid="bulk-field-error",
            ),
            rx.fragment(),
        ),
        width="100%",
        spacing="1",
    )


def _delete_inputs() -> rx.Component:
    return rx.vstack(
        rx.text(
            "Deleted profiles and their tags cannot be restored. Type ",
            rx.code(ProfileBulkState.expected_confirmation),
            " to confirm.",
            size="2",
        ),
        rx.input(
            value=ProfileBulkState.confirmation,
            on_change=ProfileBulkState.set_confirmation,
            width="100%",
            data_testid="bulk-delete-confirmation",
        ),
        width="100%",
    )


def bulk_dialog() -> rx.Component:
    """Render the dialog of the bulk action being prepared."""
    apply_disabled = ProfileBulkState.running | (
        (ProfileBulkState.dialog == "delete")
        & (
            ProfileBulkState.confirmation.lower()
            != ProfileBulkState.expected_confirmation
        )
    )
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(ProfileBulkState.dialog_title),
            rx.dialog.description(
                "Applies to ",
                ProfilesState.selection_label.lower(),
                ".",
                size="2",
                color_scheme="gray",
            ),
            rx.vstack(
                rx.match(
                    ProfileBulkState.dialog,
                    ("tags.add", _tag_inputs()),
                    ("tags.remove", _tag_inputs()),
                    ("field.set", _field_inputs()),
                    ("delete", _delete_inputs()),
                    rx.fragment(),
                ),
                rx.cond(
                    ProfileBulkState.dialog_error != "",
                    rx.text(
                        ProfileBulkState.dialog_error,
                        color_scheme="red",
                        size="2",
                        data_testid="bulk-dialog-error",
                    ),
                    rx.fragment(),
                ),
                rx.hstack(
                    rx.button(
                        "Cancel",
                        on_click=ProfileBulkState.close_dialog,
                        variant="soft",
                        color_scheme="gray",
                    ),
                    rx.button(
                        ProfileBulkState.dialog_title,
                        on_click=ProfileBulkState.apply,
                        disabled=apply_disabled,
                        color_scheme=rx.cond(
                            ProfileBulkState.dialog == "delete", "red", "indigo"
                        ),
                        data_testid="bulk-apply",
                    ),
                    justify="end",
                    width="100%",
                ),
                spacing="3",
                padding_top="12px",
                width="100%",
            ),
            max_width="440px",
            data_testid="bulk-dialog",
        ),
        open=ProfileBulkState.dialog != "",
        on_open_change=ProfileBulkState.set_dialog_open,
    )
