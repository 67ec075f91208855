"""The profiles page: search, configurable columns and a keyset-paginated table."""

from __future__ import annotations

import reflex as rx

from ceramic_app.components.bulk_actions import (
    bulk_dialog,
    progress_and_result,
    selection_bar,
)
from ceramic_app.components.layout import app_shell, page_header
from ceramic_app.components.local_time import local_time
from ceramic_app.components.new_profile import new_profile_button
from ceramic_app.state.base import AppState
from ceramic_app.state.profiles import ProfilesState, ProfileStubState

# Moves focus between rows with j/k or the arrow keys and opens the focused
# row with Enter. It runs in the browser, so moving costs no server event.
# Typing in an input, a text area or a dialog is left alone.
_KEYBOARD_JS = """
if (!window.__ceramicRowKeys) {
  window.__ceramicRowKeys = true;
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (target.closest && target.closest("input, textarea, select, [role=dialog]")) return;
    const rows = Array.from(document.querySelectorAll("[data-testid=profile-row]"));
    if (!rows.length) return;
    const index = rows.indexOf(document.activeElement);
    let next = null;
    if (event.key === "ArrowDown" || event.key === "j") {
      next = rows[Math.min(index + 1, rows.length - 1)];
    } else if (event.key === "ArrowUp" || event.key === "k") {
      next = rows[Math.max(index - 1, 0)];
    } else if (event.key === "Enter" && index >= 0) {
      event.preventDefault();
      rows[index].click();
      return;
    }
    if (next) {
      event.preventDefault();
      next.focus();
      next.scrollIntoView({block: "nearest"});
    }
  });
}
"""

_TRUNCATE = {
    "max_width": "280px",
    "overflow": "hidden",
    "text_overflow": "ellipsis",
    "white_space": "nowrap",
}


def _dash() -> rx.Component:
    return rx.text("—", color_scheme="gray")


def _chips(values: rx.Var) -> rx.Component:
    return rx.cond(
        values.length() > 0,
        rx.hstack(
            rx.foreach(
                values,
                lambda item: rx.badge(item, variant="soft", radius="full", size="1"),
            ),
            spacing="1",
            wrap="nowrap",
            overflow="hidden",
            max_width="280px",
        ),
        _dash(),
    )


def _boolean(value: rx.Var) -> rx.Component:
    return rx.match(
        value,
        ("true", rx.icon("circle-check", size=16, color="var(--grass-10)")),
        ("false", rx.icon("circle-x", size=16, color="var(--gray-9)")),
        _dash(),
    )


def _text(value: rx.Var, **props) -> rx.Component:
    return rx.cond(
        value != "",
        rx.text(value, title=value, size="2", **_TRUNCATE, **props),
        _dash(),
    )


def _cell_content(row: rx.Var, column: rx.Var) -> rx.Component:
    value = row[column["id"]]
    return rx.match(
        column["type"],
        (
            "datetime",
            rx.text(
                local_time(value=value.to(str), mode="datetime"),
                title=value.to(str),
                size="2",
                color="var(--gray-11)",
                white_space="nowrap",
            ),
        ),
        (
            "date",
            rx.cond(
                value.to(str) != "",
                rx.text(
                    local_time(value=value.to(str), mode="date"),
                    title=value.to(str),
                    size="2",
                    white_space="nowrap",
                ),
                _dash(),
            ),
        ),
        ("boolean", _boolean(value.to(str))),
        ("array", _chips(value.to(list[str]))),
        ("tags", _chips(value.to(list[str]))),
        ("number", _text(value.to(str), font_variant_numeric="tabular-nums")),
        ("json", _text(value.to(str), font_family="var(--code-font-family)")),
        rx.cond(
            column["id"] == "email",
            _text(value.to(str), weight="medium", color="var(--accent-11)"),
            _text(value.to(str)),
        ),
    )


