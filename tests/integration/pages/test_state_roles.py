"""Admin-only page handlers, called directly with a member's session, change nothing.

A browser can send any event with any arguments, so these tests call every
public handler of the Fields and Audit states the way the event loop would,
with the dialogs' state already filled in as an admin would leave it. The
handlers must reject the member before touching data.
"""

from __future__ import annotations

import asyncio
import inspect
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from ceramic_app.accounts import service as accounts
from ceramic_app.accounts.service import Principal
from ceramic_app.fields import service as fields
from ceramic_app.message_templates import service as templates
from ceramic_app.models import Role

REJECTION = "Your role does not allow this action."


def _state(principal: Principal, state_class: type) -> Any:
    """Return an instance of state_class whose browser sends principal's session."""
    from reflex.state import State

    import ceramic_app.ceramic_app  # noqa: F401  (registers every page state)

    token = accounts.create_session(principal.user_id, principal.workspace_id)
    root = State(_reflex_internal_init=True)
    root.router_data = root._update_router_vars(
        {"headers": {"cookie": f"ceramic_session={token}"}}, {}
    )
    return root.get_substate(state_class.get_full_name().split("."))


def _public_handlers(state_class: type) -> dict[str, Any]:
    handlers = {}
    for name, handler in state_class.event_handlers.items():
        # setvar and the set_<var> handlers are Reflex's own: they only assign
        # a state var, which the handlers below never trust.
        if name == "setvar" or name.startswith("_"):
            continue
        if name.startswith("set_") and name not in _OWN_SETTERS:
            continue
        if getattr(handler, "is_background", False):
            continue
        handlers[name] = handler
    return handlers


# Setters written for these pages (Reflex's generated setters are not public here).
_OWN_SETTERS = {"set_text", "set_flag", "set_delete_confirm_text", "set_filter"}


def _call(handler: Any, state: Any, *args: Any) -> list[Any]:
    """Run one handler like the event loop does and return what it produced."""

    async def run() -> list[Any]:
        result = handler.fn(state, *args)
        if inspect.isasyncgen(result):
            return [item async for item in result]
        return [await result]

    # A thread of its own gets a fresh event loop even when the browser tests
    # of the same pytest run keep Playwright's loop running in this thread.
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, run()).result()


def _arguments(name: str, field_id: int) -> tuple[Any, ...]:
    return {
        "set_text": ("label", "Taken over"),
        "set_flag": ("required", True),
        "set_delete_confirm_text": ("plan",),
        "set_filter": ("entity", "field"),
        "choose_type": ("number",),
        "close_editor": (False,),
        "close_type_change": (False,),
        "close_delete": (False,),
    }.get(name, () if name in _NO_ARGUMENTS else (field_id,))


_NO_ARGUMENTS = {
    "load_page",
    "refresh",
    "open_create",
    "save",
    "confirm_type_change",
    "confirm_delete",
    "clear_filters",
    "next_page",
    "prev_page",
}


def _rejected(outputs: list[Any]) -> bool:
    rendered = repr(outputs)
    return REJECTION in rendered or "/profiles" in rendered


@pytest.fixture
def plan_field(admin: Principal) -> Any:
    field = fields.create_field(admin, key="plan", label="Plan", field_type="text")
    templates.create_template(
        admin, "Welcome", blocks=[{"name": "Body", "content": "{{ plan }}"}]
    )
    return field


def test_member_cannot_use_field_handlers(
    admin: Principal, member: Principal, plan_field: Any, owner_sql
) -> None:
    from ceramic_app.state.field_editor import FieldEditorState
    from ceramic_app.state.fields import FieldsState

    assert member.role is Role.MEMBER
    for state_class in (FieldsState, FieldEditorState):
        state = _state(member, state_class)
        # What an admin's open dialogs would hold right before confirming.
        if state_class is FieldsState:
            state.delete_field_id = plan_field.id
            state.delete_key = "plan"
            state.delete_confirm_text = "plan"
            state.type_field_id = plan_field.id
            state.type_target = "number"
            state.type_checked = True
        else:
            state.editing_id = plan_field.id
            state.form = {**state.form, "label": "Taken over", "type": "text"}
            state._original = plan_field.as_dict()
        handlers = _public_handlers(state_class)
        assert handlers, state_class
        for name, handler in handlers.items():
            outputs = _call(handler, state, *_arguments(name, plan_field.id))
            assert _rejected(outputs), (state_class.__name__, name, outputs)

    unchanged = fields.get_field(admin, plan_field.id)
    assert unchanged.label == "Plan"
    assert unchanged.status == "active"
    assert [f.key for f in fields.list_fields(admin)] == ["plan"]
    jobs = owner_sql(
        "SELECT count(*) FROM background_jobs WHERE workspace_id = %s",
        (admin.workspace_id,),
    )
    assert jobs == [(0,)]


def test_member_cannot_read_audit(member: Principal) -> None:
    from ceramic_app.state.audit import AuditState

    state = _state(member, AuditState)
    for name, handler in _public_handlers(AuditState).items():
        outputs = _call(handler, state, *_arguments(name, 1))
        assert _rejected(outputs), (name, outputs)
    assert state.entries == []
    assert state.actor_options == []


def test_admin_handlers_do_act(admin: Principal, plan_field: Any) -> None:
    """The same calls with an admin's session change the field (the test can fail)."""
    from ceramic_app.state.field_editor import FieldEditorState

    state = _state(admin, FieldEditorState)
    _call(FieldEditorState.open_edit, state, plan_field.id)
    _call(FieldEditorState.set_text, state, "label", "Taken over")
    outputs = _call(FieldEditorState.save, state)
    assert not _rejected(outputs)
    assert fields.get_field(admin, plan_field.id).label == "Taken over"


def test_member_cannot_manage_members(admin: Principal, member: Principal) -> None:
    from ceramic_app.accounts import members
    from ceramic_app.state.members import MembersState

    state = _state(member, MembersState)
    # What an admin's form and open dialog would hold right before confirming.
    state.new_email = "intruder@example.com"
    state.new_role = "admin"
    state.remove_id = admin.user_id
    calls = {
        "load_page": (),
        "refresh": (),
        "set_new_email": ("intruder@example.com",),
        "set_new_name": ("Intruder",),
        "set_new_role": ("admin",),
        "add": (),
        "dismiss_password": (),
        "change_role": (member.user_id, "admin"),
        "ask_remove": (admin.user_id,),
        "set_remove_open": (True,),
        "confirm_remove": (),
    }
    assert set(calls) == set(_public_handlers(MembersState)) | {
        "set_new_email",
        "set_new_name",
        "set_new_role",
        "set_remove_open",
    }
    for name, args in calls.items():
        outputs = _call(MembersState.event_handlers[name], state, *args)
        assert _rejected(outputs), (name, outputs)
    roles = {m.email: m.role for m in members.list_members(admin)}
    assert roles == {admin.user_email: Role.ADMIN, member.user_email: Role.MEMBER}
    assert state.rows == []


def test_admin_member_handlers_do_act(admin: Principal, member: Principal) -> None:
    from ceramic_app.accounts import members
    from ceramic_app.state.members import MembersState

    state = _state(admin, MembersState)
    _call(MembersState.event_handlers["load_page"], state)
    assert len(state.rows) == 2
    _call(MembersState.event_handlers["change_role"], state, member.user_id, "viewer")
    roles = {m.email: m.role for m in members.list_members(admin)}
    assert roles[member.user_email] is Role.VIEWER
