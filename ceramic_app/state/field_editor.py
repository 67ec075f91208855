"""State of the dialog that creates and edits a custom field, with inline checks.

Admins only: every handler re-checks the session and the admin role against
Postgres. The key, label and expression are checked as they are typed; the
field service checks everything again when the field is saved.
"""

from __future__ import annotations

import logging
from typing import Any

import reflex as rx

from ceramic_app import field_jobs
from ceramic_app.accounts.service import Principal
from ceramic_app.db import run_sync
from ceramic_app.fields import service as fields
from ceramic_app.fields.errors import ConfirmationRequired, FieldError, NotFound
from ceramic_app.fields.expressions import compile_expression
from ceramic_app.fields.keys import suggest_key, validate_key
from ceramic_app.fields.service import RuleImpact
from ceramic_app.models import Role
from ceramic_app.state import field_view as view
from ceramic_app.state.base import AppState
from ceramic_app.state.fields import FieldsState, parse_id

logger = logging.getLogger(__name__)

# The dialog's text inputs and the maximum characters each accepts. These
# only bound what a browser can send, because the service has its own limits.
TEXT_LIMITS = {
    "key": 80,
    "label": 200,
    "description": 2_100,
    "type": 10,
    "expression": 600,
    "min": 40,
    "max": 40,
    "min_length": 12,
    "max_length": 12,
    "pattern": 250,
    "allowed": 60_000,
}
FLAG_NAMES = ("required", "unique", "calculated")
_RULE_TEXTS = ("min", "max", "min_length", "max_length", "pattern", "allowed")


def _empty_form() -> dict[str, str]:
    form = dict.fromkeys(TEXT_LIMITS, "")
    form["type"] = "text"
    return form


