"""The profiles page: search, a keyset-paginated table and the way to import."""

from __future__ import annotations

import reflex as rx

from ceramic_app.components.layout import app_shell, page_header
from ceramic_app.state.profiles import ProfilesState

COLUMNS = [
    ("Email", "email"),
    ("Custom ID", "custom_id"),
    ("Created", "created_at"),
    ("Updated", "updated_at"),
]


def _date_cell(value: rx.Var) -> rx.Component:
    return rx.table.cell(
        rx.moment(value, format="MMM D, YYYY, HH:mm", local=True),
        white_space="nowrap",
        color="var(--gray-11)",
    )


def _row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.link(row["email"], href="/profiles/" + row["id"], weight="medium"),
            max_width="360px",
            overflow="hidden",
            text_overflow="ellipsis",
            white_space="nowrap",
            title=row["email"],
        ),
        rx.table.cell(
            rx.cond(
                row["custom_id"] != "",
                rx.code(row["custom_id"], variant="ghost"),
                rx.text("—", color_scheme="gray"),
            )
        ),
        _date_cell(row["created_at"]),
        _date_cell(row["updated_at"]),
        data_testid="profile-row",
        _hover={"background": "var(--gray-a2)"},
    )


def _skeleton_rows() -> rx.Component:
    return rx.foreach(
        list(range(8)),
        lambda _: rx.table.row(
            *[
                rx.table.cell(rx.skeleton(rx.text("loading"), height="14px"))
                for _ in COLUMNS
            ]
        ),
    )


def _table() -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(*[rx.table.column_header_cell(label) for label, _ in COLUMNS])
        ),
        rx.table.body(
            rx.cond(
                ProfilesState.loading & (ProfilesState.rows.length() == 0),
                _skeleton_rows(),
                rx.foreach(ProfilesState.rows, _row),
            )
        ),
        variant="surface",
        size="2",
        width="100%",
        data_testid="profiles-table",
    )


def _pager() -> rx.Component:
    return rx.hstack(
        rx.text(
            ProfilesState.total_label,
            size="2",
            color_scheme="gray",
            data_testid="profiles-total",
        ),
        rx.spacer(),
        rx.text(
            "Page ",
            ProfilesState.page_number,
            size="2",
            color_scheme="gray",
            data_testid="page-number",
        ),
        rx.icon_button(
            rx.icon("chevron-left", size=16),
            on_click=ProfilesState.prev_page,
            disabled=~ProfilesState.has_prev,
            variant="soft",
            color_scheme="gray",
            aria_label="Previous page",
            data_testid="prev-page",
        ),
        rx.icon_button(
            rx.icon("chevron-right", size=16),
            on_click=ProfilesState.next_page,
            disabled=~ProfilesState.has_next,
            variant="soft",
            color_scheme="gray",
            aria_label="Next page",
            data_testid="next-page",
        ),
        align="center",
        width="100%",
        padding_top="12px",
    )


def _empty_state() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.center(
                rx.icon("users", size=28, color="var(--accent-11)"),
                width="56px",
                height="56px",
                border_radius="14px",
                background="var(--accent-a3)",
            ),
            rx.heading("No profiles yet", size="4"),
            rx.text(
                "Bring in your customers from a CSV or JSON file. Columns are mapped for"
                " you, and you see what will happen before anything is written.",
                size="2",
                color_scheme="gray",
                text_align="center",
                max_width="420px",
            ),
            rx.link(
                rx.button(rx.icon("upload", size=16), "Import profiles", size="3"),
                href="/imports/new",
                data_testid="empty-import",
            ),
            align="center",
            spacing="3",
        ),
        padding="72px 24px",
        border="1px dashed var(--gray-a6)",
        border_radius="12px",
        width="100%",
        data_testid="profiles-empty",
    )


def _error_state() -> rx.Component:
    return rx.callout(
        rx.hstack(
            rx.text(ProfilesState.error),
            rx.button(
                "Retry", on_click=ProfilesState.refresh, size="1", variant="soft"
            ),
            align="center",
            spacing="3",
        ),
        icon="triangle-alert",
        color_scheme="red",
        width="100%",
        data_testid="profiles-error",
    )


def _search_box() -> rx.Component:
    return rx.input(
        rx.input.slot(rx.icon("search", size=16)),
        placeholder="Search e-mail or custom ID",
        default_value=ProfilesState.search,
        on_change=ProfilesState.set_search.debounce(250),
        width="320px",
        size="2",
        data_testid="profiles-search",
    )


def profiles_page() -> rx.Component:
    """The profiles list."""
    header = page_header(
        "Profiles",
        "Every customer in this workspace, one record each.",
        _search_box(),
        rx.link(
            rx.button(rx.icon("upload", size=16), "Import", size="2"),
            href="/imports/new",
            data_testid="open-import",
        ),
    )
    body = rx.cond(
        ProfilesState.error != "",
        _error_state(),
        rx.cond(
            ProfilesState.is_empty_workspace,
            _empty_state(),
            rx.vstack(_table(), _pager(), spacing="0", width="100%"),
        ),
    )
    return app_shell(header, body)
