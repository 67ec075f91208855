"""The Reflex app: pages, theme and the HTTP API mounted beside the WebSocket."""

from __future__ import annotations

import reflex as rx

from ceramic_app.api import build_api
from ceramic_app.logs import configure_logging
from ceramic_app.pages.audit import audit_page
from ceramic_app.pages.auth import sign_in_page, sign_up_page
from ceramic_app.pages.fields import fields_page
from ceramic_app.pages.import_history import import_history_page
from ceramic_app.pages.import_wizard import import_wizard_page
from ceramic_app.pages.members import members_page
from ceramic_app.pages.profile_detail import profile_detail_page
from ceramic_app.pages.profiles import profiles_page
from ceramic_app.pages.tags import tags_page
from ceramic_app.pages.templates import templates_page
from ceramic_app.state.audit import AuditState
from ceramic_app.state.auth import AuthFormState
from ceramic_app.state.base import AppState
from ceramic_app.state.fields import FieldsState
from ceramic_app.state.import_history import ImportHistoryState
from ceramic_app.state.imports import ImportWizardState
from ceramic_app.state.members import MembersState
from ceramic_app.state.profile_detail import ProfileDetailState
from ceramic_app.state.profiles import ProfilesState
from ceramic_app.state.tags import TagsState
from ceramic_app.state.templates import TemplatesState

configure_logging()

app = rx.App(
    api_transformer=build_api(),
    head_components=[rx.el.meta(name="referrer", content="same-origin")],
)


def _index_redirect() -> rx.Component:
    return rx.fragment()


app.add_page(
    _index_redirect,
    route="/",
    on_load=AppState.require_session_home,
    title="CeramicCRM",
)
app.add_page(
    sign_in_page,
    route="/login",
    on_load=AuthFormState.load_form,
    title="Sign in · CeramicCRM",
)
app.add_page(
    sign_up_page,
    route="/signup",
    on_load=AuthFormState.load_form,
    title="Sign up · CeramicCRM",
)
app.add_page(
    profiles_page,
    route="/profiles",
    on_load=[
        AppState.require_session,
        ProfilesState.load_page,
        ProfilesState.listen_live,
        ProfilesState.ensure_sort_indexes,
    ],
    title="Profiles · CeramicCRM",
)
app.add_page(
    import_history_page,
    route="/imports",
    on_load=ImportHistoryState.load,
    title="Imports · CeramicCRM",
)
app.add_page(
    import_wizard_page,
    route="/imports/new",
    on_load=ImportWizardState.load,
    title="Import profiles · CeramicCRM",
)
app.add_page(
    fields_page,
    route="/settings/fields",
    on_load=[AppState.require_admin, FieldsState.load_page],
    title="Fields · CeramicCRM",
)
app.add_page(
    members_page,
    route="/settings/members",
    on_load=MembersState.load_page,
    title="Members · CeramicCRM",
)
app.add_page(
    profile_detail_page,
    route="/profiles/[profile_id]",
    on_load=ProfileDetailState.load_page,
    title="Profile · CeramicCRM",
)
app.add_page(
    templates_page,
    route="/templates",
    on_load=TemplatesState.load_page,
    title="Templates · CeramicCRM",
)
app.add_page(
    tags_page,
    route="/tags",
    on_load=TagsState.load_page,
    title="Tags · CeramicCRM",
)
app.add_page(
    audit_page,
    route="/audit",
    on_load=[AppState.require_admin, AuditState.load_page],
    title="Audit log · CeramicCRM",
)
