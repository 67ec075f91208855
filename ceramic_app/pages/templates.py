"""The templates page at /templates: a list, the block editor and a live preview."""

from __future__ import annotations

import reflex as rx

from ceramic_app.components.feedback import (
    empty_state,
    error_callout,
    inline_error,
    section_title,
)
from ceramic_app.components.layout import app_shell, page_header
from ceramic_app.components.local_time import local_time
from ceramic_app.state.base import AppState
from ceramic_app.state.templates import (
    BlockForm,
    PreviewBlock,
    TemplateItem,
)
from ceramic_app.state.templates import TemplatesState as T

LIST_WIDTH = "240px"


def _list_item(item: rx.Var[TemplateItem]) -> rx.Component:
    selected = T.selected_id == item.id
    return rx.box(
        rx.text(item.name, size="2", weight="medium", trim="both"),
        rx.text(
            item.block_count,
            rx.cond(item.block_count == 1, " block", " blocks"),
            " · updated ",
            local_time(value=item.updated_at, mode="date"),
            size="1",
            color_scheme="gray",
        ),
        on_click=T.select(item.id),
        cursor="pointer",
        padding="10px 12px",
        border_radius="8px",
        background=rx.cond(selected, "var(--accent-a3)", "transparent"),
        border=rx.cond(selected, "1px solid var(--accent-a6)", "1px solid transparent"),
        _hover={"background": rx.cond(selected, "var(--accent-a3)", "var(--gray-a3)")},
        width="100%",
        data_testid="template-item",
    )


def _template_list() -> rx.Component:
    return rx.vstack(
        section_title("Templates"),
        rx.cond(
            T.items.length() > 0,
            rx.vstack(rx.foreach(T.items, _list_item), spacing="1", width="100%"),
            rx.text("No templates yet.", size="2", color_scheme="gray"),
        ),
        width=LIST_WIDTH,
        min_width=LIST_WIDTH,
        spacing="2",
    )


def _block_editor(block: rx.Var[BlockForm], index: rx.Var[int]) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.input(
                    value=block.name,
                    on_change=T.set_block_name(index),
                    read_only=~AppState.is_admin,
                    size="1",
                    width="220px",
                    data_testid="block-name",
                ),
                rx.spacer(),
                rx.cond(
                    AppState.is_admin,
                    rx.icon_button(
                        rx.icon("trash-2", size=14),
                        size="1",
                        variant="ghost",
                        color_scheme="gray",
                        aria_label="Remove block",
                        on_click=T.remove_block(index),
                    ),
                ),
                width="100%",
                align="center",
            ),
            rx.text_area(
                value=block.content,
                on_change=T.set_block_content(index),
                read_only=~AppState.is_admin,
                rows="5",
                width="100%",
                font_family="var(--code-font-family)",
                placeholder="Hello {{ first_name }}",
                data_testid="block-content",
            ),
            inline_error(block.error, "block-error"),
            spacing="2",
            width="100%",
        ),
        size="1",
        width="100%",
    )


def _editor_actions() -> rx.Component:
    return rx.cond(
        AppState.is_admin,
        rx.hstack(
            rx.button(
                rx.icon("plus", size=14),
                "Add block",
                variant="soft",
                color_scheme="gray",
                size="2",
                on_click=T.add_block,
                data_testid="add-block",
            ),
            rx.spacer(),
            rx.cond(
                T.editor_mode == "edit",
                rx.button(
                    "Delete",
                    variant="soft",
                    color_scheme="red",
                    on_click=T.set_delete_open(True),
                    data_testid="template-delete",
                ),
            ),
            rx.button("Save template", on_click=T.save, data_testid="template-save"),
            width="100%",
            spacing="2",
        ),
    )


def _key_hint() -> rx.Component:
    return rx.hstack(
        rx.text(
            "Use a profile value with {{ key }}. Keys:", size="1", color_scheme="gray"
        ),
        rx.foreach(T.field_keys, lambda key: rx.code(key, size="1", variant="soft")),
        spacing="1",
        wrap="wrap",
        align="center",
        width="100%",
    )


def _editor() -> rx.Component:
    return rx.vstack(
        rx.input(
            value=T.name,
            on_change=T.set_name,
            read_only=~AppState.is_admin,
            placeholder="Template name",
            size="3",
            width="100%",
            data_testid="template-name",
        ),
        rx.input(
            value=T.description,
            on_change=T.set_description,
            read_only=~AppState.is_admin,
            placeholder="What the template is for (optional)",
            width="100%",
        ),
        _key_hint(),
        rx.foreach(T.blocks, _block_editor),
        rx.cond(
            T.form_error != "",
            rx.callout(
                T.form_error,
                icon="circle-alert",
                color_scheme="red",
                width="100%",
                data_testid="template-error",
            ),
        ),
        _editor_actions(),
        spacing="3",
        flex="1",
        min_width="0",
        data_testid="template-editor",
    )


