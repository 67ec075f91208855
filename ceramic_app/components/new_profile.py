"""The "New profile" button and its dialog; place new_profile_button() in a header."""

from __future__ import annotations

import reflex as rx

from ceramic_app.components.feedback import inline_error
from ceramic_app.state.base import AppState
from ceramic_app.state.new_profile import NewProfileState as N
from ceramic_app.state.profile_view import InputRow


def _error(key: rx.Var[str] | str) -> rx.Component:
    return rx.cond(
        N.errors.contains(key), inline_error(N.errors[key], "new-profile-error")
    )


def _labelled(
    label: rx.Component,
    control: rx.Component,
    key: rx.Var[str] | str,
    hint: rx.Var[str] | str = "",
) -> rx.Component:
    return rx.vstack(
        label,
        control,
        rx.cond(hint != "", rx.text(hint, size="1", color_scheme="gray")),
        _error(key),
        spacing="1",
        width="100%",
    )


def _field_control(row: rx.Var[InputRow]) -> rx.Component:
    boolean = rx.select.root(
        rx.select.trigger(placeholder="Not set", width="100%"),
        rx.select.content(
            rx.select.item("Yes", value="true"),
            rx.select.item("No", value="false"),
        ),
        value=N.values[row.key].to(str),
        on_change=N.set_value(row.key),
    )
    json = rx.text_area(
        value=N.values[row.key].to(str),
        on_change=N.set_value(row.key),
        rows="3",
        font_family="var(--code-font-family)",
        width="100%",
    )
    plain = rx.input(
        value=N.values[row.key].to(str),
        on_change=N.set_value(row.key),
        type=rx.cond(row.type == "date", "date", "text"),
        width="100%",
    )
    return rx.box(
        rx.match(row.type, ("boolean", boolean), ("json", json), plain),
        width="100%",
        data_testid="new-profile-" + row.key,
    )


def _field_input(row: rx.Var[InputRow]) -> rx.Component:
    label = rx.hstack(
        rx.text(row.label, size="2", weight="medium"),
        rx.cond(row.required, rx.text("*", color="var(--red-10)", size="2")),
        rx.text(row.type_label, size="1", color_scheme="gray"),
        spacing="1",
        align="center",
    )
    return _labelled(label, _field_control(row), row.key, row.hint)


def _identity_inputs() -> rx.Component:
    email = rx.input(
        value=N.values["email"].to(str),
        on_change=N.set_value("email"),
        placeholder="ada@example.com",
        type="email",
        width="100%",
        data_testid="new-profile-email",
    )
    custom_id = rx.input(
        value=N.values["custom_id"].to(str),
        on_change=N.set_value("custom_id"),
        placeholder="Optional",
        width="100%",
        data_testid="new-profile-custom-id",
    )
    return rx.hstack(
        _labelled(rx.text("E-mail *", size="2", weight="medium"), email, "email"),
        _labelled(
            rx.text("Custom ID", size="2", weight="medium"), custom_id, "custom_id"
        ),
        spacing="3",
        width="100%",
    )


def _dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("New profile"),
            rx.dialog.description(
                "Values are checked against each field's rules before the profile is created.",
                size="2",
                color_scheme="gray",
            ),
            rx.vstack(
                _identity_inputs(),
                rx.cond(
                    N.inputs.length() > 0,
                    rx.scroll_area(
                        rx.vstack(
                            rx.foreach(N.inputs, _field_input),
                            spacing="3",
                            width="100%",
                            padding_right="12px",
                        ),
                        max_height="46vh",
                        type="auto",
                        scrollbars="vertical",
                    ),
                ),
                rx.hstack(
                    rx.text(
                        N.error_summary,
                        size="2",
                        color="var(--red-11)",
                        data_testid="new-profile-error-summary",
                    ),
                    rx.spacer(),
                    rx.dialog.close(
                        rx.button("Cancel", variant="soft", color_scheme="gray")
                    ),
                    rx.button(
                        "Create profile",
                        on_click=N.create,
                        loading=N.saving,
                        data_testid="new-profile-create",
                    ),
                    justify="end",
                    align="center",
                    spacing="3",
                    width="100%",
                ),
                spacing="4",
                width="100%",
                padding_top="12px",
            ),
            max_width="600px",
            data_testid="new-profile-dialog",
        ),
        open=N.dialog_open,
        on_open_change=N.close_dialog,
    )


def new_profile_button() -> rx.Component:
    """Build the "New profile" button and its dialog, for members and admins."""
    return rx.cond(
        AppState.can_edit,
        rx.fragment(
            rx.button(
                rx.icon("user-plus", size=16),
                "New profile",
                variant="soft",
                on_click=N.open_dialog,
                data_testid="new-profile",
            ),
            _dialog(),
        ),
    )
