"""The import history at /imports: who imported what, when, with which outcome."""

from __future__ import annotations

import reflex as rx

from ceramic_app.components.imports import status_badge
from ceramic_app.components.layout import app_shell, page_header
from ceramic_app.components.local_time import local_time
from ceramic_app.state.import_history import ImportHistoryState as H

_COUNT_COLUMNS = [
    ("Created", "created", "green"),
    ("Updated", "updated", "blue"),
    ("Merged", "merged", "violet"),
    ("Skipped", "skipped", "gray"),
    ("Rejected", "rejected", "red"),
]


def _row(job: rx.Var) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.link(
                    job["file_name"],
                    href="/imports/new?job=" + job["id"],
                    weight="medium",
                ),
                rx.cond(
                    job["message"] != "",
                    rx.text(job["message"], size="1", color_scheme="gray"),
                ),
                spacing="1",
                max_width="320px",
            )
        ),
        rx.table.cell(
            rx.vstack(
                status_badge(job["status"]),
                rx.cond(
                    job["search_note"] != "",
                    rx.text(
                        job["search_note"],
                        size="1",
                        color_scheme="gray",
                        white_space="nowrap",
                        title="Full-text search does not cover every profile of"
                        " this import yet.",
                        data_testid="history-search-note",
                    ),
                ),
                spacing="1",
            )
        ),
        rx.table.cell(job["who"]),
        rx.table.cell(
            local_time(value=job["created_at"].to(str), mode="datetime"),
            white_space="nowrap",
        ),
        *[
            rx.table.cell(
                rx.text(job[key], color=f"var(--{color}-11)"), text_align="right"
            )
            for _, key, color in _COUNT_COLUMNS
        ],
        rx.table.cell(
            rx.cond(
                job["has_errors"] != "",
                rx.icon_button(
                    rx.icon("download", size=16),
                    on_click=H.download_errors(job["id"]),
                    variant="ghost",
                    title="Download rejected rows",
                    aria_label="Download rejected rows",
                    data_testid="history-errors",
                ),
            )
        ),
        data_testid="history-row",
    )


def import_history_page() -> rx.Component:
    """Every import of the workspace."""
    table = rx.table.root(
        rx.table.header(
            rx.table.row(
                rx.table.column_header_cell("File"),
                rx.table.column_header_cell("Status"),
                rx.table.column_header_cell("By"),
                rx.table.column_header_cell("Started"),
                *[
                    rx.table.column_header_cell(label, text_align="right")
                    for label, _, _ in _COUNT_COLUMNS
                ],
                rx.table.column_header_cell(""),
            )
        ),
        rx.table.body(rx.foreach(H.jobs, _row)),
        variant="surface",
        width="100%",
        data_testid="history-table",
    )
    empty = rx.center(
        rx.vstack(
            rx.text("No imports yet.", weight="medium"),
            rx.link(
                rx.button(rx.icon("upload", size=16), "Import profiles"),
                href="/imports/new",
            ),
            align="center",
            spacing="3",
        ),
        padding="64px",
        border="1px dashed var(--gray-a6)",
        border_radius="12px",
        width="100%",
    )
    return app_shell(
        page_header(
            "Imports",
            "Every import of this workspace, with its outcome and rejected rows.",
            rx.link(
                rx.button(rx.icon("upload", size=16), "New import"),
                href="/imports/new",
                data_testid="new-import",
            ),
        ),
        rx.cond(
            H.loading,
            rx.center(rx.spinner(), padding="48px"),
            rx.cond(H.jobs.length() > 0, table, empty),
        ),
    )
