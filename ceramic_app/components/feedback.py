"""Loading, empty and error states that the pages share, so they look alike."""

from __future__ import annotations

import reflex as rx


def empty_state(
    icon: str,
    title: rx.Var | str,
    description: str,
    *actions: rx.Component,
    testid: str,
) -> rx.Component:
    """Build a dashed panel with an icon, a title, one sentence and actions."""
    return rx.center(
        rx.vstack(
            rx.center(
                rx.icon(icon, size=26, color="var(--accent-11)"),
                width="52px",
                height="52px",
                border_radius="14px",
                background="var(--accent-a3)",
            ),
            rx.heading(title, size="4"),
            rx.text(
                description,
                size="2",
                color_scheme="gray",
                text_align="center",
                max_width="440px",
            ),
            *actions,
            align="center",
            spacing="3",
        ),
        padding="56px 24px",
        border="1px dashed var(--gray-a6)",
        border_radius="12px",
        width="100%",
        data_testid=testid,
    )


def error_callout(
    message: rx.Var | str, retry: rx.EventHandler, testid: str
) -> rx.Component:
    """Build a red callout with the error message and a retry button."""
    return rx.callout.root(
        rx.callout.icon(rx.icon("triangle-alert", size=16)),
        rx.hstack(
            rx.callout.text(message),
            rx.button(
                "Retry", on_click=retry, size="1", variant="soft", color_scheme="red"
            ),
            align="center",
            justify="between",
            width="100%",
            spacing="3",
        ),
        color_scheme="red",
        width="100%",
        data_testid=testid,
    )


def inline_error(message: rx.Var, testid: str) -> rx.Component:
    """Build a one-line red message under an input, or nothing while it is empty."""
    return rx.cond(
        message != "",
        rx.hstack(
            rx.icon("circle-alert", size=14, color="var(--red-11)", flex_shrink="0"),
            rx.text(message, size="1", color="var(--red-11)", data_testid=testid),
            spacing="1",
            align="start",
        ),
    )


def skeleton_table(columns: int, rows: int = 6) -> rx.Component:
    """Build a table-shaped placeholder for the first load."""
    return rx.table.root(
        rx.table.body(
            *[
                rx.table.row(
                    *[
                        rx.table.cell(rx.skeleton(rx.text("loading"), height="14px"))
                        for _ in range(columns)
                    ]
                )
                for _ in range(rows)
            ]
        ),
        variant="surface",
        width="100%",
        data_testid="loading-skeleton",
    )


def section_title(title: str, *extra: rx.Component) -> rx.Component:
    """Build a small uppercase heading above a group of rows."""
    return rx.hstack(
        rx.text(
            title,
            size="1",
            weight="bold",
            color_scheme="gray",
            text_transform="uppercase",
            letter_spacing="0.04em",
        ),
        *extra,
        align="center",
        spacing="2",
        padding_top="8px",
    )