def _select_cell(row: rx.Var) -> rx.Component:
    # Viewers cannot act on a selection, so they get no checkboxes.
    return rx.table.cell(
        rx.cond(
            AppState.can_edit,
            rx.checkbox(
                checked=ProfilesState.all_matching
                | ProfilesState.selected_ids.contains(row["id"]),
                on_change=lambda checked: ProfilesState.toggle_row(row["id"], checked),
                on_click=rx.stop_propagation,
                aria_label="Select profile",
                data_testid="row-select",
            ),
        ),
        on_click=rx.stop_propagation,
        width="36px",
    )


def _row(row: rx.Var) -> rx.Component:
    return rx.table.row(
        _select_cell(row),
        rx.foreach(
            ProfilesState.visible_columns,
            lambda column: rx.table.cell(_cell_content(row, column)),
        ),
        on_click=rx.redirect("/profiles/" + row["id"].to(str)),
        tab_index=0,
        cursor="pointer",
        data_testid="profile-row",
        data_profile_id=row["id"].to(str),
        _hover={"background": "var(--gray-a2)"},
        _focus={"outline": "2px solid var(--accent-8)", "outline_offset": "-2px"},
    )


def _sort_icon(column: rx.Var) -> rx.Component:
    return rx.cond(
        ProfilesState.sort == column["id"],
        rx.icon(
            rx.cond(ProfilesState.descending, "arrow-down", "arrow-up"),
            size=14,
        ),
        rx.fragment(),
    )


def _header_cell(column: rx.Var) -> rx.Component:
    return rx.table.column_header_cell(
        rx.cond(
            column["sortable"] != "",
            rx.button(
                column["label"],
                _sort_icon(column),
                on_click=ProfilesState.sort_by(column["id"]),
                variant="ghost",
                color_scheme="gray",
                size="1",
                data_testid="sort-" + column["id"].to(str),
            ),
            rx.text(column["label"], size="2"),
        ),
        white_space="nowrap",
        data_testid="column-header",
        data_column_id=column["id"],
    )


def _skeleton_rows() -> rx.Component:
    return rx.foreach(
        list(range(8)),
        lambda _: rx.table.row(
            rx.table.cell(),
            rx.foreach(
                ProfilesState.visible_columns,
                lambda _c: rx.table.cell(
                    rx.skeleton(rx.text("loading"), height="14px")
                ),
            ),
        ),
    )


def _table() -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                rx.table.column_header_cell(
                    rx.cond(
                        AppState.can_edit,
                        rx.checkbox(
                            checked=ProfilesState.page_selected
                            | ProfilesState.all_matching,
                            on_change=ProfilesState.toggle_page,
                            aria_label="Select page",
                            data_testid="page-select",
                        ),
                    ),
                    width="36px",
                ),
                rx.foreach(ProfilesState.visible_columns, _header_cell),
            )
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
        on_mount=rx.call_script(_KEYBOARD_JS),
        data_testid="profiles-table",
    )


def _shown_column(column: rx.Var) -> rx.Component:
    return rx.hstack(
        rx.checkbox(
            column["label"],
            checked=True,
            on_change=lambda _checked: ProfilesState.toggle_column(column["id"], False),
            disabled=ProfilesState.visible_ids.length() <= 1,
            size="2",
            data_testid="column-toggle-" + column["id"].to(str),
        ),
        rx.spacer(),
        rx.icon_button(
            rx.icon("chevron-up", size=14),
            on_click=ProfilesState.move_column(column["id"], -1),
            variant="ghost",
            color_scheme="gray",
            size="1",
            aria_label="Move column left",
            data_testid="column-up-" + column["id"].to(str),
        ),
        rx.icon_button(
            rx.icon("chevron-down", size=14),
            on_click=ProfilesState.move_column(column["id"], 1),
            variant="ghost",
            color_scheme="gray",
            size="1",
            aria_label="Move column right",
            data_testid="column-down-" + column["id"].to(str),
        ),
        align="center",
        width="100%",
        data_testid="column-shown",
    )


