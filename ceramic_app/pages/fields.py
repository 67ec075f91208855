"""Settings > Fields at /settings/fields: the workspace's fields, for admins."""

from __future__ import annotations

import reflex as rx

from ceramic_app.components.feedback import empty_state, error_callout, skeleton_table
from ceramic_app.components.field_editor_dialog import field_editor_dialog
from ceramic_app.components.field_job_dialogs import (
    delete_field_dialog,
    type_change_dialog,
)
from ceramic_app.components.fields_table import fields_table
from ceramic_app.components.layout import app_shell, page_header
from ceramic_app.state.field_editor import FieldEditorState
from ceramic_app.state.fields import FieldsState


def _new_field_button(
    label: str = "New field", testid: str = "new-field"
) -> rx.Component:
    return rx.button(
        rx.icon("plus", size=16),
        label,
        on_click=FieldEditorState.open_create,
        data_testid=testid,
    )


def _no_custom_fields() -> rx.Component:
    return empty_state(
        "sliders-horizontal",
        "No custom fields yet",
        "Add the attributes your customers have beyond e-mail and custom ID:"
        " a plan, a signup date, a lifetime value. Each can carry validation rules"
        " or be calculated from other fields.",
        _new_field_button("Create the first field", "empty-new-field"),
        testid="fields-empty",
    )


def _body() -> rx.Component:
    listing = rx.vstack(
        fields_table(),
        rx.cond(FieldsState.custom_count == 0, _no_custom_fields()),
        spacing="4",
        width="100%",
    )
    return rx.cond(
        FieldsState.error != "",
        error_callout(FieldsState.error, FieldsState.refresh, "fields-error"),
        rx.cond(FieldsState.loading, skeleton_table(6), listing),
    )


def fields_page() -> rx.Component:
    """Build the field list with its create, edit, type-change and delete dialogs."""
    header = page_header(
        "Fields",
        "The attributes every profile can have. Changes that affect stored"
        " values show their effect before anything is written.",
        _new_field_button(),
    )
    return app_shell(
        header,
        _body(),
        field_editor_dialog(),
        type_change_dialog(),
        delete_field_dialog(),
    )