class FieldEditorState(AppState):
    """The field dialog: its inputs, inline errors and the rule impact report."""

    editor_open: bool = False
    editing_id: int = 0
    form: dict[str, str] = _empty_form()
    flags: dict[str, bool] = dict.fromkeys(FLAG_NAMES, False)
    key_error: str = ""
    expression_error: str = ""
    expression_result: str = ""
    form_error: str = ""
    saving: bool = False
    impact_lines: list[str] = []
    impact_examples: list[view.ExampleRow] = []
    confirm_pending: bool = False

    _key_edited: bool = False
    _field_types: dict[str, str] = {}
    _original: dict[str, Any] = {}

    @rx.var
    def is_editing(self) -> bool:
        """Whether the dialog edits an existing field (the key is then fixed)."""
        return self.editing_id > 0

    @rx.var
    def type_label(self) -> str:
        """Name of the chosen type."""
        return view.type_label(self.form.get("type", "text"))

    @rx.var
    def visible_rules(self) -> list[str]:
        """Rule inputs that apply to the chosen type (none for calculated fields)."""
        if self.flags.get("calculated"):
            return []
        kind = self.form.get("type", "text")
        return view.rule_inputs(kind) if kind in view.FIELD_TYPES else []

    async def _admin(self) -> Principal | None:
        return await self._authorize(Role.ADMIN)

    def _reset_dialog(self) -> None:
        self.form = _empty_form()
        self.flags = dict.fromkeys(FLAG_NAMES, False)
        self.key_error = ""
        self.expression_error = ""
        self.expression_result = ""
        self.form_error = ""
        self.saving = False
        self.impact_lines = []
        self.impact_examples = []
        self.confirm_pending = False
        self._key_edited = False
        self._original = {}

    async def _load_types(self, principal: Principal) -> None:
        definitions = await run_sync(fields.list_fields, principal)
        self._field_types = {
            d.key: d.type.value for d in definitions if d.status == "active"
        }

    # --- opening and closing ---------------------------------------------------------

    @rx.event
    async def open_create(self) -> Any:
        """Open an empty dialog for a new field."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        self._reset_dialog()
        self.editing_id = 0
        await self._load_types(principal)
        self.editor_open = True
        return None

    @rx.event
    async def open_edit(self, field_id: Any) -> Any:
        """Open the dialog with a field's current definition."""
        principal = await self._admin()
        if principal is None:
            return await self._reject()
        target = parse_id(field_id)
        if target is None:
            return None
        try:
            definition = await run_sync(fields.get_field, principal, target)
        except NotFound as exc:
            return rx.toast.error(str(exc))
        self._reset_dialog()
        await self._load_types(principal)

        self.editing_id = definition.id
        form = _empty_form()
        form.update(
            key=definition.key,
            label=definition.label,
            description=definition.description,
            type=definition.type.value,
            expression=definition.expression or "",
        )
        rule_form = view.rules_to_form(definition.type.value, definition.rules)
        form.update({name: str(rule_form[name]) for name in _RULE_TEXTS})
        self.form = form
        self.flags = {
            "required": bool(rule_form["required"]),
            "unique": bool(rule_form["unique"]),
            "calculated": definition.is_calculated,
        }
        self._original = definition.as_dict()
        if definition.is_calculated:
            self._check_expression()
        self.editor_open = True
        return None

    @rx.event
    async def close_editor(self, _open: bool = False) -> Any:
        """Close the dialog without saving."""
        if await self._admin() is None:
            return await self._reject()
        self.editor_open = False
        return None

    # --- inputs ----------------------------------------------------------------------

    @rx.event
    async def set_text(self, name: str, value: str) -> Any:
        """Store one text input of the dialog and re-check what depends on it."""
        if await self._admin() is None:
            return await self._reject()
        if name not in TEXT_LIMITS or (name == "key" and self.is_editing):
            return None
        clean = str(value)[: TEXT_LIMITS[name]]
        self.form[name] = clean
        if name in _RULE_TEXTS or name == "type":
            self.confirm_pending = False
        if name == "label" and not self.is_editing and not self._key_edited:
            self.form["key"] = suggest_key(clean)
            self._check_key()
        elif name == "key":
            self._key_edited = True
            self._check_key()
        elif name == "expression":
            self._check_expression()
        return None

    @rx.event
    async def set_flag(self, name: str, value: bool) -> Any:
        """Store one switch of the dialog (required, unique or calculated)."""
        if await self._admin() is None:
            return await self._reject()
        if name not in FLAG_NAMES or (name == "calculated" and self.is_editing):
            return None
        self.flags[name] = bool(value)
        self.confirm_pending = False
        if name == "calculated":
            self._check_expression()
        return None

    def _check_key(self) -> None:
        key = self.form.get("key", "")
        if not key:
            self.key_error = ""
            return
        try:
            validate_key(key)
        except FieldError as exc:
            self.key_error = str(exc)
            return
        taken = key in self._field_types
        self.key_error = f"A field with key {key!r} already exists." if taken else ""

    def _check_expression(self) -> None:
        source = self.form.get("expression", "")
        if not self.flags.get("calculated") or not source.strip():
            self.expression_error = ""
            self.expression_result = ""
            return
        own_key = self.form.get("key") or None
        try:
            compiled = compile_expression(source, self._field_types, own_key=own_key)
        except FieldError as exc:
            self.expression_error = str(exc)
            self.expression_result = ""
            return
        self.expression_error = ""
        self.expression_result = (
            f"Gives a {view.type_label(compiled.type.value).lower()}"
        )

    # --- saving ----------------------------------------------------------------------

    @rx.event
    async def save(self) -> Any:
        """Create or update the field; show the rule impact first when it has one."""
        principal = await self._admin()
        if principal is None:
            yield await self._reject()
            return
        self.form_error = ""
        self.saving = True
        yield
        try:
            events = await self._save(principal)
        finally:
            self.saving = False
        if events:
            yield events

    async def _save(self, principal: Principal) -> list[Any] | None:
        calculated = bool(self.flags.get("calculated"))
        try:
            rules = None if calculated else self._rules()
            if self.is_editing:
                definition = await self._update(principal, rules)
            else:
                definition = await run_sync(
                    fields.create_field,
                    principal,
                    key=self.form["key"],
                    label=self.form["label"],
                    field_type=None if calculated else self.form["type"],
                    description=self.form["description"],
                    rules=rules,
                    expression=self.form["expression"] if calculated else None,
                )
        except ConfirmationRequired as exc:
            self._show_impact(exc.report)
            return None
        except (FieldError, NotFound) as exc:
            self.form_error = str(exc)
            return None
        recompute = definition.is_calculated and (
            not self.is_editing
            or definition.expression != self._original.get("expression")
        )
        if recompute:
            await run_sync(field_jobs.start_recompute, principal, definition.id)
        verb = "updated" if self.is_editing else "created"
        self.editor_open = False
        self._reset_dialog()
        return [
            FieldsState.refresh,
            rx.toast.success(f"Field {definition.label} was {verb}."),
        ]

    def _rules(self) -> dict[str, Any]:
        form: dict[str, Any] = {name: self.form.get(name, "") for name in _RULE_TEXTS}
        form["required"] = bool(self.flags.get("required"))
        form["unique"] = bool(self.flags.get("unique"))
        return view.rules_from_form(self.form.get("type", "text"), form)

    async def _update(self, principal: Principal, rules: dict[str, Any] | None) -> Any:
        original = self._original
        changes: dict[str, Any] = {}
        if self.form["label"] != original.get("label"):
            changes["label"] = self.form["label"]
        if self.form["description"] != original.get("description"):
            changes["description"] = self.form["description"]
        if rules is not None and rules != original.get("rules"):
            changes["rules"] = rules
        expression = self.form["expression"]
        if original.get("expression") is not None and expression != original.get(
            "expression"
        ):
            changes["expression"] = expression
        return await run_sync(
            fields.update_field,
            principal,
            self.editing_id,
            confirm=self.confirm_pending,
            **changes,
        )

    def _show_impact(self, impact: RuleImpact) -> None:
        self.impact_lines = view.impact_lines(impact)
        self.impact_examples = view.example_rows(impact.examples)
        self.confirm_pending = True
