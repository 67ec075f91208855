"""Building blocks of the import pages: stepper, progress, outcome cards, error tables."""

from __future__ import annotations

import reflex as rx

STEP_LABELS = [
    ("upload", "Upload"),
    ("preview", "Preview"),
    ("mapping", "Map columns"),
    ("options", "Options"),
    ("validate", "Validate"),
    ("run", "Import"),
]


def stepper(current_index: rx.Var[int], on_select: rx.EventHandler) -> rx.Component:
    """Numbered steps; earlier ones are links back."""
    items = []
    for position, (step, label) in enumerate(STEP_LABELS):
        done = current_index > position
        active = current_index == position
        items.append(
            rx.hstack(
                rx.center(
                    rx.cond(
                        done,
                        rx.icon("check", size=14),
                        rx.text(str(position + 1), size="1"),
                    ),
                    width="24px",
                    height="24px",
                    border_radius="999px",
                    background=rx.cond(
                        active | done, "var(--accent-9)", "var(--gray-a4)"
                    ),
                    color=rx.cond(active | done, "white", "var(--gray-11)"),
                    font_weight="600",
                ),
                rx.text(
                    label,
                    size="2",
                    weight=rx.cond(active, "bold", "regular"),
                    color=rx.cond(active, "var(--gray-12)", "var(--gray-11)"),
                ),
                align="center",
                spacing="2",
                cursor=rx.cond(done, "pointer", "default"),
                on_click=on_select(step),
                data_testid=f"step-{step}",
            )
        )
        if position < len(STEP_LABELS) - 1:
            items.append(
                rx.box(
                    height="1px",
                    flex="1",
                    min_width="16px",
                    background="var(--gray-a5)",
                )
            )
    return rx.hstack(*items, align="center", spacing="3", width="100%", padding_y="8px")


def progress_block(
    percent: rx.Var[int], label: rx.Var[str], testid: str = "import-progress"
) -> rx.Component:
    """A progress bar with its percentage and a line of detail."""
    return rx.vstack(
        rx.hstack(
            rx.text(
                percent.to_string() + "%",
                size="5",
                weight="bold",
                data_testid=f"{testid}-percent",
            ),
            rx.spacer(),
            rx.text(
                label, size="2", color_scheme="gray", data_testid=f"{testid}-label"
            ),
            align="end",
            width="100%",
        ),
        rx.progress(value=percent, max=100, size="3", width="100%", data_testid=testid),
        spacing="2",
        width="100%",
    )


def outcome_cards(cards: rx.Var[list[dict[str, str]]]) -> rx.Component:
    """The five outcome counts as coloured cards."""
    return rx.grid(
        rx.foreach(
            cards,
            lambda card: rx.card(
                rx.vstack(
                    rx.text(card["label"], size="1", color_scheme="gray"),
                    rx.text(
                        card["value"],
                        size="6",
                        weight="bold",
                        color=f"var(--{card['color']}-11)",
                        data_testid="count-" + card["key"],
                    ),
                    spacing="1",
                ),
                size="2",
            ),
        ),
        columns="5",
        spacing="3",
        width="100%",
    )


def issue_table(rows: rx.Var[list[dict[str, str]]], testid: str) -> rx.Component:
    """Line, column, value and reason of row errors or warnings."""
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                rx.table.column_header_cell("Line", width="72px"),
                rx.table.column_header_cell("Column", width="160px"),
                rx.table.column_header_cell("Value", width="220px"),
                rx.table.column_header_cell("Reason"),
            )
        ),
        rx.table.body(
            rx.foreach(
                rows,
                lambda row: rx.table.row(
                    rx.table.cell(row["line"]),
                    rx.table.cell(rx.code(row["column"], variant="ghost")),
                    rx.table.cell(
                        rx.text(row["value"], title=row["value"]),
                        max_width="220px",
                        overflow="hidden",
                        text_overflow="ellipsis",
                        white_space="nowrap",
                    ),
                    rx.table.cell(row["reason"]),
                    data_testid=f"{testid}-row",
                ),
            )
        ),
        size="1",
        variant="surface",
        width="100%",
        data_testid=testid,
    )


STATUS_COLORS = {
    "draft": "gray",
    "validating": "blue",
    "validated": "cyan",
    "queued": "amber",
    "running": "blue",
    "completed": "green",
    "failed": "red",
    "cancelled": "orange",
    "rejected": "red",
}


def status_badge(status: rx.Var[str]) -> rx.Component:
    """A coloured badge for a job status."""
    return rx.badge(
        status,
        color_scheme=rx.match(
            status, *[(name, color) for name, color in STATUS_COLORS.items()], "gray"
        ),
        variant="soft",
        size="2",
        data_testid="job-status",
    )
