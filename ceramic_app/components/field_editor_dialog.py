"""The dialog that creates or edits a custom field: definition, rules and impact."""

from __future__ import annotations

import reflex as rx

from ceramic_app.components.feedback import inline_error
from ceramic_app.state.field_editor import FieldEditorState as E
from ceramic_app.state.field_view import FIELD_TYPES, TYPE_LABELS, ExampleRow
from ceramic_app.state.fields import FieldsState

EXPRESSION_HELP = (
    "Examples: days_since(signup_date) · first_name + ' ' + last_name ·"
    " 'vip' if total > 1000 else 'standard'. Functions: today, days_since,"
    " days_between, date, length, round, abs, min, max, coalesce."
)


def _labelled(label: str, *children: rx.Component, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        *children,
        rx.cond(hint != "", rx.text(hint, size="1", color_scheme="gray")),
        spacing="1",
        width="100%",
    )


def _text_input(name: str, testid: str, **props) -> rx.Component:
    return rx.input(
        value=E.form[name],
        on_change=E.set_text(name),
        width="100%",
        data_testid=testid,
        **props,
    )


def _identity_inputs() -> rx.Component:
    key_input = rx.cond(
        E.is_editing,
        rx.hstack(
            rx.code(E.form["key"], size="2", data_testid="field-key-readonly"),
            rx.text("Keys never change after creation.", size="1", color_scheme="gray"),
            align="center",
            spacing="2",
        ),
        _text_input("key", "field-key-input", placeholder="signup_date"),
    )
    return rx.vstack(
        _labelled(
            "Label",
            _text_input("label", "field-label-input", placeholder="Signup date"),
        ),
        _labelled(
            "Key",
            key_input,
            inline_error(E.key_error, "field-key-error"),
            hint="Used in templates as {{ key }}, in imports and in the API.",
        ),
        _labelled(
            "Description",
            rx.text_area(
                value=E.form["description"],
                on_change=E.set_text("description"),
                placeholder="What the field means and where its values come from",
                rows="2",
                width="100%",
                data_testid="field-description-input",
            ),
        ),
        spacing="3",
        width="100%",
    )


def _type_picker() -> rx.Component:
    choose = rx.select.root(
        rx.select.trigger(width="100%", data_testid="field-type-select"),
        rx.select.content(
            *[
                rx.select.item(
                    TYPE_LABELS[kind], value=kind, data_testid=f"field-type-{kind}"
                )
                for kind in FIELD_TYPES
            ]
        ),
        value=E.form["type"],
        on_change=E.set_text("type"),
    )
    fixed = rx.hstack(
        rx.badge(E.type_label, variant="soft", size="2"),
        rx.button(
            "Change type…",
            size="1",
            variant="ghost",
            on_click=[
                E.close_editor(False),
                FieldsState.open_type_change(E.editing_id),
            ],
        ),
        align="center",
        spacing="3",
    )
    calculated_switch = rx.cond(
        E.is_editing,
        rx.fragment(),
        rx.hstack(
            rx.switch(
                checked=E.flags["calculated"],
                on_change=E.set_flag("calculated"),
                data_testid="field-calculated-switch",
            ),
            rx.text("Calculated from other fields", size="2"),
            align="center",
            spacing="2",
        ),
    )
    return rx.vstack(
        calculated_switch,
        rx.cond(
            ~E.flags["calculated"],
            _labelled("Type", rx.cond(E.is_editing, fixed, choose)),
        ),
        spacing="3",
        width="100%",
    )


def _expression_input() -> rx.Component:
    return rx.cond(
        E.flags["calculated"],
        _labelled(
            "Expression",
            rx.text_area(
                value=E.form["expression"],
                on_change=E.set_text("expression"),
                placeholder="days_since(signup_date)",
                rows="3",
                width="100%",
                font_family="var(--code-font-family)",
                data_testid="field-expression-input",
            ),
            inline_error(E.expression_error, "field-expression-error"),
            rx.cond(
                E.expression_result != "",
                rx.text(E.expression_result, size="1", color="var(--green-11)"),
            ),
            hint=EXPRESSION_HELP,
        ),
    )


def _rule_switch(name: str, label: str) -> rx.Component:
    return rx.cond(
        E.visible_rules.contains(name),
        rx.hstack(
            rx.switch(
                checked=E.flags[name],
                on_change=E.set_flag(name),
                data_testid=f"rule-{name}",
            ),
            rx.text(label, size="2"),
            align="center",
            spacing="2",
        ),
    )