def _profile_picker() -> rx.Component:
    results = rx.cond(
        T.matches.length() > 0,
        rx.vstack(
            rx.foreach(
                T.matches,
                lambda match: rx.box(
                    rx.text(match.email, size="2"),
                    on_click=T.choose_profile(match.id),
                    cursor="pointer",
                    padding="6px 10px",
                    _hover={"background": "var(--accent-a3)"},
                    width="100%",
                    data_testid="preview-match",
                ),
            ),
            spacing="0",
            width="100%",
            border="1px solid var(--gray-a5)",
            border_radius="6px",
        ),
        rx.cond(
            T.preview_query != "",
            rx.text(
                "No profile with an e-mail starting like this.",
                size="1",
                color_scheme="gray",
            ),
        ),
    )
    return rx.vstack(
        rx.input(
            rx.input.slot(rx.icon("search", size=14)),
            value=T.preview_query,
            on_change=T.search_profiles,
            placeholder="Find a profile by e-mail",
            width="100%",
            data_testid="preview-search",
        ),
        results,
        spacing="1",
        width="100%",
    )


def _preview_block(block: rx.Var[PreviewBlock]) -> rx.Component:
    return rx.vstack(
        rx.text(block.name, size="1", weight="bold", color_scheme="gray"),
        rx.cond(
            block.error != "",
            rx.text(block.error, size="2", color="var(--red-11)"),
            # Plain text, never HTML: the renderer does not escape its output.
            rx.text(
                block.output,
                size="2",
                white_space="pre-wrap",
                word_break="break-word",
                data_testid="preview-output",
            ),
        ),
        spacing="1",
        width="100%",
        padding="10px 12px",
        border_radius="6px",
        background="var(--gray-a2)",
        data_testid="preview-block",
    )


def _preview() -> rx.Component:
    rendered = rx.cond(
        T.preview_email != "",
        rx.vstack(
            rx.hstack(
                rx.icon("user", size=14, color="var(--gray-10)"),
                rx.text(
                    T.preview_email,
                    size="2",
                    weight="medium",
                    data_testid="preview-profile",
                ),
                align="center",
                spacing="1",
            ),
            rx.foreach(T.preview, _preview_block),
            spacing="2",
            width="100%",
        ),
        rx.text(
            "Choose a profile to see the blocks rendered with its values.",
            size="2",
            color_scheme="gray",
        ),
    )
    return rx.card(
        rx.vstack(
            section_title("Preview"),
            _profile_picker(),
            rendered,
            spacing="3",
            width="100%",
        ),
        width="380px",
        min_width="320px",
        data_testid="template-preview",
    )


def _delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete template ", T.name, "?"),
            rx.alert_dialog.description(
                "The template and its blocks are removed. This cannot be undone.",
                size="2",
            ),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button("Cancel", variant="soft", color_scheme="gray")
                ),
                rx.alert_dialog.action(
                    rx.button(
                        "Delete template",
                        color_scheme="red",
                        on_click=T.delete,
                        data_testid="template-delete-confirm",
                    )
                ),
                justify="end",
                spacing="3",
                padding_top="12px",
            ),
        ),
        open=T.delete_open,
        on_open_change=T.set_delete_open,
    )


def _workspace() -> rx.Component:
    nothing_open = empty_state(
        "file-text",
        "No template open",
        "Templates are named blocks of text that use profile values, such as"
        " {{ first_name }}. Choose one on the left or create one.",
        testid="templates-empty",
    )
    return rx.cond(
        T.editor_mode == "none",
        nothing_open,
        rx.hstack(
            _editor(), _preview(), align="start", spacing="4", flex="1", min_width="0"
        ),
    )


def templates_page() -> rx.Component:
    """Build the templates page: list, block editor (admins) and preview."""
    header = page_header(
        "Templates",
        "Message blocks that use profile values. Previews render as plain text.",
        rx.cond(
            AppState.is_admin,
            rx.button(
                rx.icon("plus", size=16),
                "New template",
                on_click=T.new_template,
                data_testid="new-template",
            ),
        ),
    )
    body = rx.cond(
        T.error != "",
        error_callout(T.error, T.refresh, "templates-error"),
        rx.cond(
            T.loading,
            rx.center(rx.spinner(size="3"), padding="64px", width="100%"),
            rx.hstack(
                _template_list(), _workspace(), align="start", spacing="5", width="100%"
            ),
        ),
    )
    return app_shell(header, body, _delete_dialog())
