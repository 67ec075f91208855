"""The application shell: sidebar navigation, page header and the signed-out guard."""

from __future__ import annotations

import reflex as rx

from ceramic_app.components.native_form import native_form
from ceramic_app.state.base import AppState

SIDEBAR_WIDTH = "232px"

# (label, route, lucide icon, admins only)
NAV_ITEMS: list[tuple[str, str, str, bool]] = [
    ("Profiles", "/profiles", "users", False),
    ("Imports", "/imports", "upload", False),
    ("Fields", "/settings/fields", "sliders-horizontal", True),
    ("Members", "/settings/members", "user-cog", True),
    ("Templates", "/templates", "file-text", False),
    ("Tags", "/tags", "tag", False),
    ("Audit log", "/audit", "shield-check", True),
]


def brand() -> rx.Component:
    """Logo mark and product name."""
    return rx.hstack(
        rx.center(
            rx.text("C", weight="bold", color="white", size="3"),
            width="28px",
            height="28px",
            border_radius="8px",
            background="linear-gradient(135deg, var(--accent-9), var(--accent-11))",
        ),
        rx.vstack(
            rx.text("CeramicCRM", weight="bold", size="3", line_height="1"),
            rx.text("Profiles", size="1", color_scheme="gray", line_height="1"),
            spacing="1",
        ),
        align="center",
        spacing="2",
    )


def _nav_link(label: str, route: str, icon: str) -> rx.Component:
    active = AppState.router.url.path.startswith(route)
    return rx.link(
        rx.hstack(
            rx.icon(icon, size=16),
            rx.text(label, size="2", weight=rx.cond(active, "medium", "regular")),
            align="center",
            spacing="2",
            padding_x="10px",
            padding_y="7px",
            border_radius="6px",
            width="100%",
            background=rx.cond(active, "var(--accent-a3)", "transparent"),
            color=rx.cond(active, "var(--accent-11)", "var(--gray-11)"),
            _hover={"background": "var(--gray-a3)", "color": "var(--gray-12)"},
        ),
        href=route,
        underline="none",
        width="100%",
        data_testid=f"nav-{label.lower().replace(' ', '-')}",
    )


def _user_menu() -> rx.Component:
    return rx.vstack(
        rx.separator(size="4"),
        rx.hstack(
            rx.avatar(fallback=AppState.user_initials, size="2", radius="full"),
            rx.vstack(
                rx.text(AppState.user_name, size="2", weight="medium", trim="both"),
                rx.text(
                    AppState.role,
                    size="1",
                    color_scheme="gray",
                    data_testid="user-role",
                ),
                spacing="1",
                min_width="0",
            ),
            align="center",
            spacing="2",
            width="100%",
        ),
        native_form(
            rx.button(
                rx.icon("log-out", size=14),
                "Sign out",
                type="submit",
                variant="soft",
                color_scheme="gray",
                size="1",
                width="100%",
                data_testid="sign-out",
            ),
            action="/auth/logout",
            method="post",
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def sidebar() -> rx.Component:
    """Left navigation with the workspace name and the user menu."""
    links = [
        rx.cond(AppState.is_admin, _nav_link(label, route, icon), rx.fragment())
        if admin_only
        else _nav_link(label, route, icon)
        for label, route, icon, admin_only in NAV_ITEMS
    ]
    return rx.vstack(
        brand(),
        rx.box(
            rx.text("Workspace", size="1", color_scheme="gray"),
            rx.text(
                AppState.workspace_name,
                size="2",
                weight="medium",
                data_testid="workspace-name",
            ),
            padding="8px 10px",
            border_radius="6px",
            background="var(--gray-a2)",
            width="100%",
        ),
        rx.vstack(*links, spacing="1", width="100%"),
        rx.spacer(),
        _user_menu(),
        width=SIDEBAR_WIDTH,
        min_width=SIDEBAR_WIDTH,
        height="100vh",
        position="sticky",
        top="0",
        padding="16px 12px",
        spacing="4",
        border_right="1px solid var(--gray-a5)",
        background="var(--gray-1)",
    )


def page_header(
    title: str, subtitle: rx.Component | str = "", *actions: rx.Component
) -> rx.Component:
    """Title row of a page with actions on the right."""
    sub = (
        rx.text(subtitle, size="2", color_scheme="gray")
        if isinstance(subtitle, str)
        else subtitle
    )
    return rx.hstack(
        rx.vstack(rx.heading(title, size="6", weight="bold"), sub, spacing="1"),
        rx.spacer(),
        rx.hstack(*actions, spacing="2", align="center"),
        align="end",
        width="100%",
        padding_bottom="16px",
    )


def loading_screen() -> rx.Component:
    """Shown until the session check answers, so no protected text flashes."""
    return rx.center(rx.spinner(size="3"), height="100vh", width="100%")


def app_shell(*content: rx.Component) -> rx.Component:
    """Wrap page content in the signed-in shell; nothing renders signed out."""
    return rx.cond(
        AppState.signed_in,
        rx.hstack(
            sidebar(),
            rx.box(
                *content,
                flex="1",
                min_width="0",
                padding="28px 32px",
                background="var(--color-background)",
            ),
            spacing="0",
            align="start",
            width="100%",
        ),
        loading_screen(),
    )