def _hidden_column(column: rx.Var) -> rx.Component:
    return rx.checkbox(
        column["label"],
        checked=False,
        on_change=lambda _checked: ProfilesState.toggle_column(column["id"], True),
        size="2",
        data_testid="column-toggle-" + column["id"].to(str),
    )


def _columns_popover() -> rx.Component:
    return rx.popover.root(
        rx.popover.trigger(
            rx.button(
                rx.icon("columns-3", size=16),
                "Columns",
                variant="soft",
                color_scheme="gray",
                size="2",
                data_testid="columns-button",
            )
        ),
        rx.popover.content(
            rx.vstack(
                rx.text("Shown", size="1", weight="bold", color_scheme="gray"),
                rx.foreach(ProfilesState.visible_columns, _shown_column),
                rx.separator(size="4"),
                rx.input(
                    rx.input.slot(rx.icon("search", size=14)),
                    placeholder="Find a column",
                    value=ProfilesState.column_filter,
                    on_change=ProfilesState.set_column_filter,
                    size="1",
                    width="100%",
                    data_testid="columns-filter",
                ),
                rx.scroll_area(
                    rx.vstack(
                        rx.foreach(ProfilesState.hidden_columns, _hidden_column),
                        spacing="2",
                    ),
                    type="auto",
                    scrollbars="vertical",
                    max_height="220px",
                ),
                rx.button(
                    rx.icon("rotate-ccw", size=14),
                    "Reset to defaults",
                    on_click=ProfilesState.reset_columns,
                    variant="soft",
                    color_scheme="gray",
                    size="1",
                    width="100%",
                    data_testid="columns-reset",
                ),
                spacing="2",
                width="100%",
            ),
            width="300px",
            data_testid="columns-popover",
        ),
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


def _tag_filter() -> rx.Component:
    return rx.select.root(
        rx.select.trigger(
            placeholder="All tags", width="170px", data_testid="tag-filter"
        ),
        rx.select.content(
            rx.select.item("All tags", value="all"),
            rx.foreach(
                ProfilesState.tag_choices,
                lambda tag: rx.select.item(
                    tag["name"], value=tag["id"], data_testid="tag-filter-option"
                ),
            ),
        ),
        value=rx.cond(ProfilesState.tag_filter == "", "all", ProfilesState.tag_filter),
        on_change=ProfilesState.set_tag_filter,
        size="2",
    )


def profiles_page() -> rx.Component:
    """Render the profiles list with its header, bulk actions and pager."""
    header = page_header(
        "Profiles",
        "Every customer in this workspace, one record each.",
        _search_box(),
        rx.cond(ProfilesState.tag_choices.length() > 0, _tag_filter()),
        _columns_popover(),
        new_profile_button(),
        rx.cond(
            AppState.can_edit,
            rx.link(
                rx.button(rx.icon("upload", size=16), "Import", size="2"),
                href="/imports/new",
                data_testid="open-import",
            ),
        ),
    )
    body = rx.cond(
        ProfilesState.error != "",
        _error_state(),
        rx.cond(
            ProfilesState.is_empty_workspace,
            _empty_state(),
            rx.vstack(
                selection_bar(),
                rx.box(_table(), width="100%", overflow_x="auto"),
                _pager(),
                bulk_dialog(),
                spacing="0",
                width="100%",
            ),
        ),
    )
    return app_shell(header, progress_and_result(), body)


def profile_stub_page() -> rx.Component:
    """Render a placeholder profile page with the e-mail and a way back."""
    header = page_header(
        "Profile",
        rx.link("← All profiles", href="/profiles", size="2"),
    )
    body = rx.cond(
        ProfileStubState.not_found,
        rx.callout("This profile does not exist.", icon="info", color_scheme="gray"),
        rx.heading(
            ProfileStubState.profile_email, size="5", data_testid="profile-email"
        ),
    )
    return app_shell(header, body)
