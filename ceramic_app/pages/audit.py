"""The audit log at /audit: who changed what and when, for admins."""

from __future__ import annotations

import reflex as rx

from ceramic_app.components.feedback import empty_state, error_callout, skeleton_table
from ceramic_app.components.layout import app_shell, page_header
from ceramic_app.components.local_time import local_time
from ceramic_app.state.audit import AuditState as A
from ceramic_app.state.audit_view import ENTITY_TYPES, AuditRow, ChangeLine


def _filter_select(
    name: str, options: rx.Var | list[tuple[str, str]], width: str
) -> rx.Component:
    if isinstance(options, list):
        items = [rx.select.item(label, value=value) for value, label in options]
    else:
        items = [
            rx.foreach(
                options,
                lambda option: rx.select.item(option["label"], value=option["value"]),
            )
        ]
    return rx.select.root(
        rx.select.trigger(width=width, data_testid=f"audit-filter-{name}"),
        rx.select.content(*items),
        value=A.filters[name],
        on_change=A.set_filter(name),
    )


def _date_filter(name: str, label: str) -> rx.Component:
    return rx.hstack(
        rx.text(label, size="2", color_scheme="gray"),
        rx.input(
            type="date",
            value=A.filters[name],
            on_change=A.set_filter(name),
            width="150px",
            data_testid=f"audit-filter-{name}",
        ),
        spacing="2",
        align="center",
    )


def _filters() -> rx.Component:
    return rx.hstack(
        _filter_select("actor", A.actor_options, "260px"),
        _filter_select("entity", list(ENTITY_TYPES), "160px"),
        _date_filter("since", "From"),
        _date_filter("until", "to (UTC days)"),
        rx.cond(
            A.filtered,
            rx.button(
                "Clear filters",
                variant="ghost",
                size="2",
                on_click=A.clear_filters,
                data_testid="audit-clear",
            ),
        ),
        spacing="3",
        align="center",
        wrap="wrap",
        padding_bottom="12px",
    )


def _change_line(line: rx.Var[ChangeLine]) -> rx.Component:
    return rx.hstack(
        rx.text(line.key, size="1", weight="medium", min_width="80px"),
        rx.cond(
            line.before != "",
            rx.code(line.before, size="1", variant="soft", color_scheme="red"),
        ),
        rx.cond(
            (line.before != "") & (line.after != ""),
            rx.icon("arrow-right", size=11, color="var(--gray-9)", flex_shrink="0"),
        ),
        rx.cond(
            line.after != "",
            rx.code(line.after, size="1", variant="soft", color_scheme="green"),
        ),
        spacing="1",
        align="center",
        wrap="wrap",
    )


def _row(row: rx.Var[AuditRow]) -> rx.Component:
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
            )
        ),
        rx.table.cell(rx.code(row.action, size="1", variant="ghost")),
        rx.table.cell(rx.text(row.entity, size="2"), white_space="nowrap"),
        rx.table.cell(
            rx.vstack(
                rx.foreach(row.changes, _change_line),
                rx.cond(
                    row.hidden_changes > 0,
                    rx.text(
                        "+ ", row.hidden_changes, " more", size="1", color_scheme="gray"
                    ),
                ),
                rx.cond(
                    row.meta != "", rx.text(row.meta, size="1", color_scheme="gray")
                ),
                spacing="1",
            ),
            max_width="460px",
        ),
        align="start",
        data_testid="audit-row",
    )


def _table() -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                *[
                    rx.table.column_header_cell(title)
                    for title in ("When", "Actor", "Action", "Entity", "Change")
                ]
            )
        ),
        rx.table.body(rx.foreach(A.entries, _row)),
        variant="surface",
        size="1",
        width="100%",
        data_testid="audit-table",
    )


def _pager() -> rx.Component:
    return rx.hstack(
        rx.spacer(),
        rx.text("Page ", A.page_number, size="2", color_scheme="gray"),
        rx.icon_button(
            rx.icon("chevron-left", size=16),
            on_click=A.prev_page,
            disabled=~A.has_prev,
            variant="soft",
            color_scheme="gray",
            aria_label="Newer entries",
            data_testid="audit-prev",
        ),
        rx.icon_button(
            rx.icon("chevron-right", size=16),
            on_click=A.next_page,
            disabled=~A.has_next,
            variant="soft",
            color_scheme="gray",
            aria_label="Older entries",
            data_testid="audit-next",
        ),
        align="center",
        width="100%",
        padding_top="12px",
    )


def audit_page() -> rx.Component:
    """Build the audit log page with filters and keyset paging."""
    header = page_header(
        "Audit log",
        "Every change to profiles, fields, templates, tags and members, newest first.",
    )
    listing = rx.cond(
        A.entries.length() > 0,
        rx.vstack(_table(), _pager(), spacing="0", width="100%"),
        empty_state(
            "shield-check",
            rx.cond(A.filtered, "No entries match", "No entries yet"),
            "Changes to fields, templates, tags and profiles are recorded here.",
            testid="audit-empty",
        ),
    )
    body = rx.cond(
        A.error != "",
        error_callout(A.error, A.refresh, "audit-error"),
        rx.cond(A.loading, skeleton_table(5), listing),
    )
    return app_shell(header, _filters(), body)
