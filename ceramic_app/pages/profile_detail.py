"""The profile detail page at /profiles/[profile_id]: one customer's full record."""

from __future__ import annotations

import reflex as rx

from ceramic_app.components.feedback import empty_state, error_callout
from ceramic_app.components.layout import app_shell
from ceramic_app.components.local_time import local_time
from ceramic_app.components.profile_sidebar import profile_sidebar
from ceramic_app.components.profile_values import value_row
from ceramic_app.state.base import AppState
from ceramic_app.state.profile_detail import ProfileDetailState as P
from ceramic_app.state.profile_view import HistoryRow


def _back_link() -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.icon("arrow-left", size=14),
            rx.text("All profiles", size="2"),
            spacing="1",
        ),
        href="/profiles",
        color_scheme="gray",
        data_testid="back-to-profiles",
    )


def _header() -> rx.Component:
    return rx.vstack(
        _back_link(),
        rx.hstack(
            rx.avatar(fallback=P.email[:2].upper(), size="4", radius="full"),
            rx.vstack(
                rx.heading(P.email, size="6", data_testid="profile-email"),
                rx.hstack(
                    rx.text("Profile #", P.shown_id, size="2", color_scheme="gray"),
                    rx.cond(
                        ~AppState.can_edit,
                        rx.badge(
                            "Read only", color_scheme="gray", data_testid="read-only"
                        ),
                    ),
                    spacing="2",
                    align="center",
                ),
                spacing="1",
            ),
            align="center",
            spacing="3",
        ),
        spacing="3",
        padding_bottom="16px",
    )


def _fields_panel() -> rx.Component:
    return rx.cond(
        P.rows.length() > 0,
        rx.box(
            rx.foreach(P.rows, value_row),
            border="1px solid var(--gray-a5)",
            border_radius="8px",
            overflow="hidden",
            width="100%",
            data_testid="profile-fields",
        ),
        empty_state(
            "sliders-horizontal",
            "No custom fields",
            "This workspace has no fields beyond e-mail and custom ID. Admins add"
            " them under Settings > Fields.",
            testid="profile-no-fields",
        ),
    )


def _history_row(row: rx.Var[HistoryRow]) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            local_time(value=row.at, mode="datetime"),
            white_space="nowrap",
            color="var(--gray-11)",
        ),
        rx.table.cell(
            rx.vstack(
                rx.text(row.actor, size="2"),
                rx.text(row.actor_detail, size="1", color_scheme="gray"),
                spacing="0",
            ),
            max_width="220px",
        ),
        rx.table.cell(rx.text(row.field, weight="medium", size="2")),
        rx.table.cell(
            rx.hstack(
                rx.code(row.before, size="1", variant="soft", color_scheme="gray"),
                rx.icon("arrow-right", size=12, color="var(--gray-9)", flex_shrink="0"),
                rx.code(row.after, size="1", variant="soft"),
                align="center",
                spacing="2",
                wrap="wrap",
            ),
            max_width="420px",
        ),
        rx.table.cell(rx.badge(row.source, variant="outline", color_scheme="gray")),
        data_testid="history-row",
    )


def _history_panel() -> rx.Component:
    table = rx.vstack(
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(title)
                        for title in ("When", "Who", "Field", "Change", "Source")
                    ]
                )
            ),
            rx.table.body(rx.foreach(P.history, _history_row)),
            variant="surface",
            size="1",
            width="100%",
            data_testid="history-table",
        ),
        rx.cond(
            P.history_has_more,
            rx.button(
                "Load older changes",
                variant="soft",
                color_scheme="gray",
                on_click=P.load_more_history,
                data_testid="history-more",
            ),
        ),
        spacing="3",
        align="center",
        width="100%",
    )
    return rx.cond(
        ~P.history_loaded,
        rx.center(rx.spinner(size="3"), padding="48px", width="100%"),
        rx.cond(
            P.history.length() > 0,
            table,
            empty_state(
                "history",
                "No changes yet",
                "Edits, imports and API writes appear here.",
                testid="history-empty",
            ),
        ),
    )


def _notice() -> rx.Component:
    return rx.cond(
        P.notice != "",
        rx.callout(
            P.notice,
            icon="refresh-cw",
            color_scheme="amber",
            width="100%",
            data_testid="profile-notice",
        ),
    )


def _tabs() -> rx.Component:
    return rx.tabs.root(
        rx.tabs.list(
            rx.tabs.trigger("Fields", value="fields", data_testid="tab-fields"),
            rx.tabs.trigger("History", value="history", data_testid="tab-history"),
        ),
        rx.tabs.content(_fields_panel(), value="fields", padding_top="16px"),
        rx.tabs.content(_history_panel(), value="history", padding_top="16px"),
        value=P.tab,
        on_change=P.set_tab,
        width="100%",
    )


def _ready() -> rx.Component:
    return rx.vstack(
        _header(),
        _notice(),
        rx.hstack(
            rx.box(_tabs(), flex="1", min_width="0"),
            profile_sidebar(),
            align="start",
            spacing="5",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def _not_found() -> rx.Component:
    return rx.vstack(
        _back_link(),
        empty_state(
            "search-x",
            "Profile not found",
            "There is no profile with this address in your workspace. It may have"
            " been deleted, or the link may be mistyped.",
            rx.link(
                rx.button("Back to all profiles", variant="soft"), href="/profiles"
            ),
            testid="profile-not-found",
        ),
        spacing="4",
        width="100%",
    )


def _loading() -> rx.Component:
    return rx.vstack(
        rx.skeleton(rx.heading("loading@example.com", size="6"), width="320px"),
        rx.skeleton(rx.box(height="240px"), width="100%"),
        spacing="4",
        width="100%",
        data_testid="profile-loading",
    )


def profile_detail_page() -> rx.Component:
    """Build the profile page: fields with inline editors, tags and history."""
    body = rx.match(
        P.status,
        ("ready", _ready()),
        ("not_found", _not_found()),
        (
            "error",
            error_callout(
                "The profile could not be loaded. Check the connection and retry.",
                P.reload,
                "profile-error",
            ),
        ),
        _loading(),
    )
    return app_shell(body)
