"""Settings > Members at /settings/members: who may use the workspace, for admins."""

from __future__ import annotations

from typing import Any

import reflex as rx

from ceramic_app.components.feedback import error_callout, inline_error, skeleton_table
from ceramic_app.components.layout import app_shell, page_header
from ceramic_app.components.local_time import local_time
from ceramic_app.state.members import ROLE_CHOICES, MemberRow
from ceramic_app.state.members import MembersState as S

ROLE_HELP = (
    "Admins manage fields, members and the audit log. Members import and edit"
    " profiles. Viewers only read."
)


def _role_select(
    value: rx.Var[str], on_change: Any, testid: str, size: str
) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(width="110px", data_testid=testid),
        rx.select.content(*[rx.select.item(r, value=r) for r in ROLE_CHOICES]),
        value=value,
        on_change=on_change,
        size=size,
    )


def _add_form() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.input(
                    value=S.new_email,
                    on_change=S.set_new_email,
                    placeholder="name@company.com",
                    type="email",
                    width="260px",
                    data_testid="member-email-input",
                ),
                rx.input(
                    value=S.new_name,
                    on_change=S.set_new_name,
                    placeholder="Name (optional)",
                    width="200px",
                    data_testid="member-name-input",
                ),
                _role_select(S.new_role, S.set_new_role, "member-role-select", "2"),
                rx.button(
                    rx.icon("user-plus", size=14),
                    "Add member",
                    on_click=S.add,
                    loading=S.adding,
                    data_testid="member-add",
                ),
                spacing="3",
                align="center",
                wrap="wrap",
            ),
            inline_error(S.add_error, "member-add-error"),
            rx.text(ROLE_HELP, size="1", color_scheme="gray"),
            spacing="2",
        ),
        width="100%",
    )


def _password_notice() -> rx.Component:
    return rx.callout.root(
        rx.callout.icon(rx.icon("key-round")),
        rx.callout.text(
            rx.vstack(
                rx.text(
                    "Account created for ",
                    rx.text.strong(S.added_email),
                    ". Give them this temporary password; it is shown only once.",
                ),
                rx.hstack(
                    rx.code(S.added_password, size="3", data_testid="member-password"),
                    rx.icon_button(
                        rx.icon("copy", size=14),
                        size="1",
                        variant="soft",
                        aria_label="Copy password",
                        on_click=rx.set_clipboard(S.added_password),
                    ),
                    rx.button(
                        "Done",
                        size="1",
                        variant="soft",
                        on_click=S.dismiss_password,
                        data_testid="member-password-done",
                    ),
                    spacing="3",
                    align="center",
                ),
                spacing="2",
            )
        ),
        color_scheme="green",
        width="100%",
        data_testid="member-password-notice",
    )


def _member_row(row: rx.Var[MemberRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.hstack(
                rx.text(row.name, weight="medium"),
                rx.cond(
                    row.is_you, rx.badge("you", variant="soft", color_scheme="gray")
                ),
                spacing="2",
                align="center",
            ),
            data_testid="member-name",
        ),
        rx.table.cell(rx.text(row.email, size="2"), data_testid="member-email"),
        rx.table.cell(
            _role_select(
                row.role,
                lambda role: S.change_role(row.user_id, role),
                "member-role",
                "1",
            )
        ),
        rx.table.cell(
            rx.text(local_time(value=row.joined_at, mode="date"), size="2"),
        ),
        rx.table.cell(
            rx.cond(
                row.is_you,
                rx.fragment(),
                rx.icon_button(
                    rx.icon("user-minus", size=14),
                    size="1",
                    variant="ghost",
                    color_scheme="red",
                    aria_label="Remove member",
                    on_click=S.ask_remove(row.user_id),
                    data_testid="member-remove",
                ),
            ),
            text_align="right",
        ),
        align="center",
        data_testid="member-row",
    )


def _table() -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                rx.table.column_header_cell("Name"),
                rx.table.column_header_cell("E-mail"),
                rx.table.column_header_cell("Role"),
                rx.table.column_header_cell("Joined"),
                rx.table.column_header_cell(""),
            )
        ),
        rx.table.body(rx.foreach(S.rows, _member_row)),
        variant="surface",
        width="100%",
        data_testid="members-table",
    )


def _remove_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Remove ", S.remove_label, "?"),
            rx.alert_dialog.description(
                "They lose access to this workspace at once and are signed out of"
                " it. Their past changes stay in the history and the audit log.",
                size="2",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button("Cancel", variant="soft", color_scheme="gray")
                ),
                rx.alert_dialog.action(
                    rx.button(
                        "Remove member",
                        color_scheme="red",
                        on_click=S.confirm_remove,
                        data_testid="member-remove-confirm",
                    )
                ),
                justify="end",
                spacing="3",
                padding_top="12px",
            ),
        ),
        open=S.remove_open,
        on_open_change=S.set_remove_open,
    )


def members_page() -> rx.Component:
    """Build the members table with the add form and the remove confirmation."""
    header = page_header(
        "Members",
        "People who can sign in to this workspace, and what each may do.",
    )
    body = rx.cond(
        S.error != "",
        error_callout(S.error, S.refresh, "members-error"),
        rx.cond(S.loading, skeleton_table(5, 3), _table()),
    )
    return app_shell(
        header,
        rx.vstack(
            _add_form(),
            rx.cond(S.added_password != "", _password_notice()),
            body,
            spacing="4",
            width="100%",
        ),
        _remove_dialog(),
    )