def _rule_input(name: str, label: str, placeholder: str) -> rx.Component:
    input_type = rx.cond(
        (E.form["type"] == "date") & ((name == "min") | (name == "max")), "date", "text"
    )
    return rx.cond(
        E.visible_rules.contains(name),
        rx.vstack(
            rx.text(label, size="1", color_scheme="gray"),
            _text_input(name, f"rule-{name}", placeholder=placeholder, type=input_type),
            spacing="1",
            flex="1",
            min_width="120px",
        ),
    )


def _rules_section() -> rx.Component:
    return rx.cond(
        E.visible_rules.length() > 0,
        rx.vstack(
            rx.text("Validation rules", size="2", weight="medium"),
            rx.hstack(
                _rule_switch("required", "Required"),
                _rule_switch("unique", "Unique"),
                spacing="5",
            ),
            rx.hstack(
                _rule_input("min", "Minimum", "none"),
                _rule_input("max", "Maximum", "none"),
                _rule_input("min_length", "Minimum length", "none"),
                _rule_input("max_length", "Maximum length", "none"),
                spacing="3",
                width="100%",
                wrap="wrap",
            ),
            _rule_input(
                "pattern",
                "Pattern (regular expression, whole value)",
                "^[A-Z]{2}-\\d+$",
            ),
            rx.cond(
                E.visible_rules.contains("allowed"),
                rx.vstack(
                    rx.text(
                        "Allowed values, one per line", size="1", color_scheme="gray"
                    ),
                    rx.text_area(
                        value=E.form["allowed"],
                        on_change=E.set_text("allowed"),
                        rows="3",
                        width="100%",
                        placeholder="Leave empty to accept any value",
                        data_testid="rule-allowed",
                    ),
                    spacing="1",
                    width="100%",
                ),
            ),
            spacing="3",
            width="100%",
            padding="12px",
            border="1px solid var(--gray-a5)",
            border_radius="8px",
        ),
    )


def example_table(examples: rx.Var[list[ExampleRow]], testid: str) -> rx.Component:
    """Build a table of affected profiles: a link, the value and the reason."""
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                rx.table.column_header_cell("Profile"),
                rx.table.column_header_cell("Value"),
                rx.table.column_header_cell("Problem"),
            )
        ),
        rx.table.body(
            rx.foreach(
                examples,
                lambda example: rx.table.row(
                    rx.table.cell(
                        rx.link(
                            "#" + example.profile_id,
                            href="/profiles/" + example.profile_id,
                            is_external=True,
                        )
                    ),
                    rx.table.cell(rx.code(example.value, size="1", variant="ghost")),
                    rx.table.cell(rx.text(example.message, size="1")),
                    data_testid=testid,
                ),
            )
        ),
        size="1",
        variant="surface",
        width="100%",
    )


def _impact_callout() -> rx.Component:
    return rx.cond(
        E.confirm_pending,
        rx.callout.root(
            rx.callout.icon(rx.icon("triangle-alert", size=16)),
            rx.vstack(
                rx.text(
                    "Existing profiles break the new rules", weight="bold", size="2"
                ),
                rx.foreach(E.impact_lines, lambda line: rx.text(line, size="2")),
                rx.cond(
                    E.impact_examples.length() > 0,
                    example_table(E.impact_examples, "impact-example"),
                ),
                rx.text(
                    "Saving keeps their values as they are; only later changes must"
                    " follow the rules.",
                    size="1",
                ),
                spacing="2",
                width="100%",
            ),
            color_scheme="amber",
            width="100%",
            data_testid="rule-impact",
        ),
    )


def _footer() -> rx.Component:
    return rx.hstack(
        rx.dialog.close(
            rx.button(
                "Cancel",
                variant="soft",
                color_scheme="gray",
                data_testid="field-cancel",
            )
        ),
        rx.button(
            rx.cond(E.confirm_pending, "Save anyway", "Save field"),
            on_click=E.save,
            loading=E.saving,
            color_scheme=rx.cond(E.confirm_pending, "amber", "indigo"),
            data_testid="field-save",
        ),
        justify="end",
        spacing="3",
        width="100%",
    )


def field_editor_dialog() -> rx.Component:
    """Build the dialog that creates or edits a custom field."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(E.is_editing, "Edit field", "New field")),
            rx.dialog.description(
                "Fields are the attributes every profile can have.",
                size="2",
                color_scheme="gray",
            ),
            rx.vstack(
                _identity_inputs(),
                _type_picker(),
                _expression_input(),
                _rules_section(),
                _impact_callout(),
                rx.cond(
                    E.form_error != "",
                    rx.callout(
                        E.form_error,
                        icon="circle-alert",
                        color_scheme="red",
                        width="100%",
                        data_testid="field-form-error",
                    ),
                ),
                _footer(),
                spacing="4",
                width="100%",
                padding_top="12px",
            ),
            max_width="640px",
            data_testid="field-dialog",
        ),
        open=E.editor_open,
        on_open_change=E.close_editor,
    )
