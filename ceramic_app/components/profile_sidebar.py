"""Right column of the profile detail page: identity, timestamps and tags."""

from __future__ import annotations

import reflex as rx

from ceramic_app.components.feedback import inline_error
from ceramic_app.components.local_time import local_time
from ceramic_app.components.profile_values import value_editor
from ceramic_app.state.base import AppState
from ceramic_app.state.profile_detail import ProfileDetailState as P


def _caption(text: str) -> rx.Component:
    return rx.text(text, size="1", color_scheme="gray", weight="medium")


def _identity_line(key: str, label: str, value: rx.Var[str]) -> rx.Component:
    shown = rx.hstack(
        rx.cond(
            value != "",
            rx.text(
                value, size="2", word_break="break-all", data_testid=f"value-{key}"
            ),
            rx.text(
                "Not set", size="2", color="var(--gray-9)", data_testid=f"value-{key}"
            ),
        ),
        rx.spacer(),
        rx.cond(
            AppState.can_edit,
            rx.icon_button(
                rx.icon("pencil", size=14),
                size="1",
                variant="ghost",
                color_scheme="gray",
                aria_label=f"Edit {label}",
                on_click=P.start_edit(key),
                data_testid=f"edit-{key}",
            ),
        ),
        align="center",
        width="100%",
    )
    return rx.vstack(
        _caption(label),
        rx.cond(P.editing_key == key, value_editor("text", key), shown),
        rx.cond(
            (P.editing_key != key) & P.errors.contains(key),
            inline_error(P.errors[key], f"error-{key}"),
        ),
        spacing="1",
        width="100%",
    )


def _timestamp(label: str, value: rx.Var[str], testid: str) -> rx.Component:
    return rx.vstack(
        _caption(label),
        rx.text(
            local_time(value=value, mode="datetime"),
            size="2",
            data_testid=testid,
        ),
        spacing="1",
    )


def _tag_chip(tag: rx.Var[dict[str, str]]) -> rx.Component:
    return rx.badge(
        tag["name"],
        rx.cond(
            AppState.can_edit,
            rx.icon(
                "x",
                size=12,
                cursor="pointer",
                on_click=P.remove_tag(tag["id"]),
                aria_label="Remove tag",
                data_testid="remove-tag",
            ),
        ),
        color_scheme=tag["color"],
        variant="soft",
        size="2",
        data_testid="profile-tag",
    )


def _add_tag_menu() -> rx.Component:
    return rx.dropdown_menu.root(
        rx.dropdown_menu.trigger(
            rx.button(
                rx.icon("plus", size=12),
                "Add tag",
                size="1",
                variant="soft",
                color_scheme="gray",
                data_testid="add-tag",
            )
        ),
        rx.dropdown_menu.content(
            rx.cond(
                P.available_tags.length() > 0,
                rx.foreach(
                    P.available_tags,
                    lambda tag: rx.dropdown_menu.item(
                        rx.box(
                            width="8px",
                            height="8px",
                            border_radius="50%",
                            background="var(--" + tag["color"] + "-9)",
                        ),
                        tag["name"],
                        on_select=P.add_tag(tag["id"]),
                        data_testid="tag-option",
                    ),
                ),
                rx.dropdown_menu.item(
                    "No other tags; create them under Tags.", disabled=True
                ),
            ),
        ),
    )


def _tags_section() -> rx.Component:
    return rx.vstack(
        _caption("Tags"),
        rx.hstack(
            rx.foreach(P.profile_tags, _tag_chip),
            rx.cond(
                P.profile_tags.length() == 0,
                rx.text("No tags", size="2", color="var(--gray-9)"),
            ),
            rx.cond(AppState.can_edit, _add_tag_menu()),
            spacing="2",
            wrap="wrap",
            align="center",
        ),
        spacing="2",
        width="100%",
    )


def profile_sidebar() -> rx.Component:
    """Build the card with e-mail, custom ID, timestamps and tags of the profile."""
    return rx.card(
        rx.vstack(
            _identity_line("email", "E-mail", P.email),
            _identity_line("custom_id", "Custom ID", P.custom_id),
            rx.separator(size="4"),
            rx.hstack(
                _timestamp("Created", P.created_at, "profile-created"),
                _timestamp("Updated", P.updated_at, "profile-updated"),
                spacing="5",
                wrap="wrap",
            ),
            rx.separator(size="4"),
            _tags_section(),
            spacing="4",
            width="100%",
        ),
        size="2",
        width="320px",
        min_width="320px",
        data_testid="profile-sidebar",
    )
